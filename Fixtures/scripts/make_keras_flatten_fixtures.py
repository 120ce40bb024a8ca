"""Keras fixtures for the channels-last flatten order (docs/formats.md, "Flatten order").

Run from the repository root:

    KERAS_BACKEND=jax python3 Fixtures/scripts/make_keras_flatten_fixtures.py

Made with Keras 3.15.1 (JAX backend), numpy 2.x. Writes into Fixtures/keras/:
  flatten-orders.h5, flatten-orders.keras, flatten-orders-reference.npz
      a Functional model (5x5x3 input, 4 classes, a final Dense with activation='softmax') whose
      flattened features take every route the importer distinguishes:
      - fold_flat: Flatten -> Dropout -> Activation('relu') -> Dense 'fold_dense' (folded into the
        Dense kernel's rows),
      - direct_flat: Flatten -> Dense 'direct_dense' (folded),
      - bn_flat: Flatten -> BatchNormalization -> Dense 'bn_dense' (not foldable: Permute + Flatten),
      - to_image: Reshape to (9, 2, 2) of a (3, 3, 4) map -> Conv2D 1x1 -> Reshape to a vector
        -> Dense 'reshape_dense' (Permute, Reshape, Permute; then a folded flatten),
      concatenated into the head.
npz keys: x (6 NHWC inputs, rng seed 301), logits (pre-softmax scores by Keras),
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


def build():
    inp = keras.Input((5, 5, 3), name="image")
    c = layers.Conv2D(4, 3, activation="tanh", name="conv")(inp)                 # (3, 3, 4)
    a = layers.Flatten(name="fold_flat")(c)
    a = layers.Dropout(0.3, name="fold_drop")(a)
    a = layers.Activation("relu", name="fold_relu")(a)
    a = layers.Dense(6, name="fold_dense")(a)
    b = layers.Flatten(name="direct_flat")(c)
    b = layers.Dense(5, activation="sigmoid", name="direct_dense")(b)
    d = layers.Flatten(name="bn_flat")(c)
    d = layers.BatchNormalization(name="bn")(d)
    d = layers.Dense(4, name="bn_dense")(d)
    e = layers.Reshape((9, 2, 2), name="to_image")(c)
    e = layers.Conv2D(3, 1, name="image_conv")(e)                                 # (9, 2, 3)
    e = layers.Reshape((-1,), name="to_vector")(e)
    e = layers.Dense(4, name="reshape_dense")(e)
    h = layers.Concatenate(name="cat")([a, b, d, e])
    out = layers.Dense(4, activation="softmax", name="head")(h)
    model = keras.Model(inp, out, name="flatten_orders")
    # Non-trivial BatchNorm statistics, so a wrong feature order shows.
    rng = np.random.default_rng(5)
    bn = model.get_layer("bn")
    bn.set_weights([rng.uniform(0.5, 1.5, 36).astype(np.float32), rng.uniform(-0.5, 0.5, 36).astype(np.float32),
                    rng.uniform(-0.5, 0.5, 36).astype(np.float32), rng.uniform(0.5, 2.0, 36).astype(np.float32)])
    return model


def main():
    keras.backend.clear_session()
    keras.utils.set_random_seed(41)
    model = build()
    x = np.random.default_rng(301).standard_normal((6, 5, 5, 3)).astype(np.float32)
    probs = np.asarray(model.predict(x, verbose=0))
    logits = np.asarray(U.logits_model(model).predict(x, verbose=0))
    assert np.abs(U.softmax64(logits) - probs).max() < 1e-5
    for ext in ["h5", "keras"]:
        path = os.path.join(OUT, "flatten-orders." + ext)
        model.save(path)
        U.check_reload(path, x, probs)
    np.savez(os.path.join(OUT, "flatten-orders-reference.npz"), x=x, logits=logits.astype(np.float32),
             probabilities=probs.astype(np.float32))
    print("flatten-orders logits range", float(np.abs(logits).max()))


if __name__ == "__main__":
    main()
