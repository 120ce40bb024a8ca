"""ONNX fixtures for the operators read since ops2 -> Fixtures/onnx/ops3*.onnx

    python3 Fixtures/scripts/make_onnx_ops3_fixtures.py

A small torch model using: Div of two activations (same shape, and by a per-position
[N, 1, H, W] operand), Add/Sub/Mul of activations with broadcasting ([N, C, 1, 1] and
[N, 1, H, W] against [N, C, H, W]), SELU, GELU(approximate="tanh"), nn.Upsample nearest and
bilinear (align_corners=False), LayerNorm over channels (permute -> LayerNorm -> permute) and
over features. Exported by torch.onnx.export with dynamo=False (opset 17: GELU tanh as
arithmetic, Resize with folded scales) -> ops3.onnx and with dynamo=True -> ops3-dynamo.onnx.
ops3-io.npz / ops3-dynamo-io.npz: x [3, 3, 8, 8] and onnxruntime's logits.
Also gelu-tanh-pow.onnx (onnx.helper, opset 17): the tanh GELU with x^3 as Pow(x, 3) and the
products grouped as 0.5 * (x * (1 + tanh(...))).
"""
import os
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper, numpy_helper, TensorProto

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onnx")


class Ops3(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.gate = nn.Conv2d(6, 1, 1)
        self.ln = nn.LayerNorm(12, eps=1e-3)
        self.fc1 = nn.Linear(12 * 4, 16)
        self.ln2 = nn.LayerNorm(16)
        self.fc2 = nn.Linear(16, 5)
        self.up1 = nn.Upsample(scale_factor=2, mode="nearest")
        self.up2 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x):
        h = self.conv1(x)                                  # [6, 8, 8]
        s = h.mean((2, 3), keepdim=True)                   # [6, 1, 1]
        a = h + torch.sigmoid(s)                           # Add, per-channel activation
        b = a - s                                          # Sub, per-channel activation
        q = self.gate(h)                                   # [1, 8, 8]
        c = b * torch.sigmoid(q)                           # Mul, per-position activation
        d = c / (torch.relu(q) + 1.5)                      # Div, per-position activation
        e = d / (torch.sigmoid(h) + 0.5)                   # Div, same shape
        f = s - e                                          # Sub, per-channel minus full
        g = F.gelu(F.selu(f), approximate="tanh")
        g = F.max_pool2d(g, 4)                             # [6, 2, 2]
        u = torch.cat([self.up1(g), self.up2(g)], 1)       # [12, 4, 4]
        u = self.ln(u.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        u = F.avg_pool2d(u, 2)                             # [12, 2, 2]
        z = self.fc1(u.flatten(1))
        return self.fc2(self.ln2(z))


def run(path, x):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def gelu_tanh_pow():
    """x [N, 6] -> Gemm -> tanh GELU with Pow and 0.5 * (x * (1 + tanh)) -> Gemm -> y."""
    rng = np.random.default_rng(3)
    w1 = rng.normal(0, 0.6, (6, 6)).astype(np.float32); w2 = rng.normal(0, 0.6, (4, 6)).astype(np.float32)
    c = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.float32), name)
    nodes = [
        helper.make_node("Gemm", ["x", "w1"], ["h"], transB=1, name="fc1"),
        helper.make_node("Pow", ["h", "three"], ["cube"], name="pow"),
        helper.make_node("Mul", ["kappa", "cube"], ["kc"], name="mul_kappa"),
        helper.make_node("Add", ["kc", "h"], ["inner"], name="add_inner"),
        helper.make_node("Mul", ["inner", "beta"], ["arg"], name="mul_beta"),
        helper.make_node("Tanh", ["arg"], ["t"], name="tanh"),
        helper.make_node("Add", ["one", "t"], ["onep"], name="add_one"),
        helper.make_node("Mul", ["h", "onep"], ["prod"], name="mul_x"),
        helper.make_node("Mul", ["half", "prod"], ["g"], name="mul_half"),
        helper.make_node("Gemm", ["g", "w2"], ["y"], transB=1, name="fc2"),
    ]
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"), c("three", 3.0),
             c("kappa", 0.044715), c("beta", np.sqrt(2 / np.pi)), c("one", 1.0), c("half", 0.5)]
    g = helper.make_graph(nodes, "gelu_tanh_pow", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(m, full_check=True)
    path = os.path.join(OUT, "gelu-tanh-pow.onnx")
    onnx.save(m, path)
    x = rng.normal(0, 1.5, (4, 6)).astype(np.float32)
    np.savez(os.path.join(OUT, "gelu-tanh-pow-io.npz"), x=x, logits=run(path, x))


def main():
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    m = Ops3().eval()
    with torch.no_grad():
        for p in m.ln.parameters():
            p.add_(torch.randn_like(p) * 0.3)
        for p in m.ln2.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    x = torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    for dynamo in (False, True):
        name = "ops3" + ("-dynamo" if dynamo else "")
        path = os.path.join(OUT, name + ".onnx")
        if dynamo:
            torch.onnx.export(m, (x,), path, dynamo=True, external_data=False, verbose=False,
                              dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=1024)}})
        else:
            torch.onnx.export(m, (x,), path, dynamo=False, opset_version=17, input_names=["input"],
                              dynamic_axes={"input": {0: "batch"}})
        want = run(path, x.numpy())
        with torch.no_grad():
            ref = m(x).numpy()
        print(f"{name}: ops {sorted({n.op_type for n in onnx.load(path).graph.node})}, |ort - torch| {np.abs(want - ref).max():.2g}")
        np.savez(os.path.join(OUT, name + "-io.npz"), x=x.numpy(), logits=want)
    gelu_tanh_pow()


if __name__ == "__main__":
    main()
