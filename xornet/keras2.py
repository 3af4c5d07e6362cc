"""Translating Sequential architecture JSON between Keras 1.2, Keras 2 and Keras 3.

Keras 3 cannot read what Keras 1 and 2 wrote with `model.to_json()`, and
Keras 2 cannot read Keras 3's:

- Keras 1.2 spelled Dense as `output_dim`, `init`, `W_regularizer`, `bias`...
  and Dropout's rate as `p`.
- Keras 2 files have no top-level `module` key ("Could not locate class
  'Sequential'"), give the input shape as `batch_input_shape` (or `input_dim`)
  on the first layer or on an `InputLayer`, very old ones (up to about 2.2)
  store the Sequential config as a plain list of layers, 2.2.4-tf puts a
  `dtype` into initializer configs, and LeakyReLU's slope is `alpha`.
- Normalization (axis -1, adapted: mean and variance in the weights, not in
  the config) is written alike by Keras 2 (TF 2.6 and later) and Keras 3.
- Keras 3 files name the input shape `batch_shape` on an `InputLayer`, which
  Keras 2 rejects, wrap dtypes in `DTypePolicy` objects, and call LeakyReLU's
  slope `negative_slope`.

Every file, Keras 3's own included, is rebuilt layer by layer from the options
listed here, each checked for its type, so what reaches Keras or the NumPy
predictor is known data; anything else (another layer type, a constraint, an
unknown option) is refused with an error naming the layer and the option.

Example:
    >>> config = json.load(open("tests/fixtures/keras2/xor_model.json"))
    >>> to_keras3(config, "xor_model.json")["config"]["layers"][0]["config"]["batch_shape"]
    [None, 2]
"""

from __future__ import annotations

import math
from typing import Any

from xornet.errors import InputError

INITIALIZER_OPTIONS = ("kernel_initializer", "bias_initializer", "beta_initializer", "gamma_initializer",
                       "moving_mean_initializer", "moving_variance_initializer")
REGULARIZER_OPTIONS = ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "beta_regularizer",
                       "gamma_regularizer")
CONSTRAINT_OPTIONS = ("kernel_constraint", "bias_constraint", "beta_constraint", "gamma_constraint")
LAYER_OPTIONS = {
    "Dense": ("units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
              "kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint"),
    "Activation": ("activation",),
    "Dropout": ("rate", "noise_shape", "seed"),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
                           "moving_mean_initializer", "moving_variance_initializer", "beta_regularizer",
                           "gamma_regularizer", "beta_constraint", "gamma_constraint"),
    "LeakyReLU": ("negative_slope",),
    "Flatten": ("data_format",),
    "Normalization": ("axis", "invert", "mean", "variance"),
}
# Options every Keras layer carries that need no translation (or none at all).
COMMON_OPTIONS = ("name", "trainable", "dtype", "batch_input_shape", "batch_shape", "input_dim", "batch_size",
                  "input_shape", "build_config", "quantization_config", "lora_rank", "lora_alpha", "input_dtype")
# Options that change nothing at inference when they have these values (Keras 2 and 3 BatchNormalization).
INERT_OPTIONS = {"synchronized": (False, None), "renorm": (False, None), "renorm_clipping": (None,),
                 "renorm_momentum": None, "fused": None, "virtual_batch_size": (None,), "adjustment": (None,)}
# Keras 1.2 option names -> Keras 2 and 3 names.
KERAS1_NAMES = {"output_dim": "units", "init": "kernel_initializer", "W_regularizer": "kernel_regularizer",
                "b_regularizer": "bias_regularizer", "W_constraint": "kernel_constraint",
                "b_constraint": "bias_constraint", "bias": "use_bias", "p": "rate", "alpha": "negative_slope"}
KERAS1_INITIALIZERS = {"uniform": "random_uniform", "normal": "random_normal", "zero": "zeros", "one": "ones"}
INITIALIZERS = ("VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
                "LecunNormal", "RandomUniform", "RandomNormal", "TruncatedNormal", "Zeros", "Ones", "Constant",
                "Orthogonal", "Identity")
REGULARIZERS = ("L1", "L2", "L1L2")
# The initializer and regularizer options Keras 2 knows (Keras 3 added others, e.g. input_axes).
KERAS2_OBJECT_OPTIONS = ("scale", "mode", "distribution", "seed", "mean", "stddev", "minval", "maxval", "value",
                         "gain", "l1", "l2")
KERAS_ACTIVATIONS = (
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish",
    "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid",
    "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax",
    "squareplus", "swish", "tanh", "tanh_shrink", "threshold")  # fmt: skip


