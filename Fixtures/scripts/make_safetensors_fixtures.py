"""safetensors fixtures: PyTorch state dicts saved with `safetensors.torch.save_file`.

Run from the repository root:   python3 Fixtures/scripts/make_safetensors_fixtures.py
Writes into Fixtures/safetensors/ (deterministic: re-running gives the same bytes).

Files
  small-cnn.safetensors       Fixtures/torch/small-cnn.npz re-saved: float32 + int64
                              num_batches_tracked, metadata {"format": "pt"}
  cifar-resnet8.safetensors   Fixtures/torch/cifar-resnet8.npz re-saved the same way
  small-cnn-f16.safetensors   small-cnn with every float tensor cast to float16
  small-cnn-bf16.safetensors  small-cnn with every float tensor cast to bfloat16, metadata
                              {"format": "pt", "source": "make_safetensors_fixtures.py"}
  small-cnn-lowp.npz          expected float32 values: f16.<key> / bf16.<key> = torch's
                              `.float()` of each cast tensor; logits_f16 / logits_bf16 = the
                              SmallCNN with those weights in float64, eval mode, on x of
                              Fixtures/torch/small-cnn-io.npz, rounded to float32
  dtypes.safetensors          one small tensor per dtype torch can save: BOOL U8 I8 I16 U16 I32
                              U32 I64 U64 F16 BF16 F32 F64, and all 256 codes of each 8-bit float
                              (F8_E4M3 F8_E5M2 F8_E4M3FNUZ F8_E5M2FNUZ F8_E8M0), keyed by dtype
  dtypes.npz                  the same values as numpy reads them, 8-bit floats and BF16 as
                              float32 via torch's `.float()` (NaN where torch gives NaN)
  malformed/*.safetensors     broken headers, each checked here to be refused by the reference
                              library (`safetensors.torch.load_file`), except the two in
                              REFERENCE_ACCEPTS below, which it loads and bss refuses
  unsupported/*.safetensors   well-formed F4 (packed 4-bit) and C64 files that the reference
                              library loads and bss refuses by dtype
"""
import json
import os
import struct
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402

OUT = os.path.join("Fixtures", "safetensors")
TORCH = os.path.join("Fixtures", "torch")


def state_dict(name):
    with np.load(os.path.join(TORCH, name + ".npz")) as z:
        return {k: torch.from_numpy(z[k].copy()) for k in z.files}


def cast(sd, dtype):
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()}


def small_cnn_logits(sd, x):
    model = tm.SmallCNN()
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, strict=True)
    model = model.double().eval()
    with torch.no_grad():
        return model(torch.from_numpy(x).double()).float().numpy()


