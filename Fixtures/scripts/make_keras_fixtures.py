"""Keras importer parity fixtures for bss (Keras 3 .h5 / .keras / .weights.h5, tf.keras 2.x .h5).

Run from the repository root:

    KERAS_BACKEND=jax python3 Fixtures/scripts/make_keras_fixtures.py [--tf2-python /tmp/tf2/bin/python]

Made with Keras 3.15.1 (JAX backend), jax 0.10.2, h5py 3.16, numpy 2.4.6. The optional tf.keras 2.x
files are made by Fixtures/scripts/keras_tf2_conv_flatten.py, run under the given interpreter, a
venv with tensorflow-cpu 2.15.1 (keras 2.15.0, h5py 3.16.0):
    python3 -m venv /tmp/tf2 && /tmp/tf2/bin/pip install "tensorflow-cpu==2.15.*"
Without --tf2-python the existing tf2 files are kept (still reloaded, checked and described).

Writes into Fixtures/keras/ (see Fixtures/keras/README.md for every file and key):
  <m>.h5, <m>.keras, <m>-reference.npz   for m in functional-cnn, conv-flatten, sequential-mlp,
                                         nested; npz keys x (6 fixed inputs, NHWC or flat),
                                         probabilities, logits
  functional-cnn.weights.h5              model.save_weights of functional-cnn (Keras 3 layout)
  conv-flatten-tf2.h5                    tf.keras 2.15 model.save of conv-flatten (same weights)
  conv-flatten-tf2-weights.h5            tf.keras 2.15 model.save_weights (legacy root layout)
  conv-flatten-tf2-reference.npz         x, probabilities, logits computed by TensorFlow 2.15
  conv-flatten-tf2-handmade.h5           conv-flatten-tf2.h5 rewritten with h5py: string-list
                                         attributes as fixed-length NULLPAD ASCII (h5py 2.x style)
  STRUCTURE.txt                          HDF5 / ZIP layout of every model file

Reproducibility: keras.backend.clear_session() (deterministic default layer names) and
keras.utils.set_random_seed(seed) before each model; inputs from numpy.random.default_rng(seed).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import h5py
import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ next to the committed scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_fixture_utils as U  # noqa: E402

keras = U.setup()
from keras import layers  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Fixtures", "keras")
N = 6  # reference samples per model
IMG = (12, 12, 3)
CLASSES = 5


def fresh(seed):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)


# ---------------------------------------------------------------------------------------------
# 1. functional-cnn
# ---------------------------------------------------------------------------------------------

def build_functional_cnn():
    # Explicit layer names that differ from the class-derived names used in .weights.h5 / .keras.
    inp = keras.Input(IMG, name="image")
    h = layers.Conv2D(8, 3, padding="same", use_bias=False, name="stem_conv")(inp)
    h = layers.BatchNormalization(name="stem_bn")(h)
    r = layers.ReLU(name="stem_relu")(h)
    h = layers.Conv2D(8, 3, padding="same", name="res_conv")(r)
    h = layers.BatchNormalization(epsilon=1e-5, name="res_bn")(h)  # non-default epsilon
    h = layers.Add(name="res_add")([h, r])
    h = layers.Activation("relu", name="res_relu")(h)
    # 12x12 -> 6x6, Keras 'same' with stride 2: pad top/left 0, bottom/right 1 (asymmetric).
    h = layers.Conv2D(16, 3, strides=2, padding="same", name="down_conv")(h)
    h = layers.BatchNormalization(name="down_bn")(h)
    h = layers.ReLU(name="down_relu")(h)
    h = layers.MaxPooling2D(2, name="pool")(h)  # 6x6 -> 3x3
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    out = layers.Dense(CLASSES, activation="softmax", name="head")(h)
    return keras.Model(inp, out, name="functional_cnn")


def make_functional_cnn():
    fresh(11)
    m = build_functional_cnn()
    # A few Adam steps so the file carries optimizer state (the importer must skip it) ...
    rng = np.random.default_rng(11)
    xt = rng.standard_normal((32,) + IMG).astype(np.float32)
    yt = rng.integers(0, CLASSES, 32)
    m.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    m.fit(xt, yt, batch_size=8, epochs=1, shuffle=False, verbose=0)
    # ... then clearly non-trivial BatchNorm parameters and running statistics (inference mode
    # must use them; small variances make the epsilon visible: res_bn has eps 1e-5).
    for layer in m.layers:
        if isinstance(layer, layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([
                rng.uniform(0.5, 1.5, c).astype(np.float32),    # gamma
                rng.normal(0.0, 0.3, c).astype(np.float32),     # beta
                rng.normal(0.0, 0.5, c).astype(np.float32),     # moving_mean
                rng.uniform(0.02, 1.5, c).astype(np.float32),   # moving_variance
            ])
    return m, rng_inputs(101, (N,) + IMG)


# ---------------------------------------------------------------------------------------------
# 2. conv-flatten (default layer names)
# ---------------------------------------------------------------------------------------------

def build_conv_flatten():
    inp = keras.Input(IMG)
    h = layers.Conv2D(6, 3, activation="relu")(inp)  # valid: 12x12 -> 10x10x6
    h = layers.MaxPooling2D(2)(h)                     # 5x5x6
    h = layers.Flatten()(h)                           # 150, NHWC order: (h*5 + w)*6 + c
    h = layers.Dense(16, activation="relu")(h)
    h = layers.Dropout(0.5)(h)
    out = layers.Dense(CLASSES, activation="softmax")(h)
    return keras.Model(inp, out, name="conv_flatten")


def make_conv_flatten():
    fresh(12)
    m = build_conv_flatten()
    # random non-zero biases so they are exercised
    for layer in m.layers:
        if getattr(layer, "bias", None) is not None:
            k, b = layer.get_weights()
            layer.set_weights([k, np.random.default_rng(12).normal(0, 0.2, b.shape).astype(np.float32)])
    return m, rng_inputs(102, (N,) + IMG)


# ---------------------------------------------------------------------------------------------
# 3. sequential-mlp
# ---------------------------------------------------------------------------------------------

def make_sequential_mlp():
    fresh(13)
    m = keras.Sequential([
        keras.Input((20,)),
        layers.Dense(32, activation="relu"),
        layers.Dense(16, activation="tanh"),
        layers.Dense(CLASSES),
        layers.Activation("softmax"),
    ])  # name "sequential"; weight paths are prefixed "sequential/..."
    for layer in m.layers:
        if getattr(layer, "bias", None) is not None:
            k, b = layer.get_weights()
            layer.set_weights([k, np.random.default_rng(13).normal(0, 0.2, b.shape).astype(np.float32)])
    return m, rng_inputs(103, (N, 20))


# ---------------------------------------------------------------------------------------------
# 4. nested (Sequential block inside a Functional model, output = logits)
# ---------------------------------------------------------------------------------------------

def make_nested():
    fresh(14)
    inp = keras.Input(IMG, name="image")
    h = layers.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(inp)      # 15x13x3 (asymmetric)
    block = keras.Sequential([
        layers.Conv2D(8, 3, strides=2, name="block_conv"),            # valid: 7x6x8
        layers.ReLU(name="block_relu"),
    ], name="block")
    h = block(h)
    h = layers.Conv2D(4, 1, activation="tanh", name="squeeze")(h)     # 7x6x4
    h = layers.Reshape((7 * 6 * 4,), name="reshape")(h)               # NHWC flatten
    h = layers.Dense(16, name="fc1")(h)
    h = layers.Activation("sigmoid", name="fc1_sigmoid")(h)
    out = layers.Dense(CLASSES, activation="linear", name="logits")(h)
    m = keras.Model(inp, out, name="nested")
    rng = np.random.default_rng(14)
    for layer in [block.layers[0], m.get_layer("squeeze"), m.get_layer("fc1"), m.get_layer("logits")]:
        k, b = layer.get_weights()
        # larger kernels (x2) so the logits vary clearly between samples (a wrong Reshape order or
        # padding must show), random biases so they are exercised
        layer.set_weights([2 * k, rng.normal(0, 0.2, b.shape).astype(np.float32)])
    return m, rng_inputs(104, (N,) + IMG)


def rng_inputs(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------

def reference(model, x):
    probs_or_logits = model.predict(x, verbose=0).astype(np.float32)
    lm = U.logits_model(model)
    if lm is model:  # outputs are already logits
        logits = probs_or_logits
        probs = U.softmax64(logits).astype(np.float32)
    else:
        probs = probs_or_logits
        logits = lm.predict(x, verbose=0).astype(np.float32)
        assert np.max(np.abs(U.softmax64(logits) - probs)) < 1e-5
    return probs, logits


def save_all(name, model, x):
    probs, logits = reference(model, x)
    h5 = os.path.join(OUT, f"{name}.h5")
    kz = os.path.join(OUT, f"{name}.keras")
    model.save(h5)
    model.save(kz)
    np.savez(os.path.join(OUT, f"{name}-reference.npz"), x=x, probabilities=probs, logits=logits)
    expected = logits if U.logits_model(model) is model else probs
    for p in (h5, kz):
        err = U.check_reload(p, x, expected, atol=1e-6)
        print(f"  reload {os.path.basename(p)}: max |diff| {err:.2e}")
    return probs, logits


def run_tf2(python):
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_tf2_conv_flatten.py")
    env = dict(os.environ)
    env.pop("KERAS_BACKEND", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["CUDA_VISIBLE_DEVICES"] = ""
    subprocess.run([python, script], check=True, env=env)


def make_handmade_from_tf2():
    """h5py 2.x style copy of conv-flatten-tf2.h5: `layer_names` and every `weight_names` as
    fixed-length NULLPAD ASCII arrays ('S' dtype), which is what h5py 2.x made of Keras' lists of
    bytes. Everything else (datasets, model_config, root attrs) is copied unchanged."""
    src = os.path.join(OUT, "conv-flatten-tf2.h5")
    dst = os.path.join(OUT, "conv-flatten-tf2-handmade.h5")
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        def fix(obj):
            for key in ("layer_names", "weight_names"):
                if key in obj.attrs:
                    v = obj.attrs[key]
                    if isinstance(v, np.ndarray) and v.dtype.kind in ("O", "S", "U") and v.size:
                        vals = [e.encode() if isinstance(e, str) else bytes(e) for e in v.tolist()]
                        del obj.attrs[key]
                        obj.attrs[key] = np.array(vals, dtype="S")  # fixed-length, NULLPAD
        fix(f)

        def visit(_, obj):
            if isinstance(obj, h5py.Group):
                fix(obj)
        f.visititems(visit)
    return dst


def raw_config_examples():
    """Verbatim JSON of a multi-input layer, in both config dialects (for the importer author)."""
    lines = ["== Raw config JSON of functional-cnn's `res_add` layer (two inbound tensors)"]
    with h5py.File(os.path.join(OUT, "functional-cnn.h5"), "r") as f:
        legacy = json.loads(f.attrs["model_config"])
    import zipfile
    with zipfile.ZipFile(os.path.join(OUT, "functional-cnn.keras")) as z:
        new = json.loads(z.read("config.json"))
    for title, cfg in (("legacy .h5 model_config", legacy), (".keras config.json", new)):
        layer = [l for l in cfg["config"]["layers"] if l["config"]["name"] == "res_add"][0]
        if "shared_object_id" in layer["config"]["dtype"]:
            layer["config"]["dtype"]["shared_object_id"] = "<id(), varies per run>"
        lines.append(f"-- {title}:")
        lines.append(json.dumps(layer, sort_keys=True))
    lines.append("-- legacy .h5 nested Sequential `block` (nested.h5 model_config):")
    with h5py.File(os.path.join(OUT, "nested.h5"), "r") as f:
        legacy = json.loads(f.attrs["model_config"])
    layer = [l for l in legacy["config"]["layers"] if l["config"]["name"] == "block"][0]
    lines.append(json.dumps(layer, sort_keys=True))
    tf2 = os.path.join(OUT, "conv-flatten-tf2.h5")
    if os.path.exists(tf2):
        with h5py.File(tf2, "r") as f:
            cfg = json.loads(f.attrs["model_config"])
        lines.append("-- tf.keras 2.15 model_config (conv-flatten-tf2.h5): InputLayer, Conv2D, "
                     "input_layers/output_layers:")
        for layer in cfg["config"]["layers"][:2]:
            lines.append(json.dumps(layer, sort_keys=True))
        lines.append(json.dumps({k: cfg["config"][k] for k in ("input_layers", "output_layers")}))
    return lines


LEGEND = """\
Layout of every Keras model file in Fixtures/keras (generated by Fixtures/scripts/make_keras_fixtures.py).