def sequential_layers(config: dict, source: str) -> tuple[str, list]:
    """The Sequential model's name and its list of layer dicts, as written (list-style or dict-style)."""
    if config.get("class_name") != "Sequential":
        raise InputError(
            f"{source}: a {config.get('class_name')!r} model, expected a Sequential model (xornet runs Sequential models)")
    inner = config.get("config")
    if isinstance(inner, list):  # Keras 1 - 2.2: the config is the list of layers
        return "sequential", inner
    if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
        name = inner.get("name")
        return name if isinstance(name, str) else "sequential", inner["layers"]
    raise InputError(f"{source}: Sequential model without a list of layers")


def _input_width(config: dict, layers: list, source: str) -> tuple[int, list]:
    """The input width and the layers after any InputLayer."""
    first = layers[0] if layers else {}
    options = first.get("config") or {}
    shape = options.get("batch_input_shape") or options.get("batch_shape")
    if shape is None and _is_int(options.get("input_dim")):
        shape = [None, options["input_dim"]]
    if shape is None and isinstance(options.get("input_shape"), list):
        shape = [None, *options["input_shape"]]
    inner = config.get("config")
    if shape is None and isinstance(inner, dict):
        shape = inner.get("build_input_shape")
    rest = layers[1:] if first.get("class_name") == "InputLayer" else layers
    if not rest:
        raise InputError(f"{source}: the model has no layers besides its input")
    if isinstance(shape, list) and len(shape) > 2 and rest:
        index = len(layers) - len(rest)
        raise InputError(
            f"{source}: layer {index} ({rest[0].get('class_name')}) is not a layer xornet can run on input of shape "
            f"{_shape_text(shape)}", hint="xornet runs networks over flat rows of N inputs")
    if not (isinstance(shape, list) and len(shape) == 2 and _is_int(shape[1]) and shape[1] > 0):
        raise InputError(
            f"{source}: the first layer has no input shape (batch_input_shape or input_dim) of the form [null, N]",
            hint="xornet translates networks over flat rows of N inputs")
    return shape[1], rest


def _shape_text(shape: list) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def activation_name(value: Any) -> str | None:
    """A Keras activation's name from its serialised forms: "tanh" or {"class_name": "function", "config": "tanh"}."""
    if isinstance(value, dict) and value.get("class_name") == "function":
        value = value.get("config")
    return value if isinstance(value, str) and value in KERAS_ACTIVATIONS else None


def _object(kind: str, value: Any, allowed: tuple, where: str) -> Any:
    """An initializer or regularizer: a name stays a name, a {class_name, config} gets Keras 3's module."""
    if value is None:
        return value
    if isinstance(value, str):
        return KERAS1_INITIALIZERS.get(value, value)
    if isinstance(value, dict) and value.get("name") in ("WeightRegularizer", "L1L2Regularizer"):
        value = {"class_name": "L1L2", "config": {"l1": value.get("l1", 0.0), "l2": value.get("l2", 0.0)}}  # Keras 1
    if not isinstance(value, dict) or value.get("class_name") not in allowed:
        name = value.get("class_name") if isinstance(value, dict) else value
        raise InputError(f"{where}: cannot translate {kind} {name!r} (translated: {', '.join(allowed)})")
    options = value.get("config") if value.get("config") is not None else {}
    if not isinstance(options, dict) or not all(_is_number(v) or v is None or isinstance(v, str)
                                                for v in options.values()):
        raise InputError(f"{where}: {kind} {value['class_name']}: expected a config of plain values")
    options = {k: v for k, v in options.items() if k != "dtype"}  # Keras 2.2.4-tf wrote dtype; no Keras reads it
    if value["class_name"] == "VarianceScaling" and options.get("distribution") == "normal":
        options["distribution"] = "truncated_normal"  # Keras 2.0's "normal" was truncated
    return {"module": f"keras.{kind}s", "class_name": value["class_name"], "config": options, "registered_name": None}


