"""Model-zoo parity references: each preset family against its SOURCE's own model code -> Fixtures/zoo/

The references are computed by importing the model modules of the original repositories, so a
preset is checked against the code that trained the checkpoints people have, not against a
re-implementation. Get the three repositories (any clone; the commits used are recorded in
state-dict-keys.json) and run from the bss repository root (CPU, about a minute):

    git clone https://github.com/bhheo/BSS_distillation            /tmp/zoo/BSS_distillation
    git clone https://github.com/akamaster/pytorch_resnet_cifar10   /tmp/zoo/pytorch_resnet_cifar10
    git clone https://github.com/HobbitLong/RepDistiller            /tmp/zoo/RepDistiller
    python3 Fixtures/scripts/make_zoo_fixtures.py \\
        --bss /tmp/zoo/BSS_distillation --akamaster /tmp/zoo/pytorch_resnet_cifar10 \\
        --repdistiller /tmp/zoo/RepDistiller

Modules imported: BSS_distillation/models/resnet.py (`ResNet(ZeroPadBlock, [n, n, n])`),
pytorch_resnet_cifar10/resnet.py (`ResNet(BasicBlock, [n, n, n])`), RepDistiller/models/
{resnet,wrn,vgg,mobilenetv2,ShuffleNetv1,ShuffleNetv2}.py (the `model_dict` constructors:
`resnet8` ... `resnet32x4`, `wrn_16_1` ..., for `vggN` the batch-norm `vggN_bn`, as
RepDistiller's `model_dict` maps them, `mobile_half`, `ShuffleV1`, `ShuffleV2`), and the
installed torchvision's `models.{resnet18,resnet34,resnet50,resnet101,vgg11_bn,vgg16_bn,
mobilenet_v2,mobilenet_v3_small,mobilenet_v3_large,efficientnet_b0}`
(`weights=None`; `pip install torchvision`), evaluated at 64x64 (x64 below).

Weights: deterministic "pattern" values, a pure function of the state-dict key and the element
index, so that the Swift tests can rebuild every state dict without storing it (the deep
members would take ~100 MB) -- Tests/ModelIOTests/ZooPattern.swift implements the same
function and checks it against the stored state dicts below bit for bit:

    h = FNV-1a 32-bit of the key's UTF-8 bytes
    x = h XOR (i * 0x9E3779B9 mod 2^32); x = murmur3 fmix32(x)
    u = (x >> 8) * 2^-24 * 2 - 1                      in [-1, 1), exact in float64
    value (float64, then rounded once to float32):
        weight with fan_in = prod(shape[1:]) (conv, linear):  u * sqrt(6 / fan_in)   (He uniform)
        BatchNorm weight 1 + 0.25 u;  BatchNorm bias 0.1 u;  other biases 0.1 u
    num_batches_tracked: 0 (int64, 0-d), as a fresh PyTorch module has.
BatchNorm running statistics are not a pattern: random statistics would not normalise, and the
deep members' logits would explode to ~1e9 and stop depending on the input. They are calibrated
instead: one training-mode forward pass of the source model (momentum 1) on a calibration batch
(smooth_images(16), torch seed 1) sets running_mean/running_var to that batch's
statistics, which are then perturbed so that they matter (mean += 0.2 u' sqrt(var), var *=
1 + 0.4 u'', u', u'' uniform in [-1, 1), torch seed 2) and stored (bn-statistics.npz).

Files (all numpy.savez, uncompressed):
inputs.npz              x: [4, 3, 32, 32] float32, smooth_images(4, torch seed 0); x64: [4, 3, 64, 64],
                        smooth_images(4, torch seed 0, size=64), for the torchvision models (their
                        calibration batch: smooth_images(16, seed 1, size=64)).
bn-statistics.npz       per preset, its running_mean / running_var arrays concatenated in state-dict
                        order, flattened (float32).
logits.npz              one array per preset name: the source model's logits for x, eval mode,
                        computed in float64 on the float32 pattern weights, rounded to float32.
state-dict-keys.json    per preset: source file and commit, classes, parameter count
                        (sum of numel of parameters()), float32-vs-float64 max logit difference of
                        the source model (a tolerance hint), and [key, shape] of every
                        state_dict() entry in order (float32; int64 for num_batches_tracked).
<preset>.npz            the pattern state dict itself, for the small members only
                        (heo2019-resnet8, akamaster-resnet20, repdistiller-resnet8,
                        repdistiller-wrn_16_1): they exercise the file-loading path end to end.
<preset>-logits.npz     logits: that preset's reference, alone (for `bss verify --reference`).

Class counts: 10 for the CIFAR-10 families (heo2019, akamaster), 100 for RepDistiller (it is a
CIFAR-100 code base), 1000 for torchvision (ImageNet), so the tests also check that a preset takes its class count from the weights.
"""
import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "zoo")
SMALL = ["heo2019-resnet8", "akamaster-resnet20", "repdistiller-resnet8", "repdistiller-wrn_16_1"]


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def commit_of(repo):
    try:
        return subprocess.check_output(["git", "-C", repo, "rev-parse", "HEAD"], text=True).strip()
    except Exception:
        return "unknown"


