"""Translating Sequential architecture JSON between Keras 2 and Keras 3.

Keras 3 cannot read what Keras 2 (2.0 to 2.15, standalone or `tf.keras`) wrote
with `model.to_json()`, and Keras 2 cannot read Keras 3's:

- Keras 2 files have no top-level `module` key ("Could not locate class
  'Sequential'"), give the input shape as `batch_input_shape` (or `input_dim`)
  on the first layer or on an `InputLayer`, and very old ones (2.0 to about
  2.2) store the Sequential config as a plain list of layers.
- Keras 3 files name the input shape `batch_shape` on an `InputLayer`, which
  Keras 2 rejects, and wrap dtypes in `DTypePolicy` objects.

Both directions rebuild each layer from the options listed here, so anything
else (another layer type, a constraint, a custom object) is refused with an
error naming the layer and the option rather than passed through.

Example:
    >>> config = json.load(open("tests/fixtures/keras2/xor_model.json"))
    >>> is_keras2(config)
    True
    >>> to_keras3(config, "xor_model.json")["module"]
    'keras'
"""

from __future__ import annotations

from typing import Any

from xornet.errors import InputError

LAYER_OPTIONS = {
    "Dense": ("units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
              "kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint"),
    "Activation": ("activation",),
    "Dropout": ("rate", "noise_shape", "seed"),
}
# Options every Keras layer carries that need no translation (or none at all).
COMMON_OPTIONS = ("name", "trainable", "dtype", "batch_input_shape", "batch_shape", "input_dim", "batch_size",
                  "input_shape", "build_config", "quantization_config", "lora_rank", "lora_alpha")
INITIALIZERS = ("VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
                "LecunNormal", "RandomUniform", "RandomNormal", "TruncatedNormal", "Zeros", "Ones", "Constant",
                "Orthogonal", "Identity")
REGULARIZERS = ("L1", "L2", "L1L2")
# The initializer and regularizer options Keras 2 knows (Keras 3 added others, e.g. input_axes).
KERAS2_OBJECT_OPTIONS = ("scale", "mode", "distribution", "seed", "mean", "stddev", "minval", "maxval", "value",
                         "gain", "l1", "l2")


def is_keras2(config: dict) -> bool:
    """True for architecture JSON written by Keras 2 (no top-level `module`, or list-style layers)."""
    inner = config.get("config")
    return "module" not in config or isinstance(inner, list) or (
        isinstance(inner, dict) and any("batch_input_shape" in (layer.get("config") or {})
                                        for layer in inner.get("layers", []) if isinstance(layer, dict)))


def _layers_of(config: dict, source: str) -> tuple[str, list]:
    if config.get("class_name") != "Sequential":
        raise InputError(
            f"{source}: cannot translate a Keras 2 {config.get('class_name')!r} model, xornet translates Sequential models")
    inner = config.get("config")
    if isinstance(inner, list):  # Keras 2.0 - 2.2: the config is the list of layers
        return "sequential", inner
    if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
        return inner.get("name", "sequential"), inner["layers"]
    raise InputError(f"{source}: Sequential model without a list of layers")


def _input_width(layers: list, source: str) -> tuple[int, list]:
    """The input width and the layers after any InputLayer."""
    first = layers[0] if layers else {}
    options = first.get("config") or {}
    shape = options.get("batch_input_shape") or options.get("batch_shape")
    if shape is None and isinstance(options.get("input_dim"), int):
        shape = [None, options["input_dim"]]
    if shape is None and isinstance(options.get("input_shape"), list):
        shape = [None, *options["input_shape"]]
    if not (isinstance(shape, list) and len(shape) == 2 and isinstance(shape[1], int)):
        raise InputError(
            f"{source}: the first layer has no input shape (batch_input_shape or input_dim) of the form [null, N]",
            hint="xornet translates networks over flat rows of N inputs")
    rest = layers[1:] if first.get("class_name") == "InputLayer" else layers
    return shape[1], rest


def _object(kind: str, value: Any, allowed: tuple, where: str) -> Any:
    """An initializer or regularizer: a name stays a name, a {class_name, config} gets Keras 3's module."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, dict) or value.get("class_name") not in allowed:
        name = value.get("class_name") if isinstance(value, dict) else value
        raise InputError(f"{where}: cannot translate {kind} {name!r} (translated: {', '.join(allowed)})")
    options = dict(value.get("config") or {})
    if value["class_name"] == "VarianceScaling" and options.get("distribution") == "normal":
        options["distribution"] = "truncated_normal"  # Keras 2.0's "normal" was truncated
    return {"module": f"keras.{kind}s", "class_name": value["class_name"], "config": options, "registered_name": None}


def _translate_layer(index: int, layer: dict, source: str, module: bool) -> dict:
    kind = layer.get("class_name")
    options = layer.get("config") or {}
    name = options.get("name", f"layer_{index}")
    where = f"{source}: layer {index} ({name!r}, {kind})"
    if kind not in LAYER_OPTIONS:
        raise InputError(f"{where}: cannot translate layer type {kind} (translated: {', '.join(LAYER_OPTIONS)})")
    unknown = sorted(set(options) - set(LAYER_OPTIONS[kind]) - set(COMMON_OPTIONS))
    if unknown:
        raise InputError(f"{where}: cannot translate option {unknown[0]}")
    out: dict = {"name": name, "trainable": options.get("trainable", True), "dtype": "float32"}
    for key in LAYER_OPTIONS[kind]:
        if key not in options:
            continue
        value = options[key]
        if key.endswith("_initializer"):
            value = _object("initializer", value, INITIALIZERS, f"{where}, {key}")
        elif key.endswith("_regularizer"):
            value = _object("regularizer", value, REGULARIZERS, f"{where}, {key}")
        elif key.endswith("_constraint") and value is not None:
            raise InputError(f"{where}: cannot translate option {key}")
        elif key == "activation" and not isinstance(value, str):
            raise InputError(f"{where}: cannot translate a non-built-in activation {value!r}")
        out[key] = value
    translated = {"class_name": kind, "config": out}
    if module:
        translated = {"module": "keras.layers", **translated, "registered_name": None}
    return translated


def to_keras3(config: dict, source: str) -> dict:
    """Keras 2 Sequential architecture JSON (as a dict) -> what Keras 3's `model_from_json` reads."""
    name, layers = _layers_of(config, source)
    width, layers = _input_width(layers, source)
    body = [_translate_layer(i, layer, source, module=True) for i, layer in enumerate(layers)]
    input_layer = {"module": "keras.layers", "class_name": "InputLayer",
                   "config": {"batch_shape": [None, width], "dtype": "float32", "name": "input_layer"},
                   "registered_name": None}
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": name, "trainable": True, "layers": [input_layer, *body]},
            "registered_name": None}


def to_keras2(config: dict, source: str) -> dict:
    """Keras 3 Sequential architecture JSON (as a dict) -> what Keras 2's `model_from_json` reads."""
    name, layers = _layers_of(config, source)
    width, layers = _input_width(layers, source)
    body = [_translate_layer(i, layer, source, module=False) for i, layer in enumerate(layers)]
    for layer in body:
        for key, value in layer["config"].items():
            if isinstance(value, dict) and "module" in value:  # Keras 2 wants {class_name, config} with its own keys
                options = {k: v for k, v in value["config"].items() if k in KERAS2_OBJECT_OPTIONS}
                layer["config"][key] = {"class_name": value["class_name"], "config": options}
    body[0]["config"]["batch_input_shape"] = [None, width]
    return {"class_name": "Sequential", "config": {"name": name, "layers": body},
            "keras_version": "2.15.0", "backend": "tensorflow"}
