"""tf.keras 2.x (legacy Keras 2) fixtures for the layers and keras.applications models that the
Keras importer takes (docs/keras-layers.md). Runs under TensorFlow with tf_keras, NOT Keras 3:

    python3 -m venv /tmp/tf2venv && /tmp/tf2venv/bin/pip install tensorflow-cpu tf_keras
    TF_USE_LEGACY_KERAS=1 /tmp/tf2venv/bin/python Fixtures/scripts/make_keras_tf2_fixtures.py

(from the repository root). Made with tensorflow-cpu 2.21.0, tf_keras 2.21.0, h5py 3.14.0,
numpy 2.4.6, CPython 3.11.7. Writes into Fixtures/keras/tf2/:

  tf2-layers.h5, tf2-layers.keras, tf2-layers-reference.npz
      a Functional model (12x12x4 input, 5 classes, Dense softmax) with the layers added for
      issue 10: Rescaling, Normalization (adapted: stored mean/variance), Conv2D groups=2,
      DepthwiseConv2D (depth_multiplier 2, stride 2), SeparableConv2D, Conv2D dilation_rate 2,
      ReLU(max_value, negative_slope, threshold), ReLU(6), LeakyReLU(alpha), ELU, activations
      'swish', 'gelu', 'elu', 'selu', 'relu6' and tf.keras 2's 'hard_sigmoid' (0.2x + 0.5,
      clipped), Concatenate, squeeze-and-excitation Multiply, LayerNormalization, UpSampling2D
      (nearest and bilinear), SpatialDropout2D, Dense on an image, GlobalMaxPooling2D,
      BatchNormalization with random statistics, ZeroPadding2D.
  tf2-mobilenetv2.h5, tf2-mobilenetv2.keras, tf2-mobilenetv2-reference.npz
      tf.keras.applications.MobileNetV2(weights=None, alpha=0.35, 32x32x3, 10 classes) with the
      sparse, quantised weights and calibrated BatchNorm statistics of
      make_keras_applications.py (keras_sparse_weights.py). The .h5 is exactly as tf.keras
      wrote it (2.2 MB, mostly zeros: small in git); the .keras archive's members are re-stored
      deflated.
  tf2-resnet50, tf2-densenet121 (.h5, .keras, -reference.npz)
      tf.keras.applications ResNet50, DenseNet121 (weights=None, 32x32x3, 10 classes), sparse
      weights as above, the .h5 rewritten chunked + shuffle + gzip and the .keras deflated
      (keras_sparse_weights.py). `--only tf2-efficientnetb0` makes EfficientNetB0 the same way,
      but it is not committed: with these weights it is ill-conditioned (float32 rounding moves
      TensorFlow's own logits by more than 1e-4 of the largest; see make_keras_applications.py).

    TF_USE_LEGACY_KERAS=1 /tmp/tf2venv/bin/python Fixtures/scripts/make_keras_tf2_fixtures.py --only tf2-resnet50
makes one of them.

Reference npz: x (NHWC inputs, rng seeds 501/502, application seed + 440), logits (TensorFlow: the features before the
final Dense, by TF, times its kernel plus bias in float64), probabilities (model.predict).
Each file is reloaded by tf.keras after writing and reproduces model.predict exactly.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras import layers

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_sparse_weights as S  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Fixtures", "keras", "tf2")


def build_layers_model(rng):
    inp = keras.Input((12, 12, 4), name="image")
    h = layers.Rescaling(0.5, offset=0.1, name="rescale")(inp)
    norm = layers.Normalization(axis=-1, name="norm")
    norm.adapt(rng.uniform(-1, 2, (32, 12, 12, 4)).astype(np.float32))
    h = norm(h)
    h = layers.Conv2D(8, 3, padding="same", groups=2, name="gconv")(h)
    h = layers.BatchNormalization(name="bn")(h)
    h = layers.ReLU(max_value=4.0, negative_slope=0.1, threshold=0.2, name="relu_opts")(h)
    h = layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, activation="swish", name="dw")(h)  # 6x6x16
    a = layers.SeparableConv2D(8, 3, padding="same", activation="gelu", name="sep")(h)
    b = layers.Conv2D(8, 3, padding="same", dilation_rate=2, activation="elu", name="dil")(h)
    h = layers.Concatenate(name="cat")([a, b])                                                 # 6x6x16
    h = layers.LeakyReLU(alpha=0.15, name="leaky")(h)
    s = layers.GlobalAveragePooling2D(keepdims=True, name="se_pool")(h)
    s = layers.Conv2D(16, 1, activation="hard_sigmoid", name="se_gate")(s)
    h = layers.Multiply(name="se_mul")([h, s])
    h = layers.LayerNormalization(name="ln")(h)
    h = layers.Dense(8, activation="selu", name="dense_img")(h)                                # 6x6x8
    h = layers.ZeroPadding2D(((1, 0), (0, 1)), name="pad")(h)                                   # 7x7x8
    u = layers.UpSampling2D(2, name="up_nearest")(h)                                            # 14x14x8
    v = layers.UpSampling2D(2, interpolation="bilinear", name="up_bilinear")(h)
    h = layers.Concatenate(name="cat_up")([u, v])                                              # 14x14x16
    h = layers.SpatialDropout2D(0.3, name="sdrop")(h)
    h = layers.Conv2D(12, 3, strides=2, activation="relu6", name="conv_relu6")(h)              # 6x6x12
    h = layers.ReLU(6.0, name="relu6_layer")(h)
    h = layers.ELU(alpha=0.7, name="elu_layer")(h)
    p = layers.GlobalMaxPooling2D(name="gmp")(h)
    q = layers.GlobalAveragePooling2D(name="gap")(h)
    v = layers.Concatenate(name="vcat")([p, q])
    out = layers.Dense(5, activation="softmax", name="head")(v)
    model = keras.Model(inp, out, name="tf2_layers")
    for layer in model.layers:
        ws = layer.get_weights()
        if isinstance(layer, layers.BatchNormalization):
            c = ws[0].shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.uniform(-0.2, 0.2, c),
                               rng.uniform(-0.2, 0.2, c), rng.uniform(0.5, 2.0, c)])
        elif isinstance(layer, layers.LayerNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) if i == 0 else
                               rng.uniform(-0.3, 0.3, w.shape).astype(np.float32) for i, w in enumerate(ws)])
        elif ws and getattr(layer, "use_bias", False):
            ws[-1] = rng.uniform(-0.3, 0.3, ws[-1].shape).astype(np.float32)
            layer.set_weights(ws)
    head = model.get_layer("head")
    k, bias = head.get_weights()
    head.set_weights([k * 12, bias])
    return model


def logits_of(model, x):
    head = model.layers[-1]
    feats = keras.Model(model.inputs, head.input).predict(x, verbose=0)
    k, b = head.get_weights()
    return (feats.astype(np.float64) @ k.astype(np.float64) + b).astype(np.float32)


def softmax64(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def save(model, name, x, deflate_keras, gzip_h5):
    probs = model.predict(x, verbose=0)
    logits = logits_of(model, x)
    assert np.abs(softmax64(logits) - probs).max() < 1e-5, (np.abs(softmax64(logits) - probs).max(), logits, probs)
    os.makedirs(OUT, exist_ok=True)
    for ext in ("h5", "keras"):
        path = os.path.join(OUT, f"{name}.{ext}")
        model.save(path, save_format=ext)
        if ext == "keras" and deflate_keras:
            S.deflate_zip(path)
        if ext == "h5" and gzip_h5:
            S.gzip_h5(path)
        again = keras.models.load_model(path, compile=False)
        assert np.array_equal(again.predict(x, verbose=0), probs), path
    np.savez(os.path.join(OUT, f"{name}-reference.npz"), x=x, logits=logits, probabilities=probs.astype(np.float32))
    print(f"{name}: largest |logit| {np.abs(logits).max():.3f}, spread {np.std(logits, axis=0).mean():.3f}", flush=True)


def sparse_application(name, build, seed, scale, gzip):
    """keras.applications model with the sparse weights of keras_sparse_weights.py."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = build()

    def images(n, r):
        return (r.uniform(0, 255, (n, 32, 32, 3)) if scale == 255 else r.uniform(-1, 1, (n, 32, 32, 3))).astype(np.float32)

    S.set_sparse_weights(model, rng, layers)
    S.randomise_statistics(model, rng, layers, calibrated=False)    # the Normalization layer, if any
    S.calibrate_batchnorm(model, layers, images(16, rng))
    S.randomise_statistics(model, rng, layers, calibrated=True)
    head = model.layers[-1]
    k, b = head.get_weights()
    feats = keras.Model(model.inputs, head.input).predict(images(16, rng), verbose=0)
    head.set_weights([k * (2.0 / float(np.std(feats @ k))), rng.uniform(-0.5, 0.5, b.shape).astype(np.float32)])
    save(model, name, images(4, np.random.default_rng(seed + 440)), True, gzip)


