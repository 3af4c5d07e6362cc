"""Experiment configs: the YAML schema, its defaults and its validation.

A config is checked completely before TensorFlow is imported. Errors name the
file, the line, the dotted key, what was expected and what was received. The
defaults are the reference XOR experiment, so `Config()` is that experiment.

Example:
    >>> from xornet.config import load_config
    >>> config = load_config("configs/xor.yaml", overrides=["training.epochs=50"])
    >>> config.training.epochs
    50
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    AfterValidator,
    BeforeValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from xornet.errors import InputError
from xornet.keras_names import ACTIVATIONS, INITIALIZERS, LOSSES, MAX_PARAMETERS, METRICS, OPTIMIZERS, SHORT_NAMES
from xornet.text import did_you_mean, dotted_key, shown_path

TRUTH_TABLES = ("xor", "and", "or", "nand", "nor", "xnor")


def _one_of(kind: str, choices: tuple[str, ...], examples: int = 6):
    def check(value: str) -> str:
        if value not in choices:
            shown = ", ".join(choices[:examples]) + (", ..." if len(choices) > examples else "")
            raise ValueError(
                f"expected a Keras {kind} name ({shown}), received {value!r}"
                + did_you_mean(value, choices)
            )
        return value

    return AfterValidator(check)


Activation = Annotated[str, _one_of("activation", ("tanh", "sigmoid", "relu") + ACTIVATIONS)]
Initializer = Annotated[str, _one_of("initializer", INITIALIZERS)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DenseLayer(_Section):
    type: Literal["Dense"]
    units: int = Field(gt=0, le=MAX_PARAMETERS)
    activation: Activation | None = None
    use_bias: bool = True
    input_dim: int | None = Field(default=None, gt=0, le=MAX_PARAMETERS)
    kernel_initializer: Initializer = "glorot_uniform"
    bias_initializer: Initializer = "zeros"
    name: str | None = None


class ActivationLayer(_Section):
    type: Literal["Activation"]
    activation: Activation
    name: str | None = None


class DropoutLayer(_Section):
    type: Literal["Dropout"]
    rate: float = Field(ge=0, lt=1)
    name: str | None = None


class BatchNormalizationLayer(_Section):
    type: Literal["BatchNormalization"]
    momentum: float = Field(default=0.99, ge=0, le=1)
    epsilon: float = Field(default=0.001, gt=0)
    center: bool = True
    scale: bool = True
    name: str | None = None


class LeakyReLULayer(_Section):
    type: Literal["LeakyReLU"]
    negative_slope: float = 0.3
    name: str | None = None


class FlattenLayer(_Section):
    type: Literal["Flatten"]
    name: str | None = None


Layer = Annotated[Union[DenseLayer, ActivationLayer, DropoutLayer, BatchNormalizationLayer, LeakyReLULayer,
                        FlattenLayer], Field(discriminator="type")]
LAYER_CLASSES = {"Dense": DenseLayer, "Activation": ActivationLayer, "Dropout": DropoutLayer,
                 "BatchNormalization": BatchNormalizationLayer, "LeakyReLU": LeakyReLULayer, "Flatten": FlattenLayer}
LAYER_TYPES = tuple(LAYER_CLASSES)
DATA_PATH_KEYS = ("path", "validation_path", "test_path")  # relative to the config file


def reference_layers() -> list:
    """The classic XOR network: Dense(10), tanh, Dense(1), sigmoid."""
    return [
        DenseLayer(type="Dense", units=10),  # its width from the data: the truth table's 2 inputs, or a file's columns
        ActivationLayer(type="Activation", activation="tanh"),
        DenseLayer(type="Dense", units=1),
        ActivationLayer(type="Activation", activation="sigmoid"),
    ]


def parameter_count(layers: list, width: int) -> int:
    """The number of weights of a network of `layers` taking `width` inputs, counted without building it.

    Example:
        >>> parameter_count(reference_layers(), 2)
        41
    """
    count = 0
    for layer in layers:
        if isinstance(layer, DenseLayer):
            count += width * layer.units + (layer.units if layer.use_bias else 0)
            width = layer.units
    return count


class DataConfig(_Section):
    table: Literal[TRUTH_TABLES] | None = None  # type: ignore[valid-type]
    inputs: int | None = Field(default=None, ge=1, le=16)
    path: str | None = None
    features: list[str | int] | None = None
    label: str | int | None = None
    validation: float | None = Field(default=None, gt=0, lt=1)
    validation_path: str | None = None
    test: float | None = Field(default=None, gt=0, lt=1)
    test_path: str | None = None
    normalize: bool = False
    categorical: list[str | int] = Field(default_factory=list)
    unknown: Literal["error", "ignore"] = "error"
    missing: Literal["error", "drop", "mean", "zero"] = "error"
    stream: Literal["auto", True, False] = "auto"  # auto: stream a file larger than stream_memory_share of MemAvailable
    stream_memory_share: float = Field(default=0.25, gt=0, le=1)

    @field_validator("validation", "test", mode="before")
    @classmethod
    def _zero_is_none(cls, value):
        return None if type(value) in (int, float) and value == 0 else value  # "test: 0": no test rows, as null

    @field_validator("features", "categorical")
    @classmethod
    def _no_repeats(cls, names):
        repeated = [name for index, name in enumerate(names or []) if name in names[:index]]
        if repeated:
            raise ValueError(f"{repeated[0]!r} is listed twice, expected each column once")
        return names

    @model_validator(mode="after")
    def _table_or_file(self):
        if self.table is not None and self.path is not None:
            raise ValueError("expected either data.table or data.path, received both")
        if self.path is None:
            file_keys = [key for key in ("features", "label", "validation", "validation_path", "test", "test_path")
                         if getattr(self, key) is not None] + (["categorical"] if self.categorical else [])
            if file_keys:
                raise ValueError(f"data.{file_keys[0]} goes with data.path (a CSV, Parquet or .npy file)")
            if self.table is None:
                self.table = "xor"
            if self.inputs is None:
                self.inputs = 2
        elif self.inputs is not None:
            raise ValueError("data.inputs goes with data.table; a file's width comes from its columns")
        for fraction, path in (("validation", "validation_path"), ("test", "test_path")):
            if getattr(self, fraction) is not None and getattr(self, path) is not None:
                raise ValueError(f"expected either data.{fraction} (a fraction) or data.{path} (a file), received both")
        if (self.validation or 0) + (self.test or 0) >= 1:
            raise ValueError(f"data.validation + data.test must leave rows to train on, "
                             f"received {self.validation} + {self.test}")
        return self


class ModelConfig(_Section):
    layers: list[Layer] = Field(default_factory=reference_layers, min_length=1)

    @model_validator(mode="after")
    def _input_dim_first(self):
        for index, layer in enumerate(self.layers[1:], start=1):
            if getattr(layer, "input_dim", None) is not None:
                raise ValueError(
                    f"input_dim is allowed on the first layer only, received it on model.layers.{index}"
                )
        return self


CLASSIFICATION_LOSSES = (
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "hinge", "squared_hinge",
)  # fmt: skip


class EarlyStoppingConfig(_Section):
    """`keras.callbacks.EarlyStopping`'s arguments, with its defaults."""

    monitor: str = "val_loss"
    min_delta: float = Field(default=0.0, ge=0)
    patience: int = Field(default=0, ge=0)
    mode: Literal["auto", "min", "max"] = "auto"
    baseline: float | None = None
    restore_best_weights: bool = False
    start_from_epoch: int = Field(default=0, ge=0)


