"""Feature-loss references (docs/algorithm.md, "Feature methods") -> Fixtures/features/feature-losses.npz

Run from the repository root with a checkout of HobbitLong/RepDistiller (CPU, a second):

    python3 Fixtures/scripts/make_feature_loss_fixtures.py /path/to/RepDistiller

The losses are RepDistiller's own modules, imported from the checkout (nothing of its code is
copied here): distiller_zoo.FitNet.HintLoss, distiller_zoo.AT.Attention (p = 2),
distiller_zoo.FSP.FSP and models.util.ConvReg. Fixed inputs (torch.manual_seed(0), float64),
loss values and gradients with respect to the student tensors by autograd.

Keys (every array float64 unless said otherwise)
----
hint.s, hint.t, hint.loss, hint.grad                    HintLoss on [2,3,4,4] maps
at.<case>.s, .t, .loss, .grad                           Attention().at_loss on one pair;
    cases: same (s [2,3,4,4], t [2,5,4,4]), pool_s (s [2,3,6,6] pooled to t [2,4,3,3]),
    pool_t (s [2,3,3,3], t [2,4,5,5] pooled to 3x3: overlapping bins)
at.same.map_s                                          Attention().at(s) for the "same" case, [2,16]
fsp.s<k>, fsp.t<k> (k = 0,1,2), fsp.loss, fsp.grad<k>  sum of FSP()(g_s, g_t) over the two pairs;
    student maps [2,3,6,6], [2,4,5,5], [2,5,3,3]; teacher [2,3,4,4], [2,4,4,4], [2,5,2,2]
fsp.matrix0                                            FSP.compute_fsp(student)[0], [2,4,3]
convreg.<case>.x, .weight, .bias, .y, .kernel (int64 [kh,kw]), .stride (int64)
    ConvReg(s_shape, t_shape) in training mode (BatchNorm batch statistics, ReLU) on x, with its
    conv weight/bias; cases: half (s 8x8 -> t 4x4: 3x3 stride 2 pad 1), valid (s 6x6 -> t 4x4:
    3x3 valid), same (s 4x4 -> t 4x4: 1x1)
"""
import sys
from pathlib import Path

import numpy as np
import torch

if len(sys.argv) != 2:
    sys.exit("usage: make_feature_loss_fixtures.py /path/to/RepDistiller")
sys.path.insert(0, sys.argv[1])
from distiller_zoo.AT import Attention  # noqa: E402
from distiller_zoo.FitNet import HintLoss  # noqa: E402
from distiller_zoo.FSP import FSP  # noqa: E402
from models.util import ConvReg  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)
out = {}


def rand(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def put(key, t):
    out[key] = t.detach().numpy() if torch.is_tensor(t) else np.asarray(t)


# FitNets hint.
s, t = rand(2, 3, 4, 4).requires_grad_(), rand(2, 3, 4, 4)
loss = HintLoss()(s, t)
loss.backward()
for k, v in [("s", s), ("t", t), ("loss", loss), ("grad", s.grad)]:
    put("hint." + k, v)

# Attention transfer, one pair per case.
at = Attention(p=2)
for case, ss, ts in [("same", (2, 3, 4, 4), (2, 5, 4, 4)), ("pool_s", (2, 3, 6, 6), (2, 4, 3, 3)),
                     ("pool_t", (2, 3, 3, 3), (2, 4, 5, 5))]:
    s, t = rand(*ss).requires_grad_(), rand(*ts)
    loss = at.at_loss(s, t)
    loss.backward()
    for k, v in [("s", s), ("t", t), ("loss", loss), ("grad", s.grad)]:
        put(f"at.{case}.{k}", v)
    if case == "same":
        put("at.same.map_s", at.at(s))

# FSP over three maps (two pairs), student and teacher of different sizes, equal channels.
gs = [rand(2, 3, 6, 6).requires_grad_(), rand(2, 4, 5, 5).requires_grad_(), rand(2, 5, 3, 3).requires_grad_()]
gt = [rand(2, 3, 4, 4), rand(2, 4, 4, 4), rand(2, 5, 2, 2)]
crit = FSP([g.shape for g in gs], [g.shape for g in gt])
loss = sum(crit(gs, gt))
loss.backward()
put("fsp.loss", loss)
for k in range(3):
    put(f"fsp.s{k}", gs[k]); put(f"fsp.t{k}", gt[k]); put(f"fsp.grad{k}", gs[k].grad)
put("fsp.matrix0", FSP.compute_fsp(gs)[0])

# ConvReg: the kernel RepDistiller picks from the shapes, and its training-mode output.
for case, ss, ts in [("half", (4, 3, 8, 8), (4, 5, 4, 4)), ("valid", (4, 3, 6, 6), (4, 5, 4, 4)),
                     ("same", (4, 3, 4, 4), (4, 5, 4, 4))]:
    reg = ConvReg(ss, ts).double().train()
    x = rand(*ss)
    y = reg(x)
    put(f"convreg.{case}.x", x); put(f"convreg.{case}.y", y)
    put(f"convreg.{case}.weight", reg.conv.weight); put(f"convreg.{case}.bias", reg.conv.bias)
    put(f"convreg.{case}.kernel", np.array(reg.conv.kernel_size, dtype=np.int64))
    put(f"convreg.{case}.stride", np.array(reg.conv.stride, dtype=np.int64))
    put(f"convreg.{case}.padding", np.array(reg.conv.padding, dtype=np.int64))

dest = Path("Fixtures/features/feature-losses.npz")
np.savez(dest, **out)
print(f"wrote {dest}: {len(out)} arrays; hint {float(out['hint.loss']):.6f}, "
      f"at.same {float(out['at.same.loss']):.6f}, fsp {float(out['fsp.loss']):.6f}")
