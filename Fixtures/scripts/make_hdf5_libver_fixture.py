"""Writes Fixtures/hdf5/libver-latest.h5: x (2x3 float32, chunked and gzip-compressed) and y
(2 int64) saved by h5py with libver="latest" (superblock version 3, version-2 object headers
and the newest message versions of the HDF5 library h5py bundles: h5py 3.16.0 with HDF5 2.0.0
here, whose chunked-dataset layout message libhdf5 1.10.8 cannot read, so x cannot be opened).

Debian's libhdf5 1.10.8 (what bss links) cannot read such a file; bss must say so in one line
naming the file and how to re-save it (libver="earliest" or "v108"), not report a missing
dataset. Also writes the same arrays with libver="earliest" as libver-earliest.h5, which bss reads.

    python3 Fixtures/scripts/make_hdf5_libver_fixture.py
"""
import os

import h5py
import numpy as np

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hdf5")
x = np.arange(6, dtype=np.float32).reshape(2, 3)
y = np.array([0, 1], dtype=np.int64)
for libver in ("latest", "earliest"):
    with h5py.File(os.path.join(here, f"libver-{libver}.h5"), "w", libver=libver) as f:
        f.create_dataset("x", data=x, chunks=(1, 3), compression="gzip")
        f["y"] = y
print("h5py", h5py.__version__, "HDF5", h5py.version.hdf5_version)
