"""Summarise the runs of scripts/experiments/digits-distill.sh as markdown (docs/results-digits.md).

    python3 scripts/experiments/summarize_digits.py runs/digits [--seeds 1,2,3] > docs/results-digits.md

The main tables use the `--seeds` given (default: every seed found); when the folder holds more
seeds than that, a last section repeats the comparison over all of them.

Reads, per run folder `<method>-f<fraction>-s<seed>`: `student.h5.metrics.jsonl` (the last line is
the final epoch: `val_accuracy` = accuracy on the 450 test digits) and `student.h5.config.yaml`
(the resolved run config, for the settings line); and `teacher-eval.json` (`bss eval` of the
teacher). Needs only the Python standard library (numpy, if present, for the sample counts).
"""
import json
import math
import os
import re
import sys

METHODS = ["original", "hinton", "bss"]


def load_runs(root):
    runs = {}
    for name in sorted(os.listdir(root)):
        m = re.fullmatch(r"(original|hinton|bss)-f([0-9.]+)-s(\d+)", name)
        if not m:
            continue
        path = os.path.join(root, name, "student.h5.metrics.jsonl")
        if not os.path.exists(path):
            continue
        with open(path) as fh:
            lines = [json.loads(x) for x in fh if x.strip()]
        if not lines:
            continue
        runs[(m.group(1), float(m.group(2)), int(m.group(3)))] = {
            "final": lines[-1], "epochs": len(lines),
            "bss_accepted": sum(x["bss_accepted"] for x in lines),
            "bss_attempted": sum(x["bss_attempted"] for x in lines),
            "seconds": sum(x["seconds"] for x in lines),
            "config": os.path.join(root, name, "student.h5.config.yaml"),
        }
    return runs


def mean_sd(v):
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, sd


def sample_count(fraction):
    """Training rows the stratified subset keeps (max(1, round(F * n_c)) per class)."""
    try:
        import numpy as np
        y = np.load(os.path.join("Fixtures", "digits", "digits-train.npz"))["y"]
    except Exception:
        return None
    if fraction >= 1:
        return int(len(y))
    return int(sum(max(1, math.floor(fraction * int((y == c).sum()) + 0.5)) for c in sorted(set(y.tolist()))))


def settings(config_path):
    keep = ["epochs", "batch_size", "lr", "lr_milestones", "momentum", "weight_decay", "temperature", "alpha",
            "beta", "bss_per_batch", "bss_mode", "bss_eta", "bss_eps", "bss_max_steps"]
    out = {}
    with open(config_path) as fh:
        for line in fh:
            m = re.match(r"^([a-z_]+): (.*?)\s+#", line)
            if m and m.group(1) in keep:
                out[m.group(1)] = m.group(2).strip('"')
    return ", ".join(f"{k} {out[k]}" for k in keep if k in out)


