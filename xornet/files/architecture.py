"""Checking a saved model's architecture JSON before anything uses it.

Every command that reads a saved model (summary, predict, evaluate, plot,
export) goes through `check_architecture`, in this order:

1. the structure: a Sequential model whose layers are a list of
   {class_name, config} objects, with plain layer names and sane nesting;
2. every layer class against the layers xornet can run (`RUNNABLE`), refused
   by name and position otherwise;
3. anything that would run code (Lambda layers, marshalled functions, classes
   from outside Keras) anywhere in the file, the compile section included;
4. the translation into a checked Keras 3 config (`xornet.keras2.to_keras3`);
5. the parameter count, against what this machine's memory holds.

Example:
    >>> config = check_architecture(json.load(open("models/basic_model.json")), "basic_model.json")
    >>> parameter_count(config)
    41
"""

from __future__ import annotations

import math
import os

from xornet.errors import InputError
from xornet.keras2 import sequential_layers, to_keras3

RUNNABLE = ("InputLayer", "Dense", "Activation", "Dropout", "BatchNormalization", "LeakyReLU", "Flatten",
            "Normalization")
MAX_DEPTH = 32  # nesting of JSON objects and lists; Keras' own files need about 8
MAX_LAYERS = 10_000
CODE_CLASSES = ("Lambda", "TFOpLambda", "__lambda__", "SlicingOpLambda")


def check_architecture(config, source: str) -> dict:
    """A model's architecture (parsed JSON) checked and translated to a Keras 3 Sequential config.

    Raises InputError naming the file, the layer and what is wrong.
    """
    _check_depth(config, source)
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str) or "config" not in config:
        raise InputError(f"{source}: JSON without class_name and config, expected a Keras model (model.to_json())")
    _, layers = sequential_layers(config, source)
    _check_layers(layers, source)
    _refuse_code(config, source)
    translated = to_keras3(config, source)
    _check_size(translated, source)
    _check_given_statistics(translated, source)
    return translated


def _check_depth(node, source: str) -> None:
    stack = [(node, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(f"{source}: JSON nested more than {MAX_DEPTH} levels deep, expected a Keras model")
        if isinstance(node, dict):
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)


def _check_layers(layers: list, source: str) -> None:
    if len(layers) > MAX_LAYERS:
        raise InputError(f"{source}: {len(layers)} layers, more than the {MAX_LAYERS} xornet reads")
    for index, layer in enumerate(layers):
        where = f"{source}: layer {index}"
        if not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str):
            raise InputError(f"{where}: expected an object with a class_name, received {_kind(layer)}")
        kind = layer["class_name"]
        if not (kind.isidentifier() and len(kind) <= 60):
            raise InputError(f"{where}: expected a layer class name, received {kind!r:.60}")
        if kind in CODE_CLASSES:
            raise InputError(f"{source}: refused: a {kind} layer would run code from the file")
        if kind not in RUNNABLE:
            raise InputError(f"{where} ({kind}) is not a layer xornet can run (it runs: {', '.join(RUNNABLE[1:])})")
        if not isinstance(layer.get("config"), dict):
            raise InputError(f"{where} ({kind}): expected a config object, received {_kind(layer.get('config'))}")
        name = layer["config"].get("name")
        if name is not None and not (isinstance(name, str) and 0 < len(name) <= 200
                                     and "/" not in name and ".." not in name and name.isprintable()):
            raise InputError(f"{where} ({kind}): expected a plain layer name (no '/' or '..'), received {name!r:.60}")


def _kind(value) -> str:
    return "null" if value is None else f"a {type(value).__name__}"


def _refuse_code(node, source: str) -> None:
    """Refuse what would run code: Lambda layers, marshalled functions, classes from outside Keras.

    A {"module": "builtins", "class_name": "function", "config": "<name>"} is how
    Keras 3 writes a reference to one of its own losses, metrics or activations
    by name: data, not code (Keras resolves such a name among its own functions only).
    """
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        class_name, module = node.get("class_name"), node.get("module")
        if class_name in CODE_CLASSES or node.get("function_type") == "lambda":
            raise InputError(f"{source}: refused: a {class_name or 'lambda'} would run code from the file")
        named_function = module == "builtins" and class_name == "function" and isinstance(node.get("config"), str)
        if module is not None and not named_function and not (isinstance(module, str) and module.startswith("keras")):
            raise InputError(
                f"{source}: refused: class {class_name!r} from module {module!r} is not part of Keras; "
                "loading it could run code from outside Keras")
        registered = node.get("registered_name")
        if isinstance(registered, str) and ">" in registered:
            raise InputError(f"{source}: refused: {registered!r} is a custom class registered outside Keras")
        stack.extend(node.values())


