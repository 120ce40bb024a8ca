"""Engine-parity fixtures: PyTorch reference numbers for bss's Swift engine.

Run from the repository root:   python3 Fixtures/scripts/make_torch_fixtures.py
Writes into Fixtures/torch/ (see Fixtures/torch/README.md for every key).

Reproducibility: fixed seeds (one per model, below), torch.set_num_threads(1), CPU.
Models are float32 (the stored state dicts are float32 + int64 num_batches_tracked).
Precision: every reference number (logits, input gradients, losses, parameter gradients,
BatchNorm running statistics, the SGD trajectory) is computed on a float64 COPY of the float32
model (`model.double()`: the float32 weights are exactly representable) with float64 inputs
made from the stored float32 inputs, then rounded to float32 for storage. They are therefore
the exact answer for the stored float32 weights and inputs, up to one final float32 rounding;
a float32 engine should match them to float32 accumulation error. The script also runs every
computation once in float32 and prints the largest float32-vs-float64 differences as a
tolerance hint (copied into the README).

Per model <m> in {small-cnn, heo2019-resnet8, mlp-64-48-10}:
  inputs      torch_models.smooth_inputs (image-like: 4x4 N(0,1) upsampled + 0.3 N(0,1) noise;
              N(0,1) for the MLP), drawn from torch.Generator().manual_seed(seed + 1000)
  <m>.npz     state dict: random init (PyTorch default; the authors' init for the ResNets),
              then torch_models.calibrate_random_model on a separate calibration batch:
              random BatchNorm weight/bias, running statistics = perturbed batch statistics
              (so inference mode differs from training mode), and a re-drawn final Linear
              so the logits vary across inputs (std ~0.25 for small-cnn and heo2019-resnet8,
              whose 5-step SGD trajectory must stay well conditioned at lr 0.1; 1.0 for the
              MLP, 1.5 for heo2019-resnet26) instead of being nearly constant
  <m>.json    architecture spec (docs/architecture-spec.md); names == state-dict prefixes
  <m>-io.npz  x, logits_eval, base, target, margin_grad                  (inference mode)
              y, teacher_logits, T, alpha, loss, logits_train, grad.<key>, bn_after.<key>
                                                       (ONE forward/backward in training mode)
              sgd_x, sgd_y, lr, momentum, weight_decay, sgd_loss, after_sgd.<key>
                                                       (5 SGD steps in training mode)
              torch_version
cifar-resnet26.npz / .json / -io.npz (x, logits_eval, base, target, margin_grad, torch_version).

Definitions
- margin_grad = d/dx sum_n (f_{base_n}(x_n) - f_{target_n}(x_n)), inference mode.
- loss = CE(s(x), y) + alpha * KD_T(s(x), teacher_logits),
  KD_T(s, t) = -mean_n sum_c softmax(t_n/T)_c * log_softmax(s_n/T)_c  (no T^2 factor),
  CE the mean over the batch. Training mode: BatchNorm normalises with the batch statistics
  (biased variance) and updates running_mean/var with momentum 0.1 using the UNBIASED batch
  variance (PyTorch); num_batches_tracked += 1. Dropout is disabled for every training-mode
  reference by setting the Dropout module's p to 0 (model.train() otherwise).
  grad.<key> = d loss / d parameter after that one backward (trainable parameters only);
  logits_train = s(x) of that forward; bn_after.<key> = running_mean, running_var and
  num_batches_tracked of every BatchNorm after that one forward.
- SGD batches: sgd_x image-like inputs, sgd_y = the initial model's own predictions; the
  batch seed is searched until the trajectory is well conditioned (see choose_sgd_batches;
  the chosen seed is stored as sgd_seed).
- SGD: from the stored state dict, torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=1e-4,
  dampening=0, nesterov=False) over ALL trainable parameters (incl. BatchNorm weight/bias),
  5 steps; step i: zero_grad, loss_i = CE(s(sgd_x[i]), sgd_y[i]) in training mode (dropout p=0),
  backward, step. PyTorch's update: d = g + wd*p; buf = d (first step) else momentum*buf + d;
  p -= lr*buf. sgd_loss[i] = loss_i (before step i). after_sgd.<key> = every state-dict entry
  after the 5 steps (parameters and BatchNorm buffers; num_batches_tracked == 5).
"""
import copy
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch")
T_KD, ALPHA = 3.0, 0.7
LR, MOMENTUM, WD, SGD_STEPS = 0.1, 0.9, 1e-4, 5
TOL_HINTS = {}


