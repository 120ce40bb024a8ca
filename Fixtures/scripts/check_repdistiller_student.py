"""Loads a student that `bss distill` exported (a `repdistiller-<name>` preset, written as a
PyTorch state dict, `.npz` or `.safetensors`) into RepDistiller's OWN model code with
`load_state_dict(strict=True)`, and compares its logits with the ones `bss predict` wrote.

    python3 Fixtures/scripts/check_repdistiller_student.py REPDISTILLER_CHECKOUT MODEL_NAME \\
        STUDENT_FILE DATA_NPZ BSS_LOGITS_NPZ [--classes 100]

MODEL_NAME is a key of RepDistiller's models.model_dict (resnet8, wrn_16_1, ...); the module is
loaded from the checkout (RepDistiller/models/), never copied. DATA_NPZ holds `x` (NCHW
float32); BSS_LOGITS_NPZ holds `logits` (`bss predict ... --out`). Prints the strict-load result
and the largest difference relative to the largest logit, and exits 1 beyond 1e-4 (used by
Tests/CLITests/RepDistillerExportTests.swift, which runs only with BSS_REPDISTILLER set).
"""
import argparse
import importlib
import os
import sys

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("repdistiller")
    ap.add_argument("model")
    ap.add_argument("student")
    ap.add_argument("data")
    ap.add_argument("logits")
    ap.add_argument("--classes", type=int, default=100)
    a = ap.parse_args()
    torch.set_num_threads(1)
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.abspath(a.repdistiller))
    models = importlib.import_module("models")          # RepDistiller/models/__init__.py: model_dict
    net = models.model_dict[a.model](num_classes=a.classes).eval()
    if a.student.endswith(".safetensors"):
        from safetensors.torch import load_file
        sd = load_file(a.student)
    else:
        sd = {k: torch.from_numpy(np.asarray(v)) for k, v in np.load(a.student).items()}
    print(net.load_state_dict(sd, strict=True))
    x = torch.from_numpy(np.load(a.data)["x"].astype(np.float32))
    with torch.no_grad():
        theirs = net(x).numpy()
    ours = np.load(a.logits)["logits"]
    rel = float(np.abs(theirs - ours).max() / np.abs(theirs).max())
    agree = float((theirs.argmax(1) == ours.argmax(1)).mean())
    print(f"max relative difference {rel:.3e} of the largest logit {np.abs(theirs).max():.4f}; argmax agreement {agree:.3f}")
    return 0 if rel <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
