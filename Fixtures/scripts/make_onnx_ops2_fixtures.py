"""More ONNX import fixtures (Fixtures/onnx): the operators added after the first set, a student
exported with BatchNorm kept, and torch's dynamo exporter. onnxruntime's logits are the reference.

  python3 Fixtures/scripts/make_onnx_ops2_fixtures.py   (needs torch, onnx, onnxruntime; onnxscript for dynamo)

- ops2.onnx (opset 17, dynamo=False): Sub and Div by constants, a constant minus an activation,
  the ShuffleNet channel shuffle (view/transpose/reshape), torch.split on channels, GELU
  (exported as the Erf pattern), x.mean((2, 3), keepdim=True/False) (ReduceMean), a
  squeeze-and-excitation Mul by a [C, 1, 1] activation, unsqueeze/squeeze of activations.
- gelu20.onnx (opset 20, onnx.helper): Gemm -> Gelu (approximate none) -> Gemm -> Gelu (tanh) -> Gemm.
- nhwc-input.onnx (opset 15, onnx.helper): tf2onnx's layout for Keras models, an NHWC input
  transposed to NCHW by its first node and a channels-last flatten before MatMul + Add; x is NHWC.
- student-bn.onnx (opset 17): a small digits CNN exported with
  training=torch.onnx.TrainingMode.PRESERVE and do_constant_folding=False, so BatchNormalization
  nodes stay (a student bss can train and write back).
- dynamo-resnet8.onnx, dynamo-digits-teacher.onnx: heo2019-resnet8 (random BN statistics) and
  the digits CNN teacher (as in make_onnx_fixtures.py, final softmax) through
  torch.onnx.export(dynamo=True) (its default opset, 18).
- dynamo-resnet8-state.npz: the same network's state dict (loads into the heo2019-resnet8
  preset), for comparing BSS generation from the ONNX file with the state dict's.
- *-io.npz: x and onnxruntime's logits.
"""
import os, sys
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
import onnx, onnxruntime as ort
from onnx import helper, TensorProto, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_models import cifar_resnet, randomise_bn, state_dict_numpy  # noqa: E402
from make_onnx_fixtures import digits_teacher  # noqa: E402

OUT = os.path.join(HERE, "..", "onnx")
torch.manual_seed(0)


def reference(path, xs, name, softmax=False):
    m = onnx.load(path)
    if softmax:
        # The logits are the final softmax's input: read them as an extra graph output.
        sm = [n for n in m.graph.node if n.op_type == "Softmax"][-1]
        m.graph.output.append(helper.make_tensor_value_info(sm.input[0], TensorProto.FLOAT, None))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    logits = sess.run(None, {sess.get_inputs()[0].name: xs})[-1]
    np.savez(os.path.join(OUT, name + "-io.npz"), x=xs, logits=logits.astype(np.float32))
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    print(name, logits.shape, ops)


def export(model, x, name, opset=17, **kw):
    model.eval()
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(model, (x,), path, opset_version=opset, dynamo=False, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, **kw)
    reference(path, x.numpy().astype(np.float32), name)


