#!/usr/bin/env python3
"""Writes the tiny data-set fixtures read by Tests/ModelIOTests/DataFormatTests.swift and
Tests/CLITests/ConvertCommandTests.swift: CIFAR-10 binary batches, MNIST IDX files (plain and
gzipped), HDF5 and npz data sets, and malformed variants of each.

Run offline with numpy + h5py (verified with numpy 2.4.6, h5py 3.16.0, CPython 3.11.7):

    python3 Fixtures/scripts/make_data_format_fixtures.py

Deterministic (seeded numpy generator; gzip members with mtime 0): a re-run reproduces every
file byte for byte. Outputs in Fixtures/data-formats/ (all a few KB):

  cifar/data_batch_1.bin, data_batch_2.bin, test_batch.bin
        3 + 2 training records and 2 test records in the CIFAR-10 binary format: per record
        1 label byte (0-9) + 3072 pixel bytes (R, G, B planes, each 32x32 row-major).
  cifar-bad/truncated_batch.bin   2 records + 100 bytes of a third
  cifar-bad/bad_label_batch.bin   2 records, the second labelled 12
  cifar-bad/empty_batch.bin       0 bytes
  mnist/train-images-idx3-ubyte.gz + train-labels-idx1-ubyte.gz   5 images 28x28 (gzip)
  mnist/t10k-images-idx3-ubyte + t10k-labels-idx1-ubyte           3 images 28x28 (plain)
  idx-bad/badmagic-images-idx3-ubyte (+ labels)    magic 12 34 08 03 instead of 00 00 08 03
  idx-bad/truncated-images-idx3-ubyte (+ labels)   header says 4 images, data holds 3.5
  idx-bad/count-images-idx3-ubyte (+ labels)       4 images, 3 labels
  idx-bad/nolabels-images-idx3-ubyte               no labels file next to it
  idx-bad/corrupt-images-idx3-ubyte.gz (+ labels)  a gzip file cut in the middle
  xy.h5           x uint8 (4, 3, 4, 4) NCHW, y int64 (4,)   (datasets at the root)
  xy-nhwc.h5      x float32 (4, 4, 4, 3) = xy.h5's x / 255 transposed to NHWC, y int64 (4,)
  xy-float-labels.h5  x as xy.h5, y float64 whole numbers
  bad-xy-length.h5    x 4 samples, y 3 labels
  bad-no-x.h5         only 'images' and 'y'
  bad-labels-range.npz  x float32 (4, 3, 4, 4), y [0, 1, 10, 2] (10 is out of range for 10 classes)
  bad-xy-length.npz     x 4 samples, y 5 labels
  bad-empty.npz         x float32 (0, 3, 4, 4), y int64 (0,)
  bad-rank.npz          x float32 (6,) (no sample axis)
  expected.npz    what a reader must produce, computed here with numpy independently of the
                  writers: cifar_train_x (5, 3, 32, 32) uint8 / cifar_train_y, cifar_test_x /
                  cifar_test_y, mnist_train_x (5, 28, 28) uint8 / mnist_train_y, mnist_test_x /
                  mnist_test_y, xy_x / xy_y.
"""
import gzip
import os
import struct

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data-formats")
rng = np.random.default_rng(20190127)


