#!/usr/bin/env bash
# Throughput of `bss generate` and `bss distill` on one machine: 1 process x 1 thread,
# 2 MPI ranks x 1 thread, 1 process x 2 threads (README, "Several machines"; docs/mpi.md).
# Prints the best of REPEAT wall times per configuration, the CPU seconds (user + sys of all
# processes) of that run and the load average before it. On a shared machine with autogroup
# scheduling all processes of one session share one CPU slice, so the ranks only speed up
# when the machine is otherwise idle: compare CPU seconds per rank too.
#   scripts/mpi-bench.sh [REPEAT]        (run from the repository root after `swift build -c release`)
set -euo pipefail
REPEAT=${1:-3}
BSS=${BSS:-.build/release/bss}
[ -x "$BSS" ] || BSS=.build/debug/bss
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none"
OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT
GEN=(generate --teacher Fixtures/distill/digits-teacher.npz --arch Fixtures/distill/digits-teacher.json
     --data Fixtures/digits/digits-train.npz --targets all --eta 0.1)
DIS=(distill --teacher Fixtures/distill/digits-teacher.npz --teacher-arch Fixtures/distill/digits-teacher.json
     --student Fixtures/distill/digits-teacher.json --data Fixtures/digits/digits-train.npz
     --epochs 3 --batch-size 64 --bss-per-batch 32 --beta 2 --seed 1 --overwrite)
best() {  # "wall cpu" of the fastest of REPEAT runs of "$@"
  local b="999999 0"
  for _ in $(seq "$REPEAT"); do
    /usr/bin/time -o "$OUT/time" -f "%e %U %S" "$@" >/dev/null 2>&1
    local r; r=$(tail -1 "$OUT/time")
    b=$(python3 -c "w,u,s='$r'.split(); bw,bc='$b'.split(); print(f'{float(w):.2f} {float(u)+float(s):.2f}' if float(w) < float(bw) else '$b')")
  done
  echo "$b"
}
for what in ${WHAT:-generate distill}; do
  if [ $what = generate ]; then args=("${GEN[@]}"); else args=("${DIS[@]}"); fi
  for cfg in "1x1" "2x1" "1x2"; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    case $cfg in
      1x1) t=$(best "$BSS" "${args[@]}" --threads 1 --out "$OUT/a.npz") ;;
      2x1) t=$(best $MPIRUN -np 2 "$BSS" "${args[@]}" --threads 1 --out "$OUT/b.npz") ;;
      1x2) t=$(best "$BSS" "${args[@]}" --threads 2 --out "$OUT/c.npz") ;;
    esac
    read -r wall cpu <<<"$t"
    echo "$what $cfg (processes x threads): best ${wall} s wall, ${cpu} CPU s, load average before $load"
  done
done
