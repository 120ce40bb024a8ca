#!/usr/bin/env python3
"""Writes the tiny HDF5 fixtures read by Tests/ModelIOTests/HDF5Tests.swift.

Run offline with h5py (verified with h5py 3.16 / HDF5 2.0.0 / numpy 2.4):

    python3 Fixtures/scripts/make_hdf5_fixtures.py

Outputs (all a few KB) in Fixtures/hdf5/:
  datasets.h5    every numeric dtype the importer meets: float16/32/64, big-endian, ints,
                 h5py bool, Keras-3 opaque bfloat16, scalars, chunked+shuffle+gzip, empty,
                 nested groups
  attributes.h5  every string-attribute form Keras/h5py write (docs/formats.md, "HDF5") plus numeric
                 attributes, laid out like a small Keras legacy .h5
  userblock.h5   a file with a 512-byte user block (superblock not at offset 0)
  truncated.h5   the first half of datasets.h5
  not_hdf5.h5    plain text

The expected values are repeated literally in the Swift tests; keep the two in sync.
"""
import os

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hdf5")


def path(name):
    return os.path.join(OUT, name)


def bfloat16_bits(values):
    """The upper 16 bits of each float32: how Keras 3 stores bfloat16 (raw uint16 patterns)."""
    f32 = np.asarray(values, dtype="<f4")
    return (f32.view("<u4") >> 16).astype("<u2")


def write_datasets():
    with h5py.File(path("datasets.h5"), "w") as f:
        f["f16"] = np.array([[0, 0.5, -1.5], [2.25, 1024, -0.125]], dtype="<f2")
        f["f32"] = (np.arange(12, dtype="<f4") * 0.25 - 1).reshape(2, 2, 3)
        f["f64"] = np.array([1 / 3, -2.5, 1e10], dtype="<f8")
        f["f32_be"] = np.array([1, -2, 3.5, 1e-3], dtype=">f4")
        f["i8"] = np.array([-128, 0, 127], dtype="i1")
        f["i16"] = np.array([-32768, 1, 32767], dtype="<i2")
        f["i32"] = np.array([-(2**31), 0, 2**31 - 1], dtype="<i4")
        f["i32_be"] = np.array([-7, 65536], dtype=">i4")
        f["i64"] = np.array([-(2**40), 7, 2**62], dtype="<i8")
        f["u8"] = np.array([0, 200, 255], dtype="u1")
        f["u16"] = np.array([65535], dtype="<u2")
        f["u64_big"] = np.array([2**63 + 5], dtype="<u8")
        f["bool"] = np.array([True, False, True, True])
        f["scalar_f32"] = np.float32(3.5)
        f["scalar_i64"] = np.int64(123)          # like PyTorch num_batches_tracked
        f["scalar_i32"] = np.int32(42)           # like Keras 3 optimizer "iteration"
        f["empty"] = np.zeros((0, 3), dtype="<f4")
        f.create_dataset("gzip", data=np.arange(320, dtype="<f4").reshape(64, 5) / 8,
                         chunks=(16, 5), compression="gzip", compression_opts=4, shuffle=True)
        # Keras 3 bfloat16: opaque 2-byte elements plus a vlen UTF-8 attribute dtype="bfloat16".
        bf = f.create_dataset("bf16", data=bfloat16_bits([1.0, -2.0, 0.5, 3.140625]).view("V2"))
        bf.attrs["dtype"] = "bfloat16"
        f["a/b/c/deep"] = np.array([1, 2, 3], dtype="<f4")
        f.create_group("a/empty_group")
        f["strings"] = np.array([b"x", b"yz"], dtype="S2")


def write_fixed_nullterm(obj, name, values, size):
    """A fixed-length NULLTERM ASCII attribute (h5py's high-level API only makes NULLPAD)."""
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(size)
    tid.set_strpad(h5py.h5t.STR_NULLTERM)
    space = h5py.h5s.create_simple((len(values),))
    attr = h5py.h5a.create(obj.id, name.encode(), tid, space)
    attr.write(np.array(values, dtype="S%d" % size), mtype=tid)


def write_attributes():
    with h5py.File(path("attributes.h5"), "w") as f:
        # Root attributes as Keras 3 legacy .h5 writes them (docs/formats.md, "Keras files").
        f.attrs["keras_version"] = "3.15.1"                                  # str -> vlen UTF-8
        f.attrs["backend"] = "jax"
        f.attrs["model_config"] = b'{"class_name": "Sequential"}'           # bytes -> vlen ASCII
        f.attrs["utf8_text"] = "Grüße ✓"
        f.attrs["fixed_scalar"] = np.bytes_(b"abc")                          # fixed NULLPAD scalar
        f.attrs["layer_names"] = np.array([b"dense", b"dense_1", b"batch_normalization"])  # h5py 2 style
        f.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]      # list of bytes -> vlen ASCII
        f.attrs["utf8_list"] = ["α", "beta", ""]                            # list of str -> vlen UTF-8
        f.attrs["empty_list"] = []                                           # float64, shape (0,)
        f.attrs["names0"] = np.array([b"n0", b"n1", b"n2"], dtype="S4")     # Keras chunked attribute
        f.attrs["names1"] = np.array([b"n3", b"name4"], dtype="S5")
        write_fixed_nullterm(f, "nullterm", [b"abc", b"defghij"], 8)
        # Numeric attributes.
        f.attrs["epsilon"] = np.float64(1e-3)
        f.attrs["momentum"] = np.float32(0.99)
        f.attrs["count"] = np.int32(7)
        f.attrs["dims"] = np.array([3, 4], dtype="<i8")
        f.attrs["ratios"] = np.array([0.5, 0.25], dtype="<f4")
        f.attrs["flag"] = np.bool_(True)
        # A miniature tf.keras legacy tree.
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([b"flatten", b"dense"])
        mw.attrs["backend"] = b"tensorflow"
        mw.create_group("flatten").attrs["weight_names"] = []
        dense = mw.create_group("dense")
        dense.attrs["weight_names"] = np.array([b"dense/kernel:0", b"dense/bias:0"])
        kernel = dense.create_dataset("dense/kernel:0", data=np.arange(6, dtype="<f4").reshape(2, 3))
        kernel.attrs["note"] = "on a dataset"
        dense.create_dataset("dense/bias:0", data=np.zeros(3, dtype="<f4"))
        # Keras 3 .weights.h5 keeps the real layer name on the vars group.
        f.create_group("layers/batch_normalization/vars").attrs["name"] = "bn"


def write_userblock():
    with h5py.File(path("userblock.h5"), "w", userblock_size=512) as f:
        f["x"] = np.array([1.5, 2.5], dtype="<f4")


def write_bad_files():
    with open(path("datasets.h5"), "rb") as src:
        data = src.read()
    with open(path("truncated.h5"), "wb") as dst:
        dst.write(data[: len(data) // 2])
    with open(path("not_hdf5.h5"), "wb") as dst:
        dst.write(b"this is not an HDF5 file\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    write_datasets()
    write_attributes()
    write_userblock()
    write_bad_files()
    # Check that the truncated copy really is unreadable, so the test means something.
    try:
        h5py.File(path("truncated.h5"), "r").close()
        raise SystemExit("truncated.h5 opened: truncate more")
    except OSError:
        pass


if __name__ == "__main__":
    main()
