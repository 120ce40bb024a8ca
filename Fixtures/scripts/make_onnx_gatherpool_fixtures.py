"""ONNX fixture for torch.export's adaptive average pool -> Fixtures/onnx/adaptive-pool-dynamo*.

    python3 Fixtures/scripts/make_onnx_gatherpool_fixtures.py

torch.onnx.export(dynamo=True) decomposes nn.AdaptiveAvgPool2d, when every window along an
axis has the same length K but the input does not divide into the output (so it is not an
AveragePool), into

    Transpose(perm 2,3,0,1) -> GatherND(int64 indices [Oh, Kh, Ow, Kw, 2]) ->
    Transpose(perm 4,5,0,1,2,3) -> ReduceMean(axes -3, -1, keepdims 0)

(torchvision's VGGs at 32x32 write their 1x1 -> 7x7 pool this way). The model here has three
such pools on a [3, 8, 14] input:
  - 8x14 -> 7x7   (H: K = 2, windows overlapping; W divides: K = 2)
  - 4x7 -> 2x3    (after a 2x2 max pool; H divides: K = 2; W: 7 -> 3, K = 3, overlapping)
  - 1x1 -> 3x5    (after a spatial mean: every value repeated, K = 1, as in VGG)
then Flatten, Concat and a Linear to 5 logits.
adaptive-pool-dynamo-io.npz: x [3, 3, 8, 14] and onnxruntime's logits.
"""
import os
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onnx")


class Pools(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.p1 = nn.AdaptiveAvgPool2d((7, 7))
        self.p2 = nn.AdaptiveAvgPool2d((2, 3))
        self.p3 = nn.AdaptiveAvgPool2d((3, 5))
        self.fc = nn.Linear(4 * (49 + 6 + 15), 5)

    def forward(self, x):
        h = torch.relu(self.conv(x))                                 # [4, 8, 14]
        a = self.p1(h)                                               # [4, 7, 7]
        b = self.p2(F.max_pool2d(h, 2))                              # [4, 4, 7] -> [4, 2, 3]
        c = self.p3(h.mean((2, 3), keepdim=True))                    # [4, 1, 1] -> [4, 3, 5]
        return self.fc(torch.cat([a.flatten(1), b.flatten(1), c.flatten(1)], 1))


def main():
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    m = Pools().eval()
    x = torch.randn(3, 3, 8, 14, generator=torch.Generator().manual_seed(1))
    path = os.path.join(OUT, "adaptive-pool-dynamo.onnx")
    torch.onnx.export(m, (x,), path, dynamo=True, external_data=False, verbose=False,
                      dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=1024)}})
    model = onnx.load(path)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("GatherND") == 3, ops
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    want = s.run(None, {s.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        ref = m(x).numpy()
    print(f"ops {sorted(set(ops))}, |ort - torch| {np.abs(want - ref).max():.2g}")
    np.savez(os.path.join(OUT, "adaptive-pool-dynamo-io.npz"), x=x.numpy(), logits=want)


if __name__ == "__main__":
    main()
