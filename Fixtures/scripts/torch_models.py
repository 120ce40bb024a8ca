"""PyTorch definitions of the models used by bss's parity fixtures, plus their JSON specs.

Every model here has a twin in our JSON architecture spec format (docs/architecture-spec.md);
`*_spec()` returns that spec as a dict whose layer names are exactly the PyTorch module paths,
so `<layer name>.<param>` == the PyTorch state-dict key (no `keys` overrides are needed).

Models
------
SmallCNN           input 3x12x12, 5 classes (see the class docstring for the exact graph).
cifar_resnet(d)    the CIFAR ResNet family of Heo et al. (depth 6n+2), identical to the authors'
                   models/resnet.py (ResNet(ZeroPadBlock, [n, n, n])) incl. its initialisation.
mlp(sizes)         Linear/ReLU stack; mlp([64, 48, 10]) has keys fc1.weight, fc1.bias,
                   fc2.weight, fc2.bias (fc<i> is the i-th Linear, 1-based; ReLU between
                   Linears, none after the last). Our preset `mlp:64-48-10` uses the same keys.

Helpers
-------
randomise_bn(model, gen)   non-trivial BatchNorm affine parameters and running statistics.
smooth_inputs(n, shape, g) image-like random inputs (spatially correlated).
calibrate_random_model     randomise_bn + data-calibrated BN running stats + a re-drawn head,
                           so a random model's logits vary visibly with its input.
spec_forward(spec, sd, x)  a tiny reference interpreter of the spec format (float64, eval
                           mode), used by make_torch_fixtures.py to check each written spec
                           against its PyTorch model.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------------------------
# SmallCNN
# ----------------------------------------------------------------------------------------------
class SmallCNN(nn.Module):
    """3x12x12 -> 5 logits.

        conv1  3x3 3->8 pad 1, no bias        -> bn1 -> relu            (8x12x12)
        conv2  3x3 8->8 pad 1, no bias        -> bn2 -> relu
        conv3  3x3 8->8 pad 1, no bias        -> bn3
        add(bn3, relu after bn1)              -> relu                   (residual block)
        conv4  3x3 8->16 stride 2, bias, padding top 0 / bottom 1 / left 0 / right 1
               (F.pad(x, (0, 1, 0, 1)) then conv with padding 0 == Keras 'same', stride 2)
                                                                        (16x6x6)
        maxpool 2x2                                                     (16x3x3)
        flatten (NCHW order: index c*9 + h*3 + w)                       (144)
        fc1 144->32 -> relu -> dropout(p=0.5, training only) -> fc2 32->5
    """

    def __init__(self, classes=5, dropout=0.5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(8)
        self.conv4 = nn.Conv2d(8, 16, 3, stride=2, padding=0, bias=True)
        self.fc1 = nn.Linear(16 * 3 * 3, 32)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(32, classes)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        r = F.relu(self.bn2(self.conv2(h)))
        r = self.bn3(self.conv3(r))
        h = F.relu(r + h)
        h = self.conv4(F.pad(h, (0, 1, 0, 1)))          # (left, right, top, bottom)
        h = F.max_pool2d(h, 2)
        h = h.reshape(h.shape[0], -1)
        h = F.relu(self.fc1(h))
        h = self.dropout(h)
        return self.fc2(h)


def small_cnn_spec(name="small-cnn", classes=5, dropout=0.5):
    conv = lambda n, i, o, s=1, pad=(1, 1, 1, 1), bias=False: {
        "name": n, "type": "conv2d", "in_channels": i, "out_channels": o, "kernel": [3, 3],
        "stride": [s, s], "padding": list(pad), "bias": bias}
    bn = lambda n, c: {"name": n, "type": "batchnorm", "channels": c, "eps": 1e-5, "momentum": 0.1}
    return {
        "format": "bss-architecture", "version": 1, "name": name,
        "input_shape": [3, 12, 12], "classes": classes,
        "layers": [
            conv("conv1", 3, 8), bn("bn1", 8), {"name": "relu1", "type": "relu"},
            conv("conv2", 8, 8), bn("bn2", 8), {"name": "relu2", "type": "relu"},
            conv("conv3", 8, 8), bn("bn3", 8),
            {"name": "add1", "type": "add", "inputs": ["bn3", "relu1"]},
            {"name": "relu3", "type": "relu"},
            conv("conv4", 8, 16, s=2, pad=(0, 1, 0, 1), bias=True),
            {"name": "pool", "type": "maxpool2d", "kernel": [2, 2], "stride": [2, 2]},
            {"name": "flatten", "type": "flatten", "order": "nchw"},
            {"name": "fc1", "type": "linear", "in_features": 144, "out_features": 32},
            {"name": "relu4", "type": "relu"},
            {"name": "dropout", "type": "dropout", "p": dropout},
            {"name": "fc2", "type": "linear", "in_features": 32, "out_features": classes},
        ],
        "output": "fc2",
    }


# ----------------------------------------------------------------------------------------------
# CIFAR ResNet (Heo et al.; option-A shortcut)
# ----------------------------------------------------------------------------------------------
def _authors_init(module):
    """The authors' init: conv ~ N(0, sqrt(2 / (kh*kw*out))), BN weight 1 / bias 0.
    Linear layers keep PyTorch's default init (the authors do not touch them)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            m.weight.data.normal_(0, math.sqrt(2.0 / n))
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.fill_(1)
            m.bias.data.zero_()


