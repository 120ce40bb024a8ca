"""Shared helpers for make_keras_fixtures.py and make_digits.py (Keras 3, JAX backend).

Not a fixture script itself. Provides:
  - setup(): environment checks (KERAS_BACKEND=jax, Keras 3.15.x) and deterministic settings;
  - logits_model(model): a Keras model computing the pre-softmax logits of `model`;
  - check_reload(...): reload a saved file with keras and assert identical predictions;
  - describe_h5(path) / describe_keras(path): compact, complete text dumps of the HDF5 / .keras
    layout (groups, datasets with shape/dtype/layout, attributes with their HDF5 string type),
    written to Fixtures/*/STRUCTURE.txt for the Swift importer author.
"""

import io
import json
import os
import zipfile

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py
import numpy as np


def setup():
    import keras

    if keras.backend.backend() != "jax":
        raise SystemExit("run with KERAS_BACKEND=jax")
    if not keras.__version__.startswith("3."):
        raise SystemExit(f"Keras 3 expected, found {keras.__version__}")
    keras.config.set_floatx("float32")
    keras.config.set_image_data_format("channels_last")
    return keras


def softmax64(z):
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def logits_model(model):
    """A model computing the logits (pre-softmax scores) of `model`, by Keras itself.

    - last layer Activation('softmax') / Softmax: sub-model ending at that layer's input;
    - last layer with activation='softmax' (Dense): a copy of the model (same config, same weights)
      whose last layer has activation='linear';
    - otherwise (already logits): the model itself.
    """
    import keras

    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and _act_name(last.activation) == "softmax"
    ):
        return keras.Model(model.inputs, last.input, name=model.name + "_logits")
    if _act_name(getattr(last, "activation", None)) == "softmax":
        cfg = model.get_config()
        layer_cfgs = cfg["layers"]
        target = [c for c in layer_cfgs if c["config"]["name"] == last.name]
        assert len(target) == 1
        target[0]["config"]["activation"] = "linear"
        clone = model.__class__.from_config(cfg)
        clone.set_weights(model.get_weights())
        return clone
    return model


def _act_name(act):
    if act is None:
        return None
    return getattr(act, "__name__", str(act))


def check_reload(path, x, expected, atol=0.0, weights_into=None):
    """Reload `path` with Keras and assert model.predict(x) reproduces `expected`.

    If `weights_into` is a model, `path` is a weights file loaded into it with load_weights.
    """
    import keras

    if weights_into is not None:
        weights_into.load_weights(path)
        m = weights_into
    else:
        m = keras.models.load_model(path, compile=False)
    got = m.predict(x, verbose=0)
    err = float(np.max(np.abs(got - expected)))
    assert err <= atol, f"{path}: reload max |diff| = {err}"
    return err


# ----------------------------------------------------------------------------------------------
# Structure dumps
# ----------------------------------------------------------------------------------------------

_SHOW_VALUES = {"layer_names", "weight_names", "keras_version", "backend", "name", "dtype"}


def _h5type(tid):
    """Short description of an HDF5 datatype as a C reader sees it."""
    cls = tid.get_class()
    if cls == h5py.h5t.STRING:
        cset = "utf8" if tid.get_cset() == h5py.h5t.CSET_UTF8 else "ascii"
        if tid.is_variable_str():
            return f"vlen-str/{cset}"
        pad = {h5py.h5t.STR_NULLPAD: "nullpad", h5py.h5t.STR_NULLTERM: "nullterm",
               h5py.h5t.STR_SPACEPAD: "spacepad"}[tid.get_strpad()]
        return f"fixed-str{tid.get_size()}/{cset}/{pad}"
    if cls == h5py.h5t.FLOAT:
        return f"f{tid.get_size() * 8}" + ("le" if tid.get_order() == h5py.h5t.ORDER_LE else "be")
    if cls == h5py.h5t.INTEGER:
        sign = "i" if tid.get_sign() == h5py.h5t.SGN_2 else "u"
        return f"{sign}{tid.get_size() * 8}" + ("le" if tid.get_order() == h5py.h5t.ORDER_LE else "be")
    if cls == h5py.h5t.OPAQUE:
        return f"opaque{tid.get_size()}"
    return f"class{cls}"


def _space(sid):
    t = sid.get_simple_extent_type()
    if t == h5py.h5s.SCALAR:
        return "scalar"
    if t == h5py.h5s.NULL:
        return "null"
    return "(" + ",".join(str(d) for d in sid.shape) + ")"


def _fmt_value(v):
    if isinstance(v, bytes):
        return repr(v.decode("utf8", "replace"))
    if isinstance(v, np.ndarray):
        if v.size == 0:
            return "[]"
        return "[" + ", ".join(_fmt_value(e) for e in v.tolist()) + "]"
    if isinstance(v, str):
        return repr(v)
    return repr(v)