def main(root, main_seeds=None):
    all_runs = load_runs(root)
    if not all_runs:
        sys.exit(f"no finished runs in {root}")
    all_seeds = sorted({k[2] for k in all_runs})
    seeds = sorted(main_seeds) if main_seeds else all_seeds
    runs = {k: v for k, v in all_runs.items() if k[2] in seeds}
    teacher = json.load(open(os.path.join(root, "teacher-eval.json")))
    fractions = sorted({k[1] for k in runs})
    p = print
    p("# Distillation on the bundled digits: original vs Hinton KD vs BSS")
    p()
    p("Made by `scripts/experiments/digits-distill.sh` (summary: `scripts/experiments/summarize_digits.py`); "
      "re-running it reproduces every accuracy and BSS count below bit for bit (fixed seeds, one thread per run); "
      "the timings depend on the machine and its load.")
    p()
    p(f"- Teacher: `Fixtures/digits/teacher-cnn.h5` (Keras CNN, 7,514 trainable parameters), "
      f"test accuracy {100 * teacher['accuracy']:.2f}% ({round(teacher['accuracy'] * teacher['samples'])}/{teacher['samples']}).")
    p("- Student: `Fixtures/digits/student-mlp.h5` (untrained Keras MLP: Flatten → Dense 48 ReLU → Dense 10, "
      "3,610 parameters), trained by `bss distill` and written back as a Keras `.h5`.")
    p("- Data: scikit-learn digits (8×8), 1,347 training / 450 test images; the training subset is drawn per class "
      "(`--train-fraction`, seeded by `--seed`). Accuracy is on the 450 test images after the final epoch (no model selection).")
    first = runs[sorted(runs)[0]]
    p(f"- Settings (every run): {settings(first['config'])}; batch 32 instead of the CIFAR recipe's 256 "
      "(the data set is small), keeping 1 BSS per 4 samples.")
    p(f"- Seeds {', '.join(map(str, seeds))}: the seed draws the subset, the batch order, the BSS target classes "
      "(the Keras student's initial weights are those of the file).")
    p()
    p("## Test accuracy of the student (%)")
    p()
    p("| training data | method | mean ± sd | " + " | ".join(f"seed {s}" for s in seeds) + " | vs original | vs hinton |")
    p("|---|---|---|" + "---|" * len(seeds) + "---|---|")
    means = {}
    for f in fractions:
        n = sample_count(f)
        label = f"{f * 100:g}%" + (f" ({n})" if n else "")
        for method in METHODS:
            accs = [100 * runs[(method, f, s)]["final"]["val_accuracy"] for s in seeds if (method, f, s) in runs]
            if not accs:
                continue
            m, sd = mean_sd(accs)
            means[(method, f)] = (m, sd, accs)
            vs_o = f"{m - means[('original', f)][0]:+.2f}" if method != "original" and ("original", f) in means else ""
            vs_h = f"{m - means[('hinton', f)][0]:+.2f}" if method == "bss" and ("hinton", f) in means else ""
            p(f"| {label} | {method} | {m:.2f} ± {sd:.2f} | " + " | ".join(f"{a:.2f}" for a in accs) + f" | {vs_o} | {vs_h} |")
    p()
    p("## BSS runs: boundary supporting samples accepted / attempted (summed over epochs, mean over seeds)")
    p()
    p("| training data | accepted | attempted | accepted share | seconds per run |")
    p("|---|---|---|---|---|")
    for f in fractions:
        rs = [runs[("bss", f, s)] for s in seeds if ("bss", f, s) in runs]
        if rs:
            acc = sum(r["bss_accepted"] for r in rs) / len(rs)
            att = sum(r["bss_attempted"] for r in rs) / len(rs)
            sec = sum(r["seconds"] for r in rs) / len(rs)
            p(f"| {f * 100:g}% | {acc:.0f} | {att:.0f} | {100 * acc / max(att, 1):.1f}% | {sec:.1f} |")
    p()
    p("## What the numbers say")
    p()
    p("The paper expects Hinton KD to beat the original training, BSS to match or beat Hinton KD, and the gain "
      "to be largest when training data is scarce. A seed fixes the training subset for all three methods, so "
      "the comparisons below are paired: the per-seed differences in accuracy points, their mean ± sd; a mean "
      "difference within one sd of zero is read as no measurable difference.")
    p()

    def paired(a, b, f):
        d = [100 * (runs[(a, f, s)]["final"]["val_accuracy"] - runs[(b, f, s)]["final"]["val_accuracy"])
             for s in seeds if (a, f, s) in runs and (b, f, s) in runs]
        return (mean_sd(d), d) if d else (None, d)

    def describe(a, b, f):
        (m, sd), d = paired(a, b, f)
        verdict = "no measurable difference" if abs(m) <= sd else (f"{a} better" if m > 0 else f"{b} better")
        return f"{a} − {b} {m:+.2f} ± {sd:.2f} (per seed {', '.join(f'{x:+.2f}' for x in d)}: {verdict})"
    gains = []
    for f in fractions:
        if not all((m, f) in means for m in METHODS):
            continue
        p(f"- {f * 100:g}% of the training data: {describe('hinton', 'original', f)}; "
          f"{describe('bss', 'hinton', f)}; {describe('bss', 'original', f)}.")
        gains.append((f, paired("bss", "original", f)[0][0]))
    if gains:
        best = max(gains, key=lambda g: g[1])
        p(f"- The mean gain of BSS over the original training is largest at {best[0] * 100:g}% of the data "
          f"({best[1]:+.2f} points); by fraction: " + ", ".join(f"{f * 100:g}% {g:+.2f}" for f, g in gains) + ".")
    p()
    extra = [s for s in all_seeds if s not in seeds]
    if extra:
        p(f"## The same comparison over {len(all_seeds)} seeds ({', '.join(map(str, all_seeds))})")
        p()
        p(f"Three seeds leave most differences within noise, so the script also ran seeds {', '.join(map(str, extra))} "
          "(same settings). Mean test accuracy ± sd, and the paired differences (mean ± sd over seeds):")
        p()
        p("| training data | original | hinton | bss | hinton − original | bss − hinton | bss − original |")
        p("|---|---|---|---|---|---|---|")
        summary = {}
        for f in fractions:
            cells = []
            for method in METHODS:
                accs = [100 * all_runs[(method, f, s)]["final"]["val_accuracy"] for s in all_seeds if (method, f, s) in all_runs]
                m, sd = mean_sd(accs)
                cells.append(f"{m:.2f} ± {sd:.2f}")
            for a, b in [("hinton", "original"), ("bss", "hinton"), ("bss", "original")]:
                d = [100 * (all_runs[(a, f, s)]["final"]["val_accuracy"] - all_runs[(b, f, s)]["final"]["val_accuracy"])
                     for s in all_seeds if (a, f, s) in all_runs and (b, f, s) in all_runs]
                m, sd = mean_sd(d)
                summary[(a, b, f)] = (m, sd)
                cells.append(f"{m:+.2f} ± {sd:.2f}")
            p(f"| {f * 100:g}% | " + " | ".join(cells) + " |")
        p()

        def read(a, b):
            parts = []
            for f in fractions:
                m, sd = summary[(a, b, f)]
                parts.append(f"{f * 100:g}% " + ("within noise" if abs(m) <= sd else (f"{a} better" if m > 0 else f"{b} better")))
            return ", ".join(parts)
        best = max(fractions, key=lambda f: summary[("bss", "original", f)][0])
        p(f"Over {len(all_seeds)} seeds: hinton vs original — {read('hinton', 'original')}; bss vs hinton — "
          f"{read('bss', 'hinton')}; bss vs original — {read('bss', 'original')}. The mean gain of BSS over the "
          f"original training is largest at {best * 100:g}% of the data.")
        p()

if __name__ == "__main__":
    args = sys.argv[1:]
    seeds = None
    if "--seeds" in args:
        i = args.index("--seeds")
        seeds = [int(x) for x in args[i + 1].split(",")]
        del args[i:i + 2]
    main(args[0] if args else "runs/digits", seeds)
