"""tf.keras 2.x versions of the conv-flatten fixture (run by make_keras_fixtures.py --tf2-python).

Runs under TensorFlow 2.15 (tf.keras 2.15.0), NOT under Keras 3:

    python3 -m venv /tmp/tf2 && /tmp/tf2/bin/pip install "tensorflow-cpu==2.15.*"
    /tmp/tf2/bin/python Fixtures/scripts/keras_tf2_conv_flatten.py      # from the repository root

(normally invoked through `KERAS_BACKEND=jax python3 Fixtures/scripts/make_keras_fixtures.py
--tf2-python /tmp/tf2/bin/python`, which then checks the results with Keras 3).

Builds the conv-flatten architecture with tf.keras, copies the weights of the Keras 3 file
Fixtures/keras/conv-flatten.h5 (read with h5py through its `weight_names` attributes), and writes
  Fixtures/keras/conv-flatten-tf2.h5             model.save(..., save_format="h5")  (legacy full model)
  Fixtures/keras/conv-flatten-tf2-weights.h5     model.save_weights(...)           (legacy root layout)
  Fixtures/keras/conv-flatten-tf2-reference.npz  x, probabilities, logits (TensorFlow's numbers)
The model is compiled with Adam and the optimizer built, so the .h5 carries tf.keras 2.x
optimizer weights (iteration 0, zero slots); the model weights are exactly the Keras 3 ones.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py
import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Fixtures", "keras")


def build():
    inp = keras.Input((12, 12, 3))
    h = layers.Conv2D(6, 3, activation="relu")(inp)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Flatten()(h)
    h = layers.Dense(16, activation="relu")(h)
    h = layers.Dropout(0.5)(h)
    out = layers.Dense(5, activation="softmax")(h)
    return keras.Model(inp, out, name="conv_flatten")


def main():
    assert tf.__version__.startswith("2.15"), tf.__version__
    keras.utils.set_random_seed(12)
    model = build()
    with h5py.File(os.path.join(OUT, "conv-flatten.h5"), "r") as f:
        g = f["model_weights"]
        for layer in model.layers:
            if not layer.weights:
                continue
            lg = g[layer.name]
            names = [n.decode() if isinstance(n, bytes) else n for n in lg.attrs["weight_names"]]
            layer.set_weights([lg[n][()] for n in names])
    ref = np.load(os.path.join(OUT, "conv-flatten-reference.npz"))
    x = ref["x"]
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    probs = model.predict(x, verbose=0).astype(np.float32)
    last = model.layers[-1]
    feats = keras.Model(model.inputs, last.input)(x, training=False)
    logits = (tf.matmul(feats, last.kernel) + last.bias).numpy().astype(np.float32)
    assert np.max(np.abs(tf.nn.softmax(logits).numpy() - probs)) < 1e-5

    model.save(os.path.join(OUT, "conv-flatten-tf2.h5"), save_format="h5")
    model.save_weights(os.path.join(OUT, "conv-flatten-tf2-weights.h5"))
    np.savez(os.path.join(OUT, "conv-flatten-tf2-reference.npz"), x=x, probabilities=probs, logits=logits)

    again = keras.models.load_model(os.path.join(OUT, "conv-flatten-tf2.h5"), compile=False)
    assert np.array_equal(again.predict(x, verbose=0), probs)
    import keras as keras_pkg
    print(f"tf2: tensorflow {tf.__version__}, keras {keras_pkg.__version__}, h5py {h5py.__version__}; "
          f"TF vs Keras 3 probabilities max |diff| {np.max(np.abs(probs - ref['probabilities'])):.2e}")


if __name__ == "__main__":
    main()
