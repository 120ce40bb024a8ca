"""ONNX import fixtures (Fixtures/onnx): small models exported with torch.onnx.export
(TorchScript exporter, dynamo=False) and onnxruntime's logits on fixed inputs as the reference.

  python3 Fixtures/scripts/make_onnx_fixtures.py     (needs torch, onnx, onnxruntime, h5py)

- digits-teacher.onnx: the bundled digits CNN teacher (Fixtures/digits/teacher-cnn.h5)
  re-expressed in torch with its Keras weights (HWIO -> OIHW, Keras 'same' stride-2 padding as
  an explicit zero pad), softmax kept so the importer splits it off.
- resnet8.onnx: heo2019-resnet8 (Fixtures/scripts/torch_models.py), random BN statistics.
- ops.onnx: a small net using every operator the importer maps (opset 13).
- *-io.npz: x (inputs) and logits (onnxruntime; softmax inputs for models ending in softmax).
- bad-*.onnx: hand-built graphs that must give one clear error each.
"""
import os, sys
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
import onnx, onnxruntime as ort
from onnx import helper, TensorProto, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_models import cifar_resnet, randomise_bn  # noqa: E402

OUT = os.path.join(HERE, "..", "onnx")
torch.manual_seed(0)


def export(model, x, name, opset, softmax=False):
    model.eval()
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(model, (x,), path, opset_version=opset, dynamo=False, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    xs = x.numpy().astype(np.float32)
    if softmax:
        # The logits are the softmax's input: read them as an extra graph output.
        m = onnx.load(path)
        sm = [n for n in m.graph.node if n.op_type == "Softmax"][-1]
        m.graph.output.append(helper.make_tensor_value_info(sm.input[0], TensorProto.FLOAT, None))
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        logits = sess.run(None, {"input": xs})[1]
    else:
        logits = sess.run(None, {"input": xs})[0]
    np.savez(os.path.join(OUT, name + "-io.npz"), x=xs, logits=logits.astype(np.float32))
    print(name, logits.shape, "opset", opset)


class DigitsTeacher(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False); self.bn1 = nn.BatchNorm2d(16, eps=1e-3)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1, bias=False); self.bn2 = nn.BatchNorm2d(16, eps=1e-3)
        self.conv3 = nn.Conv2d(16, 32, 3, stride=2, bias=False); self.bn3 = nn.BatchNorm2d(32, eps=1e-3)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        r = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(r)) + r)
        h = F.relu(self.bn3(self.conv3(F.pad(h, (0, 1, 0, 1)))))
        h = F.adaptive_avg_pool2d(h, 1).flatten(1)
        return F.softmax(self.fc(h), dim=1)


def digits_teacher():
    import h5py
    m = DigitsTeacher()
    with h5py.File(os.path.join(HERE, "..", "digits", "teacher-cnn.h5"), "r") as f:
        w = f["model_weights"]
        with torch.no_grad():
            for c in ["conv1", "conv2", "conv3"]:
                getattr(m, c).weight.copy_(torch.from_numpy(w[f"{c}/{c}/kernel"][()].transpose(3, 2, 0, 1)))
            for b in ["bn1", "bn2", "bn3"]:
                bn = getattr(m, b)
                bn.weight.copy_(torch.from_numpy(w[f"{b}/{b}/gamma"][()])); bn.bias.copy_(torch.from_numpy(w[f"{b}/{b}/beta"][()]))
                bn.running_mean.copy_(torch.from_numpy(w[f"{b}/{b}/moving_mean"][()]))
                bn.running_var.copy_(torch.from_numpy(w[f"{b}/{b}/moving_variance"][()]))
            m.fc.weight.copy_(torch.from_numpy(w["fc/fc/kernel"][()].T)); m.fc.bias.copy_(torch.from_numpy(w["fc/fc/bias"][()]))
    return m