class BasicBlock(nn.Module):
    """conv1(stride s) -> bn1 -> relu -> conv2 -> bn2, + shortcut, relu.
    Shortcut ("option A", no parameters): identity, or when the shape changes
    x[:, :, ::s, ::s] (== AvgPool2d(kernel_size=1, stride=s)) with zero channels appended at
    the end of the channel axis."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride = stride
        self.in_planes, self.planes = in_planes, planes
        _authors_init(self)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x
        if self.stride != 1 or self.in_planes != self.planes:
            sc = x[:, :, ::self.stride, ::self.stride]
            sc = F.pad(sc, (0, 0, 0, 0, 0, self.planes - self.in_planes))
        return F.relu(out + sc)


class CifarResNet(nn.Module):
    def __init__(self, depth, classes=10):
        super().__init__()
        assert (depth - 2) % 6 == 0, "depth must be 6n+2"
        n = (depth - 2) // 6
        self.depth = depth
        self.conv1 = nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        in_planes = 16
        for li, (planes, stride) in enumerate([(16, 1), (32, 2), (64, 2)], start=1):
            blocks = []
            for bi in range(n):
                blocks.append(BasicBlock(in_planes, planes, stride if bi == 0 else 1))
                in_planes = planes
            setattr(self, f"layer{li}", nn.Sequential(*blocks))
        self.linear = nn.Linear(64, classes)
        _authors_init(self)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.shape[-1])          # 8x8 -> 1x1 (global average pool)
        out = out.reshape(out.shape[0], -1)
        return self.linear(out)


CIFAR_RESNET_PARAMS = {8: 75290, 14: 172506, 20: 269722, 26: 366938}


def cifar_resnet(depth, classes=10):
    m = CifarResNet(depth, classes)
    if classes == 10 and depth in CIFAR_RESNET_PARAMS:
        count = sum(p.numel() for p in m.parameters())
        assert count == CIFAR_RESNET_PARAMS[depth], (depth, count)
    return m


def cifar_resnet_spec(depth, classes=10):
    n = (depth - 2) // 6
    L = []
    conv = lambda name, i, o, s: {"name": name, "type": "conv2d", "in_channels": i, "out_channels": o,
                                  "kernel": [3, 3], "stride": [s, s], "padding": [1, 1, 1, 1], "bias": False}
    bn = lambda name, c: {"name": name, "type": "batchnorm", "channels": c, "eps": 1e-5, "momentum": 0.1}
    L += [conv("conv1", 3, 16, 1), bn("bn1", 16), {"name": "relu", "type": "relu"}]
    prev, in_planes = "relu", 16
    for li, (planes, stride) in enumerate([(16, 1), (32, 2), (64, 2)], start=1):
        for bi in range(n):
            s = stride if bi == 0 else 1
            p = f"layer{li}.{bi}"
            L += [dict(conv(f"{p}.conv1", in_planes, planes, s), inputs=[prev]), bn(f"{p}.bn1", planes),
                  {"name": f"{p}.relu1", "type": "relu"},
                  conv(f"{p}.conv2", planes, planes, 1), bn(f"{p}.bn2", planes)]
            sc = prev
            if s != 1 or in_planes != planes:
                L.append({"name": f"{p}.shortcut", "type": "shortcut_a", "out_channels": planes,
                          "stride": s, "inputs": [prev]})
                sc = f"{p}.shortcut"
            L += [{"name": f"{p}.add", "type": "add", "inputs": [f"{p}.bn2", sc]},
                  {"name": f"{p}.relu2", "type": "relu"}]
            prev, in_planes = f"{p}.relu2", planes
    L += [{"name": "pool", "type": "global_avgpool"},
          {"name": "linear", "type": "linear", "in_features": 64, "out_features": classes}]
    return {"format": "bss-architecture", "version": 1, "name": f"heo2019-resnet{depth}",
            "input_shape": [3, 32, 32], "classes": classes, "layers": L, "output": "linear"}


# ----------------------------------------------------------------------------------------------
# MLP
# ----------------------------------------------------------------------------------------------
class MLP(nn.Module):
    """mlp([d0, d1, ..., dn]): fc1 d0->d1, relu, fc2 d1->d2, relu, ..., fc<n> d(n-1)->dn.
    State-dict keys: fc1.weight, fc1.bias, ..., fc<n>.weight, fc<n>.bias."""

    def __init__(self, sizes):
        super().__init__()
        self.sizes = list(sizes)
        for i in range(len(sizes) - 1):
            setattr(self, f"fc{i + 1}", nn.Linear(sizes[i], sizes[i + 1]))

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        n = len(self.sizes) - 1
        for i in range(1, n + 1):
            x = getattr(self, f"fc{i}")(x)
            if i < n:
                x = F.relu(x)
        return x


def mlp(sizes):
    return MLP(sizes)


def mlp_spec(sizes):
    L = []
    n = len(sizes) - 1
    for i in range(1, n + 1):
        L.append({"name": f"fc{i}", "type": "linear", "in_features": sizes[i - 1], "out_features": sizes[i]})
        if i < n:
            L.append({"name": f"relu{i}", "type": "relu"})
    return {"format": "bss-architecture", "version": 1, "name": "mlp:" + "-".join(map(str, sizes)),
            "input_shape": [sizes[0]], "classes": sizes[-1], "layers": L, "output": f"fc{n}"}


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------
@torch.no_grad()
def randomise_bn(model, gen):
    """weight ~ U(0.5, 1.5), bias ~ N(0, 0.2), running_mean ~ N(0, 0.3),
    running_var ~ U(0.5, 2.0) for every BatchNorm (num_batches_tracked stays 0)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.copy_(torch.randn(c, generator=gen) * 0.2)
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.3)
            m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)


