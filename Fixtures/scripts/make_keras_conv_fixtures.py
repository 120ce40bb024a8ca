"""Keras fixtures for the grouped, depthwise, separable and dilated convolutions and the merge
layers of the Keras importer (docs/keras-layers.md).

Run from the repository root:

    KERAS_BACKEND=jax python3 Fixtures/scripts/make_keras_conv_fixtures.py

Made with Keras 3.15.1 (JAX backend), numpy 2.x. Writes into Fixtures/keras/:
  keras-convs.h5, keras-convs.keras, keras-convs.weights.h5 (Keras 3 layout), keras-convs-reference.npz
      a Functional model (12x12x4 input, 5 classes, final Dense activation='softmax') with
      Conv2D groups=2, DepthwiseConv2D (depth_multiplier=2, stride 2, 'same', relu),
      DepthwiseConv2D (dilation 2, 'valid', no bias), SeparableConv2D (depth_multiplier=2,
      'same', relu) and one with dilation 2, Conv2D dilation_rate=2 'same', Concatenate of
      images and of vectors, Multiply of equal shapes and squeeze-and-excitation style
      ((h, w, c) x (1, 1, c)), GlobalMaxPooling2D (keepdims False and True).
  keras-ops.keras, keras-ops-reference.npz (rng seed 303)
      Keras 3 operations from arithmetic on symbolic tensors, h * relu6(h + 3.0) * (1/6) as
      keras.applications' MobileNetV3 writes its hard sigmoid. Only .keras: Keras 3.15 cannot
      load such a model back from the legacy .h5 it writes (the number becomes a positional
      argument of the Add layer).
npz keys: x (6 NHWC inputs, rng seed 301), logits (pre-softmax scores by Keras),
probabilities (model.predict).

`save_mobilenet_v2(directory)` writes keras.applications.MobileNetV2 (weights=None, alpha=0.35,
96x96x3 input, 5 classes, seed 51, random BatchNorm statistics) as mobilenetv2.keras and
mobilenetv2.h5 with mobilenetv2-reference.npz (4 inputs, rng seed 302). At 2.2 MB it is not
committed: Tests/ModelIOTests/KerasConvImportTests.swift calls it when keras is installed.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_fixture_utils as U  # noqa: E402

keras = U.setup()
from keras import layers  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Fixtures", "keras")


def build_convs_model():
    inp = keras.Input((12, 12, 4), name="image")
    h = layers.Conv2D(8, 3, padding="same", groups=2, activation="relu", name="gconv")(inp)
    h = layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, activation="relu", name="dw")(h)  # 6x6x16
    a = layers.SeparableConv2D(8, 3, padding="same", depth_multiplier=2, activation="relu", name="sep")(h)
    b = layers.Conv2D(8, 3, padding="same", dilation_rate=2, name="dil")(h)
    h = layers.Concatenate(name="cat")([a, b])                                                    # 6x6x16
    h = layers.DepthwiseConv2D(3, dilation_rate=2, use_bias=False, name="dw_dil")(h)              # 2x2x16
    h = layers.ZeroPadding2D(2, name="pad")(h)                                                    # 6x6x16
    h = layers.SeparableConv2D(12, 3, padding="same", dilation_rate=2, name="sep_dil")(h)         # 6x6x12
    s = layers.GlobalAveragePooling2D(keepdims=True, name="se_pool")(h)
    s = layers.Conv2D(12, 1, activation="sigmoid", name="se_gate")(s)
    h = layers.Multiply(name="se_mul")([h, s])
    g = layers.Conv2D(12, 1, activation="tanh", name="gate")(h)
    h = layers.Multiply(name="mul")([h, g])
    m = layers.GlobalMaxPooling2D(keepdims=True, name="gmp_keep")(h)                              # 1x1x12
    m = layers.Flatten(name="gmp_flat")(m)
    p = layers.GlobalMaxPooling2D(name="gmp")(h)
    q = layers.GlobalAveragePooling2D(name="gap")(h)
    v = layers.Concatenate(axis=-1, name="vcat")([p, q, m])                                        # 36
    out = layers.Dense(5, activation="softmax", name="head")(v)
    model = keras.Model(inp, out, name="keras_convs")
    # Non-zero biases everywhere (Keras initialises them to 0).
    rng = np.random.default_rng(11)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws and getattr(layer, "use_bias", False):
            ws[-1] = rng.uniform(-0.3, 0.3, ws[-1].shape).astype(np.float32)
            layer.set_weights(ws)
    # Logits of a useful size (a few units) rather than ~0.2.
    head = model.get_layer("head")
    k, bias = head.get_weights()
    head.set_weights([k * 15, bias])
    return model


def build_ops_model():
    inp = keras.Input((6, 6, 3), name="image")
    h = layers.Conv2D(4, 3, name="conv")(inp)
    h = h * (layers.ReLU(6.0, name="hs_relu6")(h + 3.0) * (1.0 / 6.0))
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    return keras.Model(inp, layers.Dense(3, name="head")(h), name="keras_ops")


def save(model, name, seed, h5=True):
    x = np.random.default_rng(seed).uniform(-1, 1, (6,) + tuple(model.input_shape[1:])).astype(np.float32)
    probs = np.asarray(model.predict(x, verbose=0))
    logits = np.asarray(U.logits_model(model).predict(x, verbose=0))
    for ext in ("h5", "keras") if h5 else ("keras",):
        model.save(os.path.join(OUT, name + "." + ext))
        U.check_reload(os.path.join(OUT, name + "." + ext), x, probs)
    if h5:
        model.save_weights(os.path.join(OUT, name + ".weights.h5"))
    np.savez(os.path.join(OUT, name + "-reference.npz"), x=x, logits=logits.astype(np.float32),
             probabilities=probs.astype(np.float32))
    print(name, "logits range", float(np.abs(logits).max()))


def fresh(seed):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)


def save_mobilenet_v2(directory):
    fresh(51)
    return save_application(directory, "mobilenetv2", keras.applications.MobileNetV2(
        input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=5), head="predictions")


def save_mobilenet_v3_small(directory):
    """MobileNetV3Small(alpha=0.75, minimalistic=False, include_preprocessing=True): Rescaling,
    hard_swish, squeeze-and-excitation Multiply, the hard sigmoid as Keras 3 operations.
    Only .keras: Keras cannot load the .h5 it writes for this model."""
    fresh(53)
    return save_application(directory, "mobilenetv3small", keras.applications.MobileNetV3Small(
        input_shape=(96, 96, 3), alpha=0.75, weights=None, classes=5), head="logits", h5=False, scale=255)


def save_application(directory, name, model, head, h5=True, scale=1):
    # Non-trivial BatchNorm statistics and affine parameters (a fresh model has 0/1).
    rng = np.random.default_rng(52)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            c = layer.get_weights()[0].shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.uniform(-0.2, 0.2, c),
                               rng.uniform(-0.2, 0.2, c), rng.uniform(0.5, 2.0, c)])
    head = model.get_layer(head)
    k, b = head.get_weights()
    head.set_weights([k * 20, rng.uniform(-0.5, 0.5, b.shape)])
    x = np.random.default_rng(302).uniform(-1, 1, (4, 96, 96, 3)).astype(np.float32) * scale
    probs = np.asarray(model.predict(x, verbose=0))
    logits = np.asarray(U.logits_model(model).predict(x, verbose=0))
    for ext in ("keras", "h5") if h5 else ("keras",):
        model.save(os.path.join(directory, name + "." + ext))
    np.savez(os.path.join(directory, name + "-reference.npz"), x=x, logits=logits.astype(np.float32),
             probabilities=probs.astype(np.float32))
    return float(np.abs(logits).max())


def main():
    keras.backend.clear_session()
    keras.utils.set_random_seed(41)
    save(build_convs_model(), "keras-convs", 301)
    keras.backend.clear_session()
    keras.utils.set_random_seed(42)
    save(build_ops_model(), "keras-ops", 303, h5=False)


if __name__ == "__main__":
    main()
