"""Distillation-step references (docs/algorithm.md, "Base samples" to "Distillation loss") -> Fixtures/distill/

Run from the repository root (CPU, a few seconds):

    KERAS_BACKEND=jax python3 Fixtures/scripts/make_distill_fixtures.py

Reproducibility: fixed seeds, torch.set_num_threads(1), CPU. Keras is used only to read the
bundled digits teacher (Fixtures/digits/teacher-cnn.h5) and to check its PyTorch twin.

Files
-----
digits-teacher.json / .npz   PyTorch twin of the bundled Keras teacher `teacher-cnn.h5`, as an
    architecture spec (input_layout "nhwc", so digits data is read as NHWC like Keras does) and a
    PyTorch state dict. Conversions: Conv2D kernels HWIO -> OIHW; Dense kernel [in, out] -> [out, in];
    BatchNormalization gamma/beta/moving_mean/moving_variance -> weight/bias/running_mean/running_var,
    epsilon 1e-3 kept, momentum 0.99 -> 0.01; 'same' padding per side (stride 1: 1 all round;
    the stride-2 conv3 on 8x8: top/left 0, bottom/right 1). The script asserts that the twin's
    logits on the 450 test samples equal Keras' reference logits within 1e-4 (printed).
digits-student-mlp.npz   initial student for `mlp:64-48-10` (keys fc1.weight, fc1.bias, fc2.weight,
    fc2.bias): the bundled untrained Keras student `student-mlp.h5` (kernels transposed), then
    PRETRAIN_STEPS SGD steps of plain cross-entropy (float32) so that it classifies most of the
    reference batches correctly and base-sample selection has to rank candidates.
digits-student-bn.json / .npz   a second student with BatchNorm (fc1 64->32, bn1, relu1, fc2 32->10),
    PyTorch default init (seed 5), pretrained the same way.
state-dict-keys.json   for `mlp:64-48-10`, `heo2019-resnet8` (torch_models.py) and the BN student:
    [key, shape, dtype] of every entry of the PyTorch module's state_dict(), in order.
distill-step.npz   the reference steps, keys below.

The reference step (float64 on a float64 copy of the float32 student; the student in training
mode: BatchNorm batch statistics and running-statistics update, no dropout; the teacher twin in
inference mode), from the stored initial student, for each case two SGD steps on the batches
x[0:32] and x[32:64] (x = the first 64 training digits, NCHW float32):

    s = student(x);  t = teacher(x)                                   (logits)
    ce = CE(s, y)                                   (batch mean)
    kd = KD_T(s, t) = -mean_n sum_c softmax(t/T)_c log_softmax(s/T)_c  (0 for "original")
    bss cases: base rows = teacher and student both correct; if more than N, the N with the
        largest sum_{c != y} (p_t(c) - p_s(c))^2 (T = 1), ordered by decreasing score
        (bss_reference.select_base_and_targets); one target per base row drawn with
        p_t(k) / (1 - p_t(y)) (torch.multinomial, generator seed 11 + step);
        BSS: bss_reference.bss_paper (eta PAPER_ETA = 0.68, eps 1e-4, 10 steps, ||g||^2; eta < 1 so
        that some pairs are rejected at the step limit) or bss_official
        (eta 0.3, ||g||, clamp +-2.5, freeze, no rejection) on the float64 teacher twin from the
        base rows; x_bss rounded to float32; t_b = teacher(x_bss) (float64 from the rounded x_bss);
        used pairs: paper = status 1 only, official = all;
        s_b = student(x_bss[used]) (a second training-mode forward: its own batch statistics)
        kd_bss = KD_T(s_b, t_b[used])
    loss = ce + alpha * kd + beta * kd_bss;  backward;  SGD step
    SGD: torch.optim.SGD(lr, momentum, weight_decay, dampening 0, no nesterov) over all trainable
        parameters (BatchNorm weight and bias included), created once per case (the momentum
        buffers carry over from step 1 to step 2).

The batches are chosen (first 64 training rows, checked by the script) so that every decision
the float32 engine re-makes is numerically clear: teacher and student top-1 margins > 1e-3 on
every row and a score gap > 1e-6 at the N-th base sample. The paper-mode cases have at least 2
accepted and at least 1 rejected BSS per step.

distill-step.npz keys
---------------------
x [64,1,8,8] f32 (NCHW), y [64] i64, teacher_logits [64,10] f32, T, alpha, beta, lr, momentum,
weight_decay () f32, bss_per_batch () i64, cases: 0-d unicode, comma-separated case names.
Per case c (mlp-original, mlp-hinton, mlp-bss-paper, mlp-bss-official, bn-bss-paper,
bn-bss-official) and step s in {1, 2}:
  c.student     0-d unicode "mlp" or "bn";   c.method 0-d unicode;  c.mode 0-d unicode ("" if none)
  c.s.rows      [B] i64 batch rows of x
  c.s.logits    [B,10] f32 student logits of the clean training-mode forward
  c.s.ce, c.s.kd, c.s.kd_bss, c.s.loss   () f32
  c.s.base      [P] i64 base rows (indices into the batch, selection order); [0] for no BSS
  c.s.target    [P] i64 target classes;  c.s.status [P] i8;  c.s.x_bss [P,1,8,8] f32
  c.s.teacher_logits_bss [P,10] f32;     c.s.used () i64 (pairs entering the BSS term)
  c.s.after.<key>  the student's state dict after the step (num_batches_tracked as 0-d i64)
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bss_reference as br  # noqa: E402
import torch_models as tm  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DIGITS = os.path.join(ROOT, "Fixtures", "digits")
OUT = os.path.join(ROOT, "Fixtures", "distill")

T, ALPHA, BETA = 3.0, 2.5, 1.5
LR, MOMENTUM, WD = 0.1, 0.9, 1e-4
N_BSS = 8
BATCH = 32
PRETRAIN_STEPS = 60
# Paper-mode BSS for the reference: eta 0.68 (not the default 1) so that some pairs hit the step
# limit and the "accepted only" rule of the BSS term is exercised (the BSS are fed to the test).
PAPER_ETA = 0.68


# ----------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------
class DigitsTeacher(nn.Module):
    """The bundled Keras teacher, in PyTorch (NCHW)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16, eps=1e-3, momentum=0.01)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16, eps=1e-3, momentum=0.01)
        self.conv3 = nn.Conv2d(16, 32, 3, stride=2, padding=0, bias=False)
        self.bn3 = nn.BatchNorm2d(32, eps=1e-3, momentum=0.01)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)) + h)
        h = F.relu(self.bn3(self.conv3(F.pad(h, (0, 1, 0, 1)))))
        return self.fc(h.mean(dim=(2, 3)))


