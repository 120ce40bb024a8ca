"""Keras applications converted by tf2onnx (Fixtures/onnx/tf2onnx-*.onnx), committed WITHOUT their
weights: every float initializer is refilled from a closed formula the Swift test reproduces
exactly (Tests/ONNXTests/ONNXTf2onnxTests.swift), so ResNet50 (100 MB of weights) fits in a few KB.

  python3 -m venv /tmp/tfvenv
  /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 tf2onnx==1.17.0 onnx onnxruntime
  TF_USE_LEGACY_KERAS=1 /tmp/tfvenv/bin/python Fixtures/scripts/make_onnx_tf2onnx_fixtures.py

(tf-keras: tf2onnx.convert.from_keras reads tf.keras 2 models; TF_USE_LEGACY_KERAS=1 makes
tf.keras be tf-keras.) Versions used for the committed files are printed and recorded in
Fixtures/onnx/README.md.

For each of ResNet50, MobileNetV2, EfficientNetB0, DenseNet121 (keras.applications,
weights=None, 32x32x3 input, 10 classes, final softmax):
1. tf2onnx.convert.from_keras, opset 15, input [batch, 32, 32, 3] (NHWC). The Keras weights are
   first set to random nonzero values, so tf2onnx sees the graph a trained model gives (with
   weights=None it drops zero biases and merges equal constants).
2. Every float32 initializer that holds weights (more than one value; Clip bounds and other
   scalars keep their data) gets the value
       offset + scale * u(i, j)        computed in float64, rounded once to float32,
   where i is the initializer's position in graph.initializer, j the element's flat (row-major)
   index, and u(i, j) in [-0.5, 0.5) is splitmix64(i * 2^32 + j) >> 11 scaled by 2^-53, minus 0.5.
   scale and offset depend on what reads the initializer (conv weights: sqrt(24 / fan_in), He's
   variance; the MatMul weight: sqrt(12 / fan_in); BatchNormalization scale and variance and
   per-channel Mul/Div constants: offset 1, scale 0.4, so positive; biases, means and Add/Sub
   constants: scale 0.2). tf2onnx shares one initializer between nodes when the values are equal;
   the roles must then agree. Then each Conv/MatMul weight's scale is multiplied by a power of two
   (exact; `calibrate`), in node order, until that node's output has a standard deviation in
   [0.5, 2) on the two inputs: without it the input's signal fades through EfficientNet's swish
   and squeeze-and-excitation gates and its logits no longer depend on the input. The logits are
   of order 1 and differ between the two inputs (printed as "input sensitivity").
   The recipe is written into the initializer's doc_string: "bss-fill scale=<S> offset=<O>"
   (Python float repr, exact round trip).
3. onnxruntime runs the filled model on two fixed NHWC inputs; the logits (the final softmax's
   input) go to tf2onnx-<name>-io.npz as `logits`, with `x` and `fill_sums` (the float64 sum
   of each filled initializer's float32 values, added left to right, in initializer order, so the test
   checks that it regenerated the same numbers before comparing logits).
4. The filled initializers' data is removed (raw_data emptied; name, dims, data type kept), and
   the graph-only model is saved as tf2onnx-<name>.onnx.
"""
import os, sys
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf
import tf2onnx
import onnx, onnxruntime as ort
from onnx import helper, TensorProto, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "onnx")
SIZE, CLASSES, OPSET = 32, 10, 15


def splitmix_u(i, n):
    """u(i, j) for j in 0..<n, in [-0.5, 0.5), float64 (the formula the Swift test reproduces)."""
    z = (np.uint64(i) << np.uint64(32)) + np.arange(n, dtype=np.uint64)
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53) - 0.5


def fill(i, shape, scale, offset):
    n = int(np.prod(shape)) if len(shape) else 1
    return (offset + scale * splitmix_u(i, n)).astype(np.float32).reshape(shape)


def recipe(name, dims, readers):
    """(scale, offset) for the initializer `name` from the nodes that read it (op, input index).
    One initializer may be read by several nodes (tf2onnx shares equal constants); their roles
    must agree."""
    kinds = set()
    for n, k in readers:
        if n.op_type == "Conv" and k == 1:
            kinds.add(("weight", float(np.sqrt(24.0 / int(np.prod(dims[1:]))))))
        elif n.op_type == "MatMul" and k == 1:
            kinds.add(("weight", float(np.sqrt(12.0 / dims[0]))))
        elif (n.op_type == "BatchNormalization" and k in (1, 4)) or n.op_type in ("Mul", "Div"):
            kinds.add(("positive",))
        elif (n.op_type == "BatchNormalization" and k in (2, 3)) or n.op_type in ("Conv", "Add", "Sub"):
            kinds.add(("small",))
        else:
            raise SystemExit(f"{name}: no fill recipe for input {k} of {n.op_type}")
    if len(kinds) != 1:
        raise SystemExit(f"{name}: read in roles that disagree: {kinds}")
    kind = kinds.pop()
    return {"weight": (kind[-1], 0.0), "positive": (0.4, 1.0), "small": (0.2, 0.0)}[kind[0]]


