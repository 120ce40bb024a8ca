"""ONNX zoo parity fixtures -> Fixtures/onnx/zoo/

Every model of bss's zoo (the presets of make_zoo_fixtures.py: heo2019 and akamaster CIFAR
ResNets, RepDistiller's ResNets/WRNs/VGGs/MobileNetV2/ShuffleNets, torchvision's ResNets, VGGs,
MobileNets and EfficientNet-B0) plus a LeNet-5, each exported by torch.onnx.export twice:
dynamo=False (opset 17, TorchScript exporter; BatchNorm folded into Conv as its eval export
does) and dynamo=True (the torch.export exporter, onnxscript). Run from the bss repository root
with the three source checkouts make_zoo_fixtures.py uses (CPU, a few minutes):

    python3 Fixtures/scripts/make_onnx_zoo_fixtures.py \\
        --bss /tmp/zoo/BSS_distillation --akamaster /tmp/zoo/pytorch_resnet_cifar10 \\
        --repdistiller /tmp/zoo/RepDistiller [--only NAME,NAME]

Weights: committing the real files is impossible (torchvision-resnet101 alone is 170 MB), so
after export every weight-like float initializer of the ONNX file is REPLACED by deterministic
"pattern" values that the Swift test recomputes from the initializer's name, and then its data
is stripped (dims and name kept; `doc_string` says how to rebuild it):

    u(name, i) = as make_zoo_fixtures.py's pattern_u: FNV-1a 32 of the name's UTF-8, XOR
                 (i * 0x9E3779B9 mod 2^32), murmur3 fmix32, (x >> 8) * 2^-24 * 2 - 1 in [-1, 1)
    doc_string "bss-pattern:w:F"  weight of Conv/Gemm/MatMul with fan-in F:  u * sqrt(6 / F)
               "bss-pattern:b"    biases, BatchNorm bias and mean:           0.1 * u
               "bss-pattern:g"    BatchNorm scale:                           1 + 0.25 * u
               "bss-pattern:v"    BatchNorm variance:                        1 + 0.5 * u
    (computed in float64, rounded once to float32.)

Which initializers are replaced is decided by the nodes reading them (Conv/Gemm/MatMul input
1 and 2, BatchNormalization inputs 1-4, the Add of a MatMul's bias); every other initializer
(shape constants, scalars) is kept as exported. The reference logits are onnxruntime's on the
pattern-filled file, so the parity test checks the importer against onnxruntime, whatever the
network computes.

Input sizes: 32x32 for every model (torchvision's adaptive pooling makes its models size-agnostic),
except torchvision's VGGs with dynamo=False: the TorchScript exporter writes their adaptive 7x7
pool only when the feature map divides into 7x7, so they are exported at 224x224
(`<name>@224.onnx`; ~130M parameters: the Swift test runs them only with BSS_ONNX_ZOO_LARGE=1).
The work can be split over processes (--shard k/n) and merged with --collect.

Files:
  <name>[-dynamo].onnx   the exported graph, pattern initializers stripped, node metadata (stack
                         traces), doc strings and value_info dropped
  inputs.npz             x32: [2, 3, 32, 32] (CIFAR models and torchvision), x1: [2, 1, 32, 32] (LeNet);
                         "x224" (torchvision's VGGs with dynamo=False, see below) is x32 with every
                         pixel repeated 7 x 7 times, not stored
  logits.npz             one array per fixture (file name without .onnx): onnxruntime's logits
  index.json             per fixture: input key, exporter, opset, node count, parameter count
"""
import argparse
import importlib.util
import json
import math
import os
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "onnx", "zoo")
sys.path.insert(0, HERE)
from make_zoo_fixtures import fnv1a, load_module, pattern_u, presets, smooth_images  # noqa: E402