APPLICATIONS = {
    # name: (builder, seed, input scale (255: the model rescales its input itself), gzip the .h5)
    "tf2-mobilenetv2": (lambda: keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35, classes=10), 64, 1, False),
    "tf2-resnet50": (lambda: keras.applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10), 71, 1, True),
    "tf2-efficientnetb0": (lambda: keras.applications.EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=10), 72, 255, True),
    "tf2-densenet121": (lambda: keras.applications.DenseNet121(weights=None, input_shape=(32, 32, 3), classes=10), 73, 1, True),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="tf2-layers," + ",".join(n for n in APPLICATIONS if n != "tf2-efficientnetb0"))
    a = ap.parse_args()
    print("tensorflow", tf.__version__, "tf_keras", keras.__version__, flush=True)
    for name in a.only.split(","):
        if name == "tf2-layers":
            keras.backend.clear_session()
            keras.utils.set_random_seed(21)
            model = build_layers_model(np.random.default_rng(21))
            save(model, "tf2-layers", np.random.default_rng(501).uniform(-1, 1, (6, 12, 12, 4)).astype(np.float32), False, False)
        elif name == "tf2-mobilenetv2":
            # As first made (before the other applications were added): inputs from seed 502.
            keras.backend.clear_session()
            keras.utils.set_random_seed(64)
            rng = np.random.default_rng(64)
            model = APPLICATIONS[name][0]()
            S.set_sparse_weights(model, rng, layers)
            S.calibrate_batchnorm(model, layers, rng.uniform(-1, 1, (16, 32, 32, 3)).astype(np.float32))
            S.randomise_statistics(model, rng, layers, calibrated=True)
            head = model.layers[-1]
            k, b = head.get_weights()
            feats = keras.Model(model.inputs, head.input)(rng.uniform(-1, 1, (16, 32, 32, 3)).astype(np.float32)).numpy()
            head.set_weights([k * (2.0 / float(np.std(feats @ k))), rng.uniform(-0.5, 0.5, b.shape).astype(np.float32)])
            save(model, name, np.random.default_rng(502).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32), True, False)
        else:
            build, seed, scale, gzip = APPLICATIONS[name]
            sparse_application(name, build, seed, scale, gzip)


if __name__ == "__main__":
    main()
