"""PyTorch and onnxruntime parity of a student bss distilled and exported (run by
Tests/CLITests/ONNXStudentExportTests.swift; also by hand):

    python3 Fixtures/scripts/check_onnx_student_torch.py FOLDER

FOLDER holds student.npz, student.safetensors and student.onnx (the student-bn.onnx digits CNN
after `bss distill --out student.onnx` and `bss convert`), and io.npz with x [N, 1, 8, 8] and
bss's logits for x. The .npz and .safetensors are loaded into the student's PyTorch definition
(StudentBN in make_onnx_ops2_fixtures.py) with load_state_dict(strict=True): every key, shape
and buffer (num_batches_tracked included) must match. Prints one line per check,
"<what>: max |logits - bss| <value>", or "SKIP <reason>" when a python package is missing.
"""
import os
import sys

try:
    import numpy as np
    import onnxruntime as ort
    import torch
    from safetensors.torch import load_file
except ImportError as e:
    print(f"SKIP python3 lacks {e.name} (pip install torch safetensors onnxruntime)")
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_onnx_ops2_fixtures import StudentBN  # noqa: E402


def main():
    folder = sys.argv[1]
    io = np.load(os.path.join(folder, "io.npz"))
    x, want = io["x"], io["logits"]
    for what, state in [("npz", {k: torch.from_numpy(v) for k, v in np.load(os.path.join(folder, "student.npz")).items()}),
                        ("safetensors", load_file(os.path.join(folder, "student.safetensors")))]:
        m = StudentBN().eval()
        m.load_state_dict(state, strict=True)
        with torch.no_grad():
            got = m(torch.from_numpy(x)).numpy()
        print(f"torch {what}: max |logits - bss| {float(np.abs(got - want).max()):.3g}")
    s = ort.InferenceSession(os.path.join(folder, "student.onnx"), providers=["CPUExecutionProvider"])
    got = s.run(None, {s.get_inputs()[0].name: x})[0]
    print(f"onnxruntime onnx: max |logits - bss| {float(np.abs(got - want).max()):.3g}")


if __name__ == "__main__":
    main()
