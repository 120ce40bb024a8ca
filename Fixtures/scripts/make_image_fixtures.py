#!/usr/bin/env python3
"""Writes the JPEG/PNG image-folder fixtures read by Tests/ModelIOTests/ImageFormatTests.swift
and Tests/CLITests/DataCommandTests.swift, and what Pillow decodes from them.

Needs numpy and Pillow (verified with numpy 2.4.6, Pillow 13.0.0, CPython 3.11.7):

    python3 Fixtures/scripts/make_image_fixtures.py

Deterministic: seeded pixels, Pillow's encoders with fixed settings. Outputs in
Fixtures/images/ (all images 32x32 so the 3x32x32 models in Fixtures/datasets read them):

  folder/cat/0.png, 1.png            RGB PNGs
  folder/dog/a.jpg, b.jpeg, c.png    RGB JPEG (quality 90, 4:2:0), grayscale JPEG, palette PNG
  folder/zebra/g.png, more/o.png     grayscale PNG; RGBA PNG, every pixel opaque, one folder down
  folder/.hidden.png, dog/notes.txt  skipped (hidden; not an image)
  flat/p.png, q.png                  an unlabelled folder of grayscale PNGs
  tiny/tiny-imagenet-200/            Tiny ImageNet in miniature: wnids.txt (3 ids, not sorted),
        words.txt, train/<wnid>/images/<wnid>_<i>.JPEG (2 per class, one grayscale),
        train/<wnid>/<wnid>_boxes.txt, val/images/val_<i>.JPEG (4), val/val_annotations.txt
  bad/mixed-size/a/{0,1}.png         32x32 and 32x24
  bad/transparent.png                RGBA with alpha < 255
  bad/sixteen.png                    16-bit grayscale
  bad/truncated.jpg, truncated.png   the first three quarters of a valid file
  bad/gif/a/x.gif                    an image type bss does not decode
  bad/empty-class/a/0.png, b/readme.txt   class folder b holds no image
  resize/rgb.png, gray.png, photo.jpg  a 40x50 (HxW) RGB PNG, a 37x23 grayscale PNG, a
        45x61 RGB JPEG: the sources of the resizing parity test
  resize/folder/{a,b}/*           mixed-size RGB/gray images, read with --image-size 24,20
  expected-resize.npz   Pillow's img.resize((W, H), Image.BILINEAR) of each resize/ source
        (after convert("RGB") or as "L"), HxWxC uint8, key "<name>_<H>x<W>", for sizes that
        shrink, grow, and do one in each direction; folder_x/folder_y: resize/folder as
        bss reads it with --image-size 24,20
  bad/hostile/                    one file per hostile case: empty.png (0 bytes),
        html.jpg (text named .jpg), lying.png (IHDR 64x64, pixel data for 32x32),
        bomb.png (IHDR 100000x100000, a few hundred bytes), bomb.jpg (SOF says 30000x30000)
  bad/skip/{a,b}/                 two good PNGs among a 0-byte file, a truncated JPEG and
        a text file named .jpg (the --skip-bad-images test); expected-images.npz skip_x/skip_y
  expected-images.npz   what Pillow decodes, assembled by the rules bss documents (classes =
        sorted sub-folders, images in sorted path order, grayscale repeated into RGB when any
        image is colour, Tiny ImageNet labels = sorted wnids): folder_x (N, 3, 32, 32) uint8,
        folder_y; flat_x (2, 1, 32, 32); tiny_train_x/_y; tiny_val_x/_y (labels = sorted wnids);
        tiny_train_y_wnids / tiny_val_y_wnids (labels = line of wnids.txt; same sample order).
"""
import os
import struct
import zlib

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "images")
rng = np.random.default_rng(20261201)
S = 32


