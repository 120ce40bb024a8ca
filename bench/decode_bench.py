"""Image decoding throughput: bss against Pillow on the same JPEG and PNG files.

Usage:  python3 bench/decode_bench.py [--bss .build/release/bss] [--count 2000] [--size 64]
                                      [--reps 3] [--image-size H,W]

Writes --count smooth random RGB images of --size x --size pixels twice, as JPEG (quality 90)
and as PNG, into a temporary class-per-folder tree (two classes), then times, best of --reps:

  Pillow  for every file: Image.open(f).convert("RGB") (+ .resize((W, H), BILINEAR) with
          --image-size), numpy.asarray; then numpy.stack(...).astype(float32) -- the same work
          bss does to build its float N x C x H x W tensor;
  bss     `bss data inspect DIR --json` (folder listing, decoding, conversion to floats, the
          value range) minus the same command on a one-image folder (process start-up).

Prints images/second for each and bss / Pillow (> 1: bss is faster). Single-threaded on both
sides. Needs numpy and Pillow; use a release build of bss (`swift build -c release`).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image


def make(root, count, size, ext, rng):
    files = []
    for i in range(count):
        a = rng.integers(0, 256, size=(size, size, 3)).astype(np.float64)
        for axis in (0, 1):
            a = (a + np.roll(a, 1, axis=axis) + np.roll(a, -1, axis=axis)) / 3
        d = os.path.join(root, "a" if i % 2 == 0 else "b")
        os.makedirs(d, exist_ok=True)
        f = os.path.join(d, f"{i:06d}.{ext}")
        Image.fromarray(a.clip(0, 255).astype(np.uint8)).save(f, **({"quality": 90} if ext == "jpg" else {}))
        files.append(f)
    return sorted(files)


def time_pillow(files, resize):
    start = time.perf_counter()
    out = []
    for f in files:
        img = Image.open(f).convert("RGB")
        if resize:
            img = img.resize((resize[1], resize[0]), Image.BILINEAR)
        out.append(np.asarray(img))
    np.stack(out).astype(np.float32)
    return time.perf_counter() - start


def time_bss(bss, folder, extra):
    start = time.perf_counter()
    r = subprocess.run([bss, "data", "inspect", folder, "--json"] + extra, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bss failed on {folder}: {r.stderr.strip()}")
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bss", default=".build/release/bss")
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--image-size", default=None, help="H,W: also resize (bilinear) on both sides")
    a = p.parse_args()
    resize = tuple(int(v) for v in a.image_size.split(",")) if a.image_size else None
    extra = ["--image-size", a.image_size] if a.image_size else []
    rng = np.random.default_rng(0)
    print(f"{a.count} images of {a.size}x{a.size} RGB per format" + (f", resized to {a.image_size}" if resize else "")
          + f"; best of {a.reps}; bss = {a.bss}")
    print("| format | Pillow images/s | bss images/s | bss / Pillow |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for ext in ("jpg", "png"):
            root = os.path.join(tmp, ext)
            files = make(root, a.count, a.size, ext, rng)
            one = os.path.join(tmp, ext + "-one")
            os.makedirs(os.path.join(one, "a"))
            os.link(files[0], os.path.join(one, "a", os.path.basename(files[0])))
            pil = min(time_pillow(files, resize) for _ in range(a.reps))
            startup = min(time_bss(a.bss, one, extra) for _ in range(a.reps))
            ours = min(time_bss(a.bss, root, extra) for _ in range(a.reps)) - startup
            print(f"| {ext.upper()} | {a.count / pil:,.0f} | {a.count / ours:,.0f} | {pil / ours:.2f} |")


if __name__ == "__main__":
    main()
