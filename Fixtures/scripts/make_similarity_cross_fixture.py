"""PyTorch side of the Keras-vs-PyTorch boundary-similarity check -> Fixtures/similarity/.

Run from the repository root:   python3 Fixtures/scripts/make_similarity_cross_fixture.py
Reproducibility: torch.manual_seed(0), torch.set_num_threads(1), CPU, float32.

The Keras digits teacher (Fixtures/digits/teacher-cnn.h5) reads 8x8x1 NHWC images. Its PyTorch
counterpart here is the built-in preset `mlp:64-48-10` (torch_models.mlp([64, 48, 10]): fc1 64->48,
ReLU, fc2 48->10; keys fc1.weight, fc1.bias, fc2.weight, fc2.bias), trained on the same digits
(Fixtures/digits/digits-train.npz, x = pixel / 16 in [0, 1]) flattened per sample. With one channel
the NHWC and NCHW flatten orders coincide, so `bss similarity teacher-cnn.h5 digits-mlp.npz
--b-arch mlp:64-48-10 --data Fixtures/digits/digits-test.npz` compares the two models on the
same pixels.

Training: Adam lr 1e-2, 80 epochs, batch 64, shuffled (generator seed 0), cross-entropy.

Files:
  digits-mlp.npz      the state dict (float32; numpy.savez, uncompressed)
  digits-mlp-io.npz   x [16, 8, 8, 1] f32 = the first 16 test samples (NHWC as stored),
                      logits [16, 10] f32 (the model in float64 on those samples, rounded),
                      test_accuracy () f32 on the 450 test samples, torch_version () unicode
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Fixtures", "similarity")


def load(name):
    d = np.load(os.path.join(ROOT, "Fixtures", "digits", name))
    x = torch.from_numpy(d["x"].astype(np.float32))
    return x, torch.from_numpy(d["y"].astype(np.int64))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    xtr, ytr = load("digits-train.npz")
    xte, yte = load("digits-test.npz")
    flat_tr, flat_te = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)

    model = tm.mlp([64, 48, 10])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(80):
        order = torch.randperm(len(flat_tr), generator=g)
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(model(flat_tr[idx]), ytr[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(flat_te).argmax(1) == yte).float().mean().item()
        logits = model.double()(flat_te[:16].double()).float()
    model.float()

    np.savez(os.path.join(OUT, "digits-mlp.npz"), **tm.state_dict_numpy(model))
    np.savez(os.path.join(OUT, "digits-mlp-io.npz"), x=xte[:16].numpy(), logits=logits.numpy(),
             test_accuracy=np.array(accuracy, np.float32), torch_version=np.array(torch.__version__))
    print(f"  digits-mlp: test accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
