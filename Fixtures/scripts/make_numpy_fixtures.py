#!/usr/bin/env python3
"""Writes the .npy/.npz fixtures read by Tests/ModelIOTests/NumpyTests.swift.

Run from anywhere with numpy installed (made with numpy 2.4.6):
    python3 Fixtures/scripts/make_numpy_fixtures.py
Output goes to Fixtures/numpy/ next to this script's parent. Every file is a few KB at most.

Values follow formulas the Swift tests repeat, so no expected-value files are needed:
  floats:            (arange(n) - 5) * 0.25        exact in float16/32/64
  signed integers:   arange(n) - 5
  unsigned integers: arange(n) * 3
  bool:              arange(n) % 3 == 0
reshaped (C order) to the shape given for each file.
"""
import io
import os
import struct
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "numpy")


def floats(shape, dtype):
    return ((np.arange(int(np.prod(shape))) - 5) * 0.25).astype(dtype).reshape(shape)


def signed(shape, dtype):
    return (np.arange(int(np.prod(shape))) - 5).astype(dtype).reshape(shape)


def unsigned(shape, dtype):
    return (np.arange(int(np.prod(shape))) * 3).astype(dtype).reshape(shape)


def path(name):
    return os.path.join(OUT, name)


def save(name, array):
    np.save(path(name), array)