# Each schedule's keys, passed to Keras as written; what is left out takes Keras' default.
SCHEDULE_KEYS = {
    "exponential_decay": ("decay_steps", "decay_rate", "staircase"),
    "cosine_decay": ("decay_steps", "alpha", "warmup_target", "warmup_steps"),
    "reduce_on_plateau": ("monitor", "factor", "patience", "mode", "min_delta", "cooldown", "min_lr"),
}
SCHEDULE_REQUIRED = {"exponential_decay": ("decay_steps", "decay_rate"), "cosine_decay": ("decay_steps",),
                     "reduce_on_plateau": ()}


class LearningRateSchedule(_Section):
    """A Keras learning-rate schedule (exponential_decay, cosine_decay) or ReduceLROnPlateau.

    The schedule starts from training.learning_rate.
    """

    type: Literal["exponential_decay", "cosine_decay", "reduce_on_plateau"]
    decay_steps: int | None = Field(default=None, gt=0)
    decay_rate: float | None = Field(default=None, gt=0)
    staircase: bool | None = None
    alpha: float | None = Field(default=None, ge=0, le=1)
    warmup_target: float | None = Field(default=None, gt=0)
    warmup_steps: int | None = Field(default=None, ge=0)
    monitor: str | None = None
    factor: float | None = Field(default=None, gt=0, lt=1)
    patience: int | None = Field(default=None, ge=0)
    mode: Literal["auto", "min", "max"] | None = None
    min_delta: float | None = Field(default=None, ge=0)
    cooldown: int | None = Field(default=None, ge=0)
    min_lr: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _keys_of_the_type(self):
        allowed = SCHEDULE_KEYS[self.type]
        for key in self.model_fields_set - {"type"}:
            if key not in allowed:
                raise ValueError(f"{key} does not go with type {self.type}; "
                                 f"expected keys: type, {', '.join(allowed)}")
        for key in SCHEDULE_REQUIRED[self.type]:
            if getattr(self, key) is None:
                raise ValueError(f"type {self.type} needs {key}, received no {key} key")
        return self

    def keras_arguments(self) -> dict:
        """The keyword arguments for the Keras class, without type (Keras' defaults fill the rest)."""
        return {key: getattr(self, key) for key in SCHEDULE_KEYS[self.type] if getattr(self, key) is not None}


