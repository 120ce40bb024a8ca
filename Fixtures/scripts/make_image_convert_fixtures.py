#!/usr/bin/env python3
"""Writes Fixtures/images/expected-convert.npz: what Pillow's colour-mode conversions give for
the existing image fixtures (made by make_image_fixtures.py; this script only reads them), for
Tests/ModelIOTests/ImageFormatTests.swift (testColourModeConversionMatchesPillow).

Needs numpy and Pillow (verified with numpy 2.4.6, Pillow 13.0.0, CPython 3.11.7):

    python3 Fixtures/scripts/make_image_convert_fixtures.py

Keys (uint8, NCHW, images in the order bss reads them: sorted class folders, sorted paths):
  folder_L_x, folder_L_y   folder/ with every image Image.open(f).convert("L"): what a
                           1-channel model reads (RGB/palette/RGBA PNG, RGB and gray JPEG)
  flat_RGB_x               flat/ (gray PNGs) with Image.open(f).convert("RGB"): what a
                           3-channel model reads
  resize_L_x, resize_L_y   resize/folder/ with Image.open(f).convert("L").resize((20, 24),
                           Image.BILINEAR): convert first, then resize (--image-size 24,20)
  folder_L8_x              folder/ with convert("L").resize((8, 8), BILINEAR): the input of
                           the 1x8x8 digits models (Tests/CLITests/DataCommandTests.swift)
  photo_L_30x40            resize/photo.jpg, convert("L").resize((40, 30), BILINEAR), HxW
"""
import os

import numpy as np
from PIL import Image

IMAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "images")


def listing(root):
    """(path, label) of a class-per-folder tree as bss and torchvision's ImageFolder list it."""
    items = []
    classes = sorted(d for d in os.listdir(root) if not d.startswith(".") and os.path.isdir(os.path.join(root, d)))
    for label, c in enumerate(classes):
        found = []
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, c)):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for f in filenames:
                if not f.startswith(".") and f.lower().endswith((".png", ".jpg", ".jpeg")):
                    found.append(os.path.relpath(os.path.join(dirpath, f), os.path.join(root, c)))
        items += [(os.path.join(root, c, f), label) for f in sorted(found)]
    return items


def chw(img):
    a = np.asarray(img, dtype=np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def main():
    out = {}
    folder = listing(os.path.join(IMAGES, "folder"))
    out["folder_L_x"] = np.stack([chw(Image.open(p).convert("L")) for p, _ in folder])
    out["folder_L_y"] = np.array([y for _, y in folder], dtype=np.int64)
    flat = sorted(os.path.join(IMAGES, "flat", f) for f in os.listdir(os.path.join(IMAGES, "flat")) if f.endswith(".png"))
    out["flat_RGB_x"] = np.stack([chw(Image.open(p).convert("RGB")) for p in flat])
    out["folder_L8_x"] = np.stack([chw(Image.open(p).convert("L").resize((8, 8), Image.BILINEAR)) for p, _ in folder])
    resize = listing(os.path.join(IMAGES, "resize", "folder"))
    out["resize_L_x"] = np.stack([chw(Image.open(p).convert("L").resize((20, 24), Image.BILINEAR)) for p, _ in resize])
    out["resize_L_y"] = np.array([y for _, y in resize], dtype=np.int64)
    photo = Image.open(os.path.join(IMAGES, "resize", "photo.jpg"))
    out["photo_L_30x40"] = np.asarray(photo.convert("L").resize((40, 30), Image.BILINEAR), dtype=np.uint8)
    np.savez(os.path.join(IMAGES, "expected-convert.npz"), **out)
    for k, v in out.items():
        print(k, v.shape, v.dtype)


if __name__ == "__main__":
    main()
