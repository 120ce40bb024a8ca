#!/usr/bin/env python3
"""Writes the tiny CIFAR-100 and downsampled-ImageNet fixtures read by
Tests/ModelIOTests/DatasetFormatTests.swift and Tests/CLITests/DataCommandTests.swift.

numpy only (verified with numpy 2.4.6, CPython 3.11.7; `pickle` is the standard library's):

    python3 Fixtures/scripts/make_dataset_fixtures.py

Deterministic (seeded generator; np.savez writes fixed zip timestamps): a re-run reproduces
every file. Outputs in Fixtures/datasets/ (all small):

  cifar100/train.bin, test.bin   20 and 6 records of the CIFAR-100 binary format: per record
        1 coarse label byte (0-19), 1 fine label byte (0-99), 3072 pixel bytes (R, G, B planes,
        each 32x32 row-major); the first records carry the extreme labels 0/0 and 19/99.
  cifar100/fine_label_names.txt, coarse_label_names.txt   100 and 20 names, one a line
        (made-up names "fine-NN", "coarse-NN", like the archive's one-name-a-line files).
  imagenet32/train_data_batch_2.npz, train_data_batch_10.npz   10 samples each of the
        downsampled ImageNet .npz release: data uint8 (10, 3072) channel-planar rows, labels
        int64 1-based (1-1000; the first batch holds 1 and 1000), mean float64 (3072,).
        Numbered 2 and 10 so that sorting by name and by number disagree.
  imagenet32/val_data.npz        5 samples, data + labels (no mean), as the release's val file.
  imagenet8/val_data.npz         4 samples of 8x8 (rows of 192) to check the side is inferred.
  bad/truncated/train.bin        2 CIFAR-100 records + 50 bytes
  bad/fine-range/test.bin        2 records, the second with fine label 100
  bad/coarse-range/test.bin      2 records, the first with coarse label 20
  bad/named-cifar100/train.bin   3 CIFAR-10 records (3073 bytes each) named as CIFAR-100
  bad/imagenet-label0.npz        labels 1-based except row 2 = 0
  bad/imagenet-label1001.npz     row 1 = 1001
  bad/imagenet-rows.npz          data rows of 3000 values (not 3*S*S)
  bad/train_data_batch_1         a pickled batch (protocol 2), as the release's pickle variant
  tiny-c100.json + tiny-c100.npz     a bss architecture spec + weights: conv 3->4 (8x8, stride 8),
  tiny-c1000.json + tiny-c1000.npz   max-pool 4, flatten, linear 4 -> 100 (resp. 1000 classes),
        for predict/eval runs on 3x32x32 inputs (no reference framework needed: the tests compare
        bss on each format with bss on the same arrays as .npz).
  expected.npz   what numpy reads back from the files above (np.fromfile / np.load, written
        independently of the generators): cifar100_train_x (20, 3, 32, 32) uint8,
        cifar100_train_fine, cifar100_train_coarse, cifar100_test_x/_fine/_coarse,
        imagenet32_train_x (20, 3, 32, 32) uint8 (batch 2, then batch 10), imagenet32_train_y
        (0-based), imagenet32_val_x/_y, imagenet8_val_x (4, 3, 8, 8)/_y.
"""
import json
import os
import pickle

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "datasets")
rng = np.random.default_rng(20261130)