def header_and_data(entries, metadata=None, pad=True):
    """A file from raw parts: entries = [(key, dtype, shape, (begin, end))]; data bytes separate."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    for key, dtype, shape, offsets in entries:
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": list(offsets)}
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    return text


def raw_file(header_bytes, data, length=None):
    n = len(header_bytes) if length is None else length
    return struct.pack("<Q", n) + header_bytes + data


def malformed():
    """name -> bytes. A 2x2 float32 'w' (16 bytes) and a 2-element float32 'b' (8 bytes)."""
    data = np.arange(6, dtype="<f4").tobytes()
    good = [("b", "F32", [2], (16, 24)), ("w", "F32", [2, 2], (0, 16))]
    ok = raw_file(header_and_data(good), data)
    files = {
        "truncated.safetensors": ok[:-5],
        "short.safetensors": ok[:5],
        "huge-length.safetensors": struct.pack("<Q", 2**40) + ok[8:],
        "length-past-end.safetensors": raw_file(header_and_data(good), b"", length=len(ok)),
        "overlap.safetensors": raw_file(header_and_data([("b", "F32", [2], (8, 16)), ("w", "F32", [2, 2], (0, 16))]), data[:16]),
        "hole.safetensors": raw_file(header_and_data([("b", "F32", [2], (20, 28)), ("w", "F32", [2, 2], (0, 16))]), data + b"\0" * 4),
        "trailing-bytes.safetensors": raw_file(header_and_data(good), data + b"\0" * 8),
        "wrong-byte-count.safetensors": raw_file(header_and_data([("b", "F32", [3], (16, 24)), ("w", "F32", [2, 2], (0, 16))]), data),
        "unknown-dtype.safetensors": raw_file(header_and_data([("b", "F32", [2], (16, 24)), ("w", "F31", [2, 2], (0, 16))]), data),
        "not-object.safetensors": raw_file(b"[1, 2]  ", b""),
        "bad-json.safetensors": raw_file(b'{"w": {"dtype": "F32",', b""),
        "extra-field.safetensors": raw_file(
            b'{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16],"extra":1}}' + b" " * 5, data[:16]),
        "negative-shape.safetensors": raw_file(header_and_data([("w", "F32", [-1, 4], (0, 16))]), data[:16]),
        "metadata-not-string.safetensors": raw_file(header_and_data([("w", "F32", [2, 2], (0, 16))], metadata={"n": 1}), data[:16]),
    }
    # Python's json cannot write a duplicate key; splice one in by hand (same offsets twice).
    files["duplicate-key.safetensors"] = raw_file(
        b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
        + b"   ", data[:8])
    return files


def unsupported():
    """Well-formed files of dtypes bss does not convert (the reference library loads them)."""
    return {
        "f4.safetensors": raw_file(header_and_data([("w", "F4", [2, 2], (0, 2))]), b"\x21\x43"),
        "c64.safetensors": raw_file(header_and_data([("z", "C64", [1], (0, 8))]), np.array([1, 2], "<f4").tobytes()),
    }


#: Files the reference library loads although the format does not define them; bss is stricter.
REFERENCE_ACCEPTS = {
    "duplicate-key.safetensors": "its JSON parser keeps the last of two equal keys",
    "extra-field.safetensors": "it ignores fields other than dtype, shape and data_offsets",
}


def main():
    torch.manual_seed(0)
    os.makedirs(os.path.join(OUT, "malformed"), exist_ok=True)
    pt = {"format": "pt"}

    for name in ["small-cnn", "cifar-resnet8"]:  # file names
        save_file(state_dict(name), os.path.join(OUT, name + ".safetensors"), metadata=pt)

    sd = state_dict("small-cnn")
    with np.load(os.path.join(TORCH, "small-cnn-io.npz")) as z:
        x = z["x"]
    expected = {}
    for tag, dtype in [("f16", torch.float16), ("bf16", torch.bfloat16)]:
        low = cast(sd, dtype)
        meta = dict(pt, source="make_safetensors_fixtures.py") if tag == "bf16" else pt
        save_file(low, os.path.join(OUT, f"small-cnn-{tag}.safetensors"), metadata=meta)
        for k, v in low.items():
            expected[f"{tag}.{k}"] = (v.float() if v.is_floating_point() else v).numpy()
        expected[f"logits_{tag}"] = small_cnn_logits(low, x)
    np.savez(os.path.join(OUT, "small-cnn-lowp.npz"), **expected)

    codes = torch.arange(256, dtype=torch.int64).to(torch.uint8)
    values = {
        "BOOL": torch.tensor([True, False, True]),
        "U8": torch.tensor([0, 7, 255], dtype=torch.uint8),
        "I8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "I16": torch.tensor([[-32768, 1], [2, 32767]], dtype=torch.int16),
        "U16": torch.tensor([0, 65535], dtype=torch.uint16),
        "I32": torch.tensor([-2**31, 5, 2**31 - 1], dtype=torch.int32),
        "U32": torch.tensor([0, 2**32 - 1], dtype=torch.uint32),
        "I64": torch.tensor(12345678901, dtype=torch.int64),
        "U64": torch.tensor([0, 2**63 - 1], dtype=torch.uint64),
        "F16": torch.tensor([1.0, -2.5, 65504.0, 6e-8], dtype=torch.float16),
        "BF16": torch.tensor([1.0, -3.140625, 1e38, -0.0, float("inf")], dtype=torch.bfloat16),
        "F32": torch.tensor([[0.1, -0.2, 3e38]], dtype=torch.float32),
        "F64": torch.tensor([1.0 / 3.0, -1e-300], dtype=torch.float64),
        "EMPTY": torch.zeros(0, 3),
    }
    for code, name in [("F8_E4M3", "float8_e4m3fn"), ("F8_E5M2", "float8_e5m2"),
                       ("F8_E4M3FNUZ", "float8_e4m3fnuz"), ("F8_E5M2FNUZ", "float8_e5m2fnuz"),
                       ("F8_E8M0", "float8_e8m0fnu")]:
        values[code] = codes.clone().view(getattr(torch, name))
    save_file(values, os.path.join(OUT, "dtypes.safetensors"), metadata=pt)
    with safe_open(os.path.join(OUT, "dtypes.safetensors"), "pt") as f:
        for k in values:
            assert f.get_slice(k).get_dtype() == (k if k != "EMPTY" else "F32"), (k, f.get_slice(k).get_dtype())
    as_numpy = {}
    for k, v in values.items():
        as_numpy[k] = v.float().numpy() if (k.startswith("F8") or k == "BF16") else v.numpy()
    np.savez(os.path.join(OUT, "dtypes.npz"), **as_numpy)

    for name, data in malformed().items():
        path = os.path.join(OUT, "malformed", name)
        with open(path, "wb") as fh:
            fh.write(data)
        try:
            load_file(path)
            rejected = False
        except Exception as e:  # the reference library raises SafetensorError, or ValueError for F4 in torch
            rejected = True
            print(f"{name}: reference refuses: {str(e).splitlines()[0][:100]}")
        if name in REFERENCE_ACCEPTS:
            assert not rejected, f"expected the reference library to accept {name}"
            print(f"{name}: reference accepts ({REFERENCE_ACCEPTS[name]}); bss refuses")
        else:
            assert rejected, name

    os.makedirs(os.path.join(OUT, "unsupported"), exist_ok=True)
    for name, data in unsupported().items():
        path = os.path.join(OUT, "unsupported", name)
        with open(path, "wb") as fh:
            fh.write(data)
        load_file(path)  # the reference library reads it: a dtype bss refuses, not a broken file



if __name__ == "__main__":
    main()