def fnv1a(s):
    h = 0x811C9DC5
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def pattern_u(key, n):
    """u in [-1, 1) per element, float64 (see the module docstring)."""
    i = np.arange(n, dtype=np.uint64)
    x = (np.uint64(fnv1a(key)) ^ ((i * np.uint64(0x9E3779B9)) & np.uint64(0xFFFFFFFF))).astype(np.uint64)
    m = np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & m
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & m
    x ^= x >> np.uint64(16)
    return (x >> np.uint64(8)).astype(np.float64) * 2.0 ** -24 * 2.0 - 1.0


def pattern_state_dict(model):
    """The pattern weights; BatchNorm running statistics are left to calibrate()."""
    bn_prefixes = {name for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    sd = {}
    for key, v in model.state_dict().items():
        prefix, _, leaf = key.rpartition(".")
        if leaf == "num_batches_tracked":
            sd[key] = torch.zeros((), dtype=torch.int64)
            continue
        if leaf in ("running_mean", "running_var"):
            sd[key] = v.clone()
            continue
        u = pattern_u(key, v.numel())
        if prefix in bn_prefixes:
            val = {"weight": 1.0 + 0.25 * u, "bias": 0.1 * u}[leaf]
        elif v.dim() >= 2:
            val = u * math.sqrt(6.0 / (v.numel() // v.shape[0]))
        else:
            val = 0.1 * u
        sd[key] = torch.from_numpy(val.astype(np.float32).reshape(tuple(v.shape)))
    return sd


def smooth_images(n, gen, size=32):
    """Images that differ in their low frequencies (random 4x4 images upsampled bilinearly, one
    random contrast per image) plus pixel noise: unlike i.i.d. noise images, whose global
    averages all agree, they give each input its own logits and argmax."""
    low = torch.randn(n, 3, 4, 4, generator=gen) * (0.5 + torch.rand(n, 1, 1, 1, generator=gen) * 1.5)
    up = torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    return (up + 0.3 * torch.randn(n, 3, size, size, generator=gen)).contiguous()


def calibrate(model, x_calib, gen):
    """Running statistics = the calibration batch's, perturbed (see the module docstring)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(x_calib)
        for m in bns:
            c = m.num_features
            m.running_mean += 0.2 * (torch.rand(c, generator=gen, dtype=torch.float64) * 2 - 1).float() * m.running_var.sqrt()
            m.running_var *= 1 + 0.4 * (torch.rand(c, generator=gen, dtype=torch.float64) * 2 - 1).float()
            m.num_batches_tracked.zero_()
            m.momentum = 0.1
    model.eval()


def presets(bss, aka, rd, tv):
    """name -> (constructor, classes, source file[, input size, default 32])."""
    out = {}
    for d in [8, 14, 20, 26, 32, 44, 56, 110]:
        n = (d - 2) // 6
        out[f"heo2019-resnet{d}"] = (lambda n=n: bss.ResNet(bss.ZeroPadBlock, [n, n, n], num_classes=10), 10,
                                     "bhheo/BSS_distillation models/resnet.py")
    for d in [20, 32, 44, 56, 110]:
        n = (d - 2) // 6
        out[f"akamaster-resnet{d}"] = (lambda n=n: aka.ResNet(aka.BasicBlock, [n, n, n], num_classes=10), 10,
                                       "akamaster/pytorch_resnet_cifar10 resnet.py")
    for name in ["resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
                 "resnet8x4", "resnet32x4"]:
        out[f"repdistiller-{name}"] = (lambda f=getattr(rd["resnet"], name): f(num_classes=100), 100,
                                       "HobbitLong/RepDistiller models/resnet.py")
    for name in ["wrn_16_1", "wrn_16_2", "wrn_40_1", "wrn_40_2"]:
        out[f"repdistiller-{name}"] = (lambda f=getattr(rd["wrn"], name): f(num_classes=100), 100,
                                       "HobbitLong/RepDistiller models/wrn.py")
    for d in [8, 11, 13, 16, 19]:
        out[f"repdistiller-vgg{d}"] = (lambda f=getattr(rd["vgg"], f"vgg{d}_bn"): f(num_classes=100), 100,
                                       "HobbitLong/RepDistiller models/vgg.py")
    out["repdistiller-mobilenetv2"] = (lambda: rd["mobilenetv2"].mobile_half(100), 100,
                                       "HobbitLong/RepDistiller models/mobilenetv2.py")
    out["repdistiller-shufflev1"] = (lambda: rd["ShuffleNetv1"].ShuffleV1(num_classes=100), 100,
                                     "HobbitLong/RepDistiller models/ShuffleNetv1.py")
    out["repdistiller-shufflev2"] = (lambda: rd["ShuffleNetv2"].ShuffleV2(num_classes=100), 100,
                                     "HobbitLong/RepDistiller models/ShuffleNetv2.py")
    # torchvision at 64x64 (adaptive pooling makes its models size-agnostic), 1000 classes.
    for name in ["resnet18", "resnet34", "resnet50", "resnet101"]:
        out[f"torchvision-{name}"] = (lambda f=getattr(tv, name): f(weights=None), 1000,
                                      "pytorch/vision torchvision/models/resnet.py", 64)
    for name in ["vgg11_bn", "vgg16_bn"]:
        out[f"torchvision-{name}"] = (lambda f=getattr(tv, name): f(weights=None), 1000,
                                      "pytorch/vision torchvision/models/vgg.py", 64)
    for name, file in [("mobilenet_v2", "mobilenetv2"), ("mobilenet_v3_small", "mobilenetv3"),
                       ("mobilenet_v3_large", "mobilenetv3"), ("efficientnet_b0", "efficientnet")]:
        out[f"torchvision-{name}"] = (lambda f=getattr(tv, name): f(weights=None), 1000,
                                      f"pytorch/vision torchvision/models/{file}.py", 64)
    return out


def save_npz(name, arrays):
    path = os.path.join(OUT, name)
    np.savez(path, **arrays)
    print(f"wrote {name} ({os.path.getsize(path)} bytes)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bss", required=True, help="checkout of bhheo/BSS_distillation")
    ap.add_argument("--akamaster", required=True, help="checkout of akamaster/pytorch_resnet_cifar10")
    ap.add_argument("--repdistiller", required=True, help="checkout of HobbitLong/RepDistiller")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    bss = load_module("bss_resnet", os.path.join(a.bss, "models", "resnet.py"))
    aka = load_module("akamaster_resnet", os.path.join(a.akamaster, "resnet.py"))
    rd = {m: load_module(f"repdistiller_{m}", os.path.join(a.repdistiller, "models", f"{m}.py"))
          for m in ["resnet", "wrn", "vgg", "mobilenetv2", "ShuffleNetv1", "ShuffleNetv2"]}
    import torchvision
    import torchvision.models as tv
    commits = {"bhheo/BSS_distillation": commit_of(a.bss),
               "akamaster/pytorch_resnet_cifar10": commit_of(a.akamaster),
               "HobbitLong/RepDistiller": commit_of(a.repdistiller),
               "pytorch/vision": "torchvision " + torchvision.__version__}

    x = smooth_images(4, torch.Generator().manual_seed(0))
    x64 = smooth_images(4, torch.Generator().manual_seed(0), size=64)
    save_npz("inputs.npz", {"x": x.numpy(), "x64": x64.numpy()})
    x_calib = smooth_images(16, torch.Generator().manual_seed(1))
    x64_calib = smooth_images(16, torch.Generator().manual_seed(1), size=64)
    logits, listing, stats = {}, {}, {}
    for name, (make, classes, source, *size) in presets(bss, aka, rd, tv).items():
        size = size[0] if size else 32
        xs, xc = (x, x_calib) if size == 32 else (x64, x64_calib)
        torch.manual_seed(0)
        model = make().eval()
        model.load_state_dict(pattern_state_dict(model), strict=True)
        calibrate(model, xc, torch.Generator().manual_seed(2))
        sd = {k: v.clone() for k, v in model.state_dict().items()}
        stats[name] = np.concatenate([v.numpy().ravel() for k, v in sd.items() if k.endswith(("running_mean", "running_var"))])
        with torch.no_grad():
            ref64 = model.double()(xs.double()).numpy()
            ref32 = model.float()(xs).numpy()
        assert ref64.shape == (len(xs), classes), (name, ref64.shape)
        logits[name] = ref64.astype(np.float32)
        repo = source.split(" ")[0]
        listing[name] = {
            "source": source, "commit": commits[repo], "classes": classes, "input_shape": [3, size, size],
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "max_logit": float(np.abs(ref64).max()),
            "float32_max_abs_diff": float(np.abs(ref32 - ref64).max()),
            "keys": [[k, list(v.shape)] for k, v in sd.items()],
        }
        print(f"{name}: {listing[name]['parameters']} parameters, |logit| max {listing[name]['max_logit']:.3f}, "
              f"float32 diff {listing[name]['float32_max_abs_diff']:.2e}, argmax {ref64.argmax(1).tolist()}")
        if name in SMALL:
            save_npz(f"{name}.npz", {k: v.numpy() for k, v in sd.items()})
            save_npz(f"{name}-logits.npz", {"logits": logits[name]})
    save_npz("logits.npz", logits)
    save_npz("bn-statistics.npz", stats)
    with open(os.path.join(OUT, "state-dict-keys.json"), "w") as fh:
        # One line per state-dict entry: readable in a diff, a third of the indented size.
        fh.write("{\n" + ",\n".join(
            json.dumps(name) + ": {" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in entry.items() if k != "keys")
            + ', "keys": [\n  ' + ",\n  ".join(json.dumps(e) for e in entry["keys"]) + "]}"
            for name, entry in listing.items()) + "\n}\n")
    print("wrote state-dict-keys.json")


if __name__ == "__main__":
    sys.exit(main())