def path(*parts):
    p = os.path.join(OUT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def write(name, data):
    with open(path(*name.split("/")), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------------------------------------
# CIFAR-100 binary
# ---------------------------------------------------------------------------------------------
def cifar100_bytes(n, coarse=None, fine=None):
    x = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    c = rng.integers(0, 20, size=n, dtype=np.uint8) if coarse is None else np.array(coarse, np.uint8)
    f = rng.integers(0, 100, size=n, dtype=np.uint8) if fine is None else np.array(fine, np.uint8)
    return b"".join(bytes([int(a), int(b)]) + img.tobytes() for a, b, img in zip(c, f, x))


def write_cifar100():
    coarse = [0, 19] + list(rng.integers(0, 20, size=18))
    fine = [0, 99] + list(rng.integers(0, 100, size=18))
    write("cifar100/train.bin", cifar100_bytes(20, coarse, fine))
    write("cifar100/test.bin", cifar100_bytes(6))
    write("cifar100/fine_label_names.txt", "".join(f"fine-{i:02d}\n" for i in range(100)).encode())
    write("cifar100/coarse_label_names.txt", "".join(f"coarse-{i:02d}\n" for i in range(20)).encode())
    bad = cifar100_bytes(3)
    write("bad/truncated/train.bin", bad[: 2 * 3074 + 50])
    write("bad/fine-range/test.bin", cifar100_bytes(2, coarse=[3, 4], fine=[5, 100]))
    write("bad/coarse-range/test.bin", cifar100_bytes(2, coarse=[20, 4], fine=[5, 6]))
    cifar10 = b"".join(bytes([int(l)]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes() for l in [1, 2, 3])
    write("bad/named-cifar100/train.bin", cifar10)


# ---------------------------------------------------------------------------------------------
# Downsampled ImageNet (.npz release)
# ---------------------------------------------------------------------------------------------
def imagenet_arrays(n, side, labels=None):
    data = rng.integers(0, 256, size=(n, 3 * side * side), dtype=np.uint8)
    y = rng.integers(1, 1001, size=n).astype(np.int64) if labels is None else np.array(labels, np.int64)
    return data, y


def write_imagenet():
    d, y = imagenet_arrays(10, 32, [1, 1000] + list(rng.integers(1, 1001, size=8)))
    np.savez(path("imagenet32", "train_data_batch_2.npz"), data=d, labels=y, mean=d.mean(axis=0))
    d, y = imagenet_arrays(10, 32)
    np.savez(path("imagenet32", "train_data_batch_10.npz"), data=d, labels=y, mean=d.mean(axis=0))
    d, y = imagenet_arrays(5, 32)
    np.savez(path("imagenet32", "val_data.npz"), data=d, labels=y)
    d, y = imagenet_arrays(4, 8)
    np.savez(path("imagenet8", "val_data.npz"), data=d, labels=y)
    d, y = imagenet_arrays(3, 32, [5, 6, 0])
    np.savez(path("bad", "imagenet-label0.npz"), data=d, labels=y)
    d, y = imagenet_arrays(3, 32, [5, 1001, 7])
    np.savez(path("bad", "imagenet-label1001.npz"), data=d, labels=y)
    np.savez(path("bad", "imagenet-rows.npz"), data=rng.integers(0, 256, size=(2, 3000), dtype=np.uint8),
             labels=np.array([1, 2], np.int64))
    d, y = imagenet_arrays(2, 8)
    write("bad/train_data_batch_1", pickle.dumps({"data": d.tolist(), "labels": y.tolist()}, protocol=2))


# ---------------------------------------------------------------------------------------------
# Tiny models (bss architecture spec + state dict) for predict / eval
# ---------------------------------------------------------------------------------------------
def write_model(classes):
    name = f"tiny-c{classes}"
    spec = {"format": "bss-architecture", "version": 1, "name": name, "input_shape": [3, 32, 32],
            "classes": classes, "layers": [
                {"name": "conv", "type": "conv2d", "in_channels": 3, "out_channels": 4, "kernel": [8, 8],
                 "stride": [8, 8], "padding": [0, 0, 0, 0], "bias": True},
                {"name": "pool", "type": "maxpool2d", "kernel": [4, 4], "stride": [4, 4]},
                {"name": "flatten", "type": "flatten", "order": "nchw"},
                {"name": "fc", "type": "linear", "in_features": 4, "out_features": classes}]}
    with open(path(name + ".json"), "w") as f:
        json.dump(spec, f, indent=1)
        f.write("\n")
    np.savez(path(name + ".npz"),
             **{"conv.weight": rng.normal(0, 0.01, (4, 3, 8, 8)).astype(np.float32),
                "conv.bias": rng.normal(0, 0.1, 4).astype(np.float32),
                "fc.weight": rng.normal(0, 1, (classes, 4)).astype(np.float32),
                "fc.bias": rng.normal(0, 0.1, classes).astype(np.float32)})


# ---------------------------------------------------------------------------------------------
# What numpy reads back
# ---------------------------------------------------------------------------------------------
def read_cifar100(name):
    r = np.fromfile(path(*name.split("/")), dtype=np.uint8).reshape(-1, 3074)
    return r[:, 2:].reshape(-1, 3, 32, 32), r[:, 1].astype(np.int64), r[:, 0].astype(np.int64)


def read_imagenet(*names):
    xs, ys = [], []
    for n in names:
        with np.load(path(*n.split("/"))) as z:
            d = z["data"]
            side = int(round((d.shape[1] // 3) ** 0.5))
            xs.append(d.reshape(-1, 3, side, side))
            ys.append(z["labels"].astype(np.int64) - 1)
    return np.concatenate(xs), np.concatenate(ys)


def write_expected():
    e = {}
    for split in ["train", "test"]:
        x, fine, coarse = read_cifar100(f"cifar100/{split}.bin")
        e[f"cifar100_{split}_x"], e[f"cifar100_{split}_fine"], e[f"cifar100_{split}_coarse"] = x, fine, coarse
    e["imagenet32_train_x"], e["imagenet32_train_y"] = read_imagenet(
        "imagenet32/train_data_batch_2.npz", "imagenet32/train_data_batch_10.npz")
    e["imagenet32_val_x"], e["imagenet32_val_y"] = read_imagenet("imagenet32/val_data.npz")
    e["imagenet8_val_x"], e["imagenet8_val_y"] = read_imagenet("imagenet8/val_data.npz")
    np.savez(path("expected.npz"), **e)


if __name__ == "__main__":
    write_cifar100()
    write_imagenet()
    write_model(100)
    write_model(1000)
    write_expected()
    print("wrote", os.path.normpath(OUT))
