"""Sparse, quantised weights for the keras.applications fixtures, and the compression of the
files Keras wrote (used by make_keras_applications.py under Keras 3 and by
make_keras_tf2_fixtures.py under tf.keras 2.x: the Keras `layers` module is passed in).
Not a fixture script itself; make_keras_applications.py's docstring describes the scheme.
"""

import os
import zipfile

import h5py
import numpy as np

FAN_IN_NONZERO = 8


def sparse_kernel(shape, rng, depthwise):
    """Kernel [..., fan_in, out] with at most FAN_IN_NONZERO non-zeros per output unit."""
    if depthwise:   # [kh, kw, c, m]: 9 taps per channel, kept dense but quantised
        s = np.sqrt(2.0 / (shape[0] * shape[1]))
        return (rng.choice([-1.0, -0.5, 0.5, 1.0], size=shape) * s).astype(np.float32)
    out = shape[-1]
    fan_in = int(np.prod(shape[:-1]))
    k = min(FAN_IN_NONZERO, fan_in)
    s = np.sqrt(2.0 / (0.625 * k))
    flat = np.zeros((fan_in, out), np.float32)
    for o in range(out):
        rows = rng.choice(fan_in, size=k, replace=False)
        flat[rows, o] = rng.choice([-1.0, -0.5, 0.5, 1.0], size=k) * s
    return flat.reshape(shape)


def set_sparse_weights(model, rng, layers):
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.Dense, layers.DepthwiseConv2D)):
            ws = layer.get_weights()
            ws[0] = sparse_kernel(ws[0].shape, rng, isinstance(layer, layers.DepthwiseConv2D))
            if len(ws) > 1:
                ws[1] = rng.uniform(-0.2, 0.2, ws[1].shape).astype(np.float32)
            layer.set_weights(ws)


def calibrate_batchnorm(model, layers, x):
    """Moving statistics = the batch statistics of x, layer after layer (momentum 0)."""
    bns = [l for l in model.layers if isinstance(l, layers.BatchNormalization)]
    kept = [l.momentum for l in bns]
    for l in bns:
        l.momentum = 0.0
    model(x, training=True)
    for l, m in zip(bns, kept):
        l.momentum = m


def randomise_statistics(model, rng, layers, calibrated):
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            c = gamma.shape[0]
            if calibrated:
                mean = mean + 0.3 * np.sqrt(var) * rng.uniform(-1, 1, c)
                var = var * rng.uniform(0.6, 1.6, c)
            else:
                mean, var = rng.uniform(-0.2, 0.2, c), rng.uniform(0.5, 2.0, c)
            gamma, beta = rng.uniform(0.5, 1.5, c), rng.uniform(-0.2, 0.2, c)
            if calibrated:
                # At most a gain of 4 per BatchNorm: a channel that barely varied over the
                # calibration batch (EfficientNetB0's stages at 1x1 pixels see 16 values) would
                # otherwise amplify float32 rounding ~30 times per layer, and no two float32
                # implementations of the model would agree to 1e-4.
                var = np.maximum(var, (gamma / 4) ** 2 - layer.epsilon)
            layer.set_weights([gamma, beta, mean, var])
        elif isinstance(layer, layers.Normalization) and not calibrated:
            ws = layer.get_weights()      # mean, variance, count
            c = ws[0].shape[-1]
            ws[0] = rng.uniform(0.3, 0.6, ws[0].shape).astype(np.float32)
            ws[1] = rng.uniform(0.04, 0.09, ws[1].shape).astype(np.float32)
            layer.set_weights(ws)
            # Keras 3 computes with a copy of the statistics made when the layer was built (or
            # adapted): refresh it, or the model in memory disagrees with the file it saves.
            if hasattr(layer, "finalize_state"):
                layer.finalize_state()


def deflate_zip(path):
    tmp = path + ".tmp"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    os.replace(tmp, path)


def gzip_h5(path):
    """Rewrite every dataset chunked + shuffle + gzip 9; groups, attributes (with their HDF5
    types) and dataset dtypes unchanged."""
    tmp = path + ".tmp"

    def copy_attrs(src, dst):
        for name in src.attrs:
            aid = src.attrs.get_id(name)
            dst.attrs.create(name, src.attrs[name], dtype=aid.dtype)

    with h5py.File(path, "r") as src, h5py.File(tmp, "w", libver=("v110", "v110")) as dst:
        copy_attrs(src, dst)

        def walk(s, d):
            for key in s.keys():
                obj = s[key]
                if isinstance(obj, h5py.Group):
                    g = d.create_group(key)
                    copy_attrs(obj, g)
                    walk(obj, g)
                else:
                    data = obj[()]
                    if obj.shape == () or obj.size == 0:
                        ds = d.create_dataset(key, data=data, dtype=obj.dtype)
                    else:
                        ds = d.create_dataset(key, data=data, dtype=obj.dtype, chunks=obj.shape,
                                              compression="gzip", compression_opts=9, shuffle=True)
                    copy_attrs(obj, ds)
        walk(src, dst)
    os.replace(tmp, path)
