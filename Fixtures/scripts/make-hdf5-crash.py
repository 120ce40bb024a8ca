#!/usr/bin/env python3
"""Writes Fixtures/hostile/libhdf5-crash.h5: Fixtures/keras/sequential-mlp.h5 with one bit
flipped (byte 2124, bit 7, in an object header), which makes libhdf5 1.10.8 segfault while
bss reads the file. Found by a bit-flip loop over that fixture (1 in ~30 mutants crashes).
The CLI must report it as one line naming the file (HDF5 is read in an isolated child
process). Run from the repository root."""
import os

root = os.path.join(os.path.dirname(__file__), "..")
data = bytearray(open(os.path.join(root, "keras", "sequential-mlp.h5"), "rb").read())
data[2124] ^= 0x80
with open(os.path.join(root, "hostile", "libhdf5-crash.h5"), "wb") as f:
    f.write(data)