def f32(t):
    return t.detach().cpu().to(torch.float32).numpy()


def save_npz(name, arrays):
    path = os.path.join(OUT, name)
    for k, v in arrays.items():
        assert isinstance(v, np.ndarray), k
        assert v.dtype in (np.float32, np.int64, np.int8, np.int32) or v.dtype.kind == "U", (k, v.dtype)
    np.savez(path, **arrays)
    print(f"wrote {name} ({os.path.getsize(path)} bytes, {len(arrays)} arrays)")


def save_spec(name, spec):
    with open(os.path.join(OUT, name), "w") as fh:
        json.dump(spec, fh, indent=1)
        fh.write("\n")
    print(f"wrote {name}")


def no_dropout(model):
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    return model


def kd(s, t, T):
    return -(F.softmax(t / T, dim=1) * F.log_softmax(s / T, dim=1)).sum(dim=1).mean()


def check_spec(spec, model, x):
    model = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        ref = model(x.double())
        got = tm.spec_forward(spec, dict(model.state_dict()), x.double())
    err = (ref - got).abs().max().item()
    assert err < 1e-10, (spec["name"], err)
    print(f"spec {spec['name']}: interpreter matches the nn.Module (max |diff| {err:.1e})")


def eval_refs(model, x, base, target):
    """logits_eval and margin_grad of `model` (its own dtype) in inference mode."""
    m = copy.deepcopy(model).eval()
    xx = x.to(next(m.parameters()).dtype).clone().requires_grad_(True)
    out = m(xx)
    margin = (out.gather(1, base[:, None]) - out.gather(1, target[:, None])).sum()
    g, = torch.autograd.grad(margin, xx)
    return out.detach(), g


def train_refs(model, x, y, t):
    m = no_dropout(copy.deepcopy(model)).train()
    dt = next(m.parameters()).dtype
    out = m(x.to(dt))
    loss = F.cross_entropy(out, y) + ALPHA * kd(out, t.to(dt), T_KD)
    loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in m.named_parameters()}
    bufs = {k: v.detach().clone() for k, v in m.state_dict().items()
            if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    return out.detach(), loss.detach(), grads, bufs


def sgd_refs(model, sx, sy):
    m = no_dropout(copy.deepcopy(model)).train()
    dt = next(m.parameters()).dtype
    opt = torch.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD, nesterov=False)
    losses = []
    for i in range(sx.shape[0]):
        opt.zero_grad()
        loss = F.cross_entropy(m(sx[i].to(dt)), sy[i])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return torch.tensor(losses), {k: v.detach().clone() for k, v in m.state_dict().items()}


