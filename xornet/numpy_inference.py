"""Inference in NumPy for the layers xornet runs, without importing TensorFlow.

Importing TensorFlow takes about three seconds, longer than predicting a
million rows of the XOR net. `xornet predict` therefore runs such networks
here, reading the same JSON and HDF5 files (Dense, Activation, Dropout,
BatchNormalization, LeakyReLU, Flatten of flat rows, Normalization); an activation not listed
below falls back to Keras. tests/test_numpy_inference.py checks the
numbers against Keras' own predictions.

Example:
    >>> config = read_model_json(Path("models/basic_model.json"))  # checked and translated to Keras 3
    >>> network = NumpyNetwork.from_config(config, read_weights_h5(weights, layer_classes(config)), weights)
    >>> network([[0.0, 1.0]]).shape
    (1, 1)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xornet.files import architecture
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
    "selu": lambda x: np.float32(1.0507009873554805) * np.where(
        x > 0, x, np.float32(1.6732632423543772) * np.expm1(np.minimum(x, 0))),
}


def _leaky_relu(slope: float):
    return lambda x: np.where(x > 0, x, x * np.float32(slope))


def _batch_normalization(gamma, beta, mean, variance, epsilon: float):
    """Inference-time BatchNormalization, in Keras' order: x * inv + (beta - mean * inv)."""
    inv = (1 / np.sqrt(variance + np.float32(epsilon))).astype("float32")
    if gamma is not None:
        inv = inv * gamma
    shift = -mean * inv + (beta if beta is not None else 0)
    return lambda x: x * inv + shift.astype("float32")


def _normalization(mean, variance):
    """Keras' Normalization: (x - mean) / maximum(sqrt(variance), epsilon), Keras' epsilon being 1e-7."""
    scale = np.maximum(np.sqrt(variance), np.float32(1e-7)).astype("float32")
    return lambda x: (x - mean) / scale


class NumpyNetwork:
    """A Sequential network evaluated with NumPy (float32): Dense steps and elementwise functions."""

    def __init__(self, steps: list, input_width: int, output_width: int):
        self.steps = steps
        self.input_width = input_width
        self.output_width = output_width

    def __call__(self, x) -> np.ndarray:
        return self._run(self.steps, x)

    def logits(self, x) -> np.ndarray | None:
        """What the network's last sigmoid or softmax is given, None when it ends otherwise.

        Keras' cross-entropies take these logits in `fit` and `evaluate` (a sigmoid
        or softmax output keeps them), so a loss from them is the loss Keras reports.
        """
        if not self.steps or not any(self.steps[-1][1] is ACTIVATIONS[name] for name in ("sigmoid", "softmax")):
            return None
        return self._run(self.steps[:-1], x)

    @staticmethod
    def _run(steps: list, x) -> np.ndarray:
        out = np.asarray(x, dtype="float32")
        for kind, a, b in steps:
            if kind == "dense":
                out = out @ a
                if b is not None:
                    out += b
            else:
                out = a(out)
        return out.astype("float32", copy=False)

    @classmethod
    def from_config(cls, config: dict, layer_weights: list, source: Path) -> "NumpyNetwork | None":
        """Build from a checked Keras 3 config (`check_architecture`) and `read_weights_h5` output.

        None when an activation has no NumPy version here (Keras runs those).
        """
        layers = config["config"]["layers"]
        width = layers[0]["config"]["batch_shape"][1]
        weighted = [layer["config"]["name"] for layer, made, _ in architecture.layer_weights(config) if made]
        if len(weighted) != len(layer_weights):
            raise InputError(
                f"{source}: the weights file has {len(layer_weights)} layers with weights, the model has "
                f"{len(weighted)} ({', '.join(weighted)})", hint="the weights belong to a different architecture")
        steps, pending, current = [], list(layer_weights), width
        for layer in layers[1:]:
            kind, options = layer["class_name"], layer["config"]
            if kind in ("Dropout", "Flatten"):  # Dropout is off when predicting; Flatten of flat rows is a no-op
                continue
            if kind == "LeakyReLU":
                steps.append(("activation", _leaky_relu(options.get("negative_slope", 0.3)), None))
                continue
            if kind == "Activation" or kind == "Dense":
                function = ACTIVATIONS.get(options.get("activation", "linear"))
                if function is None:
                    return None
            if kind == "Dense":
                units, use_bias = options["units"], options.get("use_bias", True)
                values = _weights_for(source, options["name"], pending, [(current, units)] + ([(units,)] if use_bias else []))
                steps.append(("dense", values[0], values[1] if use_bias else None))
                current = units
            if kind == "BatchNormalization":
                center, scale = options.get("center", True), options.get("scale", True)
                shapes = [(current,)] * (2 + center + scale)
                values = _weights_for(source, options["name"], pending, shapes)
                gamma = values.pop(0) if scale else None
                beta = values.pop(0) if center else None
                function = _batch_normalization(gamma, beta, values[0], values[1], options.get("epsilon", 1e-3))
            if kind == "Normalization" and options.get("mean") is not None:  # Normalization(mean=..., variance=...)
                values = [_broadcast(options[key], current) for key in ("mean", "variance")]
                function = _normalization(*values)
            elif kind == "Normalization":  # adapted; weights: mean, variance, count (of adapted rows; unused here)
                values = _weights_for(source, options["name"], pending, [(current,), (current,), ()])
                function = _normalization(values[0], values[1])
            if function is not ACTIVATIONS["linear"]:
                steps.append(("activation", function, None))
        return cls(steps, width, current)


def _broadcast(value, width: int) -> np.ndarray:
    """A Normalization's given mean or variance over `width` inputs: one number for all, or one per input (as
    files.architecture checked)."""
    return np.broadcast_to(np.asarray(value, dtype="float32").reshape(-1), (width,)).copy()


def _weights_for(source: Path, name: str, pending: list, expected: list[tuple]) -> list[np.ndarray]:
    """The next layer's stored weights, checked against the shapes it expects, as float32."""
    stored_name, values = pending.pop(0)
    check_weight_shapes(source, name, stored_name, expected, values)
    return [v.astype("float32") for v in values]
