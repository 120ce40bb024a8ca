"""Keras fixtures for the activations and layers added to the Keras importer (docs/keras-layers.md).

Run from the repository root:

    KERAS_BACKEND=jax python3 Fixtures/scripts/make_keras_layer_fixtures.py

Made with Keras 3.15.1 (JAX backend), jax 0.10.2, numpy 2.x. Writes into Fixtures/keras/:
  keras-layers.h5, keras-layers.keras, keras-layers-reference.npz
      a Functional model (16x16x3 input, 4 classes, final Activation('softmax')) with Rescaling, an adapted
      Normalization (mean/variance weights), Conv2D activation='swish', LayerNormalization,
      Dense on a 4-D tensor (activation='gelu'), UpSampling2D nearest and bilinear,
      SpatialDropout2D, ReLU(max_value=4, negative_slope=0.2, threshold=0.5), LeakyReLU, ELU,
      Activation relu6 / selu / elu / hard_sigmoid / hard_swish / leaky_relu / silu.
  keras-normconst.h5, keras-normconst-reference.npz
      a Sequential model whose Normalization has mean/variance in its config (no weights).
npz keys: x (6 NHWC inputs, rng seed 201/202), logits (pre-softmax scores by Keras),
probabilities (model.predict).
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


def fresh(seed):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)


def build_layers_model():
    inp = keras.Input((16, 16, 3), name="image")
    h = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inp)
    norm = layers.Normalization(axis=-1, name="norm")
    h = norm(h)
    h = layers.Conv2D(8, 3, padding="same", activation="swish", name="conv1")(h)
    h = layers.LayerNormalization(epsilon=1e-3, name="ln")(h)
    h = layers.Dense(6, activation="gelu", name="pixel_dense")(h)          # Dense on (h, w, c)
    h = layers.MaxPooling2D(2, name="pool")(h)                              # 8x8
    h = layers.UpSampling2D(2, name="up_nearest")(h)                        # 16x16
    h = layers.Conv2D(6, 3, strides=2, padding="same", name="conv2")(h)     # 8x8
    h = layers.ReLU(max_value=4.0, negative_slope=0.2, threshold=0.5, name="relu_opts")(h)
    h = layers.UpSampling2D((2, 1), interpolation="bilinear", name="up_bilinear")(h)  # 16x8
    h = layers.SpatialDropout2D(0.3, name="sdrop")(h)
    h = layers.Conv2D(8, 3, strides=2, name="conv3")(h)                     # 7x3
    h = layers.LeakyReLU(name="leaky")(h)
    a = layers.Activation("relu6", name="act_relu6")(h)
    b = layers.Activation("hard_swish", name="act_hswish")(h)
    c = layers.Activation("selu", name="act_selu")(h)
    h = layers.Add(name="mix")([a, b, c])
    h = layers.ELU(alpha=0.5, name="elu_layer")(h)
    h = layers.Conv2D(8, 1, activation="hard_sigmoid", name="gate")(h)
    h = layers.Activation("leaky_relu", name="act_leaky")(h)
    h = layers.Activation("silu", name="act_silu")(h)
    h = layers.Activation("elu", name="act_elu")(h)
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    h = layers.Dense(4, name="head")(h)
    # A separate softmax layer: the logits are then a sub-model of this very model (a clone
    # from its config would lose the adapted Normalization state, which set_weights does not
    # finalise).
    out = layers.Activation("softmax", name="probs")(h)
    model = keras.Model(inp, out, name="keras_layers")
    rng = np.random.default_rng(7)
    norm.adapt(rng.standard_normal((32, 16, 16, 3)).astype(np.float32) * [0.5, 2.0, 1.0] + [0.1, -0.3, 0.0])
    # Non-trivial LayerNormalization gamma/beta.
    ln = model.get_layer("ln")
    ln.set_weights([rng.uniform(0.5, 1.5, 8).astype(np.float32), rng.uniform(-0.2, 0.2, 8).astype(np.float32)])
    return model


def build_normconst_model():
    return keras.Sequential([
        keras.Input((6, 6, 2)),
        layers.Normalization(axis=-1, mean=[0.5, -1.0], variance=[4.0, 0.25], name="norm"),
        layers.Flatten(name="flat"),
        layers.Dense(3, name="fc"),
    ], name="normconst")


def save(model, name, seed, keras_file=True):
    x = np.random.default_rng(seed).uniform(0, 255, (6,) + tuple(model.input_shape[1:])).astype(np.float32)
    probs = np.asarray(model.predict(x, verbose=0))
    logits = np.asarray(U.logits_model(model).predict(x, verbose=0))
    model.save(os.path.join(OUT, name + ".h5"))
    U.check_reload(os.path.join(OUT, name + ".h5"), x, probs)
    if keras_file:
        model.save(os.path.join(OUT, name + ".keras"))
        U.check_reload(os.path.join(OUT, name + ".keras"), x, probs)
    np.savez(os.path.join(OUT, name + "-reference.npz"), x=x, logits=logits.astype(np.float32),
             probabilities=probs.astype(np.float32))
    print(name, "logits range", float(np.abs(logits).max()))


def main():
    fresh(31)
    save(build_layers_model(), "keras-layers", 201)
    fresh(32)
    save(build_normconst_model(), "keras-normconst", 202, keras_file=False)


if __name__ == "__main__":
    main()