def perturbed(model, rel, gen):
    m = copy.deepcopy(model)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(p.abs() * rel * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return m


def state_reldiff(a, b):
    return max(reldiff(a[k], b[k]) for k in b if b[k].is_floating_point())


def choose_sgd_batches(model, m64, in_shape, n, seed, tol=1e-5, trials=4, max_tries=40):
    """Pick the 5 SGD batches so that the 5-step trajectory is well conditioned.

    Five SGD steps at lr 0.1 through a ReLU network are chaotic when a pre-activation sits
    within rounding distance of 0 (one ReLU flipping changes a gradient by ~1e-4 relative and
    the momentum amplifies it). Such a trajectory cannot be matched by a float32 engine, so we
    try batch seeds 5000 + 100*seed + j (j = 0, 1, ...) and keep the first whose trajectory is
    stable: (a) float32 PyTorch vs the float64 reference and (b) `trials` float64 runs from
    weights perturbed by 3e-7 relative (N(0,1) * |p| * 3e-7, the size of float32 rounding)
    all end within `tol` (max |diff| / max |ref| per state-dict entry) of the reference, and
    (c) the last loss is > 0.05 (training is not degenerate).
    Labels are the initial model's own inference-mode predictions for the batch (argmax of the
    float64 logits), so the loss falls and the gradients stay moderate (random labels make
    the loss climb at lr 0.1 and are far more chaotic)."""
    for j in range(max_tries):
        sgd_seed = 5000 + 100 * seed + j
        gen = torch.Generator().manual_seed(sgd_seed)
        sx = tm.smooth_inputs(SGD_STEPS * n, in_shape, gen).reshape(SGD_STEPS, n, *in_shape)
        with torch.no_grad():
            sy = copy.deepcopy(m64).eval()(sx.reshape(-1, *in_shape).double()).argmax(1).reshape(SGD_STEPS, n)
        losses, after = sgd_refs(m64, sx, sy)
        losses32, after32 = sgd_refs(model, sx, sy)
        d32 = state_reldiff(after32, after)
        pg = torch.Generator().manual_seed(sgd_seed)
        dp = max(state_reldiff(sgd_refs(perturbed(m64, 3e-7, pg), sx, sy)[1], after) for _ in range(trials))
        ok = d32 < tol and dp < tol and losses[-1] > 0.05
        print(f"  sgd batch seed {sgd_seed}: f32 rel {d32:.1e}, perturbed rel {dp:.1e}, "
              f"losses {[round(v, 3) for v in losses.tolist()]}{'  <- chosen' if ok else ''}")
        if ok:
            cond = {"after_sgd_rel": d32, "after_sgd_perturbed_rel": dp,
                    "sgd_loss": maxdiff(losses32, losses)}
            return sgd_seed, sx, sy, losses, after, cond
    raise RuntimeError("no well-conditioned SGD batches found")


def maxdiff(a, b):
    return (a.double() - b.double()).abs().max().item()


def reldiff(a, b):
    a, b = a.double(), b.double()
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def make_model(tag, model, in_shape, classes, n, seed, full=True):
    gen = torch.Generator().manual_seed(seed + 1000)
    model = model.float()
    sd = tm.state_dict_numpy(model)
    save_npz(f"{tag}.npz", sd)

    x = tm.smooth_inputs(n, in_shape, gen)
    base = torch.randint(0, classes, (n,), generator=gen)
    target = (base + torch.randint(1, classes, (n,), generator=gen)) % classes
    m64 = copy.deepcopy(model).double()
    logits, mgrad = eval_refs(m64, x, base, target)
    logits32, mgrad32 = eval_refs(model, x, base, target)
    hints = {"logits_eval": maxdiff(logits32, logits), "margin_grad": maxdiff(mgrad32, mgrad),
             "margin_grad_rel": reldiff(mgrad32, mgrad)}
    io = {"x": f32(x), "logits_eval": f32(logits), "base": base.numpy(), "target": target.numpy(),
          "margin_grad": f32(mgrad)}

    if full:
        y = torch.randint(0, classes, (n,), generator=gen)
        tlog = torch.randn(n, classes, generator=gen) * 2.0
        out, loss, grads, bufs = train_refs(m64, x, y, tlog)
        out32, loss32, grads32, bufs32 = train_refs(model, x, y, tlog)
        hints["logits_train"] = maxdiff(out32, out)
        hints["loss"] = abs(loss32.item() - loss.item())
        hints["grad_rel"] = max(reldiff(grads32[k], grads[k]) for k in grads)
        hints["bn_after"] = max((maxdiff(bufs32[k], bufs[k]) for k in bufs), default=0.0)
        io.update({"y": y.numpy(), "teacher_logits": f32(tlog),
                   "T": np.array(T_KD, np.float32), "alpha": np.array(ALPHA, np.float32),
                   "loss": np.array(loss.item(), np.float32), "logits_train": f32(out)})
        io.update({f"grad.{k}": f32(v) for k, v in grads.items()})
        for k, v in bufs.items():
            io[f"bn_after.{k}"] = v.numpy() if v.dtype == torch.int64 else f32(v)

        sgd_seed, sx, sy, losses, after, cond = choose_sgd_batches(model, m64, in_shape, n, seed)
        hints.update(cond)
        moved = max(maxdiff(after[k], m64.state_dict()[k]) for k in after if after[k].is_floating_point())
        hints["after_sgd_max_change"] = moved
        io.update({"sgd_x": f32(sx), "sgd_y": sy.numpy(), "sgd_seed": np.array(sgd_seed, np.int64), "lr": np.array(LR, np.float32),
                   "momentum": np.array(MOMENTUM, np.float32), "weight_decay": np.array(WD, np.float32),
                   "sgd_loss": f32(losses)})
        for k, v in after.items():
            io[f"after_sgd.{k}"] = v.numpy() if v.dtype == torch.int64 else f32(v)

    io["torch_version"] = np.array(torch.__version__)
    save_npz(f"{tag}-io.npz", io)
    TOL_HINTS[tag] = hints
    print(f"  float32-vs-float64 max |diff| ({tag}): " + ", ".join(f"{k} {v:.2e}" for k, v in hints.items()))
    return x


def calibrate(model, head, in_shape, seed, spread):
    gen = torch.Generator().manual_seed(seed)
    x_calib = tm.smooth_inputs(32, in_shape, gen)
    tm.calibrate_random_model(model, getattr(model, head), x_calib, gen, spread=spread)


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)

    # SmallCNN ---------------------------------------------------------------------------------
    torch.manual_seed(1)
    m = tm.SmallCNN()
    calibrate(m, "fc2", (3, 12, 12), 11, spread=0.25)
    spec = tm.small_cnn_spec()
    save_spec("small-cnn.json", spec)
    x = make_model("small-cnn", m, (3, 12, 12), 5, 6, seed=1)
    check_spec(spec, m, x)

    # heo2019-resnet8 ----------------------------------------------------------------------------
    torch.manual_seed(2)
    m = tm.cifar_resnet(8)
    calibrate(m, "linear", (3, 32, 32), 12, spread=None)
    spec = tm.cifar_resnet_spec(8)
    save_spec("cifar-resnet8.json", spec)
    x = make_model("cifar-resnet8", m, (3, 32, 32), 10, 6, seed=2)
    check_spec(spec, m, x)

    # mlp 64-48-10 -----------------------------------------------------------------------------
    torch.manual_seed(3)
    m = tm.mlp([64, 48, 10])
    calibrate(m, "fc2", (64,), 13, spread=1.0)
    spec = tm.mlp_spec([64, 48, 10])
    save_spec("mlp-64-48-10.json", spec)
    x = make_model("mlp-64-48-10", m, (64,), 10, 8, seed=3)
    check_spec(spec, m, x)

    # heo2019-resnet26 (inference only) ----------------------------------------------------------
    torch.manual_seed(4)
    m = tm.cifar_resnet(26)
    calibrate(m, "linear", (3, 32, 32), 14, spread=1.5)
    spec = tm.cifar_resnet_spec(26)
    save_spec("cifar-resnet26.json", spec)
    x = make_model("cifar-resnet26", m, (3, 32, 32), 10, 4, seed=4, full=False)
    check_spec(spec, m, x)

    with open(os.path.join(OUT, "torch-tolerance-hints.json"), "w") as fh:
        json.dump(TOL_HINTS, fh, indent=1, sort_keys=True)
        fh.write("\n")
    print("wrote torch-tolerance-hints.json")


if __name__ == "__main__":
    main()
