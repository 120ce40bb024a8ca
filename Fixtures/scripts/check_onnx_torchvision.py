"""Manual parity check (too slow for the test suite): torchvision classifiers exported by
torch.onnx.export with dynamo=False (opset 17) and dynamo=True, imported by bss and compared
with onnxruntime's logits. Nothing is committed from it; docs/formats.md, "ONNX", records the
numbers.

  python3 Fixtures/scripts/check_onnx_torchvision.py .build/debug/bss [names] [folder]

names: comma-separated torchvision.models builders (default resnet18,mobilenet_v2,
mobilenet_v3_small,efficientnet_b0,shufflenet_v2_x0_5), built with 10 classes for 32x32
inputs and random BatchNorm statistics. Needs torch, torchvision, onnx, onnxruntime, onnxscript.
"""
import os, subprocess, sys, tempfile, warnings
import numpy as np
import torch, torchvision
import onnxruntime as ort

warnings.filterwarnings("ignore")
bss = sys.argv[1]
names = (sys.argv[2] if len(sys.argv) > 2 else "resnet18,mobilenet_v2,mobilenet_v3_small,efficientnet_b0,shufflenet_v2_x0_5").split(",")
out = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp(prefix="bss-onnx-tv-")
torch.manual_seed(0)
for name in names:
    m = getattr(torchvision.models, name)(num_classes=10).eval()
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2); mod.running_var.uniform_(0.5, 1.5)
    x = torch.randn(2, 3, 32, 32)
    for dynamo in (False, True):
        path = os.path.join(out, f"{name}{'-dynamo' if dynamo else ''}.onnx")
        if dynamo:
            torch.onnx.export(m, (x,), path, dynamo=True, external_data=False, verbose=False,
                              dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=1024)}})
        else:
            torch.onnx.export(m, (x,), path, dynamo=False, opset_version=17, input_names=["input"],
                              dynamic_axes={"input": {0: "batch"}})
        s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        want = s.run(None, {s.get_inputs()[0].name: x.numpy()})[0]
        np.savez(path[:-5] + "-io.npz", x=x.numpy(), logits=want)
        r = subprocess.run([bss, "predict", path, "--data", path[:-5] + "-io.npz", "--out", path[:-5] + "-bss.npz"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{os.path.basename(path)}: bss failed: {r.stderr.strip()}")
            continue
        got = np.load(path[:-5] + "-bss.npz")["logits"]
        print(f"{os.path.basename(path)}: max |bss - onnxruntime| = {np.abs(got - want).max():.3g} "
              f"(largest logit {np.abs(want).max():.3g})")
