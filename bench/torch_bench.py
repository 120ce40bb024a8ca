"""PyTorch CPU reference timings for bss's workloads. Prints ONE JSON object on stdout.

Usage:  python3 bench/torch_bench.py [--threads 2] [--reps 5] [--warmup 2] [--only NAME]
                                    [--memory-format nchw|channels_last|best]
NAME in: sgemm, inference, margin_grad, bss, distill_step, distill_step_fixed_bss, tv_resnet18,
         tv_mobilenet_v2, wrn_distill_step

Workloads (float32, CPU, torch.set_num_threads(--threads); each: --warmup untimed runs, then
--reps timed runs; best (min) and median reported, and the peak working memory (peak resident
set during the workload minus the resident set before it, via /proc/self/clear_refs and
VmHWM, as bss-bench measures itself); wall clock via time.perf_counter):
  sgemm                   torch.mm of two 1024x1024 float32 matrices -> GFLOP/s (2*1024^3 flop)
  inference               heo2019-resnet26, batch 128 x 3x32x32, eval mode, torch.no_grad()
  margin_grad             heo2019-resnet26, batch 128, eval mode: forward + gradient w.r.t. the
                          input of sum_n (f_b - f_k) (one backward)
  bss                     BSS generation, paper mode (eta 1, eps 1e-4, I_max 10, ||g||^2, no clip)
                          through heo2019-resnet26 (eval mode) for 64 base samples with one target
                          each, drawn from p_t(k)/(1-p_t(b)); stopped pairs leave the batch
                          -> pairs/s (and the number of per-sample forward/backward evaluations)
  distill_step            one BSS distillation step, teacher heo2019-resnet26 (eval) -> student
                          heo2019-resnet8 (training mode), batch 128: student forward, teacher
                          forward (no_grad), base selection (64) + target sampling, BSS
                          generation as above, teacher forward on the 64 BSS (no_grad), student
                          forward on them (training mode), loss CE + alpha*KD + beta*KD (T=3,
                          alpha 4, beta 2), backward, SGD step (lr 0.1, momentum 0.9, wd 1e-4)
  distill_step_fixed_bss  the same step with the 64 BSS inputs given (no BSS generation)
  tv_resnet18, tv_mobilenet_v2   torchvision's models (weights=None, 1000 classes), batch 64 x
                          3x64x64, eval mode, inference_mode
  wrn_distill_step        distill_step with RepDistiller's WRN-40-2 teacher and WRN-16-2 student
                          (100 classes; written out below from the architecture, as bss's preset)
--memory-format channels_last converts models and inputs to torch.channels_last (NHWC), which is
often faster for PyTorch's oneDNN convolutions on CPU; `best` runs every workload in both formats
and keeps the faster (what bss-bench asks for, so the comparison does not flatter bss). Inference
runs under torch.inference_mode(). Set OMP_NUM_THREADS/MKL_NUM_THREADS to --threads before
starting Python (bss-bench does) so the thread pools are sized from the start.
The output records os.getloadavg() before and after: the numbers are only meaningful on an
otherwise idle machine.
Models: random weights (the authors' init; BatchNorm statistics calibrated on random
image-like data and the head re-drawn, torch_models.calibrate_random_model, so predictions vary).
Inputs: torch_models.smooth_inputs. Labels y := the teacher's predictions, so every sample is
a valid base sample for the teacher; for a fixed workload size the base selection requires only
teacher-correctness (the student is random) and keeps the 64 with the largest disagreement
score; the BSS term uses all 64 final iterates (accepted or not).
"""
import argparse
import ctypes
import gc
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Fixtures", "scripts"))
import bss_reference as br  # noqa: E402
import torch_models as tm  # noqa: E402

BATCH, N_BSS, T_KD, ALPHA, BETA = 128, 64, 3.0, 4.0, 2.0


def _rss():
    """(current, peak) resident set in bytes from /proc/self/status (0, 0 elsewhere)."""
    try:
        vals = {}
        for line in open("/proc/self/status"):
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                vals[k] = int(v.split()[0]) * 1024
        return vals.get("VmRSS", 0), vals.get("VmHWM", 0)
    except OSError:
        return 0, 0