def raw_npy(name, header, data, version=(1, 0), align=64):
    """An .npy file with a hand-written header dict (for what numpy itself never writes)."""
    length_size = 2 if version[0] == 1 else 4
    text = header.encode("latin1" if version[0] < 3 else "utf8")
    total = 8 + length_size + len(text) + 1
    text += b" " * ((-total) % align) + b"\n"
    fmt = "<H" if length_size == 2 else "<I"
    with open(path(name), "wb") as f:
        f.write(b"\x93NUMPY" + bytes(version) + struct.pack(fmt, len(text)) + text + data)


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.remove(path(old))

    # One file per dtype, as numpy writes it (little-endian, or '|' for 1-byte types).
    for code in ["f2", "f4", "f8"]:
        save(f"{code}.npy", floats((3, 4), "<" + code))
    for code in ["i1", "i2", "i4", "i8"]:
        save(f"{code}.npy", signed((3, 4), "<" + code))
    for code in ["u1", "u2", "u4", "u8"]:
        save(f"{code}.npy", unsigned((3, 4), "<" + code))
    save("b1.npy", (np.arange(12) % 3 == 0).reshape(3, 4))
    save("i8_extremes.npy", np.array([np.iinfo(np.int64).min, -1, 0, 1, np.iinfo(np.int64).max], np.int64))

    # Big-endian: np.save keeps the array's byte order.
    for code in ["f2", "f4", "f8"]:
        save(f"{code}_be.npy", floats((3, 4), ">" + code))
    for code in ["i2", "i4", "i8"]:
        save(f"{code}_be.npy", signed((3, 4), ">" + code))
    save("u4_be.npy", unsigned((3, 4), ">u4"))
    save("string_be.npy", np.array("big", dtype=">U3"))

    # Fortran order: written column-major with fortran_order True.
    save("f4_fortran.npy", np.asfortranarray(floats((2, 3, 4), "<f4")))
    save("i8_fortran.npy", np.asfortranarray(signed((3, 5), "<i8")))
    save("f8_fortran_be.npy", np.asfortranarray(floats((4, 3), ">f8")))

    # 0-d and empty arrays.
    save("f4_scalar.npy", np.array(2.5, np.float32))
    save("i8_scalar.npy", np.array(7, np.int64))
    save("f4_empty.npy", np.zeros((0,), np.float32))
    save("f4_empty_3x0.npy", np.zeros((3, 0), np.float32))

    # Strings: a 0-d unicode array (how data sets carry metadata without pickle).
    save("string.npy", np.array("héllo wörld ✓"))
    save("strings.npy", np.array(["cat", "dog", "", "bird"]))

    # Header versions 2.0 and 3.0.
    for version in [(2, 0), (3, 0)]:
        with open(path(f"v{version[0]}.npy"), "wb") as f:
            np.lib.format.write_array(f, floats((3, 4), "<f4"), version=version)

    # Headers other writers produce: double quotes, other key order, spaces, Python 2 longs,
    # no trailing comma, and pre-1.14 16-byte alignment.
    data = floats((2, 3), "<f4").tobytes()
    raw_npy("header_variants.npy", '{"shape": (2L, 3L), "fortran_order": False ,"descr": "<f4"}', data, align=16)
    raw_npy("header_native.npy", "{'descr': '=f4', 'fortran_order': False, 'shape': (2, 3,),}", data)

    # Archives. Key order is insertion order; names with dots and slashes are kept verbatim.
    members = {
        "layer1.0.conv1.weight": floats((2, 1, 3, 3), "<f4"),
        "layer1.0.bn1.num_batches_tracked": np.array(5, np.int64),
        "a/b": signed((4,), "<i4"),
        "fc.weight": np.asfortranarray(floats((3, 2), "<f4")),
        "meta": np.array("cifar10 teacher"),
    }
    np.savez(path("savez.npz"), **members)
    np.savez_compressed(path("savez_compressed.npz"), **members)
    np.savez(path("positional.npz"), floats((2,), "<f4"), signed((3,), "<i8"))
    np.savez(path("empty.npz"))

    # A streamed archive (non-seekable output): data descriptors after each member.
    class Unseekable(io.RawIOBase):
        def __init__(self, f):
            self.f = f

        def writable(self):
            return True

        def write(self, b):
            return self.f.write(b)

    with open(path("streamed.npz"), "wb") as f:
        np.savez(Unseekable(f), **members)

    # ---- malformed inputs ----
    full = floats((40, 30), "<f4")
    buf = io.BytesIO()
    np.save(buf, full)
    with open(path("truncated.npy"), "wb") as f:
        f.write(buf.getvalue()[:128 + 1200])  # header + 1200 of 4800 data bytes
    raw_npy("shape_mismatch.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
            floats((6,), "<f4").tobytes())
    raw_npy("unknown_dtype.npy", "{'descr': '<q4', 'fortran_order': False, 'shape': (2,), }", b"\0" * 8)
    raw_npy("structured.npy", "{'descr': [('x', '<f4'), ('y', '<i4')], 'fortran_order': False, 'shape': (1,), }",
            b"\0" * 8)
    np.save(path("object.npy"), np.array([1, "two"], dtype=object), allow_pickle=True)
    np.save(path("complex.npy"), np.array([1 + 2j], np.complex64))
    raw_npy("missing_key.npy", "{'descr': '<f4', 'fortran_order': False}", b"")
    raw_npy("extra_key.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", b"\0" * 4)
    raw_npy("bad_literal.npy", "{'descr': '<f4', 'fortran_order': Flase, 'shape': (1,), }", b"\0" * 4)
    with open(path("not_npy.npy"), "wb") as f:
        f.write(b"this is not an npy file\n")
    with open(path("truncated_header.npy"), "wb") as f:
        f.write(buf.getvalue()[:60])

    # An npz whose first member has one data byte flipped: only the CRC can tell.
    with open(path("savez.npz"), "rb") as f:
        archive = bytearray(f.read())
    name_len, extra_len = struct.unpack_from("<HH", archive, 26)
    data_start = 30 + name_len + extra_len
    archive[data_start + 128 + 5] ^= 0x40  # inside the float data, after the npy header
    with open(path("bad_crc.npz"), "wb") as f:
        f.write(archive)

    with open(path("not_a_zip.npz"), "w") as f:
        f.write("just some text pretending to be an archive\n")
    with open(path("npy_named_npz.npz"), "wb") as f:
        f.write(buf.getvalue()[:128])  # an .npy header: "a single .npy array"

    with zipfile.ZipFile(path("non_npy_member.npz"), "w") as z:
        b = io.BytesIO()
        np.save(b, floats((2,), "<f4"))
        z.writestr("weights.npy", b.getvalue())
        z.writestr("README.txt", "not an array\n")

    with zipfile.ZipFile(path("truncated_member.npz"), "w") as z:
        z.writestr("cut.npy", buf.getvalue()[:128 + 16])

    # A valid zip (numpy reads it) whose central directory moves offset 0 into a zip64 extra:
    # ZIPFoundation 0.9.20 then lists no entries without an error, which Npz.read must notice.
    member = io.BytesIO()
    np.save(member, floats((2,), "<f4"))
    member = member.getvalue()
    name = b"x.npy"
    crc = zipfile.crc32(member)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, len(member), len(member), len(name), 0)
    extra = struct.pack("<HHQ", 1, 8, 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x032D, 45, 0, 0, 0, 0x21, crc, len(member), len(member),
                          len(name), len(extra), 0, 0, 0, 0o100644 << 16, 0xFFFFFFFF) + name + extra
    body = local + name + member
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(body), 0)
    with open(path("zip64_offset_zero.npz"), "wb") as f:
        f.write(body + central + end)
    assert np.load(path("zip64_offset_zero.npz"))["x"].tolist() == [-1.25, -1.0]

    for name in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(path(name)):6d}  {name}")


if __name__ == "__main__":
    main()