def _check_class_weight(value: Any) -> Any:
    expected = "expected balanced or a mapping {class: weight} (for example {0: 1.0, 1: 3.0})"
    if value is None or value == "balanced":
        return value
    if not isinstance(value, dict) or not value:
        raise ValueError(f"{expected}, received {_describe(value)}")
    for key, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            # YAML reads {0:1} as the key '0:1' with no value
            spacing = "; YAML needs a space after the colon: {0: 1}" if weight is None and ":" in str(key) else ""
            raise ValueError(f"{expected}; the weight of class {key!r} must be a number >= 0, received {weight!r}"
                             + spacing)
    return value


def _full_name(name):
    """Keras' short name of a loss or metric ("mse") as its full name ("mean_squared_error")."""
    return SHORT_NAMES.get(name, name) if isinstance(name, str) else name


ClassWeight = Annotated[
    Union[Literal["balanced"], dict[Union[int, str], float]], BeforeValidator(_check_class_weight)
]


class TrainingConfig(_Section):
    optimizer: Literal[OPTIMIZERS] = "sgd"  # type: ignore[valid-type]
    learning_rate: float = Field(default=0.1, gt=0)
    momentum: float = Field(default=0.0, ge=0, lt=1)
    nesterov: bool = False
    loss: Annotated[Literal[LOSSES], BeforeValidator(_full_name)] = "binary_crossentropy"  # type: ignore[valid-type]
    metrics: list[Annotated[Literal[METRICS], BeforeValidator(_full_name)]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["accuracy"])
    epochs: int = Field(default=1000, ge=1)
    batch_size: int | None = Field(default=None, ge=1)
    shuffle: bool = True
    target_loss: float | None = Field(default=None, gt=0)
    restarts: int = Field(default=0, ge=0, le=1000)
    tensorboard: str | None = None
    engine: Literal["auto", "fast", "keras"] = "auto"
    early_stopping: EarlyStoppingConfig | None = None
    learning_rate_schedule: LearningRateSchedule | None = None
    class_weight: ClassWeight | None = None
    checkpoint_every: int | None = Field(default=None, ge=1)
    devices: Any = 1  # "auto" (every GPU, else 1) or a number of devices: xornet/devices.py

    @model_validator(mode="after")
    def _optimizer_options(self):
        if self.nesterov and self.optimizer != "sgd":
            raise ValueError(f"nesterov goes with optimizer sgd, received optimizer {self.optimizer!r}")
        if self.momentum and self.optimizer == "adam":
            raise ValueError("momentum goes with optimizer sgd or rmsprop, received optimizer 'adam'")
        return self

    @field_validator("early_stopping", "learning_rate_schedule")
    @classmethod
    def _monitor_is_reported(cls, section, info: ValidationInfo):
        monitor = getattr(section, "monitor", None)
        if monitor is None or "metrics" not in info.data:
            return section
        known = ["loss", *info.data["metrics"]]
        known += [f"val_{name}" for name in known]
        if monitor not in known:
            raise ValueError(f"monitor {monitor!r} is not reported; expected one of {', '.join(known)}"
                             + did_you_mean(monitor, known))
        return section

    @field_validator("class_weight")
    @classmethod
    def _class_weight_for_classes(cls, value, info: ValidationInfo):
        loss = info.data.get("loss")
        if value is not None and loss is not None and loss not in CLASSIFICATION_LOSSES:
            raise ValueError(f"class weights need a classification loss ({', '.join(CLASSIFICATION_LOSSES[:3])}, ...), "
                             f"received loss {loss!r}")
        return value

    @field_validator("devices")
    @classmethod
    def _devices(cls, value):
        if value != "auto" and (type(value) is not int or value < 1):
            raise ValueError(f"expected 'auto' or a whole number of devices >= 1, received {value!r}")
        return value

    @field_validator("checkpoint_every")
    @classmethod
    def _checkpoint_engine(cls, value, info: ValidationInfo):
        if value is not None and info.data.get("engine") == "keras":
            raise PydanticCustomError("with_other_key", "checkpoints need engine auto or fast, received engine 'keras'",
                                      {"other": "engine"})
        return value