def teacher_spec():
    conv = lambda n, i, o, s, pad: {"name": n, "type": "conv2d", "in_channels": i, "out_channels": o,
                                    "kernel": [3, 3], "stride": [s, s], "padding": pad, "bias": False}
    bn = lambda n, c: {"name": n, "type": "batchnorm", "channels": c, "eps": 1e-3, "momentum": 0.01}
    return {
        "format": "bss-architecture", "version": 1, "name": "digits-teacher-cnn",
        "input_shape": [1, 8, 8], "classes": 10, "input_layout": "nhwc",
        "layers": [
            conv("conv1", 1, 16, 1, [1, 1, 1, 1]), bn("bn1", 16), {"name": "relu1", "type": "relu"},
            conv("conv2", 16, 16, 1, [1, 1, 1, 1]), bn("bn2", 16),
            {"name": "add", "type": "add", "inputs": ["bn2", "relu1"]}, {"name": "relu2", "type": "relu"},
            conv("conv3", 16, 32, 2, [0, 1, 0, 1]), bn("bn3", 32), {"name": "relu3", "type": "relu"},
            {"name": "gap", "type": "global_avgpool"},
            {"name": "fc", "type": "linear", "in_features": 32, "out_features": 10},
        ],
        "output": "fc",
    }


class BNStudent(nn.Module):
    """fc1 64->32, bn1 (BatchNorm1d), relu, fc2 32->10; flattens its input (NCHW order)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.bn1 = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.bn1(self.fc1(x.reshape(x.shape[0], -1)))))


def bn_student_spec():
    return {
        "format": "bss-architecture", "version": 1, "name": "digits-student-bn",
        "input_shape": [64], "classes": 10,
        "layers": [
            {"name": "fc1", "type": "linear", "in_features": 64, "out_features": 32},
            {"name": "bn1", "type": "batchnorm", "channels": 32, "eps": 1e-5, "momentum": 0.1},
            {"name": "relu1", "type": "relu"},
            {"name": "fc2", "type": "linear", "in_features": 32, "out_features": 10},
        ],
        "output": "fc2",
    }


def load_keras_teacher():
    import keras
    km = keras.models.load_model(os.path.join(DIGITS, "teacher-cnn.h5"), compile=False)
    t = DigitsTeacher()
    with torch.no_grad():
        for name in ["conv1", "conv2", "conv3"]:
            (k,) = km.get_layer(name).get_weights()
            getattr(t, name).weight.copy_(torch.from_numpy(k.transpose(3, 2, 0, 1).copy()))
        for name in ["bn1", "bn2", "bn3"]:
            g, b, m, v = km.get_layer(name).get_weights()
            bn = getattr(t, name)
            bn.weight.copy_(torch.from_numpy(g)); bn.bias.copy_(torch.from_numpy(b))
            bn.running_mean.copy_(torch.from_numpy(m)); bn.running_var.copy_(torch.from_numpy(v))
        k, b = km.get_layer("fc").get_weights()
        t.fc.weight.copy_(torch.from_numpy(k.T.copy())); t.fc.bias.copy_(torch.from_numpy(b))
    return t.eval()


def load_keras_student():
    import keras
    km = keras.models.load_model(os.path.join(DIGITS, "student-mlp.h5"), compile=False)
    s = tm.mlp([64, 48, 10])
    with torch.no_grad():
        for torch_name, keras_name in [("fc1", "dense"), ("fc2", "dense_1")]:
            k, b = km.get_layer(keras_name).get_weights()
            getattr(s, torch_name).weight.copy_(torch.from_numpy(k.T.copy()))
            getattr(s, torch_name).bias.copy_(torch.from_numpy(b))
    return s


def pretrain(model, x, y, seed):
    """PRETRAIN_STEPS float32 SGD steps (lr 0.1, momentum 0.9, batch 64) of cross-entropy on the
    training rows 64.. (not the reference batches)."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()
    for _ in range(PRETRAIN_STEPS):
        idx = 64 + torch.randint(0, x.shape[0] - 64, (64,), generator=g)
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    # A clean starting point: BatchNorm counters back to 0 as in a freshly loaded state dict.
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.num_batches_tracked.zero_()
    return model