class OpsNet(nn.Module):
    """Every mapped operator: Conv (groups, dilation, pads), BatchNormalization (unfused, after a
    ReLU), Relu, Clip (ReLU6 and clamp(0, 3)), LeakyRelu, Sigmoid, HardSigmoid, HardSwish,
    Mul/Add (same shape and per-channel constant), Concat, MaxPool (ceil_mode), AveragePool
    (count_include_pad), GlobalAveragePool, GlobalMaxPool, Flatten, Reshape (x.view(x.size(0), -1)),
    Gemm, MatMul + Add, Identity, Softmax."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4)
        self.c3 = nn.Conv2d(8, 8, 1)
        self.scale = nn.Parameter(torch.rand(1, 16, 1, 1) + 0.5)
        self.shift = nn.Parameter(torch.randn(1, 16, 1, 1) * 0.1)
        self.id = nn.Identity()
        self.fc1 = nn.Linear(16 * 3 * 3 + 32, 24)
        self.w2 = nn.Parameter(torch.randn(24, 12) * 0.3)
        self.b2 = nn.Parameter(torch.randn(12) * 0.1)
        self.fc3 = nn.Linear(12, 5)

    def forward(self, x):
        h = F.relu(self.c1(x))
        h = self.bn(h)
        a = F.relu6(self.c2(h) * 3)
        b = torch.clamp(self.c3(h), 0, 3)
        h = torch.cat([F.leaky_relu(a, 0.1), torch.sigmoid(b) * b], dim=1)        # Concat, Mul same shape
        g = F.hardsigmoid(h) * self.scale + self.shift                              # per-channel constants
        h = self.id(F.hardswish(g) + h)                                             # Add same shape
        h = F.max_pool2d(h, 3, stride=2, ceil_mode=True)                            # 9x9 -> 4x4
        p = F.avg_pool2d(h, 2, stride=1, padding=1, count_include_pad=True)         # 4x4 -> 5x5
        q = F.avg_pool2d(h, 2, stride=1, padding=0, count_include_pad=False)        # 4x4 -> 3x3
        s = torch.cat([F.adaptive_avg_pool2d(p, 1), F.adaptive_max_pool2d(p, 1)], dim=1).flatten(1)
        v = q.view(q.size(0), -1)
        h = F.relu(self.fc1(torch.cat([v, s], dim=1)))
        h = torch.sigmoid(h @ self.w2 + self.b2)
        return F.softmax(self.fc3(h), dim=-1)


class Opset17Net(nn.Module):
    """HardSwish (an operator from opset 14) and Dropout/Identity around it."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 6, 3, stride=2)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(6 * 4 * 4, 4)

    def forward(self, x):
        h = self.drop(F.hardswish(self.c(x)))
        return self.fc(torch.flatten(h, 1))


