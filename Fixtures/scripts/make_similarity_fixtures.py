"""Boundary-similarity reference (docs/algorithm.md, "Boundary similarity") -> Fixtures/torch/similarity*.

Run from the repository root:   python3 Fixtures/scripts/make_similarity_fixtures.py
Reproducibility: fixed seeds, torch.set_num_threads(1), CPU.

Models A and B: two SmallCNN teachers (spec similarity-model.json, the same graph as
small-cnn.json) trained by bss_reference.train_small_teacher with init/batch seeds 1 (A; the
same weights as bss-teacher.npz) and 2 (B), float32, on the same synthetic data.
Stored as similarity-a.npz and similarity-b.npz (plain state dicts).

Pairs: the first 16 samples of bss_reference.synthetic_data(512, seed=3) that BOTH models
classify correctly (inference mode, float64), each with all 4 targets k != label in increasing
order -> 64 pairs; pair j uses sample pair_index[j] = j // 4.

For each model, paper-mode BSS (exactly bss_reference.bss_paper, as documented in
make_bss_fixtures.py: eta 1, eps 1e-4, max_steps 10, step_norm "l2sq", no clip) from the same
(x_n, k), in float64 on a float64 copy of the float32 model (inference mode).
P = pairs where both statuses are 1 (accepted); d_A = x_bss_a - x_n, d_B = x_bss_b - x_n
(float64, whole flattened sample):
    magsim = mean_P min(|d_A|, |d_B|) / max(|d_A|, |d_B|)
    angsim = mean_P max(0, <d_A, d_B> / (|d_A| |d_B|))

similarity.npz keys:
  x [16,3,12,12] f32, labels [16] i64, pair_index [64] i64, target_class [64] i64,
  status_a, status_b [64] i8, steps_a, steps_b [64] i32, x_bss_a, x_bss_b [64,3,12,12] f32,
  stable_a, stable_b [64] i8 (as in the bss-*.npz files), in_P [64] i8 (both accepted),
  magsim () f32, angsim () f32, n_pairs () i64 (= |P|), n_attempted () i64 (= 64),
  magsim_stable, angsim_stable () f32 and n_pairs_stable () i64: the same over the pairs of P
  that are stable for both models (equal to the above when every pair is stable),
  eta, eps () f32, max_steps () i32, step_norm () unicode, torch_version () unicode.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bss_reference as br  # noqa: E402
import torch_models as tm  # noqa: E402
from make_bss_fixtures import stability, save_npz, f32, OUT  # noqa: E402

KW = dict(eta=1.0, eps=1e-4, max_steps=10, step_norm="l2sq")


def similarity(xa, xb, x0, mask):
    da = (xa.double() - x0.double()).flatten(1)[mask]
    db = (xb.double() - x0.double()).flatten(1)[mask]
    na, nb = da.norm(dim=1), db.norm(dim=1)
    mag = (torch.minimum(na, nb) / torch.maximum(na, nb)).mean().item()
    ang = ((da * db).sum(1) / (na * nb)).clamp_min(0).mean().item()
    return mag, ang, int(mask.sum())


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    A, B = br.train_small_teacher(seed=1), br.train_small_teacher(seed=2)
    A64, B64 = br.double_copy(A), br.double_copy(B)
    save_npz("similarity-a.npz", tm.state_dict_numpy(A))
    save_npz("similarity-b.npz", tm.state_dict_numpy(B))
    with open(os.path.join(OUT, "similarity-model.json"), "w") as fh:
        json.dump(tm.small_cnn_spec(name="similarity-model"), fh, indent=1)
        fh.write("\n")

    xt, yt = br.synthetic_data(512, seed=3)
    with torch.no_grad():
        ok = ((A64(xt.double()).argmax(1) == yt) & (B64(xt.double()).argmax(1) == yt)).nonzero()[:, 0][:16]
    x, y = xt[ok], yt[ok]
    pair_index = torch.arange(16).repeat_interleave(4)
    k = torch.tensor([c for lab in y.tolist() for c in range(5) if c != lab])
    b = y[pair_index]
    x0 = x[pair_index]

    ra = br.bss_paper(A64, x0.double(), b, k, **KW)
    rb = br.bss_paper(B64, x0.double(), b, k, **KW)
    sa = stability("paper", A, A64, x0, b, k, KW, ra)
    sb = stability("paper", B, B64, x0, b, k, KW, rb)
    inP = (ra["status"] == 1) & (rb["status"] == 1)
    mag, ang, n = similarity(ra["x"], rb["x"], x0, inP)
    both_stable = inP & (sa == 1) & (sb == 1)
    mag_s, ang_s, n_s = similarity(ra["x"], rb["x"], x0, both_stable)
    # sanity: a model against itself scores 1, 1
    m1, a1, _ = similarity(ra["x"], ra["x"], x0, ra["status"] == 1)
    assert abs(m1 - 1) < 1e-12 and abs(a1 - 1) < 1e-12

    save_npz("similarity.npz", {
        "x": f32(x), "labels": y.numpy().astype(np.int64), "pair_index": pair_index.numpy().astype(np.int64),
        "target_class": k.numpy().astype(np.int64),
        "status_a": ra["status"].numpy(), "status_b": rb["status"].numpy(),
        "steps_a": ra["steps"].numpy(), "steps_b": rb["steps"].numpy(),
        "x_bss_a": f32(ra["x"]), "x_bss_b": f32(rb["x"]),
        "stable_a": sa.numpy(), "stable_b": sb.numpy(), "in_P": inP.to(torch.int8).numpy(),
        "magsim": np.array(mag, np.float32), "angsim": np.array(ang, np.float32),
        "n_pairs": np.array(n, np.int64), "n_attempted": np.array(len(k), np.int64),
        "magsim_stable": np.array(mag_s, np.float32), "angsim_stable": np.array(ang_s, np.float32),
        "n_pairs_stable": np.array(n_s, np.int64),
        "eta": np.array(KW["eta"], np.float32), "eps": np.array(KW["eps"], np.float32),
        "max_steps": np.array(KW["max_steps"], np.int32), "step_norm": np.array(KW["step_norm"]),
        "torch_version": np.array(torch.__version__)})
    print(f"  status A (1,2,3) = {torch.bincount(ra['status'].long(), minlength=4)[1:].tolist()}, "
          f"B = {torch.bincount(rb['status'].long(), minlength=4)[1:].tolist()}; stable A {int(sa.sum())}, B {int(sb.sum())}")
    print(f"  |P| = {n} of {len(k)}; MagSim {mag:.6f}, AngSim {ang:.6f} "
          f"(stable-only: |P| {n_s}, {mag_s:.6f}, {ang_s:.6f})")


if __name__ == "__main__":
    main()
