"""Reference (PyTorch) implementation of BSS generation, shared by the fixture scripts and the
benchmark. It follows docs/algorithm.md ("Search loss" to "Target classes") exactly; see
make_bss_fixtures.py for the precise contract (order of operations, how `steps` is counted).

Also: the synthetic 5-class 3x12x12 data set and the small SmallCNN teachers trained on it.
"""
import copy

import torch
import torch.nn.functional as F

import torch_models as tm

ACCEPTED, REJECTED_OTHER, REJECTED_LIMIT = 1, 2, 3          # paper mode status codes
CROSSED_TARGET, CROSSED_OTHER, NOT_CROSSED = 1, 2, 3         # official mode status codes


# ----------------------------------------------------------------------------------------------
# BSS generation
# ----------------------------------------------------------------------------------------------
def _margin_and_grad(model, x, b, k, need_grad=True):
    """Logits f(x), L = f_b - f_k and g = dL/dx (per sample; one batched backward seeded with
    +1 at b and -1 at k). `model` must be in eval mode."""
    x = x.detach().requires_grad_(need_grad)
    out = model(x)
    L = out.gather(1, b[:, None])[:, 0] - out.gather(1, k[:, None])[:, 0]
    g = torch.autograd.grad(L.sum(), x)[0] if need_grad else None
    return out.detach(), L.detach(), g


def bss_paper(model, x0, b, k, eta=1.0, eps=1e-4, max_steps=10, step_norm="l2sq", clip=None):
    """Paper-mode BSS for a batch of pairs (x0[j], b[j], k[j]); model in eval mode.

    for i = 0, 1, ..., max_steps (x_0 = x0):
        evaluate f(x_i) -> L_i = f_b(x_i) - f_k(x_i), a_i = argmax f(x_i)   (first index on ties)
        (a) L_i < 0 and a_i == k          -> status 1 (accepted),       steps = i, stop
        (b) a_i not in {b, k}             -> status 2 (rejected other), steps = i, stop
        (c) i == max_steps                -> status 3 (step limit),     steps = max_steps, stop
        otherwise x_{i+1} = x_i - eta * (L_i + eps) * g_i / D(g_i),  g_i = dL/dx at x_i,
                  D = ||g||^2 ("l2sq", the paper) or ||g|| ("l2"); norms over the whole
                  flattened sample; then, if clip = (lo, hi), x_{i+1} = clamp(x_{i+1}, lo, hi).
    x_bss = the x_i at which the pair stopped (also for rejected pairs).
    So `steps` = number of updates applied = index of the last evaluated iterate, at most
    max_steps forward evaluations + 1 (the limit check on x_{max_steps} included).

    Returns dict of tensors: x (final), status int8, steps int32, L_trace [P, max_steps+1]
    (NaN after the stop), argmax_trace [P, max_steps+1] (-1 after the stop).
    Runs in the dtype of `model` / `x0` (both must match)."""
    P = x0.shape[0]
    x = x0.detach().clone()
    status = torch.zeros(P, dtype=torch.int8)
    steps = torch.zeros(P, dtype=torch.int32)
    L_trace = torch.full((P, max_steps + 1), float("nan"), dtype=torch.float64)
    a_trace = torch.full((P, max_steps + 1), -1, dtype=torch.int64)
    active = torch.arange(P)
    for i in range(max_steps + 1):
        if active.numel() == 0:
            break
        xa, ba, ka = x[active], b[active], k[active]
        out, L, g = _margin_and_grad(model, xa, ba, ka, need_grad=i < max_steps)
        a = out.argmax(1)
        L_trace[active, i] = L.double()
        a_trace[active, i] = a
        acc = (L < 0) & (a == ka)
        other = (a != ba) & (a != ka)
        limit = ~acc & ~other & (i == max_steps)
        status[active[acc]] = ACCEPTED
        status[active[other]] = REJECTED_OTHER
        status[active[limit]] = REJECTED_LIMIT
        stop = acc | other | limit
        steps[active[stop]] = i
        cont = ~stop
        if not cont.any():
            break
        g, L, xc = g[cont], L[cont], xa[cont]
        n = g.flatten(1).norm(dim=1)
        d = n * n if step_norm == "l2sq" else n
        scale = (eta * (L + eps) / d).reshape(-1, *([1] * (x.dim() - 1)))
        xn = xc - scale * g
        if clip is not None:
            xn = xn.clamp(clip[0], clip[1])
        x[active[cont]] = xn.detach()
        active = active[cont]
    return {"x": x, "status": status, "steps": steps, "L_trace": L_trace, "argmax_trace": a_trace}