def path(*parts):
    p = os.path.join(OUT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def smooth(shape):
    """Random but not pure noise (JPEG-friendly): a blurred random field, 0-255."""
    a = rng.integers(0, 256, size=shape).astype(np.float64)
    for axis in (0, 1):
        a = (a + np.roll(a, 1, axis=axis) + np.roll(a, -1, axis=axis)) / 3
    return a.clip(0, 255).astype(np.uint8)


def rgb():
    return Image.fromarray(smooth((S, S, 3)))


def gray(h=S):
    return Image.fromarray(smooth((h, S)))


def save(img, *parts, **kw):
    img.save(path(*parts), **kw)


def write_folder():
    save(rgb(), "folder", "cat", "0.png")
    save(rgb(), "folder", "cat", "1.png")
    save(rgb(), "folder", "dog", "a.jpg", quality=90, subsampling=2)
    save(gray(), "folder", "dog", "b.jpeg", quality=90)
    save(rgb().quantize(colors=16), "folder", "dog", "c.png")
    save(gray(), "folder", "zebra", "g.png")
    rgba = rgb().convert("RGBA")
    save(rgba, "folder", "zebra", "more", "o.png")
    save(rgb(), "folder", ".hidden.png")
    with open(path("folder", "dog", "notes.txt"), "w") as f:
        f.write("not an image\n")
    save(gray(), "flat", "p.png")
    save(gray(), "flat", "q.png")


WNIDS = ["n02085620", "n01443537", "n04067472"]


def write_tiny():
    root = ("tiny", "tiny-imagenet-200")
    with open(path(*root, "wnids.txt"), "w") as f:
        f.write("".join(w + "\n" for w in WNIDS))
    with open(path(*root, "words.txt"), "w") as f:
        f.write("n01443537\tgoldfish, Carassius auratus\nn02085620\tChihuahua\nn04067472\treel\nn00000001\tunused\n")
    for w in WNIDS:
        save(rgb(), *root, "train", w, "images", f"{w}_0.JPEG", quality=90)
        save(gray() if w == WNIDS[1] else rgb(), *root, "train", w, "images", f"{w}_1.JPEG", quality=90)
        with open(path(*root, "train", w, f"{w}_boxes.txt"), "w") as f:
            f.write(f"{w}_0.JPEG\t0\t0\t31\t31\n{w}_1.JPEG\t0\t0\t31\t31\n")
    lines = []
    for i, w in enumerate([WNIDS[2], WNIDS[0], WNIDS[1], WNIDS[2]]):
        save(gray() if i == 1 else rgb(), *root, "val", "images", f"val_{i}.JPEG", quality=90)
        lines.append(f"val_{i}.JPEG\t{w}\t1\t2\t30\t31\n")
    with open(path(*root, "val", "val_annotations.txt"), "w") as f:
        f.write("".join(lines))


def write_bad():
    save(rgb(), "bad", "mixed-size", "a", "0.png")
    save(Image.fromarray(smooth((24, S, 3))), "bad", "mixed-size", "a", "1.png")
    rgba = np.concatenate([smooth((S, S, 3)), np.full((S, S, 1), 255, np.uint8)], axis=2)
    rgba[3, 4, 3] = 128
    save(Image.fromarray(rgba), "bad", "transparent.png")
    save(Image.fromarray((smooth((S, S)).astype(np.uint16) * 257)), "bad", "sixteen.png")
    for ext, kw in [("jpg", {"quality": 90}), ("png", {})]:
        tmp = path("bad", f"whole.{ext}")
        rgb().save(tmp, **kw)
        data = open(tmp, "rb").read()
        os.remove(tmp)
        with open(path("bad", f"truncated.{ext}"), "wb") as f:
            f.write(data[: len(data) * 3 // 4])
    with open(path("bad", "gif", "a", "x.gif"), "wb") as f:
        f.write(b"GIF89a")
    save(gray(), "bad", "empty-class", "a", "0.png")
    with open(path("bad", "empty-class", "b", "readme.txt"), "w") as f:
        f.write("no images here\n")


RESIZE_SIZES = [(16, 20), (64, 80), (23, 70), (40, 50), (7, 3), (1, 1)]


def write_resize():
    save(Image.fromarray(smooth((40, 50, 3))), "resize", "rgb.png")
    save(Image.fromarray(smooth((37, 23))), "resize", "gray.png")
    save(Image.fromarray(smooth((45, 61, 3))), "resize", "photo.jpg", quality=85)
    save(Image.fromarray(smooth((30, 40, 3))), "resize", "folder", "a", "0.png")
    save(Image.fromarray(smooth((12, 9))), "resize", "folder", "a", "1.png")
    save(Image.fromarray(smooth((24, 20, 3))), "resize", "folder", "b", "2.jpg", quality=90)
    e = {}
    for name in ("rgb.png", "gray.png", "photo.jpg"):
        img = Image.open(os.path.join(OUT, "resize", name))
        img = img if img.mode == "L" else img.convert("RGB")
        for h, w in RESIZE_SIZES:
            a = np.asarray(img.resize((w, h), Image.BILINEAR))
            e[f"{name.split('.')[0]}_{h}x{w}"] = a.reshape(h, w, -1)
    files = images_under(os.path.join(OUT, "resize", "folder"))
    imgs = []
    for f in files:
        img = Image.open(f)
        img = img if img.mode == "L" else img.convert("RGB")
        imgs.append(np.asarray(img.resize((20, 24), Image.BILINEAR)).reshape(24, 20, -1))
    e["folder_x"] = np.stack([np.repeat(i, 3, axis=2) if i.shape[2] == 1 else i for i in imgs]).transpose(0, 3, 1, 2)
    e["folder_y"] = np.array([0, 0, 1], np.int64)
    np.savez(path("expected-resize.npz"), **e)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width, height, rows):
    """An 8-bit RGB PNG whose IHDR says width x height, holding `rows` (bytes) as its data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(rows))
            + png_chunk(b"IEND", b""))


def write_hostile():
    open(path("bad", "hostile", "empty.png"), "wb").close()
    with open(path("bad", "hostile", "html.jpg"), "w") as f:
        f.write("<html><body>404 Not Found</body></html>\n")
    with open(path("bad", "hostile", "lying.png"), "wb") as f:
        f.write(png_declaring(64, 64, b"".join(b"\x00" + bytes(96) for _ in range(32))))
    with open(path("bad", "hostile", "bomb.png"), "wb") as f:
        f.write(png_declaring(100000, 100000, b"\x00" + bytes(300)))
    tmp = path("bad", "hostile", "tmp.jpg")
    rgb().save(tmp, quality=90)
    data = bytearray(open(tmp, "rb").read())
    os.remove(tmp)
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 30000, 30000)
    with open(path("bad", "hostile", "bomb.jpg"), "wb") as f:
        f.write(bytes(data))
    save(rgb(), "bad", "skip", "a", "0.png")
    open(path("bad", "skip", "a", "1.png"), "wb").close()
    save(gray(), "bad", "skip", "b", "2.png")
    tmp = path("bad", "skip", "b", "3.jpg")
    rgb().save(tmp, quality=90)
    data = open(tmp, "rb").read()
    with open(tmp, "wb") as f:
        f.write(data[: len(data) // 2])
    with open(path("bad", "skip", "b", "4.jpg"), "w") as f:
        f.write("not a picture\n")


# ---------------------------------------------------------------------------------------------
# What Pillow decodes, assembled independently of bss
# ---------------------------------------------------------------------------------------------
def decode(p):
    img = Image.open(p)
    img.load()
    if img.mode == "L":
        return np.asarray(img)[:, :, None]
    if img.mode == "RGBA":
        a = np.asarray(img)
        assert (a[:, :, 3] == 255).all()
        return a[:, :, :3]
    return np.asarray(img.convert("RGB"))


def stack(files):
    imgs = [decode(f) for f in files]
    c = 3 if any(i.shape[2] == 3 for i in imgs) else 1
    return np.stack([np.repeat(i, c, axis=2) if i.shape[2] != c else i for i in imgs]).transpose(0, 3, 1, 2)


def images_under(folder):
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for n in filenames:
            if not n.startswith(".") and n.lower().rsplit(".", 1)[-1] in ("png", "jpg", "jpeg"):
                found.append(os.path.relpath(os.path.join(dirpath, n), folder))
    return [os.path.join(folder, r) for r in sorted(found)]


def write_expected():
    e = {}
    root = os.path.join(OUT, "folder")
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith("."))
    files, labels = [], []
    for k, c in enumerate(classes):
        fs = images_under(os.path.join(root, c))
        files += fs
        labels += [k] * len(fs)
    e["folder_x"], e["folder_y"] = stack(files), np.array(labels, np.int64)
    e["flat_x"] = stack(images_under(os.path.join(OUT, "flat")))
    tiny = os.path.join(OUT, "tiny", "tiny-imagenet-200")
    wnids = sorted(WNIDS)
    files, labels = [], []
    for k, w in enumerate(wnids):
        fs = images_under(os.path.join(tiny, "train", w))
        files += fs
        labels += [k] * len(fs)
    e["tiny_train_x"], e["tiny_train_y"] = stack(files), np.array(labels, np.int64)
    rows = [l.split("\t") for l in open(os.path.join(tiny, "val", "val_annotations.txt")).read().splitlines()]
    e["tiny_val_x"] = stack([os.path.join(tiny, "val", "images", r[0]) for r in rows])
    e["tiny_val_y"] = np.array([wnids.index(r[1]) for r in rows], np.int64)
    e["tiny_train_y_wnids"] = np.array([WNIDS.index(wnids[k]) for k in e["tiny_train_y"]], np.int64)
    e["tiny_val_y_wnids"] = np.array([WNIDS.index(r[1]) for r in rows], np.int64)
    skip = [os.path.join(OUT, "bad", "skip", "a", "0.png"), os.path.join(OUT, "bad", "skip", "b", "2.png")]
    e["skip_x"], e["skip_y"] = stack(skip), np.array([0, 1], np.int64)
    np.savez(path("expected-images.npz"), **e)


if __name__ == "__main__":
    write_folder()
    write_tiny()
    write_bad()
    write_resize()
    write_hostile()
    write_expected()
    print("wrote", os.path.normpath(OUT))