def keras_model(name):
    apps = tf.keras.applications
    build = {"resnet50": apps.ResNet50, "mobilenetv2": apps.MobileNetV2,
             "efficientnetb0": apps.EfficientNetB0, "densenet121": apps.DenseNet121}[name]
    tf.keras.backend.clear_session()
    model = build(weights=None, input_shape=(SIZE, SIZE, 3), classes=CLASSES, classifier_activation="softmax")
    # Generic (random, nonzero, all different) Keras weights before conversion, so tf2onnx sees
    # what it sees for a trained model: with weights=None's zero biases and unit BatchNorm it
    # drops zero Adds and merges equal constants. These values are replaced in step 2 anyway.
    rng = np.random.default_rng(0)
    for v in model.weights:
        a = rng.uniform(-0.5, 0.5, size=v.shape).astype(np.float32)
        if "variance" in v.name or "gamma" in v.name:
            a = 1 + 0.4 * a
        v.assign(a)
    return model


def logits_model(model):
    """A copy whose first output is the final softmax's input (the logits)."""
    m = onnx.ModelProto(); m.CopyFrom(model)
    sm = [n for n in m.graph.node if n.op_type == "Softmax"][-1]
    m.graph.output.insert(0, helper.make_tensor_value_info(sm.input[0], TensorProto.FLOAT, None))
    return m


def run(model, x):
    m = logits_model(model)
    so = ort.SessionOptions(); so.intra_op_num_threads = 2
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


def calibrate(model, filled, x):
    """Gains (powers of two) on the Conv/MatMul weights' scale, in node order, until each such
    node's output has a standard deviation in [0.5, 2) on x: without them the input's signal
    fades through EfficientNet's swish and squeeze-and-excitation gates and the logits stop
    depending on the input. Returns `filled` with the final scales."""
    recipes = {t.name: [i, t, s, o] for i, t, s, o in filled}
    weighted = [n for n in model.graph.node if n.op_type in ("Conv", "MatMul") and n.input[1] in recipes]
    probe = onnx.ModelProto(); probe.CopyFrom(model)
    del probe.graph.output[:]
    for n in weighted:
        probe.graph.output.append(helper.make_tensor_value_info(n.output[0], TensorProto.FLOAT, None))
    inits = {t.name: t for t in probe.graph.initializer}
    so = ort.SessionOptions(); so.intra_op_num_threads = 2
    k, tries, runs = 0, 0, 0
    while k < len(weighted):
        for i, t, sc, o in recipes.values():
            inits[t.name].CopyFrom(numpy_helper.from_array(fill(i, list(t.dims), sc, o), t.name))
        sess = ort.InferenceSession(probe.SerializeToString(), so, providers=["CPUExecutionProvider"])
        outs = sess.run(None, {sess.get_inputs()[0].name: x})
        runs += 1
        for j in range(k, len(weighted)):
            sd = float(np.std(outs[j]))
            if not 0.5 <= sd < 2.0 and (j > k or tries < 3) and sd > 0:
                tries = tries + 1 if j == k else 1
                recipes[weighted[j].input[1]][2] *= 2.0 ** round(-np.log2(sd))
                k = j
                break
        else:
            break
    print(f"  calibrated in {runs} runs")
    return [tuple(recipes[t.name]) for _, t, _, _ in filled]


def make(name, x):
    keras = keras_model(name)
    spec = (tf.TensorSpec([None, SIZE, SIZE, 3], tf.float32, name="input"),)
    model, _ = tf2onnx.convert.from_keras(keras, input_signature=spec, opset=OPSET)
    g = model.graph
    readers = {}
    for n in g.node:
        for k, inp in enumerate(n.input):
            readers.setdefault(inp, []).append((n, k))
    filled = []
    for i, t in enumerate(g.initializer):
        dims = list(t.dims)
        if t.data_type != TensorProto.FLOAT or int(np.prod(dims)) <= 1:
            continue
        scale, offset = recipe(t.name, dims, readers.get(t.name, []))
        filled.append((i, t, scale, offset))
    final = calibrate(model, filled, x)
    for i, t, s, o in final:
        arr = fill(i, list(t.dims), s, o)
        t.CopyFrom(numpy_helper.from_array(arr, t.name))
    out = run(model, x)
    logits = out[0].astype(np.float32)
    # Sequential sums (np.cumsum adds left to right, as the Swift test does; np.sum is pairwise).
    sums = np.array([float(np.cumsum(numpy_helper.to_array(t).astype(np.float64).ravel())[-1]) for _, t, _, _ in final])
    for i, t, s, o in final:
        dims, dtype, tname = list(t.dims), t.data_type, t.name
        t.Clear()
        t.name, t.data_type = tname, dtype
        t.dims.extend(dims)
        t.doc_string = f"bss-fill scale={s!r} offset={o!r}"
    onnx.save(model, os.path.join(OUT, f"tf2onnx-{name}.onnx"))
    np.savez(os.path.join(OUT, f"tf2onnx-{name}-io.npz"), x=x, logits=logits, fill_sums=sums)
    ops = sorted({n.op_type for n in g.node})
    spread = float(np.max(np.abs(logits[0] - logits[1])) / np.max(np.abs(logits)))
    print(f"{name}: {len(g.node)} nodes, {len(final)} filled initializers, logits {logits.shape}, "
          f"max |logit| {np.max(np.abs(logits)):.4g}, input sensitivity {spread:.3g}, ops {ops}")


def main():
    print("tensorflow", tf.__version__, "tf2onnx", tf2onnx.__version__, "onnx", onnx.__version__,
          "onnxruntime", ort.__version__)
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, size=(2, SIZE, SIZE, 3)).astype(np.float32)
    names = sys.argv[1:] or ["resnet50", "mobilenetv2", "efficientnetb0", "densenet121"]
    for name in names:
        make(name, x)


if __name__ == "__main__":
    main()
