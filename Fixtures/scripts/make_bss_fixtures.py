"""BSS reference trajectories (docs/algorithm.md, "Search loss" to "Target classes") -> Fixtures/torch/bss-*.npz

Run from the repository root:   python3 Fixtures/scripts/make_bss_fixtures.py
Reproducibility: fixed seeds, torch.set_num_threads(1), CPU.

Teacher: SmallCNN (torch_models.py; spec bss-teacher.json, same graph as small-cnn.json),
trained in float32 by bss_reference.train_small_teacher(seed=1): 300 SGD steps (lr 0.05,
momentum 0.9, wd 5e-4, batch 64, dropout and BatchNorm in training mode) on
bss_reference.synthetic_data(2048, seed=1) (5 classes, 3x12x12). Stored as bss-teacher.npz.

Pairs: the first 16 samples of synthetic_data(512, seed=2) that the teacher classifies
correctly, each with all 4 target classes k != b in increasing order -> P = 64 pairs, pair
j = (sample j // 4, j-th other class). Every per-pair array has leading axis P.

Precision: the BSS iterations run in float64 on a float64 copy of the float32 teacher
(inference mode: BatchNorm running statistics, dropout off), starting from the stored float32
x_base. x_bss is stored rounded to float32.

Runs (one file each):
  bss-paper.npz       paper mode, eta 1,   eps 1e-4, max_steps 10, step_norm "l2sq", no clip
  bss-paper-l2.npz    paper mode, eta 0.3, eps 1e-4, max_steps 10, step_norm "l2",   no clip
                      (slow approach: the step-limit rejection occurs)
  bss-paper-clip.npz  paper mode as bss-paper but clip = [-2.5, 2.5] after every update
  bss-official.npz    the authors' code: eta 0.3, eps 1e-4, 10 steps, "l2", clip [-2.5, 2.5],
                      freeze once argmax != b, no rejection

PAPER MODE, exact order of operations (bss_reference.bss_paper):
  x_0 = x_base
  for i = 0, 1, ..., max_steps:
      forward f(x_i) (inference mode); L_i = f_b(x_i) - f_k(x_i); a_i = argmax_c f_c(x_i)
      (a) if L_i < 0 and a_i == k:     status 1 (accepted)               steps = i; stop
      (b) elif a_i != b and a_i != k:  status 2 (rejected: other class)  steps = i; stop
      (c) elif i == max_steps:         status 3 (rejected: step limit)   steps = i; stop
      else: g_i = dL/dx(x_i) (one backward, seed +1 at b, -1 at k)
            x_{i+1} = x_i - eta * (L_i + eps) * g_i / D,  D = ||g_i||^2 ("l2sq") or ||g_i|| ("l2"),
            the norm over the whole flattened sample (3*12*12 values);
            if clip: x_{i+1} = clamp(x_{i+1}, clip[0], clip[1])
  x_bss = the iterate x_i at which the pair stopped (for every status).
  => steps = the number of updates applied = the index i of the iterate that was checked last;
     a pair is evaluated steps+1 times; 0 <= steps <= max_steps; status 3 always has
     steps == max_steps (x_{max_steps} is checked for (a) and (b) first, so a pair can still be
     accepted at i == max_steps). Status 2 takes precedence over 3 at i == max_steps.

OFFICIAL MODE (bss_reference.bss_official; attacks/attack_BSS.py):
  GT = argmax f(x_0) (== base_class here)
  for i = 0 .. 9:  forward f(x_i); moving_j = (argmax f(x_i)_j == GT_j); stop if none moving;
                   for moving pairs x_{i+1} = clamp(x_i - eta (L_i + eps) g_i / ||g_i||, -2.5, 2.5),
                   others keep x_i (and, their argmax being fixed, never move again)
  steps = number of updates applied to the pair (0..10); x_bss = its final x;
  status from the argmax at x_bss (one more forward): 1 = k (crossed into the target),
  2 = another class != GT (crossed elsewhere), 3 = GT (did not cross within 10 steps).
  For a pair that stopped moving at i, argmax f(x_bss) is the argmax that stopped it (!= GT).
  The authors' l2_norm (attacks/helpers.py, not in the stored repo) is taken to be the
  per-sample L2 norm over all input dimensions, as docs/algorithm.md ("Notation") states.

Per-run keys:
  x_base [P,3,12,12] f32, base_class [P] i64, target_class [P] i64, status [P] i8,
  steps [P] i32, x_bss [P,3,12,12] f32, eta () f32, eps () f32, max_steps () i32,
  step_norm () unicode ("l2sq" | "l2"), clip f32 [2] = [lo, hi] or shape [0] = no clipping,
  mode () unicode ("paper" | "official"),
  L_trace [P, max_steps+1] f32: L_i at every evaluated iterate (NaN where not evaluated;
      official: the evaluations while moving, then the final evaluation at index `steps`),
  argmax_trace [P, max_steps+1] i64: a_i likewise (-1 where not evaluated),
  stable [P] i8: 1 if the pair's outcome is robust to float32 rounding: a float32 PyTorch run
      and 3 float64 runs from x_base perturbed by N(0,1) * 1e-6 * max(|x|, 1) all give the same
      status and steps, and x_bss within 1e-3 (max abs) of the reference. Compare status/steps
      exactly only on stable pairs.

bss-linear.npz: a linear classifier f(x) = W x + b (K=4 classes, D=20), pairs (x_j, k_j)
  with b_j = argmax f(x_j), chosen so that ONE paper-mode step with eta 1 lands at
  L = -eps exactly (exact for a linear model: L(x_1) = L(x_0) - (L(x_0) + eps)) and
  argmax f(x_1) == k. Keys: W [K,D], b [K], x [P,D], targets [P] i64, base_class [P] i64,
  eps, eta, x_step1 [P,D] (float64 result rounded), L_step1 [P] (float64 value, ~ -1e-4),
  status [P] i8 (all 1), steps [P] i32 (all 1). Spec bss-linear.json (one linear layer "fc"
  whose keys are overridden to W / b).
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bss_reference as br  # noqa: E402
import torch_models as tm  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch")


def save_npz(name, arrays):
    path = os.path.join(OUT, name)
    np.savez(path, **arrays)
    print(f"wrote {name} ({os.path.getsize(path)} bytes)")


def save_json(name, obj):
    with open(os.path.join(OUT, name), "w") as fh:
        json.dump(obj, fh, indent=1)
        fh.write("\n")
    print(f"wrote {name}")


def f32(t):
    return t.detach().to(torch.float32).numpy()


def make_pairs(teacher64, n_base=16, seed=2):
    xt, yt = br.synthetic_data(512, seed=seed)
    with torch.no_grad():
        ok = (teacher64(xt.double()).argmax(1) == yt).nonzero()[:, 0][:n_base]
    xb, yb = xt[ok], yt[ok]
    classes = teacher64.fc2.out_features
    b = yb.repeat_interleave(classes - 1)
    k = torch.tensor([c for y in yb.tolist() for c in range(classes) if c != y])
    x0 = xb.repeat_interleave(classes - 1, 0)
    return x0, b, k


def run(mode, model, x0, b, k, kw):
    if mode == "paper":
        return br.bss_paper(model, x0, b, k, **kw)
    return br.bss_official(model, x0, k, **kw)


def stability(mode, teacher, teacher64, x0, b, k, kw, ref, trials=3):
    runs = [run(mode, teacher, x0.float(), b, k, kw)]
    g = torch.Generator().manual_seed(99)
    for _ in range(trials):
        xp = x0.double() + torch.randn(x0.shape, generator=g, dtype=torch.float64) * 1e-6 * x0.double().abs().clamp_min(1)
        runs.append(run(mode, teacher64, xp, b, k, kw))
    stable = torch.ones(x0.shape[0], dtype=torch.bool)
    for r in runs:
        dx = (r["x"].double() - ref["x"]).flatten(1).abs().max(1)[0]
        stable &= (r["status"] == ref["status"]) & (r["steps"] == ref["steps"]) & (dx <= 1e-3)
    return stable.to(torch.int8)


def make_run(name, mode, teacher, teacher64, x0, b, k, kw, max_steps, step_norm, clip):
    ref = run(mode, teacher64, x0.double(), b, k, kw)
    if mode == "official":
        assert torch.equal(ref["base"], b)
    stable = stability(mode, teacher, teacher64, x0, b, k, kw, ref)
    arrays = {
        "x_base": f32(x0), "base_class": b.numpy().astype(np.int64), "target_class": k.numpy().astype(np.int64),
        "status": ref["status"].numpy(), "steps": ref["steps"].numpy(), "x_bss": f32(ref["x"]),
        "eta": np.array(kw["eta"], np.float32), "eps": np.array(kw["eps"], np.float32),
        "max_steps": np.array(max_steps, np.int32), "step_norm": np.array(step_norm),
        "clip": np.array(clip if clip is not None else [], np.float32), "mode": np.array(mode),
        "L_trace": f32(ref["L_trace"]), "argmax_trace": ref["argmax_trace"].numpy(),
        "stable": stable.numpy(), "torch_version": np.array(torch.__version__),
    }
    save_npz(name, arrays)
    st = torch.bincount(ref["status"].long(), minlength=4)[1:].tolist()
    sp = torch.bincount(ref["steps"].long(), minlength=max_steps + 1).tolist()
    print(f"  {name}: status counts (1,2,3) = {st}; steps histogram 0..{max_steps} = {sp}; "
          f"stable {int(stable.sum())}/{len(stable)}")
    return {"status_counts": st, "steps_hist": sp, "stable": int(stable.sum()), "pairs": len(stable)}


def make_linear(seed=7, K=4, D=20, P=12, eps=1e-4):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(K, D, generator=g)
    bias = torch.randn(K, generator=g) * 0.5
    xs, ks = [], []
    while len(xs) < P:
        x = torch.randn(D, generator=g) * 1.5
        f = (W.double() @ x.double() + bias.double())
        base = int(f.argmax())
        k = int(torch.randint(0, K - 1, (1,), generator=g))
        k = k + (k >= base)
        gvec = W[base].double() - W[k].double()
        L = f[base] - f[k]
        x1 = x.double() - (L + eps) * gvec / gvec.dot(gvec)
        f1 = W.double() @ x1 + bias.double()
        if int(f1.argmax()) == k:
            xs.append(x)
            ks.append(k)
    x = torch.stack(xs)
    k = torch.tensor(ks)
    lin = torch.nn.Linear(D, K).double()
    with torch.no_grad():
        lin.weight.copy_(W.double())
        lin.bias.copy_(bias.double())
    base = (x.double() @ W.double().T + bias.double()).argmax(1)
    ref = br.bss_paper(lin, x.double(), base, k, eta=1.0, eps=eps, max_steps=10)
    assert (ref["status"] == 1).all() and (ref["steps"] == 1).all()
    x1 = ref["x"]
    f1 = x1 @ W.double().T + bias.double()
    L1 = f1.gather(1, base[:, None])[:, 0] - f1.gather(1, k[:, None])[:, 0]
    assert (L1 + eps).abs().max() < 1e-12, L1
    save_npz("bss-linear.npz", {
        "W": f32(W), "b": f32(bias), "x": f32(x), "targets": k.numpy().astype(np.int64),
        "base_class": base.numpy().astype(np.int64), "eps": np.array(eps, np.float32),
        "eta": np.array(1.0, np.float32), "x_step1": f32(x1), "L_step1": f32(L1),
        "status": ref["status"].numpy(), "steps": ref["steps"].numpy(),
        "torch_version": np.array(torch.__version__)})
    save_json("bss-linear.json", {
        "format": "bss-architecture", "version": 1, "name": "bss-linear", "input_shape": [D], "classes": K,
        "layers": [{"name": "fc", "type": "linear", "in_features": D, "out_features": K,
                    "keys": {"weight": "W", "bias": "b"}}]})


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    teacher = br.train_small_teacher(seed=1)
    xtr, ytr = br.synthetic_data(2048, seed=1)
    xte, yte = br.synthetic_data(512, seed=2)
    print(f"teacher: train acc {br.accuracy(teacher, xtr, ytr):.4f}, held-out acc {br.accuracy(teacher, xte, yte):.4f}")
    save_npz("bss-teacher.npz", tm.state_dict_numpy(teacher))
    save_json("bss-teacher.json", tm.small_cnn_spec(name="bss-teacher"))
    teacher64 = br.double_copy(teacher)
    x0, b, k = make_pairs(teacher64)

    summary = {}
    summary["bss-paper.npz"] = make_run("bss-paper.npz", "paper", teacher, teacher64, x0, b, k,
                                        dict(eta=1.0, eps=1e-4, max_steps=10, step_norm="l2sq"), 10, "l2sq", None)
    summary["bss-paper-l2.npz"] = make_run("bss-paper-l2.npz", "paper", teacher, teacher64, x0, b, k,
                                           dict(eta=0.3, eps=1e-4, max_steps=10, step_norm="l2"), 10, "l2", None)
    summary["bss-paper-clip.npz"] = make_run("bss-paper-clip.npz", "paper", teacher, teacher64, x0, b, k,
                                             dict(eta=1.0, eps=1e-4, max_steps=10, step_norm="l2sq", clip=(-2.5, 2.5)),
                                             10, "l2sq", [-2.5, 2.5])
    summary["bss-official.npz"] = make_run("bss-official.npz", "official", teacher, teacher64, x0, b, k,
                                           dict(eta=0.3, eps=1e-4, num_steps=10, clip=(-2.5, 2.5)), 10, "l2", [-2.5, 2.5])
    make_linear()
    save_json("bss-summary.json", summary)


if __name__ == "__main__":
    main()