# ----------------------------------------------------------------------------------------------
# The reference step
# ----------------------------------------------------------------------------------------------
def kd(s, t):
    return -(F.softmax(t / T, 1) * F.log_softmax(s / T, 1)).sum(1).mean()


def top_margin(logits):
    top2 = logits.topk(2, dim=1).values
    return (top2[:, 0] - top2[:, 1]).min().item()


def run_case(student32, teacher64, x, y, t_all, method, mode, out, case):
    s64 = br.double_copy(student32).train()
    opt = torch.optim.SGD(s64.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD)
    for step, rows in enumerate([torch.arange(0, BATCH), torch.arange(BATCH, 2 * BATCH)], start=1):
        p = f"{case}.{step}."
        xb, yb, tb = x[rows].double(), y[rows], t_all[rows]
        opt.zero_grad()
        s = s64(xb)
        ce = F.cross_entropy(s, yb)
        kd_clean = kd(s, tb) if method != "original" else torch.zeros((), dtype=torch.float64)
        loss = ce + ALPHA * kd_clean if method != "original" else ce
        kd_b = torch.zeros((), dtype=torch.float64)
        base = torch.zeros(0, dtype=torch.int64)
        target = torch.zeros(0, dtype=torch.int64)
        status = torch.zeros(0, dtype=torch.int8)
        x_bss = torch.zeros((0, 1, 8, 8))
        t_bss = torch.zeros((0, 10))
        used = 0
        if method == "bss":
            assert top_margin(s.detach()) > 1e-3 and top_margin(tb) > 1e-3, (case, step)
            gen = torch.Generator().manual_seed(11 + step)
            base, target = br.select_base_and_targets(tb, s.detach(), yb, N_BSS, gen)
            ok = ((tb.argmax(1) == yb) & (s.detach().argmax(1) == yb)).sum().item()
            assert ok > N_BSS, (case, step, ok)
            pt, ps = F.softmax(tb, 1), F.softmax(s.detach(), 1)
            d = (pt - ps) ** 2
            score = (d.sum(1) - d.gather(1, yb[:, None])[:, 0])
            cand = ((tb.argmax(1) == yb) & (s.detach().argmax(1) == yb)).nonzero()[:, 0]
            ranked = score[cand].sort(descending=True).values
            assert (ranked[N_BSS - 1] - ranked[N_BSS]).item() > 1e-6, (case, step)
            x0 = xb[base]
            if mode == "paper":
                r = br.bss_paper(teacher64, x0, yb[base], target, eta=PAPER_ETA, eps=1e-4, max_steps=10,
                                 step_norm="l2sq")
                use = r["status"] == 1
            else:
                r = br.bss_official(teacher64, x0, target, eta=0.3, eps=1e-4, num_steps=10, clip=(-2.5, 2.5))
                use = torch.ones(len(base), dtype=torch.bool)
            status = r["status"]
            x_bss = r["x"].to(torch.float32)
            with torch.no_grad():
                t_bss = teacher64(x_bss.double())
            used = int(use.sum())
            assert used >= 2 and (mode == "official" or used < len(base)), (case, step, used)
            s_b = s64(x_bss[use].double())
            kd_b = kd(s_b, t_bss[use])
            loss = loss + BETA * kd_b
        loss.backward()
        opt.step()
        out[p + "rows"] = rows.numpy().astype(np.int64)
        out[p + "logits"] = s.detach().float().numpy()
        for name, v in [("ce", ce), ("kd", kd_clean), ("kd_bss", kd_b), ("loss", loss)]:
            out[p + name] = np.array(v.item(), np.float32)
        out[p + "base"] = base.numpy().astype(np.int64)
        out[p + "target"] = target.numpy().astype(np.int64)
        out[p + "status"] = status.numpy().astype(np.int8)
        out[p + "x_bss"] = x_bss.numpy().astype(np.float32)
        out[p + "teacher_logits_bss"] = t_bss.float().numpy() if len(t_bss) else np.zeros((0, 10), np.float32)
        out[p + "used"] = np.array(used, np.int64)
        for k, v in s64.state_dict().items():
            out[p + "after." + k] = v.clone().numpy() if v.dtype == torch.int64 else v.float().numpy()
        print(f"  {case} step {step}: ce {ce.item():.6f} kd {kd_clean.item():.6f} kd_bss {kd_b.item():.6f} "
              f"loss {loss.item():.6f}; base {len(base)}, used {used}")


