"""Parity fixtures for the element-wise activations (Sources/NN/Layers/PointwiseActivation.swift).

Run from the repository root:

    KERAS_BACKEND=jax python3 Fixtures/scripts/make_activation_fixtures.py

Made with torch 2.15.0 (CPU) and Keras 3.15.1 (JAX backend, jax 0.10.2). Writes
Fixtures/activations/activations.npz with

  x                     float32 (96,): a fixed grid over [-8, 8) plus the kinks and edges
                        (-3, 0, 3, 6, the Keras ReLU threshold and max_value, ±2.5)
  torch_<name>          float32 (96,): the PyTorch module applied to x
  keras_<name>          float32 (96,): the Keras layer / activation applied to x

tf.keras 2.x's hard_sigmoid (0.2 x + 0.5, clipped) is not here: tensorflow is not installed
in the environment the fixtures were made in, see Fixtures/activations/README.md.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np
import torch

import keras
from keras import layers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Fixtures", "activations")


def inputs():
    grid = np.linspace(-8, 8, 80, endpoint=False)
    special = [-3, 0, 3, 6, -2.5, 2.5, 0.5, 4, -1e-3, 1e-3, 2.999, -2.999, 5.999, 6.001, 0.499, 0.501]
    return np.concatenate([grid, special]).astype(np.float32)


def main():
    if keras.backend.backend() != "jax":
        raise SystemExit("run with KERAS_BACKEND=jax")
    x = inputs()
    t = torch.from_numpy(x)
    out = {"x": x}
    nn = torch.nn
    torch_modules = {
        "relu6": nn.ReLU6(),
        "leaky_relu_0.1": nn.LeakyReLU(0.1),
        "elu_0.7": nn.ELU(0.7),
        "selu": nn.SELU(),
        "gelu": nn.GELU(),
        "gelu_tanh": nn.GELU(approximate="tanh"),
        "silu": nn.SiLU(),
        "hardswish": nn.Hardswish(),
        "hardsigmoid": nn.Hardsigmoid(),
    }
    with torch.no_grad():
        for name, m in torch_modules.items():
            out["torch_" + name] = m(t).numpy().astype(np.float32)

    keras_layers = {
        # Keras' ReLU layer with all three options, and each alone.
        "relu_max4_slope0.2_t0.5": layers.ReLU(max_value=4.0, negative_slope=0.2, threshold=0.5),
        "relu_max6": layers.ReLU(max_value=6.0),
        "relu_slope0.3": layers.ReLU(negative_slope=0.3),
        "relu_t1": layers.ReLU(threshold=1.0),
        "leaky_relu_layer": layers.LeakyReLU(),          # default negative_slope 0.3
        "elu_layer_0.7": layers.ELU(alpha=0.7),
    }
    for name, layer in keras_layers.items():
        out["keras_" + name] = np.asarray(layer(x[None, :]))[0].astype(np.float32)
    # Activations by name, as Activation('<name>') and activation='<name>' use them.
    for name in ["relu6", "leaky_relu", "elu", "selu", "gelu", "swish", "silu", "hard_sigmoid",
                 "hard_swish", "hard_silu"]:
        out["keras_" + name] = np.asarray(layers.Activation(name)(x[None, :]))[0].astype(np.float32)
    out["keras_gelu_approximate"] = np.asarray(keras.activations.gelu(x, approximate=True)).astype(np.float32)

    os.makedirs(OUT, exist_ok=True)
    np.savez(os.path.join(OUT, "activations.npz"), **out)
    print("wrote", len(out), "arrays; keras", keras.__version__, "torch", torch.__version__)


if __name__ == "__main__":
    main()