def path(*parts):
    p = os.path.join(OUT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def write(name, data):
    with open(path(*name.split("/")), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------------------------------------
# CIFAR-10 binary
# ---------------------------------------------------------------------------------------------
def cifar_records(n):
    x = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, size=(n,), dtype=np.uint8)
    return x, y


def cifar_bytes(x, y):
    return b"".join(bytes([int(label)]) + img.tobytes() for img, label in zip(x, y))


def write_cifar(expected):
    b1, b2, test = cifar_records(3), cifar_records(2), cifar_records(2)
    write("cifar/data_batch_1.bin", cifar_bytes(*b1))
    write("cifar/data_batch_2.bin", cifar_bytes(*b2))
    write("cifar/test_batch.bin", cifar_bytes(*test))
    expected["cifar_train_x"] = np.concatenate([b1[0], b2[0]])
    expected["cifar_train_y"] = np.concatenate([b1[1], b2[1]]).astype(np.int64)
    expected["cifar_test_x"] = test[0]
    expected["cifar_test_y"] = test[1].astype(np.int64)

    x, y = cifar_records(3)
    write("cifar-bad/truncated_batch.bin", cifar_bytes(x, y)[: 2 * 3073 + 100])
    x, y = cifar_records(2)
    y[1] = 12
    write("cifar-bad/bad_label_batch.bin", cifar_bytes(x, y))
    write("cifar-bad/empty_batch.bin", b"")


# ---------------------------------------------------------------------------------------------
# IDX (MNIST)
# ---------------------------------------------------------------------------------------------
def idx_images(x):
    n, h, w = x.shape
    return struct.pack(">BBBB", 0, 0, 0x08, 3) + struct.pack(">III", n, h, w) + x.astype(np.uint8).tobytes()


def idx_labels(y):
    return struct.pack(">BBBB", 0, 0, 0x08, 1) + struct.pack(">I", len(y)) + y.astype(np.uint8).tobytes()


def digits(n):
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=(n,), dtype=np.uint8)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def write_idx(expected):
    x, y = digits(5)
    write("mnist/train-images-idx3-ubyte.gz", gz(idx_images(x)))
    write("mnist/train-labels-idx1-ubyte.gz", gz(idx_labels(y)))
    expected["mnist_train_x"], expected["mnist_train_y"] = x, y.astype(np.int64)
    x, y = digits(3)
    write("mnist/t10k-images-idx3-ubyte", idx_images(x))
    write("mnist/t10k-labels-idx1-ubyte", idx_labels(y))
    expected["mnist_test_x"], expected["mnist_test_y"] = x, y.astype(np.int64)

    x, y = digits(2)
    write("idx-bad/badmagic-images-idx3-ubyte", b"\x12\x34" + idx_images(x)[2:])
    write("idx-bad/badmagic-labels-idx1-ubyte", idx_labels(y))
    x, y = digits(4)
    write("idx-bad/truncated-images-idx3-ubyte", idx_images(x)[: 16 + 3 * 784 + 392])
    write("idx-bad/truncated-labels-idx1-ubyte", idx_labels(y))
    x, y = digits(4)
    write("idx-bad/count-images-idx3-ubyte", idx_images(x))
    write("idx-bad/count-labels-idx1-ubyte", idx_labels(y[:3]))
    x, _ = digits(2)
    write("idx-bad/nolabels-images-idx3-ubyte", idx_images(x))
    x, y = digits(4)
    blob = gz(idx_images(x))
    write("idx-bad/corrupt-images-idx3-ubyte.gz", blob[: len(blob) // 2])
    write("idx-bad/corrupt-labels-idx1-ubyte.gz", gz(idx_labels(y)))


# ---------------------------------------------------------------------------------------------
# HDF5 and npz data sets
# ---------------------------------------------------------------------------------------------
def write_arrays(expected):
    x = rng.integers(0, 256, size=(4, 3, 4, 4), dtype=np.uint8)
    y = np.array([3, 0, 9, 1], dtype=np.int64)
    expected["xy_x"], expected["xy_y"] = x, y
    with h5py.File(path("xy.h5"), "w") as f:
        f["x"], f["y"] = x, y
    with h5py.File(path("xy-nhwc.h5"), "w") as f:
        f["x"] = (x.astype(np.float32) / 255).transpose(0, 2, 3, 1)
        f["y"] = y
    with h5py.File(path("xy-float-labels.h5"), "w") as f:
        f["x"], f["y"] = x, y.astype(np.float64)
    with h5py.File(path("bad-xy-length.h5"), "w") as f:
        f["x"], f["y"] = x, y[:3]
    with h5py.File(path("bad-no-x.h5"), "w") as f:
        f["images"], f["y"] = x, y

    xf = (x.astype(np.float32) / 255)
    np.savez(path("bad-labels-range.npz"), x=xf, y=np.array([0, 1, 10, 2], dtype=np.int64))
    np.savez(path("bad-xy-length.npz"), x=xf, y=np.arange(5, dtype=np.int64))
    np.savez(path("bad-empty.npz"), x=np.zeros((0, 3, 4, 4), np.float32), y=np.zeros((0,), np.int64))
    np.savez(path("bad-rank.npz"), x=np.arange(6, dtype=np.float32))


def main():
    expected = {}
    write_cifar(expected)
    write_idx(expected)
    write_arrays(expected)
    np.savez(path("expected.npz"), **expected)


if __name__ == "__main__":
    main()