def _release_freed_memory():
    """Hands memory freed by earlier workloads back to the kernel (glibc's malloc_trim), so the
    baseline is not inflated by pages the allocator keeps and the next workload would reuse
    without the resident set growing (its working memory then read as 0)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


LAST_MEMORY = {"working_bytes": 0}


def timeit(fn, reps, warmup):
    """Median seconds and all timings; records the workload's peak working memory."""
    _release_freed_memory()
    before = _rss()[0]
    _reset_peak()
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    LAST_MEMORY["working_bytes"] = max(0, _rss()[1] - before)
    return statistics.median(ts), ts


def ort_entry(model, x, a):
    """onnxruntime on the same model and input (inference workloads): the model exported by
    torch.onnx.export (TorchScript exporter, opset 17, BatchNorm folded as in eval export),
    CPU provider, intra-op threads = our thread count, all graph optimisations. None when
    onnxruntime (or the exporter) is missing."""
    try:
        import io
        import onnxruntime as ort
        import warnings
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, x[:1].contiguous(), buf, dynamo=False, opset_version=17, input_names=["x"],
                              output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    except Exception as e:  # noqa: BLE001 - any missing piece means no onnxruntime column
        print(f"onnxruntime reference skipped: {e}", file=sys.stderr)
        return None
    so = ort.SessionOptions()
    so.intra_op_num_threads = torch.get_num_threads()
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])
    xn = x.contiguous().numpy()
    med, ts = timeit(lambda: sess.run(None, {"x": xn}), a.reps, a.warmup)
    return {"median_s": med, "best_s": min(ts), "working_bytes": LAST_MEMORY["working_bytes"],
            "onnxruntime_version": ort.__version__}


def entry(med, ts, **extra):
    d = {"median_s": med, "best_s": min(ts), "working_bytes": LAST_MEMORY["working_bytes"]}
    d.update(extra)
    return d


def kd(s, t, T=T_KD):
    return -(F.softmax(t / T, 1) * F.log_softmax(s / T, 1)).sum(1).mean()


def make_models():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    teacher = tm.cifar_resnet(26)
    tm.calibrate_random_model(teacher, teacher.linear, tm.smooth_inputs(64, (3, 32, 32), g), g, spread=1.5)
    teacher.eval()
    torch.manual_seed(1)
    student = tm.cifar_resnet(8)
    tm.calibrate_random_model(student, student.linear, tm.smooth_inputs(64, (3, 32, 32), g), g, spread=1.0)
    student.train()
    x = tm.smooth_inputs(BATCH, (3, 32, 32), g)
    with torch.no_grad():
        y = teacher(x).argmax(1)
    return teacher, student, x, y, g