def state_dict_keys(model):
    return [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()]


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    tr = np.load(os.path.join(DIGITS, "digits-train.npz"))
    te = np.load(os.path.join(DIGITS, "digits-test.npz"))
    x_all = torch.from_numpy(tr["x"].transpose(0, 3, 1, 2).copy())       # NHWC -> NCHW
    y_all = torch.from_numpy(tr["y"])

    teacher = load_keras_teacher()
    teacher64 = br.double_copy(teacher)
    ref = np.load(os.path.join(DIGITS, "teacher-cnn-reference.npz"))
    with torch.no_grad():
        test_logits = teacher64(torch.from_numpy(te["x"].transpose(0, 3, 1, 2).copy()).double())
    diff = np.abs(test_logits.numpy() - ref["logits"]).max()
    acc = (test_logits.argmax(1).numpy() == te["y"]).mean()
    print(f"teacher twin vs Keras logits: max |diff| = {diff:.2e}; test accuracy {acc:.6f}")
    assert diff < 1e-4 and abs(acc - 448 / 450) < 1e-9
    np.savez(os.path.join(OUT, "digits-teacher.npz"), **tm.state_dict_numpy(teacher))
    with open(os.path.join(OUT, "digits-teacher.json"), "w") as fh:
        json.dump(teacher_spec(), fh, indent=1)
        fh.write("\n")

    mlp = pretrain(load_keras_student(), x_all, y_all, seed=3)
    torch.manual_seed(5)
    bn = pretrain(BNStudent(), x_all, y_all, seed=4)
    np.savez(os.path.join(OUT, "digits-student-mlp.npz"), **tm.state_dict_numpy(mlp))
    np.savez(os.path.join(OUT, "digits-student-bn.npz"), **tm.state_dict_numpy(bn))
    with open(os.path.join(OUT, "digits-student-bn.json"), "w") as fh:
        json.dump(bn_student_spec(), fh, indent=1)
        fh.write("\n")
    with open(os.path.join(OUT, "state-dict-keys.json"), "w") as fh:
        json.dump({"mlp:64-48-10": state_dict_keys(tm.mlp([64, 48, 10])),
                   "heo2019-resnet8": state_dict_keys(tm.cifar_resnet(8)),
                   "digits-student-bn": state_dict_keys(BNStudent())}, fh, indent=1)
        fh.write("\n")

    x, y = x_all[:64], y_all[:64]
    with torch.no_grad():
        t_all = teacher64(x.double())
    out = {"x": x.numpy(), "y": y.numpy().astype(np.int64), "teacher_logits": t_all.float().numpy(),
           "T": np.array(T, np.float32), "alpha": np.array(ALPHA, np.float32), "beta": np.array(BETA, np.float32),
           "lr": np.array(LR, np.float32), "momentum": np.array(MOMENTUM, np.float32),
           "weight_decay": np.array(WD, np.float32), "bss_per_batch": np.array(N_BSS, np.int64),
           "torch_version": np.array(torch.__version__)}
    cases = [("mlp-original", mlp, "original", ""), ("mlp-hinton", mlp, "hinton", ""),
             ("mlp-bss-paper", mlp, "bss", "paper"), ("mlp-bss-official", mlp, "bss", "official"),
             ("bn-bss-paper", bn, "bss", "paper"), ("bn-bss-official", bn, "bss", "official")]
    for case, student, method, mode in cases:
        out[case + ".student"] = np.array("mlp" if student is mlp else "bn")
        out[case + ".method"] = np.array(method)
        out[case + ".mode"] = np.array(mode)
        run_case(student, teacher64, x, y, t_all, method, mode, out, case)
    out["cases"] = np.array(",".join(c[0] for c in cases))
    np.savez(os.path.join(OUT, "distill-step.npz"), **out)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