def _plain_file_name(suffixes: tuple[str, ...]):
    def check(value: str) -> str:
        if "\0" in value:
            raise ValueError(f"expected a file name, received {value!r} (it contains a NUL byte)")
        if "/" in value or "\\" in value or value in ("", ".", ".."):
            raise ValueError(f"expected a file name without a directory, received {value!r}")
        if not value.endswith(suffixes):
            raise ValueError(f"expected a name ending in {' or '.join(suffixes)}, received {value!r}")
        return value

    return AfterValidator(check)


def _directory(value: str) -> str:
    if "\0" in value:
        raise ValueError(f"expected a directory path, received {value!r} (it contains a NUL byte)")
    if not value.strip():
        raise ValueError(f"expected a directory path, received {value!r}")
    return value


class OutputConfig(_Section):
    dir: Annotated[str, AfterValidator(_directory)] = "models"
    model_file: Annotated[str, _plain_file_name((".json",))] = "basic_model.json"
    weights_file: Annotated[str, _plain_file_name((".h5", ".hdf5"))] = "basic_weights.h5"


NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class Config(_Section):
    """A whole experiment. `Config()` is the reference XOR experiment."""

    name: str = Field(default="xor", pattern=NAME_PATTERN)
    seed: int | None = Field(default=None, ge=0, lt=2**32)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    _source: str | None = PrivateAttr(default=None)
    _overrides: list[str] = PrivateAttr(default_factory=list)
    _origins: dict[tuple, str] = PrivateAttr(default_factory=dict)  # key path -> "--set KEY=VALUE" (or --grid)
    _lines: dict[tuple, int] = PrivateAttr(default_factory=dict)  # key path -> its line in the file

    @field_validator("model")
    @classmethod
    def _parameters_fit(cls, model: ModelConfig, info: ValidationInfo) -> ModelConfig:
        data = info.data.get("data")
        first = model.layers[0]
        width = getattr(first, "input_dim", None) or (data.inputs if isinstance(data, DataConfig) else None)
        count = parameter_count(model.layers, width or 1)
        if count > MAX_PARAMETERS:
            counted = f"with {width} inputs" if width else "at least, the data file's width not yet known"
            raise ValueError(
                f"the network has {count:,} parameters ({counted}), more than the {MAX_PARAMETERS:,} "
                "xornet builds; use fewer units"
            )
        return model

    @property
    def source(self) -> str | None:
        """The file this config was read from, if any."""
        return self._source

    @property
    def overrides(self) -> list[str]:
        """The `KEY=VALUE` overrides applied on top of the file."""
        return list(self._overrides)

    def resolved(self) -> dict:
        """The fully resolved config as plain data (what a run record stores)."""
        return self.model_dump(mode="json", exclude_none=False)

    def place_of(self, key: str) -> str:
        """Where `key` (dotted) was set, for an error to start with: its --set, else the file and line.

        Example:
            >>> load_config("big.yaml", ["data.categorical=[f0]"]).place_of("data.categorical")
            '--set data.categorical=[f0]'
        """
        return _where(tuple(key.split(".")), self._lines, self._source or "<config>", self._origins)

    def override_of(self, key: str) -> str | None:
        """The --set that gave `key` (dotted) its value, if one did.

        Example:
            >>> load_config("configs/iris.yaml", ["data.label=kind"]).override_of("data.label")
            '--set data.label=kind'
        """
        place = self.place_of(key)
        return place if place.startswith("--set ") else None


STREAM_HINTS = {  # what streamed data (data.stream) does not support -> the hint of its refusal
    "training.batch_size": "a full batch holds every training row in memory at once, which streaming avoids: set "
                           "training.batch_size, e.g. 256, or data.stream: false",
}


def check_streamable(config: Config, why: str = "data.stream: true") -> None:
    """Refuse, in one line naming where it was set, what streamed data does not support: training.batch_size
    null (a full batch); `why` says why the data is streamed.

    Example:
        >>> check_streamable(load_config("big.yaml", ["training.batch_size=null"]))
        Traceback (most recent call last):
        xornet.errors.InputError: --set training.batch_size=null: training.batch_size null (full batch) is not ...
    """
    if config.training.batch_size is None:
        raise InputError(f"{config.place_of('training.batch_size')}: training.batch_size null (full batch) is not "
                         f"supported with streamed data ({why})", hint=STREAM_HINTS["training.batch_size"])


# --- reading YAML with line numbers ---------------------------------------------------


