"""Bundled data set and bundled Keras models for bss: scikit-learn's 8x8 handwritten digits.

Run from the repository root (CPU, takes well under a minute):

    KERAS_BACKEND=jax python3 Fixtures/scripts/make_digits.py

Made with Keras 3.15.1 (JAX backend), jax 0.10.2, scikit-learn 1.9.1, h5py 3.16, numpy 2.4.6.
Writes into Fixtures/digits/ (see Fixtures/digits/README.md for every file and key):

  digits-train.npz / digits-test.npz   x float32 (N, 8, 8, 1) NHWC in [0, 1] (= pixel / 16),
                                       y int64 (N,)          1,347 train / 450 test, stratified
  digits-train.h5  / digits-test.h5    the same arrays as HDF5 datasets `x`, `y`
  teacher-cnn.h5 / teacher-cnn.keras   trained Functional CNN (conv-BN-ReLU, residual Add,
                                       stride-2 'same' conv, global average pooling, Dense softmax)
  teacher-cnn-reference.npz            probabilities, logits (Keras, on the whole test split),
                                       keras_test_accuracy, keras_test_loss (model.evaluate)
  student-mlp.h5 / student-mlp.keras   UNTRAINED seeded MLP Input(8,8,1)-Flatten-Dense(48,relu)-
                                       Dense(10,softmax)
  student-mlp-reference.npz            x (first 16 test samples), probabilities, logits
  STRUCTURE.txt                        HDF5 / .keras layout of the four model files

Reproducibility: keras.utils.set_random_seed(SEED) before every model (seeds Python, NumPy and
the Keras/JAX generator); the split uses random_state=SPLIT_SEED; training runs on CPU with fixed
batch order (shuffle driven by the seeded generator). Re-running on the same versions reproduces
the files; other versions/CPUs may differ in the last bits of trained weights.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import h5py
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

sys.dont_write_bytecode = True  # no __pycache__ next to the committed scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_fixture_utils as U  # noqa: E402

keras = U.setup()
from keras import layers  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Fixtures", "digits")

SPLIT_SEED = 0
TEACHER_SEED = 1
STUDENT_SEED = 2
TEST_SIZE = 450
EPOCHS = 40
BATCH = 32


def make_split():
    d = load_digits()
    x = (d.images.astype(np.float32) / np.float32(16.0))[..., None]  # (1797, 8, 8, 1) NHWC
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=TEST_SIZE, stratify=y, random_state=SPLIT_SEED, shuffle=True)
    return (np.ascontiguousarray(xtr), ytr), (np.ascontiguousarray(xte), yte)


def save_split(name, x, y):
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.savez(os.path.join(OUT, f"digits-{name}.npz"), x=x, y=y)
    with h5py.File(os.path.join(OUT, f"digits-{name}.h5"), "w") as f:
        f.create_dataset("x", data=x)
        f.create_dataset("y", data=y)
        f.attrs["description"] = (
            "scikit-learn digits (UCI optdigits test set), 8x8 grey, x = pixel/16 in [0,1], "
            "NHWC float32; y int64 in 0..9")


def build_teacher():
    keras.backend.clear_session()
    keras.utils.set_random_seed(TEACHER_SEED)
    inp = keras.Input((8, 8, 1), name="image")
    h = layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv1")(inp)
    h = layers.BatchNormalization(name="bn1")(h)
    r = layers.ReLU(name="relu1")(h)
    h = layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv2")(r)
    h = layers.BatchNormalization(name="bn2")(h)
    h = layers.Add(name="add")([h, r])
    h = layers.ReLU(name="relu2")(h)
    # 8x8 -> 4x4: Keras 'same' with stride 2 pads 0 rows/cols at the top/left and 1 at bottom/right.
    h = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="conv3")(h)
    h = layers.BatchNormalization(name="bn3")(h)
    h = layers.ReLU(name="relu3")(h)
    h = layers.GlobalAveragePooling2D(name="gap")(h)
    out = layers.Dense(10, activation="softmax", name="fc")(h)
    return keras.Model(inp, out, name="teacher_cnn")


def build_student():
    keras.backend.clear_session()  # default layer names: flatten, dense, dense_1
    keras.utils.set_random_seed(STUDENT_SEED)
    inp = keras.Input((8, 8, 1))
    h = layers.Flatten()(inp)
    h = layers.Dense(48, activation="relu")(h)
    out = layers.Dense(10, activation="softmax")(h)
    return keras.Model(inp, out, name="student_mlp")


def main():
    os.makedirs(OUT, exist_ok=True)
    (xtr, ytr), (xte, yte) = make_split()
    print("train", xtr.shape, np.bincount(ytr), "test", xte.shape, np.bincount(yte))
    save_split("train", xtr, ytr)
    save_split("test", xte, yte)

    # ---- teacher ----
    teacher = build_teacher()
    teacher.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    teacher.fit(xtr, ytr, batch_size=BATCH, epochs=EPOCHS, shuffle=True, verbose=0)
    loss, acc = teacher.evaluate(xte, yte, batch_size=BATCH, verbose=0)
    probs = teacher.predict(xte, batch_size=BATCH, verbose=0).astype(np.float32)
    logits = U.logits_model(teacher).predict(xte, batch_size=BATCH, verbose=0).astype(np.float32)
    assert np.max(np.abs(U.softmax64(logits) - probs)) < 1e-5
    argmax_acc = float(np.mean(np.argmax(probs, 1) == yte))
    assert abs(argmax_acc - acc) < 1e-6, (argmax_acc, acc)
    print(f"teacher: keras test accuracy {acc:.6f}  loss {loss:.6f}  params {teacher.count_params()}")
    teacher.summary()

    h5 = os.path.join(OUT, "teacher-cnn.h5")
    kz = os.path.join(OUT, "teacher-cnn.keras")
    teacher.save(h5)
    teacher.save(kz)
    np.savez(os.path.join(OUT, "teacher-cnn-reference.npz"),
             probabilities=probs, logits=logits,
             keras_test_accuracy=np.float32(acc), keras_test_loss=np.float32(loss))
    for p in (h5, kz):
        U.check_reload(p, xte, probs, atol=1e-6)

    # ---- student (untrained) ----
    student = build_student()
    xs = xte[:16]
    sprobs = student.predict(xs, verbose=0).astype(np.float32)
    slogits = U.logits_model(student).predict(xs, verbose=0).astype(np.float32)
    assert np.max(np.abs(U.softmax64(slogits) - sprobs)) < 1e-5
    sh5 = os.path.join(OUT, "student-mlp.h5")
    skz = os.path.join(OUT, "student-mlp.keras")
    student.save(sh5)
    student.save(skz)
    np.savez(os.path.join(OUT, "student-mlp-reference.npz"),
             x=xs, probabilities=sprobs, logits=slogits)
    for p in (sh5, skz):
        U.check_reload(p, xs, sprobs, atol=1e-6)
    print(f"student: params {student.count_params()}, "
          f"untrained test accuracy on 16 = {np.mean(np.argmax(sprobs, 1) == yte[:16]):.3f}")

    # ---- structure dump ----
    lines = ["Layout of the bundled Keras models (generated by Fixtures/scripts/make_digits.py;",
             "see Fixtures/keras/STRUCTURE.txt for the legend).", ""]
    for p in (h5, sh5):
        lines += U.describe_h5(p) + U.describe_h5_model_config(p) + [""]
    for p in (kz, skz):
        lines += U.describe_keras(p) + [""]
    with open(os.path.join(OUT, "STRUCTURE.txt"), "w") as f:
        f.write("\n".join(lines))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