FLOAT32, INT64 = 4, 8  # bytes per weight, as Keras counts them in the summary

# The weights each layer class makes over `width` inputs: (shape, bytes per value, trainable), in Keras' order;
# classes not here make none.
LAYER_WEIGHTS = {
    "Dense": lambda o, width: [((width, o["units"]), FLOAT32, True)] + (
        [((o["units"],), FLOAT32, True)] if o.get("use_bias", True) else []),
    "BatchNormalization": lambda o, width: [((width,), FLOAT32, True)] * (o.get("scale", True) + o.get("center", True))
                                           + [((width,), FLOAT32, False)] * 2,
    "Normalization": lambda o, width: [] if o.get("mean") is not None else  # given in the config, not weights
                     [((width,), FLOAT32, False)] * 2 + [((), INT64, False)],  # adapted: mean, variance, count
    "Activation": lambda o, width: [], "Dropout": lambda o, width: [], "LeakyReLU": lambda o, width: [],
    "Flatten": lambda o, width: [],  # of flat rows, the only Flatten check_architecture lets through
}


def layer_weights(config: dict):
    """Each layer of a checked Keras 3 Sequential config after its input: (layer, the weights it makes as
    LAYER_WEIGHTS lists them, its output width).

    Example:
        >>> [len(made) for _, made, _ in layer_weights(config)]  # the XOR net
        [2, 0, 2, 0]
    """
    layers = config["config"]["layers"]
    width = layers[0]["config"]["batch_shape"][1]
    for layer in layers[1:]:
        made = LAYER_WEIGHTS.get(layer["class_name"], lambda o, width: [])(layer["config"], width)
        width = layer["config"]["units"] if layer["class_name"] == "Dense" else width
        yield layer, made, width


def parameter_count(config: dict) -> int:
    """The number of weights a checked Keras 3 Sequential config has, as Keras' `count_params` counts them."""
    return sum(math.prod(shape) for _, made, _ in layer_weights(config) for shape, _, _ in made)


def _check_given_statistics(config: dict, source: str) -> None:
    """A Normalization given its mean and variance has one value for all inputs or one per input, as Keras needs."""
    for layer, _, width in layer_weights(config):
        options = layer["config"]
        for key in ("mean", "variance") if layer["class_name"] == "Normalization" else ():
            count = len(options[key]) if isinstance(options[key], list) else 1
            if options[key] is not None and count not in (1, width):
                raise InputError(f"{source}: layer {options['name']!r} (Normalization): option {key}: "
                                 f"expected 1 or {width} values (one per input), received {count}")


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def _check_size(config: dict, source: str) -> None:
    count = parameter_count(config)
    limit = _memory_bytes() // 16  # 4 bytes per float32 weight, held up to 3 times while loading, and room to spare
    if count > limit:
        raise InputError(
            f"{source}: the network has {count:,} parameters ({count * 4 / 2**30:,.1f} GiB as float32), "
            f"more than this machine's memory holds (xornet loads up to {limit:,} here)",
            hint="is the architecture file the one you meant?")


# Output activations whose outputs are probabilities (of a class, or of each class); any other gives values.
PROBABILITY_ACTIVATIONS = ("sigmoid", "softmax")


def outputs_values(activation: str | None) -> bool:
    """Whether a model ending in `activation` (`output_activation`) gives values, not probabilities: a regression.

    Example:
        >>> outputs_values("linear"), outputs_values("softmax")
        (True, False)
    """
    return activation is not None and activation not in PROBABILITY_ACTIVATIONS


# Layers that pass their input's values through (or drop some of them) without an activation of their own.
PASS_THROUGH_LAYERS = {"InputLayer", "Dropout", "Flatten", "Reshape", "GaussianNoise", "GaussianDropout"}


def output_activation(config: dict) -> str | None:
    """What gives a checked Sequential config its outputs: the last layer's activation ("sigmoid", "linear"; a
    Softmax layer's "softmax"), or the class name of a last layer without one ("LeakyReLU").

    Example:
        >>> output_activation(config)  # the XOR net
        'sigmoid'
    """
    for layer in reversed(config["config"]["layers"]):
        kind, options = layer["class_name"], layer.get("config") or {}
        if kind in PASS_THROUGH_LAYERS:
            continue
        if kind == "Softmax":
            return "softmax"
        activation = options.get("activation")
        if isinstance(activation, dict):  # a serialized function: {"class_name": "function", "config": "relu", ...}
            activation = activation.get("config")
        return activation if isinstance(activation, str) else kind
    return None
