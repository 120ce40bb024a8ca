"""Per-layer PyTorch parity references for grouped/dilated convolution, merges and pooling -> Fixtures/layers/

Each case is a tiny PyTorch network built around one layer option, written next to the
architecture spec that describes it (the Swift side builds the spec, loads the state dict and
compares). Networks end in a flatten because a spec's output is a vector of class scores.
Run from the bss repository root (CPU, seconds):

    python3 Fixtures/scripts/make_layer_fixtures.py [case ...]

Per case <c> (numpy.savez, uncompressed):
  <c>.json     the architecture spec (layer names = the module attribute names, so state-dict
               keys agree).
  <c>.npz      the state dict (float32; weights uniform in [-1, 1), seed fixed per case); none
               for cases without parameters.
  <c>-io.npz   x: [2, C, H, W] float32 input (torch seed 0); r: a projection of the output
               (seed 1); y: the output in eval mode; dx: d(sum(r * y))/dx. References are
               computed in float64 from the float32 values and rounded to float32.
PyTorch 2.15.0 (CPU); re-running reproduces the files.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "layers")


def conv(name, cin, cout, k, stride=1, padding=0, dilation=1, groups=1, bias=True, inputs=None):
    pair = lambda v: list(v) if isinstance(v, tuple) else [v, v]
    ph, pw = pair(padding)
    spec = {"name": name, "type": "conv2d", "in_channels": cin, "out_channels": cout, "kernel": pair(k),
            "stride": pair(stride), "padding": [ph, ph, pw, pw], "dilation": pair(dilation), "groups": groups,
            "bias": bias}
    if inputs:
        spec["inputs"] = inputs
    return nn.Conv2d(cin, cout, k, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias), spec


class Case(nn.Module):
    """Modules by spec-layer name; `run` is the forward written against them."""

    def __init__(self, shape, layers, run):
        super().__init__()
        self.shape, self.specs, self.run = shape, [], run
        for module, spec in layers:
            if module is not None:
                self.add_module(spec["name"], module)
            self.specs.append(spec)

    def forward(self, x):
        return self.run(self, x).flatten(1)


def L(name, type_, **fields):
    return None, {"name": name, "type": type_, **fields}


def cases():
    out = {}
    out["conv-groups"] = Case([6, 5, 5], [conv("c", 6, 9, 3, padding=1, groups=3), L("f", "flatten")],
                              lambda m, x: m.c(x))
    out["conv-depthwise"] = Case([4, 7, 7], [conv("c", 4, 8, 3, stride=2, padding=1, groups=4, bias=False),
                                             L("f", "flatten")], lambda m, x: m.c(x))
    out["conv-dilation"] = Case([3, 7, 6], [conv("c", 3, 4, 3, stride=(1, 2), padding=(2, 1), dilation=(2, 1)),
                                            conv("d", 4, 2, 3, padding=2, dilation=2, groups=2), L("f", "flatten")],
                                lambda m, x: m.d(m.c(x)))
    # Merges.
    out["concat"] = Case([3, 4, 4], [conv("c1", 3, 2, 1), conv("c2", 3, 3, 3, padding=1, inputs=["input"]),
                                     L("cat", "concat", inputs=["c1", "input", "c2"]), L("f", "flatten")],
                         lambda m, x: torch.cat([m.c1(x), x, m.c2(x)], 1))
    out["multiply-se"] = Case([4, 5, 5], [conv("c0", 4, 4, 3, padding=1), L("pool", "adaptive_avgpool2d", output_size=[1, 1]),
                                          conv("fc1", 4, 2, 1), L("relu", "relu"), conv("fc2", 2, 4, 1), L("sig", "sigmoid"),
                                          L("mul", "multiply", inputs=["sig", "c0"]), L("f", "flatten")],
                              lambda m, x: (lambda y: torch.sigmoid(m.fc2(F.relu(m.fc1(F.adaptive_avg_pool2d(y, 1))))) * y)(m.c0(x)))
    out["multiply-vector"] = Case([3, 4, 4], [L("gp", "global_avgpool"), (nn.Linear(3, 3), {"name": "lin", "type": "linear",
                                              "in_features": 3, "out_features": 3}), L("sig", "sigmoid"),
                                              L("mul", "multiply", inputs=["input", "sig"]), L("sq", "multiply", inputs=["mul", "mul"]),
                                              L("f", "flatten")],
                                  lambda m, x: (lambda y: y * y)(x * torch.sigmoid(m.lin(x.mean((2, 3))))[:, :, None, None]))
    out["slice-shuffle"] = Case([6, 4, 4], [conv("c", 6, 6, 1), L("a", "slice", start=0, end=2, inputs=["c"]),
                                            L("b", "slice", start=2, end=6, inputs=["c"]),
                                            conv("d", 4, 4, 3, padding=1, groups=2), L("cat", "concat", inputs=["a", "d"]),
                                            L("shuffle", "channel_shuffle", groups=3), L("f", "flatten")],
                                lambda m, x: (lambda a, b: shuffle(torch.cat([a, m.d(b)], 1), 3))(*m.c(x).split([2, 4], 1)))
    # Pooling: ceil mode (a window clipped by the input, one by the trailing padding, and the
    # rule that drops a last window starting in the padding), count_include_pad both ways.
    out["pool-ceil"] = Case([2, 7, 6], [L("mp", "maxpool2d", kernel=[3, 3], stride=[2, 2], ceil_mode=True), L("f1", "flatten"),
                                        L("ap", "avgpool2d", kernel=[3, 3], stride=[2, 2], padding=[1, 1, 1, 1], ceil_mode=True,
                                          count_include_pad=True, inputs=["input"]), L("f2", "flatten"),
                                        L("ap2", "avgpool2d", kernel=[3, 3], stride=[2, 2], padding=[1, 1, 1, 1], ceil_mode=True,
                                          count_include_pad=False, inputs=["input"]), L("f3", "flatten"),
                                        L("mp2", "maxpool2d", kernel=[2, 2], stride=[2, 2], padding=[1, 1, 1, 1], ceil_mode=True,
                                          inputs=["input"]), L("f4", "flatten"),
                                        L("cat", "concat", inputs=["f1", "f2", "f3", "f4"])],
                            lambda m, x: torch.cat([F.max_pool2d(x, 3, 2, ceil_mode=True).flatten(1),
                                                    F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True).flatten(1),
                                                    F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False).flatten(1),
                                                    F.max_pool2d(x, 2, 2, 1, ceil_mode=True).flatten(1)], 1))
    out["pool-adaptive"] = Case([3, 7, 5], [L("ad", "adaptive_avgpool2d", output_size=[3, 2]), L("f1", "flatten"),
                                            L("ad2", "adaptive_avgpool2d", output_size=[9, 4], inputs=["input"]), L("f2", "flatten"),
                                            L("gm", "global_maxpool", inputs=["input"]),
                                            L("cat", "concat", inputs=["f1", "f2", "gm"])],
                                lambda m, x: torch.cat([F.adaptive_avg_pool2d(x, (3, 2)).flatten(1),
                                                        F.adaptive_avg_pool2d(x, (9, 4)).flatten(1),
                                                        F.adaptive_max_pool2d(x, 1).flatten(1)], 1))
    return out


def shuffle(x, g):
    n, c, h, w = x.shape
    return x.view(n, g, c // g, h, w).transpose(1, 2).reshape(n, c, h, w)


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    wanted = set(sys.argv[1:])
    for i, (name, model) in enumerate(cases().items()):
        if wanted and name not in wanted:
            continue
        gen = torch.Generator().manual_seed(100 + i)
        sd = {}
        for k, v in model.state_dict().items():
            if v.dtype == torch.int64:
                sd[k] = v.clone()
            else:
                sd[k] = (torch.rand(v.shape, generator=gen, dtype=torch.float64) * 2 - 1).float()
            if k.endswith("running_var"):
                sd[k] = sd[k].abs() + 0.5
        model.load_state_dict(sd)
        model.eval()
        x = torch.randn(2, *model.shape, generator=torch.Generator().manual_seed(0))
        m64 = model.double()
        x64 = x.double().requires_grad_(True)
        y = m64(x64)
        r = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).float().double()
        (y * r).sum().backward()
        spec = {"format": "bss-architecture", "version": 1, "name": name, "input_shape": model.shape,
                "classes": y.shape[1], "layers": model.specs}
        with open(os.path.join(OUT, name + ".json"), "w") as fh:
            json.dump(spec, fh, indent=1)
            fh.write("\n")
        if sd:
            np.savez(os.path.join(OUT, name + ".npz"), **{k: v.numpy() for k, v in sd.items()})
        np.savez(os.path.join(OUT, name + "-io.npz"), x=x.numpy(), r=r.float().numpy(),
                 y=y.detach().float().numpy(), dx=x64.grad.float().numpy())
        print(f"{name}: output {list(y.shape)}, |y| max {y.abs().max().item():.3f}")


if __name__ == "__main__":
    main()