def _check_value(kind: str, key: str, value: Any, where: str) -> Any:
    """One layer option, checked for the type Keras expects; returns it in Keras 3's form."""
    if key == "units":
        ok = _is_int(value) and value > 0
        expected = "a positive whole number"
    elif key in ("use_bias", "center", "scale"):
        ok, expected = isinstance(value, bool), "true or false"
    elif key == "activation":
        value = activation_name(value if value is not None else "linear")
        ok, expected = value is not None, f"a Keras activation name ({', '.join(KERAS_ACTIVATIONS[:6])}, ...)"
    elif key == "rate":
        ok, expected = _is_number(value) and 0 <= value < 1, "a number from 0 to below 1"
    elif key in ("epsilon",):
        ok, expected = _is_number(value) and value > 0, "a positive number"
    elif key in ("momentum", "negative_slope"):
        ok, expected = _is_number(value), "a number"
    elif key == "axis":
        value = value[0] if isinstance(value, list) and len(value) == 1 else value
        ok, expected = value in (-1, 1) and not isinstance(value, bool), "the last axis (-1)"
        value = -1 if ok else value
    elif key == "invert":
        ok, expected = value is False, "false (xornet runs Normalization, not its inverse)"
    elif key in ("mean", "variance"):  # null: adapted, the values live in the weights file; else given here
        values = value if isinstance(value, list) else [value]
        ok = value is None or (bool(values) and all(map(_is_number, values)) and (key == "mean" or min(values) >= 0))
        expected = f"null (adapted) or {'a number' if key == 'mean' else 'a number at least 0'} or a list of them"
    elif key == "seed":
        ok, expected = value is None or _is_int(value), "null or a whole number"
    elif key == "noise_shape":
        ok, expected = value is None, "null"
    elif key == "data_format":
        ok, expected = value in (None, "channels_last", "channels_first"), "channels_last or channels_first"
    elif key.endswith("_constraint"):
        ok, expected = value is None, "no constraint (null)"
        if not ok:
            raise InputError(f"{where}: cannot translate option {key}")
    elif key.endswith("_initializer"):
        return _object("initializer", value, INITIALIZERS, f"{where}, {key}")
    else:  # regularizers
        return _object("regularizer", value, REGULARIZERS, f"{where}, {key}")
    if not ok:
        raise InputError(f"{where}: option {key}: expected {expected}, received {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _translate_layer(index: int, layer: dict, source: str, module: bool) -> dict:
    kind = layer.get("class_name")
    options = {KERAS1_NAMES.get(k, k): v for k, v in (layer.get("config") or {}).items()}
    name = options.get("name", f"layer_{index}")
    where = f"{source}: layer {index} ({name!r}, {kind})"
    if kind not in LAYER_OPTIONS:
        raise InputError(f"{where}: cannot translate layer type {kind} (translated: {', '.join(LAYER_OPTIONS)})")
    for key in set(INERT_OPTIONS) & set(options):
        value, inert = options.pop(key), INERT_OPTIONS[key]
        if inert is not None and value not in inert:
            raise InputError(f"{where}: cannot translate option {key} (other than {inert[0]})")
    unknown = sorted(set(options) - set(LAYER_OPTIONS[kind]) - set(COMMON_OPTIONS))
    if unknown:
        raise InputError(f"{where}: cannot translate option {unknown[0]}")
    trainable = options.get("trainable", True)
    out: dict = {"name": name, "trainable": trainable if isinstance(trainable, bool) else True, "dtype": "float32"}
    for key in LAYER_OPTIONS[kind]:
        if key in options:
            out[key] = _check_value(kind, key, options[key], where)
    if kind == "Dense" and "units" not in out:
        raise InputError(f"{where}: option units is missing")
    if kind == "Activation" and "activation" not in out:
        raise InputError(f"{where}: option activation is missing")
    if kind == "Normalization" and (out.get("mean") is None) != (out.get("variance") is None):
        raise InputError(f"{where}: options mean and variance: expected both or neither (adapted), received only "
                         f"{'mean' if out.get('mean') is not None else 'variance'}")
    translated = {"class_name": kind, "config": out}
    if module:
        translated = {"module": "keras.layers", **translated, "registered_name": None}
    return translated


def to_keras3(config: dict, source: str) -> dict:
    """Sequential architecture JSON (as a dict, any Keras) -> what Keras 3's `model_from_json` reads."""
    name, layers = sequential_layers(config, source)
    width, body_layers = _input_width(config, layers, source)
    offset = len(layers) - len(body_layers)
    body = [_translate_layer(i + offset, layer, source, module=True) for i, layer in enumerate(body_layers)]
    input_layer = {"module": "keras.layers", "class_name": "InputLayer",
                   "config": {"batch_shape": [None, width], "dtype": "float32", "name": "input_layer"},
                   "registered_name": None}
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": name, "trainable": True, "layers": [input_layer, *body]},
            "registered_name": None}


def to_keras2(config: dict, source: str) -> dict:
    """Keras 3 Sequential architecture JSON (as a dict) -> what Keras 2's `model_from_json` reads."""
    name, layers = sequential_layers(config, source)
    width, layers = _input_width(config, layers, source)
    body = [_translate_layer(i, layer, source, module=False) for i, layer in enumerate(layers)]
    for layer in body:
        options = layer["config"]
        for key, value in options.items():
            if isinstance(value, dict) and "module" in value:  # Keras 2 wants {class_name, config} with its own keys
                kept = {k: v for k, v in value["config"].items() if k in KERAS2_OBJECT_OPTIONS}
                options[key] = {"class_name": value["class_name"], "config": kept}
        if "negative_slope" in options:
            options["alpha"] = options.pop("negative_slope")
    body[0]["config"]["batch_input_shape"] = [None, width]
    return {"class_name": "Sequential", "config": {"name": name, "layers": body},
            "keras_version": "2.15.0", "backend": "tensorflow"}