def handmade():
    """Built with onnx.helper: what exporters rarely write but the format allows. Gemm with
    transB=0, alpha and beta; Conv with auto_pad SAME_UPPER; GlobalMaxPool; Dropout; Identity;
    Clip with only a max; Mul by a scalar Constant (value_float); initializers in float16,
    float64, typed float_data and external data inside the model's folder."""
    g = np.random.default_rng(3)
    w = g.normal(size=(4, 2, 3, 3)).astype(np.float16)                     # float16 raw_data
    b = g.normal(size=(4,)).astype(np.float64)                             # float64 raw_data
    fcw = g.normal(size=(4, 3)).astype(np.float32)                         # [in, out]: transB=0
    fcb = g.normal(size=(3,)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
             helper.make_tensor("fcb", TensorProto.FLOAT, [3], fcb.tolist()),          # typed float_data
             numpy_helper.from_array(np.array(0, np.float32), "zero"), numpy_helper.from_array(np.array(4, np.float32), "four")]
    ext = numpy_helper.from_array(fcw, "fcw")
    with open(os.path.join(OUT, "handmade-weights.bin"), "wb") as f:
        f.write(b"\0" * 16 + fcw.tobytes())
    ext.ClearField("raw_data"); ext.data_location = TensorProto.EXTERNAL
    for k, v in [("location", "handmade-weights.bin"), ("offset", "16"), ("length", str(fcw.nbytes))]:
        ext.external_data.add(key=k, value=v)
    inits.append(ext)
    # The engine's conv weights are float32: feed onnxruntime float32 copies of the same values.
    nodes = [
        helper.make_node("Cast", ["w"], ["w32"], to=TensorProto.FLOAT), helper.make_node("Cast", ["b"], ["b32"], to=TensorProto.FLOAT),
        helper.make_node("Conv", ["x", "w32", "b32"], ["c"], auto_pad="SAME_UPPER", strides=[2, 2], name="conv"),
        helper.make_node("Clip", ["c", "zero", "four"], ["r"], name="clip"),
        helper.make_node("Constant", [], ["k"], value_float=0.5, name="k"),
        helper.make_node("Mul", ["r", "k"], ["m"], name="half"),
        helper.make_node("Dropout", ["m"], ["d"], name="drop"),
        helper.make_node("GlobalMaxPool", ["d"], ["p"], name="gmp"),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("Identity", ["f"], ["i"], name="id"),
        helper.make_node("Gemm", ["i", "fcw", "fcb"], ["y"], alpha=0.5, beta=2.0, name="fc"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 7, 7])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    m = helper.make_model(helper.make_graph(nodes, "handmade", [x], [y], inits), opset_imports=[helper.make_opsetid("", 21)],
                          producer_name="make_onnx_fixtures")
    m.ir_version = 10
    path = os.path.join(OUT, "handmade.onnx")
    onnx.save(m, path)
    xs = g.normal(size=(3, 2, 7, 7)).astype(np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    np.savez(os.path.join(OUT, "handmade-io.npz"), x=xs, logits=sess.run(None, {"x": xs})[0].astype(np.float32))
    print("handmade", "opset 21")


def bad_models():
    w = numpy_helper.from_array(np.ones((2, 3), np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
    opset = [helper.make_opsetid("", 17)]

    def save(name, nodes, inits):
        g = helper.make_graph(nodes, name, [x], [y], inits)
        m = helper.make_model(g, opset_imports=opset, producer_name="make_onnx_fixtures")
        onnx.save(m, os.path.join(OUT, name + ".onnx"))

    # Gemm's weight 'w' is named but neither an initializer nor computed.
    save("bad-missing-initializer", [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1, name="fc")], [])
    # a -> b -> a: no order evaluates it.
    save("bad-cyclic", [helper.make_node("Relu", ["x2"], ["x1"], name="r1"), helper.make_node("Add", ["x1", "x"], ["x2"], name="add"),
                        helper.make_node("Gemm", ["x1", "w"], ["y"], transB=1, name="fc")], [w])
    # Three unsupported operators: the error names all of them.
    save("bad-unsupported", [helper.make_node("Sin", ["x"], ["s"], name="sin"), helper.make_node("Cos", ["s"], ["c"], name="cos"),
                             helper.make_node("Gemm", ["c", "w"], ["g"], transB=1, name="fc"),
                             helper.make_node("Erf", ["g"], ["y"], name="erf")], [w])
    # Weights stored outside the model's folder.
    ext = numpy_helper.from_array(np.ones((2, 3), np.float32), "w")
    ext.ClearField("raw_data"); ext.data_location = TensorProto.EXTERNAL
    ext.external_data.add(key="location", value="../outside.bin")
    save("bad-external", [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1, name="fc")], [ext])


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(1)
    export(digits_teacher(), torch.rand(6, 1, 8, 8, generator=gen), "digits-teacher", 17, softmax=True)
    r8 = cifar_resnet(8)
    randomise_bn(r8, gen)
    export(r8, torch.randn(4, 3, 32, 32, generator=gen), "resnet8", 17)
    ops = OpsNet()
    randomise_bn(ops, gen)
    export(ops, torch.randn(4, 3, 9, 9, generator=gen), "ops", 13, softmax=True)
    export(Opset17Net(), torch.randn(3, 3, 9, 9, generator=gen), "opset17", 17)
    handmade()
    bad_models()


if __name__ == "__main__":
    main()
