#!/usr/bin/env python3
"""Writes the seed corpora under Fuzz/corpus/<harness>/ (small valid files, plus a few
near-misses), from numpy, safetensors, h5py and the repository's fixtures. Run from the
repository root: python3 Fuzz/scripts/make-corpus.py"""
import gzip, io, json, os, struct, zipfile

import h5py
import numpy as np
from safetensors.numpy import save as st_save

ROOT = os.path.join(os.path.dirname(__file__), "..", "corpus")


def out(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy(a):
    b = io.BytesIO()
    np.save(b, a, allow_pickle=False)
    return b.getvalue()


arrays = {
    "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
    "i64": np.array([3, -1, 7], dtype=np.int64),
    "fortran": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(3, 2)),
    "bigendian": np.arange(4, dtype=">f4"),
    "u8": np.arange(8, dtype=np.uint8).reshape(2, 2, 2),
    "bool": np.array([True, False]),
    "unicode0d": np.array("hello"),
    "f16": np.array([1.5, -2.0], dtype=np.float16),
    "empty": np.zeros((0, 3), dtype=np.float32),
}
for k, a in arrays.items():
    out("fuzz-npy", k + ".npy", npy(a))

for name, compressed in [("stored", False), ("deflated", True)]:
    b = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(b, x=np.ones((2, 1, 2, 2), np.float32), y=np.array([0, 1]))
    out("fuzz-npz", name + ".npz", b.getvalue())
b = io.BytesIO()
with zipfile.ZipFile(b, "w") as z:
    pass
out("fuzz-npz", "empty.npz", b.getvalue())

out("fuzz-safetensors", "two.safetensors",
    st_save({"a.weight": np.ones((2, 2), np.float32), "a.bias": np.zeros(2, np.float16)}, metadata={"format": "pt"}))
out("fuzz-safetensors", "empty.safetensors", struct.pack("<Q", 2) + b"{}")

fixtures = os.path.join(os.path.dirname(__file__), "..", "..", "Fixtures")
for name in ["digits/teacher-cnn.h5", "digits/student-mlp.h5", "keras/functional-cnn.h5", "keras/nested.h5"]:
    with h5py.File(os.path.join(fixtures, name), "r") as f:
        cfg = f.attrs["model_config"]
        cfg = cfg.decode() if isinstance(cfg, bytes) else cfg
        out("fuzz-keras-config", os.path.basename(name).replace(".h5", ".json"), cfg.encode())

for name in ["distill/digits-teacher.json", "distill/digits-student-bn.json", "torch/bss-teacher.json",
             "torch/cifar-resnet8.json", "torch/mlp-64-48-10.json"]:
    with open(os.path.join(fixtures, name), "rb") as f:
        out("fuzz-arch-spec", os.path.basename(name), f.read())

out("fuzz-run-config", "recipe.yaml", b"""method: bss
epochs: 80
batch_size: 256
lr: 0.1
lr_milestones: [0.5, 0.75]
alpha: schedule
beta: 2
bss_mode: official
bss_clip: "-2.5,2.5"
normalize: cifar10
augment_flip: true
""")
out("fuzz-run-config", "anchors.yaml", b"a: &x [1, 2]\nb: *x\nepochs: 3\n")
out("fuzz-run-config", "nested.yaml", b"epochs:\n  - {a: [1, {b: 2}]}\n")
out("fuzz-run-config", "run.json", json.dumps({"epochs": 2, "seed": 1, "nesterov": False, "scale": 0.5}).encode())

def idx(a, code):
    return bytes([0, 0, code, a.ndim]) + b"".join(struct.pack(">I", n) for n in a.shape) + a.astype(a.dtype.newbyteorder(">")).tobytes()

out("fuzz-idx", "images.idx", idx(np.arange(32, dtype=np.uint8).reshape(2, 4, 4), 0x08))
out("fuzz-idx", "labels.idx", idx(np.array([1, 2], dtype=np.uint8), 0x08))
out("fuzz-idx", "float.idx", idx(np.arange(6, dtype=np.float32).reshape(3, 2), 0x0D))
out("fuzz-idx", "images.idx.gz", gzip.compress(idx(np.arange(18, dtype=np.uint8).reshape(2, 3, 3), 0x08), mtime=0))

rng = np.random.default_rng(0)
out("fuzz-cifar", "cifar10", bytes([0]) + b"".join(bytes([i]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes() for i in range(2)))
out("fuzz-cifar", "cifar100", bytes([1]) + b"".join(bytes([i, 50 + i]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes() for i in range(2)))

# fuzz-image: two bytes (resize height, width; 0 = none) + an image file from the fixtures.
IMAGES = os.path.join(os.path.dirname(__file__), "..", "..", "Fixtures", "images")
for i, (rel, size) in enumerate([("folder/cat/0.png", (16, 40)), ("folder/dog/a.jpg", (0, 0)), ("folder/dog/b.jpeg", (7, 3)),
                                 ("folder/dog/c.png", (33, 31)), ("folder/zebra/g.png", (0, 0)), ("folder/zebra/more/o.png", (1, 1)),
                                 ("bad/transparent.png", (0, 0)), ("bad/truncated.jpg", (0, 0)), ("bad/hostile/lying.png", (0, 0)),
                                 ("resize/photo.jpg", (20, 90))]):
    with open(os.path.join(IMAGES, rel), "rb") as f:
        out("fuzz-image", f"{i}-{os.path.basename(rel)}", bytes(size) + f.read())

# ONNX: the small committed models (resnet8.onnx, 300 KB, is left out: large seeds slow every
# execution) and the refusal fixtures.
for name in ["handmade", "opset17", "ops", "digits-teacher",
             "bad-cyclic", "bad-external", "bad-missing-initializer", "bad-unsupported"]:
    with open(os.path.join(fixtures, "onnx", name + ".onnx"), "rb") as f:
        out("fuzz-onnx", name + ".onnx", f.read())
