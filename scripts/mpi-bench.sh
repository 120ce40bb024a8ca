#!/usr/bin/env bash
# Throughput of `bss generate` and `bss distill` on one machine: 1 process x 1 thread,
# 2 MPI ranks x 1 thread, 1 process x 2 threads (README, "Several machines"; docs/mpi.md).
# Prints the best of REPEAT wall times per configuration and the load average before each run.
#   scripts/mpi-bench.sh [REPEAT]        (run from the repository root after `swift build -c release`)
set -euo pipefail
REPEAT=${1:-3}
BSS=${BSS:-.build/release/bss}
[ -x "$BSS" ] || BSS=.build/debug/bss
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
GEN=(generate --teacher Fixtures/distill/digits-teacher.npz --arch Fixtures/distill/digits-teacher.json
     --data Fixtures/digits/digits-train.npz --targets all)
DIS=(distill --teacher Fixtures/distill/digits-teacher.npz --teacher-arch Fixtures/distill/digits-teacher.json
     --student Fixtures/distill/digits-teacher.json --data Fixtures/digits/digits-train.npz
     --epochs 2 --batch-size 64 --bss-per-batch 32 --beta 2 --seed 1)
best() {  # best wall time of REPEAT runs of "$@"
  local b=999999
  for _ in $(seq "$REPEAT"); do
    local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    b=$(python3 -c "print(min($b, $e - $s))")
  done
  printf '%.2f' "$b"
}
for what in generate distill; do
  if [ $what = generate ]; then args=("${GEN[@]}"); else args=("${DIS[@]}"); fi
  for cfg in "1x1" "2x1" "1x2"; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    case $cfg in
      1x1) t=$(best "$BSS" "${args[@]}" --threads 1 --out "$OUT/a.npz") ;;
      2x1) t=$(best $MPIRUN -np 2 "$BSS" "${args[@]}" --threads 1 --out "$OUT/b.npz") ;;
      1x2) t=$(best "$BSS" "${args[@]}" --threads 2 --out "$OUT/c.npz") ;;
    esac
    echo "$what $cfg (processes x threads): best ${t} s, load average before $load"
  done
done