class WRNBlock(torch.nn.Module):
    """Pre-activation block: BN-ReLU -> conv3x3(stride) -> BN-ReLU -> conv3x3, plus the input
    (or a 1x1 conv of the pre-activated input where the width changes)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        nn = torch.nn
        self.bn1, self.bn2 = nn.BatchNorm2d(cin), nn.BatchNorm2d(cout)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.short = None if cin == cout else nn.Conv2d(cin, cout, 1, stride, 0, bias=False)

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(pre))))
        return out + (x if self.short is None else self.short(pre))


class WRN(torch.nn.Module):
    """WRN-depth-k for 32x32 inputs (depth 6n+4; widths 16, 16k, 32k, 64k), as bss's
    repdistiller-wrn preset."""

    def __init__(self, depth, k, classes=100):
        super().__init__()
        n, w = (depth - 4) // 6, [16, 16 * k, 32 * k, 64 * k]
        self.conv1 = torch.nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        blocks, cin = [], 16
        for stage in range(1, 4):
            for i in range(n):
                blocks.append(WRNBlock(cin, w[stage], 2 if stage > 1 and i == 0 else 1))
                cin = w[stage]
        self.blocks = torch.nn.Sequential(*blocks)
        self.bn = torch.nn.BatchNorm2d(cin)
        self.fc = torch.nn.Linear(cin, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.blocks(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def sample_targets(t_logits, y, gen):
    p = F.softmax(t_logits, 1).clone()
    p.scatter_(1, y[:, None], 0.0)
    return torch.multinomial(p / p.sum(1, keepdim=True), 1, generator=gen)[:, 0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--only", default=None)
    ap.add_argument("--memory-format", choices=["nchw", "channels_last", "best"], default="nchw")
    ap.add_argument("--channels-last", action="store_true", help="same as --memory-format channels_last")
    a = ap.parse_args()
    if a.channels_last:
        a.memory_format = "channels_last"
    torch.set_num_threads(a.threads)
    names = ["sgemm", "inference", "margin_grad", "bss", "distill_step", "distill_step_fixed_bss",
             "tv_resnet18", "tv_mobilenet_v2", "wrn_distill_step"]
    if a.only is not None and a.only not in names:
        ap.error(f"--only must be one of {names}")
    run = [n for n in names if a.only in (None, n)]
    res = {"torch_version": torch.__version__, "threads": a.threads, "reps": a.reps, "warmup": a.warmup,
           "memory_format": a.memory_format, "loadavg_before": list(os.getloadavg()), "workloads": {}}
    formats = ["nchw", "channels_last"] if a.memory_format == "best" else [a.memory_format]
    for fmt in formats:
        W = run_workloads(a, run, fmt, res)
        for name, d in W.items():
            d["memory_format"] = fmt
            old = res["workloads"].get(name)
            if old is None or d.get("best_s", 0) < old.get("best_s", 0):
                res["workloads"][name] = d
    res["loadavg_after"] = list(os.getloadavg())
    print(json.dumps(res, indent=1))


def run_workloads(a, run, fmt, res):
    W = {}

    if "sgemm" in run:
        A, B = torch.randn(1024, 1024), torch.randn(1024, 1024)
        med, ts = timeit(lambda: torch.mm(A, B), max(a.reps, 10), max(a.warmup, 2))
        W["sgemm"] = entry(med, ts, gflops=2 * 1024 ** 3 / min(ts) / 1e9, size=[1024, 1024, 1024])

    if not set(run) - {"sgemm"}:
        return W
    teacher, student, x, y, g = make_models()
    if fmt == "channels_last":
        teacher = teacher.to(memory_format=torch.channels_last)
        student = student.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        t_logits = teacher(x)

    if "inference" in run:
        def inf():
            with torch.inference_mode():
                teacher(x)
        med, ts = timeit(inf, a.reps, a.warmup)
        W["inference"] = entry(med, ts, images_per_s=BATCH / min(ts), batch=BATCH, model="heo2019-resnet26")
        if fmt == "nchw":
            res.setdefault("onnxruntime", {})["inference"] = ort_entry(teacher, x, a)

    if "margin_grad" in run:
        k = sample_targets(t_logits, y, g)

        def mg():
            xx = x.clone().requires_grad_(True)
            out = teacher(xx)
            L = (out.gather(1, y[:, None]) - out.gather(1, k[:, None])).sum()
            torch.autograd.grad(L, xx)
        med, ts = timeit(mg, a.reps, a.warmup)
        W["margin_grad"] = entry(med, ts, images_per_s=BATCH / min(ts), batch=BATCH, model="heo2019-resnet26")

    if "bss" in run:
        xb, yb = x[:N_BSS], y[:N_BSS]
        kb = sample_targets(t_logits[:N_BSS], yb, g)
        out = {}

        def bss():
            out["r"] = br.bss_paper(teacher, xb, yb, kb, eta=1.0, eps=1e-4, max_steps=10)
        med, ts = timeit(bss, a.reps, a.warmup)
        r = out["r"]
        evals = int((r["argmax_trace"] >= 0).sum())
        W["bss"] = entry(med, ts, pairs_per_s=N_BSS / min(ts), pairs=N_BSS, model="heo2019-resnet26",
                         per_sample_evaluations=evals,
                         status_counts=torch.bincount(r["status"].long(), minlength=4)[1:].tolist(),
                         steps_hist=torch.bincount(r["steps"].long(), minlength=11).tolist())

    if "distill_step" in run or "distill_step_fixed_bss" in run:
        step = make_step(teacher, student, x, y, g)
        if "distill_step" in run:
            med, ts = timeit(lambda: step(True), a.reps, a.warmup)
            W["distill_step"] = entry(med, ts, steps_per_s=1 / min(ts), batch=BATCH, bss=N_BSS,
                                      teacher="heo2019-resnet26", student="heo2019-resnet8")
        if "distill_step_fixed_bss" in run:
            step(True)
            med, ts = timeit(lambda: step(False), a.reps, a.warmup)
            W["distill_step_fixed_bss"] = entry(med, ts, steps_per_s=1 / min(ts), batch=BATCH, bss=N_BSS,
                                                teacher="heo2019-resnet26", student="heo2019-resnet8")

    for name, make in [("tv_resnet18", "resnet18"), ("tv_mobilenet_v2", "mobilenet_v2")]:
        if name not in run:
            continue
        import torchvision
        torch.manual_seed(0)
        m = getattr(torchvision.models, make)(weights=None).eval()
        x64 = tm.smooth_inputs(64, (3, 64, 64), g)
        if fmt == "channels_last":
            m, x64 = m.to(memory_format=torch.channels_last), x64.contiguous(memory_format=torch.channels_last)

        def tv_inf():
            with torch.inference_mode():
                m(x64)
        med, ts = timeit(tv_inf, a.reps, a.warmup)
        W[name] = entry(med, ts, images_per_s=64 / min(ts), batch=64, model=f"torchvision-{make}@64")
        if fmt == "nchw":
            res.setdefault("onnxruntime", {})[name] = ort_entry(m, x64, a)

    if "wrn_distill_step" in run:
        torch.manual_seed(2)
        wt, ws = WRN(40, 2), WRN(16, 2)
        tm.calibrate_random_model(wt, wt.fc, tm.smooth_inputs(64, (3, 32, 32), g), g, spread=1.5)
        tm.calibrate_random_model(ws, ws.fc, tm.smooth_inputs(64, (3, 32, 32), g), g, spread=1.0)
        wt.eval()
        ws.train()
        xw = tm.smooth_inputs(BATCH, (3, 32, 32), g)
        if fmt == "channels_last":
            wt, ws = wt.to(memory_format=torch.channels_last), ws.to(memory_format=torch.channels_last)
            xw = xw.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            yw = wt(xw).argmax(1)
        step = make_step(wt, ws, xw, yw, g)
        med, ts = timeit(lambda: step(True), a.reps, a.warmup)
        W["wrn_distill_step"] = entry(med, ts, steps_per_s=1 / min(ts), batch=BATCH, bss=N_BSS,
                                      teacher="repdistiller-wrn_40_2", student="repdistiller-wrn_16_2")
    return W


def make_step(teacher, student, x, y, g):
    """One distillation step (see the module doc), with BSS generation or with the last BSS."""
    opt = torch.optim.SGD(student.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    fixed = {}

    def step(generate):
        s_out = student(x)
        with torch.no_grad():
            t_out = teacher(x)
        loss = F.cross_entropy(s_out, y) + ALPHA * kd(s_out, t_out)
        if generate:
            pt, ps = F.softmax(t_out, 1), F.softmax(s_out.detach(), 1)
            idx = (t_out.argmax(1) == y).nonzero()[:, 0]
            d = (pt[idx] - ps[idx]) ** 2
            score = d.sum(1) - d.gather(1, y[idx][:, None])[:, 0]
            idx = idx[score.argsort(descending=True)[:N_BSS]]
            k = sample_targets(t_out[idx], y[idx], g)
            xb = br.bss_paper(teacher, x[idx], y[idx], k, eta=1.0, eps=1e-4, max_steps=10)["x"]
            fixed["x"] = xb
        else:
            xb = fixed["x"]
        with torch.no_grad():
            t_b = teacher(xb)
        s_b = student(xb)
        loss = loss + BETA * kd(s_b, t_b)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


if __name__ == "__main__":
    main()
