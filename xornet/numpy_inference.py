"""Inference in NumPy for plain Dense/Activation/Dropout networks, without importing TensorFlow.

Importing TensorFlow takes about three seconds, longer than predicting a
million rows of the XOR net. `xornet predict` therefore runs such networks
here, reading the same JSON and HDF5 files; any layer, option or activation
not listed below falls back to Keras. tests/test_numpy_inference.py checks the
numbers against Keras' own predictions.

Example:
    >>> network = NumpyNetwork.from_config(json.load(open("models/basic_model.json")), weights)
    >>> network([[0.0, 1.0]]).shape
    (1, 1)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xornet.files.weights_h5 import check_weight_shapes
from xornet.errors import InputError


def _sigmoid(x):
    # Split by sign so exp never overflows; same values as 1 / (1 + exp(-x)).
    out = np.empty_like(x)
    positive = x >= 0
    out[positive] = 1 / (1 + np.exp(-x[positive]))
    e = np.exp(x[~positive])
    out[~positive] = e / (1 + e)
    return out


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


ACTIVATIONS = {
    "linear": lambda x: x,
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "softmax": _softmax,
    "softplus": lambda x: np.logaddexp(x, 0).astype(x.dtype),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "exponential": np.exp,
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
}
_DENSE_KEYS_IGNORED = {"name", "trainable", "dtype", "kernel_initializer", "bias_initializer",
                       "kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                       "bias_constraint", "quantization_config", "lora_rank", "lora_alpha", "batch_input_shape",
                       "batch_shape", "input_dim"}


def _activation_name(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("config"), str):
        return value["config"]  # Keras 3 may serialise activations as {"class_name": "function", "config": "tanh"}
    return None


class NumpyNetwork:
    """A Sequential network of Dense and activation steps evaluated with NumPy (float32)."""

    def __init__(self, steps: list, input_width: int, output_width: int):
        self.steps = steps
        self.input_width = input_width
        self.output_width = output_width

    def __call__(self, x) -> np.ndarray:
        out = np.asarray(x, dtype="float32")
        for kind, a, b in self.steps:
            if kind == "dense":
                out = out @ a
                if b is not None:
                    out += b
            else:
                out = a(out)
        return out.astype("float32", copy=False)

    @classmethod
    def from_config(cls, config: dict, layer_weights: list, source: Path) -> "NumpyNetwork | None":
        """Build from a `to_json()` dict and `read_weights_h5` output; None if a layer is not supported."""
        if config.get("class_name") != "Sequential" or not isinstance(config.get("config"), dict):
            return None
        layers = config["config"].get("layers")
        if not isinstance(layers, list) or not layers:
            return None
        width = _input_width(config["config"], layers)
        if width is None:
            return None
        if any(layer.get("class_name") not in ("InputLayer", "Dropout", "Activation", "Dense") for layer in layers):
            return None
        dense_names = [layer.get("config", {}).get("name", "dense") for layer in layers
                       if layer.get("class_name") == "Dense"]
        if len(dense_names) != len(layer_weights):
            raise InputError(
                f"{source}: the weights file has {len(layer_weights)} layers with weights, the model has "
                f"{len(dense_names)} ({', '.join(dense_names)})", hint="the weights belong to a different architecture")
        steps, pending, current = [], list(layer_weights), width
        for layer in layers:
            kind, options = layer.get("class_name"), layer.get("config", {})
            if kind == "InputLayer" or kind == "Dropout":
                continue
            if kind == "Activation":
                function = ACTIVATIONS.get(_activation_name(options.get("activation")))
                if function is None:
                    return None
                steps.append(("activation", function, None))
            elif kind == "Dense":
                if set(options) - _DENSE_KEYS_IGNORED - {"units", "activation", "use_bias"}:
                    return None
                function = ACTIVATIONS.get(_activation_name(options.get("activation", "linear")))
                if function is None or not isinstance(options.get("units"), int):
                    return None
                units, use_bias = options["units"], options.get("use_bias", True)
                expected = [(current, units)] + ([(units,)] if use_bias else [])
                name = options.get("name", "dense")
                stored_name, values = pending.pop(0)
                check_weight_shapes(source, name, stored_name, expected, values)
                kernel = values[0].astype("float32")
                bias = values[1].astype("float32") if use_bias else None
                steps.append(("dense", kernel, bias))
                if function is not ACTIVATIONS["linear"]:
                    steps.append(("activation", function, None))
                current = units
        return cls(steps, width, current)


def _input_width(model_config: dict, layers: list) -> int | None:
    shape = None
    first = layers[0].get("config", {})
    if layers[0].get("class_name") == "InputLayer":
        shape = first.get("batch_shape") or first.get("batch_input_shape")
    elif first.get("batch_input_shape"):
        shape = first["batch_input_shape"]
    elif isinstance(first.get("input_dim"), int):
        return first["input_dim"]
    if shape is None:
        shape = model_config.get("build_input_shape")
    if isinstance(shape, list) and len(shape) == 2 and isinstance(shape[1], int):
        return shape[1]
    return None