def _line_map(node, path: tuple, lines: dict, source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise InputError(f"{source}{_at(key_node.start_mark)}: expected a plain key (a name), "
                                 f"received a {'mapping' if isinstance(key_node, yaml.MappingNode) else 'list'}")
            _line_map(key_node, path, {}, source)
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                dotted = dotted_key(path + (key,))
                raise InputError(
                    f"{source}, line {line}: key {dotted} appears twice (first on line {seen[key]})",
                    hint="keep one of them",
                )
            seen[key] = line
            lines[path + (key,)] = line
            _line_map(value_node, path + (key,), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            _line_map(item, path + (index,), lines, source)
    elif "\0" in node.value:
        dotted = dotted_key(path)
        raise InputError(f"{source}{_at(node.start_mark)}: {dotted}: the value holds a NUL character (\\0), "
                         "which no name or path may hold")


MAX_CONFIG_BYTES = 1_000_000
MAX_YAML_DEPTH = 50
MAX_YAML_VALUES = 100_000


def _read_yaml(path: Path) -> tuple[dict, dict]:
    source = str(path)
    if not path.exists():
        raise InputError(f"{source}: config file not found", hint="check the path, or run `xornet config init`")
    if path.is_dir():
        raise InputError(f"{source}: is a directory, expected a YAML config file")
    try:
        # Read at most one byte too many, so that a device such as /dev/zero ends too; a pipe works.
        with open(path, "rb") as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise InputError(f"{source}: the config is more than the {MAX_CONFIG_BYTES:,} bytes a config may have")
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        data_file = Path(source).suffix.lower() in (".parquet", ".pq", ".npy")
        raise InputError(f"{source}: not a text file (not UTF-8 at byte {exc.start}), expected a YAML config",
                         hint=DATA_FILE_HINT if data_file else None) from exc
    except OSError as exc:
        raise InputError(f"{source}: cannot read the config: {exc.strerror}") from exc
    data, lines = parse_yaml(text, source)
    if data is None:
        raise InputError(f"{source}: the config is empty, expected a mapping of sections (name, data, model, training, output)")
    if not isinstance(data, dict):
        looks_like_data = Path(source).suffix.lower() in (".csv", ".txt", ".tsv")
        raise InputError(
            f"{source}, line 1: expected a mapping of sections (name, data, model, training, output), "
            f"received a {type(data).__name__}",
            hint=DATA_FILE_HINT if looks_like_data else None)
    return data, lines


DATA_FILE_HINT = "a data file goes in a config as data.path: `xornet config init` writes a starter config"


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, refusing documents nested more than MAX_YAML_DEPTH deep while it reads them."""

    source = "<config>"
    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                raise InputError(f"{self.source}{_at(self.peek_event().start_mark)}: "
                                 f"nested more than {MAX_YAML_DEPTH} levels deep; a config is a few levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def parse_yaml(text: str, source: str, path: tuple = ()) -> tuple[Any, dict]:
    """Parse one YAML document safely: (data, {key path: line}); data is None for an empty document.

    Refused with a clear InputError naming `source` and the line: NUL bytes and
    other characters YAML does not allow, syntax errors, duplicate keys,
    nesting deeper than MAX_YAML_DEPTH, recursive aliases, and aliases that
    expand the document to more than MAX_YAML_VALUES values ("billion laughs").
    `path` is where the document sits in a config (for --set values).

    Example:
        >>> parse_yaml("epochs: 5", "<text>")
        ({'epochs': 5}, {('epochs',): 1})
    """
    nul = text.find("\0")
    if nul >= 0:
        raise InputError(f"{source}{_at_offset(text, nul)}: NUL byte in the text, expected YAML text")
    loader = None
    try:
        loader = _BoundedLoader(text)  # checks every character
        loader.source = source
        root = loader.get_single_node()
        if root is None:
            return None, {}
        _check_expansion(root, source)
        lines: dict = {}
        _line_map(root, path, lines, source)  # before constructing, which merges `<<` keys into their mapping
        return loader.construct_document(root), lines
    except yaml.reader.ReaderError as exc:
        raise InputError(f"{source}{_at_offset(text, exc.position)}: character U+{exc.character:04X} "
                         "is not allowed in YAML, expected text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{source}{_at(mark) if mark else ''}: YAML syntax error: {problem}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _at(mark) -> str:
    return f", line {mark.line + 1}, column {mark.column + 1}"


def _at_offset(text: str, offset: int) -> str:
    line_start = text.rfind("\n", 0, offset) + 1
    return f", line {text.count(chr(10), 0, offset) + 1}, column {offset - line_start + 1}"


def _check_expansion(root, source: str) -> None:
    """Count the values the document holds once its aliases are expanded, without expanding them."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, finished = stack.pop()
        children = _children(node)
        if finished:
            on_path.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[id(node)] > MAX_YAML_VALUES:
                raise InputError(
                    f"{source}{_at(node.start_mark)}: aliases (*name) expand this to more than "
                    f"{MAX_YAML_VALUES:,} values; refusing to expand it"
                )
        elif id(node) in on_path:
            raise InputError(f"{source}{_at(node.start_mark)}: an alias refers to a value that contains it "
                             "(a recursive alias); a config cannot hold one")
        elif id(node) not in sizes:
            on_path.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children)


def _children(node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


# --- overrides ------------------------------------------------------------------------

_KEY_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$|^\d+$")


def parse_override(text: str) -> tuple[tuple, Any]:
    """Split "training.learning_rate=0.5" into (("training", "learning_rate"), 0.5).

    The value is parsed as YAML, so `null`, `true`, `[1, 2]` work.

    Example:
        >>> parse_override("model.layers.0.units=4")
        (('model', 'layers', 0, 'units'), 4)
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not sep or not key or not all(_KEY_PART.match(p) for p in parts):
        raise InputError(
            f"--set {text!r}: expected KEY=VALUE with a dotted key, for example training.learning_rate=0.5"
        )
    shown = text if len(text) <= 60 else text[:57] + "..."
    path = tuple(int(p) if p.isdigit() else p for p in parts)
    value = parse_yaml(raw, f"--set {shown!r}: the value", path)[0] if raw.strip() else None
    return path, value


def apply_override(data: dict, path: tuple, value: Any, origin: str) -> None:
    """Set `value` at the dotted `path` in nested config data.

    A section the file leaves out starts from its default, so that
    `model.layers.0.units=4` works on a config without a `model` section.
    """
    defaults: Any = Config().model_dump(mode="json", exclude_none=True)
    node: Any = data
    for depth, part in enumerate(path):
        here = ".".join(map(str, path[: depth + 1]))
        defaults = _child(defaults, part)
        if isinstance(node, list) and isinstance(part, int):
            if part >= len(node):
                raise InputError(f"{origin}: {here}: index out of range (the list has {len(node)} items)")
        elif not isinstance(node, dict) or isinstance(part, int):
            raise InputError(f"{origin}: {here}: the parent is not a {'list' if isinstance(part, int) else 'section'}")
        if depth == len(path) - 1:
            node[part] = value
        else:
            if isinstance(node, dict) and node.get(part) is None:
                node[part] = defaults if defaults is not None else {}
            node = node[part]


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


# --- validation errors ----------------------------------------------------------------


def _fields_at(path: tuple, data: dict) -> list[str]:
    """The keys allowed in the section at `path` (for did-you-mean hints)."""
    model: Any = Config
    node: Any = data
    for part in path:
        node = _child(node, part)
        if isinstance(part, int):
            model = LAYER_CLASSES.get(node.get("type")) if isinstance(node, dict) else None
        else:
            field = model.model_fields.get(part) if model else None
            annotation = field.annotation if field else None
            is_section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
            model = annotation if is_section else None
    return list(model.model_fields) if model else []


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    return "null" if value is None else repr(value)


def _where(loc: tuple, lines: dict, source: str, override_origin: dict) -> str:
    """Where the value at `loc` was set: "--set KEY=VALUE" (or "--grid ...") when an override set it, else
    "file, line L" (the line of the nearest key the file has), else the file."""
    where = override_origin.get(loc)
    if where is None:  # an error about a whole section, or inside a value an override set, names that override
        where = next((origin for path, origin in reversed(override_origin.items())
                      if path[:len(loc)] == loc or loc[:len(path)] == path), None)
    if where is None:
        probe = loc
        while probe and probe not in lines:
            probe = probe[:-1]
        where = f"{source}, line {lines[probe]}" if probe in lines else source
    return where


def _format_error(err: dict, data: dict, lines: dict, source: str, override_origin: dict) -> str:
    loc = tuple(err["loc"])
    # Tagged unions put the tag into the location: model.layers.0.Dense.units.
    loc = tuple(p for i, p in enumerate(loc) if not (p in LAYER_TYPES and i > 0 and isinstance(loc[i - 1], int)))
    dotted = dotted_key(loc)
    where = _where(loc, lines, source, override_origin)
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1], data)
        hint = did_you_mean(loc[-1], allowed)
        expected = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"{where}: unknown key {dotted}{hint}{expected}"
    if kind == "union_tag_invalid":
        tag = err.get("ctx", {}).get("tag")
        return (
            f"{where}: {dotted}.type: expected one of {', '.join(LAYER_TYPES)}, received {tag!r}"
            + did_you_mean(tag, LAYER_TYPES)
        )
    if kind == "union_tag_not_found":
        return f"{where}: {dotted}: expected a layer with a type ({', '.join(LAYER_TYPES)}), received no type key"
    if kind == "missing":
        return f"{where}: {dotted}: required key is missing"
    if kind == "with_other_key":  # a check of two keys: the one a --set gave, if either, is where to look
        other = override_origin.get(loc[:-1] + (err["ctx"]["other"],))
        return f"{other if other and not override_origin.get(loc) else where}: {dotted}: {err['msg']}"
    if kind == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == NAME_PATTERN:
        return (f"{where}: {dotted}: expected letters, digits, '_', '.' or '-' (starting with a letter or digit: it "
                f"names files and studies), received {_describe(err.get('input'))}")
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
        return f"{where}: {dotted}: {message}"
    if message.startswith("Input should be "):
        message = "expected " + message[len("Input should be "):]
    message = re.sub(r"^expected (greater|less)", r"expected a value \1", message)
    hint = ""
    if kind == "literal_error":  # YAML spells Python's True and False as true and false
        message = re.sub(r"\bTrue\b", "true", re.sub(r"\bFalse\b", "false", message))
    if kind == "literal_error" and isinstance(err.get("input"), str):
        hint = did_you_mean(err["input"], re.findall(r"'([^']*)'", err["ctx"]["expected"]))
    return f"{where}: {dotted}: {message}, received {_describe(err.get('input'))}{hint}"


def validate_config(data: dict, source: str = "<config>", lines: dict | None = None,
                    overrides: list[str] = (), origins: dict[tuple, str] | None = None) -> Config:
    """Validate plain config data (already parsed from YAML) and apply overrides.

    `origins` names where values already set in `data` came from ({path: "--grid KEY=V1,V2"}): errors
    about them name it, as errors about `overrides` name their --set.

    Example:
        >>> validate_config({"training": {"epochs": 10}}).training.epochs
        10
    """
    origin: dict = dict(origins or {})
    for text in overrides:
        path, value = parse_override(text)
        shown = f"--set {text}" if text.isprintable() else f"--set {text!r}"
        apply_override(data, path, value, shown)
        origin[path] = shown
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        # An unknown key usually explains the other errors (a typo leaves a key missing).
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        message = _format_error(errors[0], data, lines or {}, source, origin)
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        raise InputError(message) from None
    config._source = source
    config._overrides = list(overrides)
    config._origins, config._lines = origin, dict(lines or {})
    for key in DATA_PATH_KEYS:
        if getattr(config.data, key) is not None and not source.startswith("<"):
            # Relative to the config file; an absolute path stays as it is.
            setattr(config.data, key, str((Path(source).parent / getattr(config.data, key)).resolve()))
    if config.data.stream is True and config.data.path is not None:
        check_streamable(config)
    return config


def relative_data_paths(resolved: dict, folder: Path) -> dict:
    """`resolved` (a `Config.resolved()`) with its data files' paths relative to `folder`, as a config in that
    folder would write them: the same on every machine that keeps the files where the config expects them.

    Example:
        >>> relative_data_paths(load_config("configs/iris.yaml").resolved(), Path("configs"))["data"]["path"]
        '../data/iris.csv'
    """
    data = dict(resolved["data"])
    for key in DATA_PATH_KEYS:
        if data.get(key):
            data[key] = os.path.relpath(data[key], Path(folder).resolve())
    return {**resolved, "data": data}


def config_folder(config: Config) -> Path:
    """The folder of the file `config` was read from (the working directory for a config made in code)."""
    source = config.source
    return Path(source).parent if source and not source.startswith("<") else Path.cwd()


def check_data_files(config: Config) -> None:
    """Refuse a config whose data.path, data.validation_path or data.test_path names no file.

    Example:
        >>> check_data_files(load_config("configs/missing.yaml"))
        Traceback (most recent call last):
        xornet.errors.InputError: configs/missing.yaml: data.path: file not found: configs/nothere.csv ...
    """
    for key in DATA_PATH_KEYS:
        file = getattr(config.data, key)
        flag = config.override_of(f"data.{key}")
        where = flag or f"{config.source}: data.{key}"
        if file is not None and not Path(file).exists():
            given = "given with --set" if flag else "in a config"
            raise InputError(f"{where}: file not found: {shown_path(file)}",
                             hint=f"a path {given} is relative to the config's folder")
        if file is not None and Path(file).is_dir():
            raise InputError(f"{where}: {shown_path(file)} is a directory, expected a .csv, .parquet or .npy data file")


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """Read, check and return the experiment config at `path`.

    Example:
        >>> load_config("configs/xor.yaml").model.layers[0].units
        10
    """
    path = Path(path)
    data, lines = _read_yaml(path)
    return validate_config(data, str(path), lines, list(overrides))


STARTER = """\
# xornet experiment config: the classic Keras XOR network.
# Every key is optional; what is left out takes its default: the value shown
# here, unless its comment names another ("default ...").
# Check it with `xornet config validate FILE`, see it resolved with
# `xornet config show FILE`, train it with `xornet train FILE`.
name: <name>                    # names the run (default xor); letters, digits, _ . -
seed: 42                        # initial weights; null = a fresh random start each run (default null)

data:
  table: xor                    # xor, and, or, nand, nor, xnor
  inputs: 2                     # bits per row (xor of N bits is parity)
  # Or a file instead of a table (a path relative to this file):
  # path: data.csv              # CSV (header row optional), Parquet, or a 2-D .npy array
  # features: [a, b]            # columns to learn from (default: all but the label)
  # label: y                    # the column to predict (default: the last); numbers or
  #                             # class names (text labels become classes)
  # validation: 0.2             # hold out this fraction (seeded; stratified for classes),
  # validation_path: val.csv    #   or read the validation rows from a file
  # test: 0.1                   # a test split scored after training and by `xornet evaluate`,
  # test_path: test.csv         #   or a test file
  # categorical: [color]        # one-hot encode these text columns (vocabulary from the training rows)
  # unknown: error              # a category not seen in training: error | ignore (its own "other" column)
  # missing: error              # empty / NA cells: error | drop (the row) | mean | zero (fill features)
  # stream: auto                # read the file in record batches, not into memory: auto | true | false;
  # stream_memory_share: 0.25   #   auto streams a file larger than this share of MemAvailable
  #                             #   (every data key streams; training.batch_size must be a number)
  normalize: false              # true: a Keras Normalization layer, adapted on the training rows, first

model:
  layers:                       # Dense (units, activation, use_bias, input_dim, kernel_initializer,
                                #   bias_initializer), Activation (activation), Dropout (rate),
                                #   BatchNormalization (momentum, epsilon, center, scale),
                                #   LeakyReLU (negative_slope), Flatten; any layer may have a name
    - {type: Dense, units: 10}   # input_dim: the data's width (2 for the xor table) unless given
    - {type: Activation, activation: tanh}
    - {type: Dense, units: 1}
    - {type: Activation, activation: sigmoid}

training:
  optimizer: sgd                # sgd, adam, rmsprop
  learning_rate: 0.1
  momentum: 0.0                 # sgd and rmsprop
  nesterov: false               # sgd only
  loss: binary_crossentropy
  metrics: [accuracy]
  epochs: 3000                  # default 1000
  batch_size: null              # null = full batch; 1 = stochastic; N = mini-batch
  shuffle: true                 # reshuffle mini-batches every epoch
  target_loss: 0.05             # stop as soon as the loss is below this (default null = never);
                                #   for your own data: null, or early_stopping below
  restarts: 3                   # not converged (below target_loss)? start again from a new seed, up to this
                                #   many times (default 0); for your own data: 0, or each restart trains again
  tensorboard: null             # a directory for TensorBoard scalars
  engine: auto                  # auto | fast | keras (plain model.fit)
  devices: 1                    # train data-parallel on N devices (GPUs, else CPU devices), or auto (every GPU, else 1)
  # early_stopping:             # keras.callbacks.EarlyStopping (these are its defaults)
  #   monitor: val_loss         # loss, a metric, or val_<either> (val_ needs validation data)
  #   patience: 0
  #   min_delta: 0
  #   mode: auto                # auto | min | max
  #   baseline: null
  #   restore_best_weights: false
  #   start_from_epoch: 0
  # learning_rate_schedule:     # starts from learning_rate; one of:
  #   {type: exponential_decay, decay_steps: 100, decay_rate: 0.96, staircase: false}
  #   {type: cosine_decay, decay_steps: 1000, alpha: 0.0, warmup_target: null, warmup_steps: 0}
  #   {type: reduce_on_plateau, monitor: val_loss, factor: 0.1, patience: 10, min_delta: 0.0001,
  #    cooldown: 0, min_lr: 0}
  # class_weight: balanced      # or {0: 1.0, 1: 3.0}; balanced = rows / (classes * rows of the class)
  # checkpoint_every: 10        # epochs between checkpoints; resume with `xornet train --resume`

output:
  dir: models/<name>            # relative to the working directory (default models, the reference model's)
  model_file: basic_model.json
  weights_file: basic_weights.h5
"""