class LeNet5(torch.nn.Module):
    """LeNet-5 (LeCun et al. 1998) as usually written in PyTorch: 1x32x32 -> 10."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, 5)
        self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.fc3 = torch.nn.Linear(84, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def export(model, x, path, dynamo):
    if dynamo:
        torch.onnx.export(model, (x,), path, dynamo=True, external_data=False, verbose=False,
                          dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=1024)}})
    else:
        torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def roles(graph):
    """initializer name -> pattern role ("w:F", "b", "g", "v"), from the nodes reading it."""
    producers = {o: n for n in graph.node for o in n.output}
    init = {t.name: t for t in graph.initializer}
    found = {}
    for n in graph.node:
        for k, name in enumerate(n.input):
            if name not in init:
                continue
            dims = list(init[name].dims)
            role = None
            if n.op_type == "Conv":
                role = f"w:{int(np.prod(dims[1:]))}" if k == 1 else "b" if k == 2 else None
            elif n.op_type == "Gemm":
                transb = next((a.i for a in n.attribute if a.name == "transB"), 0)
                role = (f"w:{dims[1] if transb else dims[0]}" if k == 1 else "b" if k == 2 else None)
            elif n.op_type == "MatMul" and k == 1 and len(dims) == 2:
                role = f"w:{dims[0]}"
            elif n.op_type == "BatchNormalization" and k in (1, 2, 3, 4):
                role = {1: "g", 2: "b", 3: "b", 4: "v"}[k]
            elif n.op_type == "Add" and len(dims) == 1:
                other = n.input[1 - k]
                if other in producers and producers[other].op_type == "MatMul":
                    role = "b"
            found.setdefault(name, set()).add(role)
    return {name: r.pop() for name, r in found.items() if len(r) == 1 and None not in r}


def pattern(name, dims, role):
    n = int(np.prod(dims)) if dims else 1
    u = pattern_u(name, n)
    if role.startswith("w:"):
        v = u * math.sqrt(6.0 / int(role[2:]))
    else:
        v = {"b": 0.1 * u, "g": 1.0 + 0.25 * u, "v": 1.0 + 0.5 * u}[role]
    return v.astype(np.float32).reshape(dims)


def slim(m):
    """Drops what only documents the export (per-node stack traces and namespaces, doc strings,
    the shapes of intermediate tensors): the graph computes the same, the file is 2-5x smaller."""
    for n in m.graph.node:
        n.ClearField("metadata_props")
        n.ClearField("doc_string")
    m.graph.ClearField("value_info")
    m.ClearField("metadata_props")
    return m


def fill_and_strip(path):
    """Pattern weights into the file at `path`; returns (filled model bytes, stripped model)."""
    m = onnx.load(path)
    r = roles(m.graph)
    params = 0
    for t in m.graph.initializer:
        if t.name in r and t.data_type == onnx.TensorProto.FLOAT and len(t.dims) >= 1:
            arr = pattern(t.name, list(t.dims), r[t.name])
            t.CopyFrom(onnx.numpy_helper.from_array(arr, t.name))
            t.doc_string = "bss-pattern:" + r[t.name]
            params += arr.size
    filled = m.SerializeToString()
    for t in m.graph.initializer:
        if t.doc_string.startswith("bss-pattern:"):
            t.ClearField("raw_data")
            t.ClearField("float_data")
    return filled, slim(m), params


def export_one(name, make, key, inputs, dynamo, parts):
    """Exports one fixture; its logits and index entry go to parts/<fixture>.npz/.json."""
    torch.manual_seed(0)
    model = make().eval()
    fixture = name + ("-dynamo" if dynamo else "")
    path = os.path.join(OUT, fixture + ".onnx")
    x = inputs[key]
    try:
        export(model, x, path, dynamo)
    except Exception as e:
        first = (str(e).strip().splitlines() or [""])[0][:300]
        if os.path.exists(path):
            os.remove(path)
        if dynamo or not name.startswith("torchvision-vgg"):
            raise
        # torchvision's VGGs pool adaptively to 7x7: the TorchScript exporter writes that only
        # when the feature map divides into 7x7, so dynamo=False is exported at 224x224.
        print(f"{fixture}: {type(e).__name__}: {first}; exporting at 224x224")
        fixture, key = fixture + "@224", "x224"
        path, x = os.path.join(OUT, fixture + ".onnx"), inputs[key]
        export(model, x, path, dynamo)
    filled, stripped, params = fill_and_strip(path)
    s = ort.InferenceSession(filled, providers=["CPUExecutionProvider"])
    want = s.run(None, {s.get_inputs()[0].name: x.numpy()})[0]
    assert np.isfinite(want).all(), fixture
    onnx.save(stripped, path)
    opset = next(o.version for o in stripped.opset_import if o.domain in ("", "ai.onnx"))
    entry = {"input": key, "dynamo": dynamo, "opset": opset, "nodes": len(stripped.graph.node),
             "pattern_parameters": params, "bytes": os.path.getsize(path)}
    np.save(os.path.join(parts, fixture + ".npy"), want)
    with open(os.path.join(parts, fixture + ".json"), "w") as f:
        json.dump(entry, f)
    print(f"{fixture}: opset {opset}, {entry['nodes']} nodes, {params} pattern values, {entry['bytes']} bytes, "
          f"|logit| max {np.abs(want).max():.3g}, argmax {want.argmax(1).tolist()}", flush=True)


def collect(parts):
    """parts/* -> logits.npz and index.json (merged with what is there)."""
    logits_path, index_path = os.path.join(OUT, "logits.npz"), os.path.join(OUT, "index.json")
    logits = dict(np.load(logits_path)) if os.path.exists(logits_path) else {}
    index = json.load(open(index_path)) if os.path.exists(index_path) else {}
    for f in sorted(os.listdir(parts)):
        if f.endswith(".json"):
            onnx_path = os.path.join(OUT, f[:-5] + ".onnx")
            onnx.save(slim(onnx.load(onnx_path)), onnx_path)
            name = f[:-5]
            index[name] = json.load(open(os.path.join(parts, f)))
            index[name]["bytes"] = os.path.getsize(onnx_path)
            logits[name] = np.load(os.path.join(parts, name + ".npy"))
    np.savez(logits_path, **logits)
    with open(index_path, "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
    print(f"index.json: {len(index)} fixtures, {sum(os.path.getsize(os.path.join(OUT, n + '.onnx')) for n in index)} bytes of .onnx")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bss", required=True)
    ap.add_argument("--akamaster", required=True)
    ap.add_argument("--repdistiller", required=True)
    ap.add_argument("--only", default="", help="comma-separated model names or name prefixes")
    ap.add_argument("--shard", default="0/1", help="k/n: export every n-th model from the k-th (parallel runs)")
    ap.add_argument("--collect", action="store_true", help="only merge the finished parts into logits.npz and index.json")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    parts = os.path.join(OUT, ".parts")
    os.makedirs(parts, exist_ok=True)
    if a.collect:
        collect(parts)
        return
    bss = load_module("bss_resnet", os.path.join(a.bss, "models", "resnet.py"))
    aka = load_module("akamaster_resnet", os.path.join(a.akamaster, "resnet.py"))
    rd = {m: load_module(f"repdistiller_{m}", os.path.join(a.repdistiller, "models", f"{m}.py"))
          for m in ["resnet", "wrn", "vgg", "mobilenetv2", "ShuffleNetv1", "ShuffleNetv2"]}
    import torchvision.models as tv

    inputs = {"x32": smooth_images(2, torch.Generator().manual_seed(10)),
              "x1": smooth_images(2, torch.Generator().manual_seed(12))[:, :1].contiguous()}
    np.savez(os.path.join(OUT, "inputs.npz"), **{k: v.numpy() for k, v in inputs.items()})
    # Not stored (1.2 MB): x32 with each pixel repeated 7 x 7 times, rebuilt by the test.
    inputs["x224"] = inputs["x32"].repeat_interleave(7, 2).repeat_interleave(7, 3).contiguous()
    models = {name: (make, "x32") for name, (make, *_rest) in presets(bss, aka, rd, tv).items()}
    models["lenet5"] = (LeNet5, "x1")
    only = [o for o in a.only.split(",") if o]
    k, n = map(int, a.shard.split("/"))
    chosen = [m for m in models if not only or any(m == o or m.startswith(o) for o in only)][k::n]
    for name in chosen:
        make, key = models[name]
        for dynamo in (False, True):
            try:
                export_one(name, make, key, inputs, dynamo, parts)
            except Exception as e:  # reported, and the test fails on the missing fixture
                print(f"{name} dynamo={dynamo}: FAILED {type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:300]}", flush=True)


if __name__ == "__main__":
    main()
