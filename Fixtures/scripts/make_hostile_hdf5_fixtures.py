#!/usr/bin/env python3
"""Writes the HDF5 files whose data live outside them, read by Tests/ModelIOTests/HostileHDF5Tests.swift.

Run offline with h5py (verified with h5py 3.16 / HDF5 2.0.0 / numpy 2.4):

    python3 Fixtures/scripts/make_hostile_hdf5_fixtures.py

Outputs (all a few KB) in Fixtures/hostile/. Every "outside" file holds the marker
SECRET-OUTSIDE-BYTES so a test can check that none of it is ever read:
  secret.bin             the marker as raw bytes (32 bytes)
  external-storage.h5    dataset 'x' (uint8, 32) stored in secret.bin (H5Pset_external)
  target.h5              dataset 'x' (uint8, 32) holding the marker
  external-link.h5       dataset 'fc.weight' (float32, 2x2) and an external link 'x' -> target.h5:/x
  nested-link.h5         group 'g' holding an external link 'x' -> target.h5:/x
  virtual.h5             virtual dataset 'x' (uint8, 32) mapped from target.h5:/x
  lzf.h5                 dataset 'x' (float32, 64) compressed with the LZF filter (32000)
  soft-link.h5           dataset 'x' and a soft link 'y' -> /x (inside the file: accepted)
  sparse.h5              dataset 'x' (float32, 2^31 = 8 GiB) chunked with no chunk written: a
                         few-kB file that reads as 8 GiB of fill values (a "bomb")
"""
import os

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile")
MARKER = b"SECRET-OUTSIDE-BYTES-0123456789!"   # 32 bytes


def path(name):
    return os.path.join(OUT, name)


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.remove(path(old))
    with open(path("secret.bin"), "wb") as f:
        f.write(MARKER)
    marker = np.frombuffer(MARKER, dtype=np.uint8)

    # External storage: HDF5 resolves the name relative to the working directory.
    with h5py.File(path("external-storage.h5"), "w") as f:
        f.create_dataset("x", shape=(32,), dtype="u1", external=[("secret.bin", 0, 32)])

    with h5py.File(path("target.h5"), "w") as f:
        f["x"] = marker

    with h5py.File(path("external-link.h5"), "w") as f:
        f["fc.weight"] = np.arange(4, dtype=np.float32).reshape(2, 2)
        f["x"] = h5py.ExternalLink("target.h5", "/x")

    with h5py.File(path("nested-link.h5"), "w") as f:
        f.create_group("g")["x"] = h5py.ExternalLink("target.h5", "/x")

    layout = h5py.VirtualLayout(shape=(32,), dtype="u1")
    layout[:] = h5py.VirtualSource("target.h5", "x", shape=(32,))
    with h5py.File(path("virtual.h5"), "w") as f:
        f.create_virtual_dataset("x", layout)

    with h5py.File(path("lzf.h5"), "w") as f:
        f.create_dataset("x", data=np.arange(64, dtype=np.float32), chunks=(64,), compression="lzf")

    with h5py.File(path("soft-link.h5"), "w") as f:
        f["x"] = np.arange(3, dtype=np.float32)
        f["y"] = h5py.SoftLink("/x")

    with h5py.File(path("sparse.h5"), "w") as f:
        f.create_dataset("x", shape=(1 << 31,), dtype="f4", chunks=(1 << 16,))

    # h5py itself reads the outside data (what an unguarded reader would do).
    cwd = os.getcwd()
    os.chdir(OUT)
    try:
        with h5py.File("external-storage.h5", "r") as f:
            assert bytes(f["x"][()]) == MARKER
        with h5py.File("external-link.h5", "r") as f:
            assert bytes(f["x"][()]) == MARKER
        with h5py.File("virtual.h5", "r") as f:
            assert bytes(f["x"][()]) == MARKER
    finally:
        os.chdir(cwd)

    for name in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(path(name)):6d}  {name}")


if __name__ == "__main__":
    main()