class Ops2(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.se1 = nn.Conv2d(8, 4, 1)
        self.se2 = nn.Conv2d(4, 8, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        h = (self.bn(self.conv(x)) - 0.25) / 2.0
        h = 1.0 - h
        n, c, hh, ww = h.shape
        h = h.view(n, 2, c // 2, hh, ww).transpose(1, 2).reshape(n, c, hh, ww)      # channel shuffle
        a, b = torch.split(h, [3, 5], dim=1)
        h = torch.cat([F.gelu(a), F.relu(b)], dim=1)
        s = torch.sigmoid(self.se2(F.relu(self.se1(h.mean((2, 3), keepdim=True)))))
        h = h * s
        v = h.mean((2, 3))                                                          # ReduceMean keepdims 0
        v = v.unsqueeze(-1).unsqueeze(-1)
        v = v.squeeze(-1).squeeze(-1)
        return self.fc(v)


def gelu20():
    rng = np.random.default_rng(1)
    w = lambda *s: numpy_helper.from_array(rng.normal(0, 0.7, s).astype(np.float32), "w%d" % len(inits))
    inits = []
    nodes = []
    prev = "input"
    for k, (i, o) in enumerate([(6, 8), (8, 8), (8, 3)]):
        inits.append(numpy_helper.from_array(rng.normal(0, 0.7, (o, i)).astype(np.float32), "fc%d.weight" % k))
        inits.append(numpy_helper.from_array(rng.normal(0, 0.3, (o,)).astype(np.float32), "fc%d.bias" % k))
        nodes.append(helper.make_node("Gemm", [prev, "fc%d.weight" % k, "fc%d.bias" % k], ["g%d" % k], transB=1))
        prev = "g%d" % k
        if k < 2:
            nodes.append(helper.make_node("Gelu", [prev], ["a%d" % k], approximate="none" if k == 0 else "tanh"))
            prev = "a%d" % k
    nodes[-1].output[0] = "output"
    graph = helper.make_graph(nodes, "gelu20", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 6])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=9)
    onnx.checker.check_model(m, full_check=True)
    path = os.path.join(OUT, "gelu20.onnx")
    onnx.save(m, path)
    reference(path, rng.normal(0, 1, (4, 6)).astype(np.float32), "gelu20")


def nhwc_input():
    """What tf2onnx writes for a Keras CNN: an NHWC input transposed to NCHW by the first node,
    and the Keras flatten as a Transpose back to NHWC before the Reshape and MatMul."""
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, (4, 2, 3, 3)).astype(np.float32), "conv.weight"),
             numpy_helper.from_array(rng.normal(0, 0.2, (4,)).astype(np.float32), "conv.bias"),
             numpy_helper.from_array(np.array([-1, 144], dtype=np.int64), "flat_shape"),
             numpy_helper.from_array(rng.normal(0, 0.2, (144, 3)).astype(np.float32), "dense.kernel"),
             numpy_helper.from_array(rng.normal(0, 0.2, (3,)).astype(np.float32), "dense.bias")]
    nodes = [helper.make_node("Transpose", ["input"], ["x_nchw"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["x_nchw", "conv.weight", "conv.bias"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Transpose", ["r"], ["r_nhwc"], perm=[0, 2, 3, 1]),
             helper.make_node("Reshape", ["r_nhwc", "flat_shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "dense.kernel"], ["mm"]),
             helper.make_node("Add", ["mm", "dense.bias"], ["output"])]
    graph = helper.make_graph(nodes, "nhwc_input", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 6, 6, 2])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)], ir_version=8)
    onnx.checker.check_model(m, full_check=True)
    path = os.path.join(OUT, "nhwc-input.onnx")
    onnx.save(m, path)
    reference(path, rng.normal(0, 1, (4, 6, 6, 2)).astype(np.float32), "nhwc-input")


class StudentBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


def dynamo(model, x, name, softmax=False):
    model.eval()
    path = os.path.join(OUT, name + ".onnx")
    prog = torch.onnx.export(model, (x,), dynamo=True, input_names=["input"], output_names=["output"],
                             dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=1024)}}, external_data=False)
    prog.save(path)
    reference(path, x.numpy().astype(np.float32), name, softmax)


def main():
    gen = torch.Generator().manual_seed(3)
    ops = Ops2()
    randomise_bn(ops, gen)
    export(ops, torch.randn(4, 3, 6, 6, generator=gen), "ops2")
    gelu20()
    nhwc_input()
    student = StudentBN()
    randomise_bn(student, gen)
    export(student, torch.randn(4, 1, 8, 8, generator=gen), "student-bn",
           training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    r8 = cifar_resnet(8)
    randomise_bn(r8, gen)
    dynamo(r8, torch.randn(3, 3, 32, 32, generator=gen), "dynamo-resnet8")
    np.savez(os.path.join(OUT, "dynamo-resnet8-state.npz"), **state_dict_numpy(r8))
    dynamo(digits_teacher(), torch.rand(4, 1, 8, 8, generator=gen), "dynamo-digits-teacher", softmax=True)


if __name__ == "__main__":
    main()