def bss_official(model, x0, k, eta=0.3, eps=1e-4, num_steps=10, clip=(-2.5, 2.5)):
    """The authors' attacks/attack_BSS.py (AttackBSS.run with step_alpha=0.3, norm=2,
    num_steps=10), restated per sample; model in eval mode.

        GT = argmax f(x_0)                       (the base class b for correctly classified x_0)
        for i = 0 .. num_steps-1:
            evaluate f(x_i); moving = (argmax f(x_i) == GT)
            if no sample is moving: break
            L_i = f_GT(x_i) - f_k(x_i); g_i = dL/dx at x_i
            x_{i+1} = clamp(x_i - eta * (L_i + eps) * g_i / ||g_i||, -2.5, 2.5)  if moving
                    = x_i                                                    otherwise
    (The authors compute clamp(input + (step_adv - input)); equal to clamp(step_adv) in exact
    arithmetic. They clamp every sample, also non-moving ones, which is a no-op because every
    sample moves at i = 0 and is clamped then.) A sample that stops moving never moves again
    (its x and hence its argmax no longer change). `steps` = number of updates applied to the
    sample. Status from one extra evaluation of the returned x: argmax == k -> 1 (crossed into
    k), argmax == GT -> 3 (did not cross), else 2 (crossed into another class).
    Returns dict: x, status int8, steps int32, base (GT), L_trace/argmax_trace [P, num_steps+1]
    (the values at every evaluated x_i of a sample while it was moving, then at the final x;
    NaN / -1 elsewhere)."""
    P = x0.shape[0]
    x = x0.detach().clone()
    steps = torch.zeros(P, dtype=torch.int32)
    L_trace = torch.full((P, num_steps + 1), float("nan"), dtype=torch.float64)
    a_trace = torch.full((P, num_steps + 1), -1, dtype=torch.int64)
    with torch.no_grad():
        gt = model(x).argmax(1)
    for i in range(num_steps):
        out, L, g = _margin_and_grad(model, x, gt, k)
        a = out.argmax(1)
        moving = a == gt
        L_trace[moving, i] = L[moving].double()
        a_trace[moving, i] = a[moving]
        if not moving.any():
            break
        n = g.flatten(1).norm(dim=1)
        scale = (eta * (L + eps) / n).reshape(-1, *([1] * (x.dim() - 1)))
        xn = (x - scale * g).clamp(clip[0], clip[1])
        m = moving.reshape(-1, *([1] * (x.dim() - 1)))
        x = torch.where(m, xn, x).detach()
        steps += moving.to(torch.int32)
    with torch.no_grad():
        out = model(x)
    a = out.argmax(1)
    Lf = out.gather(1, gt[:, None])[:, 0] - out.gather(1, k[:, None])[:, 0]
    L_trace[torch.arange(P), steps.long()] = Lf.double()
    a_trace[torch.arange(P), steps.long()] = a
    status = torch.full((P,), CROSSED_OTHER, dtype=torch.int8)
    status[a == k] = CROSSED_TARGET
    status[a == gt] = NOT_CROSSED
    return {"x": x, "status": status, "steps": steps, "base": gt, "L_trace": L_trace, "argmax_trace": a_trace}


def select_base_and_targets(t_logits, s_logits, y, n_max, gen):
    """Section 2: base samples = teacher and student both correct; if more than n_max, keep the
    n_max with the largest sum_{c != y} (p_t(c) - p_s(c))^2; one target k ~ p_t(k)/(1 - p_t(y))
    over k != y. Returns (indices, targets)."""
    pt, ps = F.softmax(t_logits, 1), F.softmax(s_logits, 1)
    ok = (t_logits.argmax(1) == y) & (s_logits.argmax(1) == y)
    idx = ok.nonzero()[:, 0]
    if idx.numel() > n_max:
        d = (pt[idx] - ps[idx]) ** 2
        score = d.sum(1) - d.gather(1, y[idx][:, None])[:, 0]
        idx = idx[score.argsort(descending=True)[:n_max]]
    p = pt[idx].clone()
    p.scatter_(1, y[idx][:, None], 0.0)
    k = torch.multinomial(p / p.sum(1, keepdim=True), 1, generator=gen)[:, 0]
    return idx, k


# ----------------------------------------------------------------------------------------------
# Synthetic data and small teachers
# ----------------------------------------------------------------------------------------------
def synthetic_data(n, seed=0, classes=5, shape=(3, 12, 12), amp=0.5):
    """Class c: x = amp * proto_c + smooth_inputs noise (4x4 N(0,1) upsampled + 0.3 N(0,1));
    proto_c = fixed smooth patterns (3x3 N(0,1) upsampled; generator seed 12345, independent
    of `seed`). Labels uniform from generator `seed`. Std ~0.9, values within about [-5, 5]
    (~1% of the values beyond +-2.5). A SmallCNN reaches ~90% accuracy on it."""
    pg = torch.Generator().manual_seed(12345)
    protos = tm.smooth_inputs(classes, shape, pg, low=3, noise=0.0)
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = amp * protos[y] + tm.smooth_inputs(n, shape, g, low=4, noise=0.3)
    return x, y


def train_small_teacher(seed, steps=300, batch=64, lr=0.05, n_train=2048):
    """SmallCNN trained with SGD (momentum 0.9, wd 5e-4) on synthetic_data(n_train, seed=1),
    init seed `seed`, float32, one thread. Returns the model in eval mode."""
    torch.manual_seed(seed)
    model = tm.SmallCNN()
    x, y = synthetic_data(n_train, seed=1)
    g = torch.Generator().manual_seed(seed + 77)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    model.train()
    for s in range(steps):
        idx = torch.randint(0, n_train, (batch,), generator=g)
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return model.eval()


def accuracy(model, x, y):
    with torch.no_grad():
        return (model.eval()(x).argmax(1) == y).float().mean().item()


def double_copy(model):
    return copy.deepcopy(model).double().eval()