def _attr_lines(obj, indent):
    lines = []
    for name in obj.attrs:
        aid = obj.attrs.get_id(name)
        desc = f"{_h5type(aid.get_type())} {_space(aid.get_space())}"
        if name in _SHOW_VALUES:
            val = obj.attrs[name]
            lines.append(f"{indent}@{name}: {desc} = {_fmt_value(val)}")
        else:
            val = obj.attrs[name]
            n = len(val) if isinstance(val, (bytes, str)) else None
            extra = f" ({n} chars of JSON)" if n is not None else ""
            lines.append(f"{indent}@{name}: {desc}{extra}")
    return lines


def _dset_line(name, ds, indent):
    layout = ds.id.get_create_plist().get_layout()
    lay = {h5py.h5d.CONTIGUOUS: "contiguous", h5py.h5d.CHUNKED: "chunked",
           h5py.h5d.COMPACT: "compact"}.get(layout, str(layout))
    filt = ds.compression or ""
    return f"{indent}{name}  {_h5type(ds.id.get_type())} {_space(ds.id.get_space())} {lay}{(' ' + filt) if filt else ''}"


def _natural(key):
    # Keras 3 `vars/<i>` datasets: numeric order (0, 1, 2, ..., 10), not lexicographic.
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def describe_h5_obj(f, title):
    """Walk an open h5py File, in creation-independent (sorted) order."""
    out = [f"== {title}", "/"]
    out += _attr_lines(f, "  ")

    def walk(group, prefix, depth):
        ind = "  " * depth
        for key in sorted(group.keys(), key=_natural):
            obj = group[key]
            if isinstance(obj, h5py.Group):
                out.append(f"{ind}{key}/")
                out.extend(_attr_lines(obj, ind + "  "))
                walk(obj, prefix + key + "/", depth + 1)
            else:
                out.append(_dset_line(key, obj, ind))
                out.extend(_attr_lines(obj, ind + "  "))

    walk(f, "/", 1)
    return out


def describe_h5(path, title=None):
    with h5py.File(path, "r") as f:
        return describe_h5_obj(f, title or os.path.basename(path))


def describe_keras(path, title=None):
    out = [f"== {title or os.path.basename(path)}  (ZIP)"]
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            method = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}.get(
                info.compress_type, str(info.compress_type))
            out.append(f"  member {info.filename}  {info.file_size} bytes  {method}")
        meta = json.loads(z.read("metadata.json"))
        if "date_saved" in meta:  # varies per run; keep this dump reproducible
            meta["date_saved"] = "<YYYY-MM-DD@HH:MM:SS>"
        out.append(f"  metadata.json = {json.dumps(meta)}")
        cfg = json.loads(z.read("config.json"))
        out.append(f"  config.json: module={cfg.get('module')!r} class_name={cfg.get('class_name')!r} "
                   f"top-level keys={sorted(cfg.keys())}")
        out.extend("    " + line for line in summarize_config(cfg["config"]))
        data = z.read("model.weights.h5")
    with h5py.File(io.BytesIO(data), "r") as f:
        out += ["  model.weights.h5:"] + ["    " + l for l in describe_h5_obj(f, "model.weights.h5")[1:]]
    return out


def summarize_config(cfg, depth=0):
    """One line per layer: class, name, inbound layers and the config keys that matter for import."""
    keep = ("filters", "kernel_size", "strides", "padding", "use_bias", "activation", "units",
            "epsilon", "momentum", "center", "scale", "axis", "pool_size", "rate", "target_shape",
            "data_format", "dilation_rate", "groups", "batch_shape", "batch_input_shape", "keepdims")
    lines = []
    for layer in cfg.get("layers", []):
        c = layer.get("config", {})
        inb = _inbound_names(layer.get("inbound_nodes", []))
        params = {k: c[k] for k in keep if k in c}
        lines.append("  " * depth + f"{layer['class_name']} name={c.get('name')!r}"
                     + (f" inbound={inb}" if inb else "") + (f" {params}" if params else ""))
        if "layers" in c:  # nested model
            lines.extend(summarize_config(c, depth + 1))
    for key in ("input_layers", "output_layers"):
        if key in cfg:
            lines.append("  " * depth + f"{key}={json.dumps(cfg[key])}")
    return lines


def _inbound_names(nodes):
    names = []

    def find(o):
        if isinstance(o, dict):
            if o.get("class_name") == "__keras_tensor__":
                names.append(o["config"]["keras_history"][0])
            else:
                for v in o.values():
                    find(v)
        elif isinstance(o, list):
            # legacy (h5 model_config) form: [[name, node_index, tensor_index, {}], ...]
            if len(o) >= 3 and isinstance(o[0], str) and isinstance(o[1], int):
                names.append(o[0])
            else:
                for v in o:
                    find(v)

    find(nodes)
    return names


def describe_h5_model_config(path):
    """Summary of the legacy `model_config` JSON attribute of a full-model .h5 file."""
    with h5py.File(path, "r") as f:
        raw = f.attrs["model_config"]
    cfg = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    lines = [f"  model_config: class_name={cfg['class_name']!r} top-level keys={sorted(cfg.keys())}"]
    lines += ["    " + l for l in summarize_config(cfg["config"])]
    return lines