Legend
  name/              HDF5 group;  `name  TYPE SHAPE LAYOUT` = dataset (children in natural order:
                     numeric names 0,1,2,..,10 numerically, others alphabetically)
  @attr: TYPE SPACE  attribute. TYPE: vlen-str/utf8|ascii = variable-length string;
                     fixed-strN/ascii/nullpad = fixed-length N-byte string; f32le, f64le, i32le ...
                     SPACE: scalar or (n) / (a,b,..) for SIMPLE dataspaces. Values are shown for
                     layer_names, weight_names, keras_version, backend, name, dtype; JSON attributes
                     (model_config, training_config) only by length.
  model_config / config.json: one line per layer: class, name, inbound layer names, and the
                     config fields that matter for import.
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tf2-python", help="python of a venv with tensorflow-cpu 2.15 (optional)")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)

    models = {}
    for name, maker in (("functional-cnn", make_functional_cnn), ("conv-flatten", make_conv_flatten),
                        ("sequential-mlp", make_sequential_mlp), ("nested", make_nested)):
        m, x = maker()
        print(f"{name}: {m.count_params()} params")
        probs, logits = save_all(name, m, x)
        models[name] = (m, x, probs, logits)

    # bare Keras 3 weights file of functional-cnn, checked by loading into a fresh copy
    m, x, probs, _ = models["functional-cnn"]
    wpath = os.path.join(OUT, "functional-cnn.weights.h5")
    m.save_weights(wpath)
    fresh(999)
    other = build_functional_cnn()
    assert np.max(np.abs(other.predict(x, verbose=0) - probs)) > 1e-3  # really different before
    err = U.check_reload(wpath, x, probs, atol=1e-6, weights_into=other)
    print(f"  reload functional-cnn.weights.h5 into a fresh model: max |diff| {err:.2e}")

    # tf.keras 2.x files (same conv-flatten weights)
    if args.tf2_python:
        run_tf2(args.tf2_python)
    tf2_files = []
    tf2 = os.path.join(OUT, "conv-flatten-tf2.h5")
    if os.path.exists(tf2):
        ref = np.load(os.path.join(OUT, "conv-flatten-tf2-reference.npz"))
        m, x, probs, logits = models["conv-flatten"]
        assert np.array_equal(ref["x"], x)
        d = float(np.max(np.abs(ref["probabilities"] - probs)))
        dl = float(np.max(np.abs(ref["logits"] - logits)))
        print(f"  TF 2.15 vs Keras 3/JAX on conv-flatten: probabilities {d:.2e}, logits {dl:.2e}")
        assert d < 1e-5 and dl < 1e-4
        hand = make_handmade_from_tf2()
        for p in (tf2, hand):
            err = U.check_reload(p, x, ref["probabilities"], atol=1e-5)
            print(f"  Keras 3 load_model({os.path.basename(p)}): max |diff| {err:.2e}")
        wfile = os.path.join(OUT, "conv-flatten-tf2-weights.h5")
        fresh(998)
        other = build_conv_flatten()
        err = U.check_reload(wfile, x, ref["probabilities"], atol=1e-5, weights_into=other)
        print(f"  Keras 3 load_weights(conv-flatten-tf2-weights.h5): max |diff| {err:.2e}")
        tf2_files = [tf2, os.path.join(OUT, "conv-flatten-tf2-weights.h5"), hand]

    # structure dump
    lines = [LEGEND]
    for name in models:
        p = os.path.join(OUT, f"{name}.h5")
        lines += U.describe_h5(p) + U.describe_h5_model_config(p) + [""]
    lines += U.describe_h5(wpath) + [""]
    for p in tf2_files:
        lines += U.describe_h5(p)
        with h5py.File(p, "r") as f:
            has_cfg = "model_config" in f.attrs
        lines += (U.describe_h5_model_config(p) if has_cfg else []) + [""]
    for name in models:
        lines += U.describe_keras(os.path.join(OUT, f"{name}.keras")) + [""]
    lines += raw_config_examples() + [""]
    with open(os.path.join(OUT, "STRUCTURE.txt"), "w") as f:
        f.write("\n".join(lines))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