@torch.no_grad()
def calibrate_random_model(model, head, x_calib, gen, spread=1.5):
    """Make a randomly initialised model's outputs depend visibly on its input, so fixtures
    test something: (1) randomise_bn; (2) set every BatchNorm's running statistics to the batch
    statistics of one training-mode forward of `x_calib` (momentum 1, so running_var is the
    unbiased batch variance), then perturb them: running_mean += N(0, 0.2) * sqrt(running_var),
    running_var *= U(0.6, 1.6); num_batches_tracked reset to 0; (3) re-draw the final Linear
    `head` (unless spread is None) so that in inference mode its outputs vary across `x_calib` with std ~ `spread`:
    weight ~ N(0, 1) * spread / (sqrt(in) * mean feature std), bias = -weight @ feature mean
    + N(0, 0.3)."""
    randomise_bn(model, gen)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    drops = [(m, m.p) for m in model.modules() if isinstance(m, nn.Dropout)]
    for m, _ in drops:
        m.p = 0.0
    for m in bns:
        m.momentum = 1.0
    model.train()
    model(x_calib)
    for m in bns:
        m.momentum = 0.1
        m.num_batches_tracked.zero_()
        c = m.num_features
        m.running_mean += torch.randn(c, generator=gen) * 0.2 * m.running_var.sqrt()
        m.running_var *= torch.rand(c, generator=gen) + 0.6
    for m, p in drops:
        m.p = p
    model.eval()
    if spread is None:
        model.train()
        return
    feats = []
    h = head.register_forward_hook(lambda mod, inp, out: feats.append(inp[0].detach()))
    model(x_calib)
    h.remove()
    f = feats[0].reshape(feats[0].shape[0], -1)
    mu, sd = f.mean(0), f.std(0).mean().clamp_min(1e-6)
    w = torch.randn(head.weight.shape, generator=gen) * spread / (math.sqrt(f.shape[1]) * sd)
    head.weight.copy_(w)
    head.bias.copy_(-(w @ mu) + torch.randn(head.bias.shape, generator=gen) * 0.3)
    model.train()


def smooth_inputs(n, shape, gen, low=4, noise=0.3):
    """Image-like random inputs: N(0,1) at low x low resolution, bilinearly upsampled
    (align_corners=False) to HxW, plus `noise` * N(0,1) per pixel. Flat shapes: N(0,1)."""
    if len(shape) != 3:
        return torch.randn(n, *shape, generator=gen)
    c, h, w = shape
    z = torch.randn(n, c, low, low, generator=gen)
    return (F.interpolate(z, size=(h, w), mode="bilinear", align_corners=False)
            + noise * torch.randn(n, c, h, w, generator=gen))


def state_dict_numpy(model):
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def spec_forward(spec, sd, x):
    """Evaluate a spec in inference mode with state dict `sd` (name -> tensor), float64.
    Only what our fixtures use; an independent check that a spec matches its nn.Module."""
    out = {"input": x.double()}
    prev = "input"
    for layer in spec["layers"]:
        name, t = layer["name"], layer["type"]
        ins = [out[i] for i in layer.get("inputs", [prev])]
        keys = layer.get("keys", {})
        P = lambda p: sd[keys.get(p, f"{name}.{p}")].double()
        h = ins[0]
        if t == "conv2d":
            pt, pb, pl, pr = layer.get("padding", [0, 0, 0, 0])
            s = layer.get("stride", 1)
            s = s if isinstance(s, list) else [s, s]
            h = F.pad(h, (pl, pr, pt, pb))
            y = F.conv2d(h, P("weight"), P("bias") if layer.get("bias", True) else None, stride=tuple(s))
        elif t == "batchnorm":
            y = F.batch_norm(h, P("running_mean"), P("running_var"), P("weight"), P("bias"),
                             training=False, eps=layer.get("eps", 1e-5))
        elif t == "relu":
            y = F.relu(h)
        elif t == "add":
            y = sum(ins[1:], ins[0])
        elif t == "maxpool2d":
            k = layer["kernel"]
            y = F.max_pool2d(h, k, layer.get("stride", k))
        elif t == "global_avgpool":
            y = h.mean(dim=(2, 3))
        elif t == "flatten":
            if layer.get("order", "nchw") == "nhwc":
                h = h.permute(0, 2, 3, 1)
            y = h.reshape(h.shape[0], -1)
        elif t == "linear":
            y = F.linear(h.reshape(h.shape[0], -1), P("weight"), P("bias") if layer.get("bias", True) else None)
        elif t == "dropout" or t == "identity":
            y = h
        elif t == "shortcut_a":
            s, oc = layer["stride"], layer["out_channels"]
            y = h[:, :, ::s, ::s]
            y = F.pad(y, (0, 0, 0, 0, 0, oc - y.shape[1]))
        else:
            raise ValueError(f"spec_forward: unsupported layer type {t}")
        out[name] = y
        prev = name
    return out[spec.get("output", prev)]
