"""Model files on disk: JSON architecture, HDF5 weights, run record, history CSV.

The architecture file is exactly `model.to_json()`. The weights file uses the
HDF5 layout Keras 2 wrote (`layer_names` / `weight_names` attributes), which
Keras 3's `model.load_weights("basic_weights.h5")` and Keras 2 both read, under
any file name (Keras 3's own `save_weights` insists on `.weights.h5`).
Every file is written to a temporary name in the same directory and renamed
into place, so a failure never leaves a half-written file.

Example:
    >>> save_run(model, "models", "basic_model.json", "basic_weights.h5", record)
    >>> loaded = load_model("models/basic_model.json")
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from xornet.errors import InputError
from xornet.keras2 import is_keras2, to_keras3

MODELS_DIR = "models"


# --- names ----------------------------------------------------------------------------


def stem_of(model_file: str) -> str:
    """The shared stem of a model's files: basic_model.json -> basic.

    Example:
        >>> stem_of("basic_model.json"), stem_of("net.json")
        ('basic', 'net')
    """
    name = Path(model_file).name
    for suffix in ("_model.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def record_path(model_path: Path) -> Path:
    """The run record beside a model: models/basic_model.json -> models/basic_run.json."""
    return model_path.with_name(f"{stem_of(model_path.name)}_run.json")


def history_path(model_path: Path) -> Path:
    """The per-epoch history CSV beside a model: basic_model.json -> basic_history.csv."""
    return model_path.with_name(f"{stem_of(model_path.name)}_history.csv")


# --- writing safely -------------------------------------------------------------------


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(temp_path)`, flush it to disk, then rename it to `path`.

    A crash or error at any point leaves `path` as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp_path = Path(temp)
    try:
        os.chmod(temp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        write(temp_path)
        with open(temp_path, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temp_path, path)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (UTF-8)."""
    atomic_write(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- HDF5 weights -----------------------------------------------------------------------


def write_weights_h5(model, path: Path) -> None:
    """Write `model`'s weights to `path` in Keras 2's HDF5 layout (not atomic by itself)."""
    import h5py
    import keras

    with h5py.File(path, "w") as f:
        # Fixed-length byte strings, as Keras 2's save_attributes_to_hdf5_group wrote them.
        f.attrs["layer_names"] = np.asarray([layer.name.encode("utf8") for layer in model.layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = keras.__version__.encode("utf8")
        for layer in model.layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{weight.name}:0" for weight in layer.weights]
            group.attrs["weight_names"] = np.asarray([n.encode("utf8") for n in names]) if names else np.array([], "S1")
            for name, weight in zip(names, layer.weights):
                group.create_dataset(name, data=np.asarray(weight.numpy()))


def read_weights_h5(path: Path, layer_classes: list[str]) -> list[tuple[str, list[np.ndarray]]]:
    """Read HDF5 weights: [(stored layer name, [arrays])] for the layers that have weights, in order.

    Reads Keras 2's layout (`layer_names` / `weight_names` attributes, also
    inside a whole-model file's `model_weights` group) under any file name, and
    Keras 3's `.weights.h5` layout, whose groups are named after the layer
    classes (`layer_classes`: the architecture's layer class names, in order).
    """
    import h5py

    if not path.exists():
        raise InputError(f"{path}: weights file not found")
    if not h5py.is_hdf5(path):
        raise InputError(f"{path}: not an HDF5 file, expected Keras weights (.h5)")
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
            if "layer_names" in root.attrs:
                return _read_keras2_layout(root)
            if isinstance(f.get("layers"), h5py.Group):
                return _read_keras3_layout(f["layers"], layer_classes)
            raise InputError(f"{path}: HDF5 file without Keras weights (no layer_names attribute, no layers group)")
    except InputError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{path}: damaged HDF5 weights file ({exc})") from None


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _read_keras2_layout(root) -> list[tuple[str, list[np.ndarray]]]:
    layers = []
    for raw in root.attrs["layer_names"]:
        group = root[_text(raw)]
        weight_names = [_text(w) for w in group.attrs.get("weight_names", [])]
        if weight_names:
            layers.append((_text(raw), [np.asarray(group[w]) for w in weight_names]))
    return layers


def _read_keras3_layout(groups, layer_classes: list[str]) -> list[tuple[str, list[np.ndarray]]]:
    from xornet.network import snake_case

    counts: dict[str, int] = {}
    layers = []
    for class_name in layer_classes:
        base = snake_case(class_name)
        path = base if counts.get(base, 0) == 0 else f"{base}_{counts[base]}"
        counts[base] = counts.get(base, 0) + 1
        variables = groups.get(f"{path}/vars")
        if variables is not None and len(variables):
            layers.append((path, [np.asarray(variables[str(i)]) for i in range(len(variables))]))
    return layers


def layer_classes(config: dict) -> list[str]:
    """The layer class names of a Keras 3 Sequential architecture dict, without its InputLayer."""
    layers = config.get("config", {}).get("layers", [])
    return [layer.get("class_name") for layer in layers if layer.get("class_name") != "InputLayer"]


def set_weights_from(model, layers: list[tuple[str, list[np.ndarray]]], source: Path) -> None:
    """Put weights read by `read_weights_h5` into `model`, matching layers by order, as Keras does."""
    targets = [layer for layer in model.layers if layer.weights]
    if len(targets) != len(layers):
        raise InputError(
            f"{source}: the weights file has {len(layers)} layers with weights, the model has {len(targets)} "
            f"({', '.join(layer.name for layer in targets)})",
            hint="the weights belong to a different architecture",
        )
    for layer, (stored_name, values) in zip(targets, layers):
        check_weight_shapes(source, layer.name, stored_name, [tuple(w.shape) for w in layer.weights], values)
        layer.set_weights(values)


def check_weight_shapes(source: Path, layer_name: str, stored_name: str, expected: list[tuple],
                        values: list[np.ndarray]) -> None:
    """Raise a clear error when stored weights do not have the shapes a layer expects."""
    received = [tuple(v.shape) for v in values]
    if received != expected:
        raise InputError(
            f"{source}: layer {layer_name!r} (stored as {stored_name!r}) expects weights of shapes "
            f"{_shapes(expected)}, received {_shapes(received)}",
            hint="the weights belong to a different architecture",
        )


def _shapes(shapes) -> str:
    return ", ".join("(" + ", ".join(str(d) for d in s) + ")" for s in shapes)


# --- saving a run -----------------------------------------------------------------------


def check_can_write(directory: Path, model_file: str, weights_file: str, experiment: str, force: bool) -> None:
    """Refuse to overwrite another experiment's model (or one of unknown origin) without `force`."""
    if force:
        return
    model_path = directory / model_file
    existing = [p for p in (model_path, directory / weights_file) if p.exists()]
    if not existing:
        return
    record = read_record(model_path)
    owner = record.get("experiment") if record else None
    if owner == experiment:
        return
    what = f"a model from experiment {owner!r}" if owner else "a model with no run record (origin unknown)"
    raise InputError(
        f"{existing[0]} already holds {what}; refusing to overwrite it with experiment {experiment!r}",
        hint="pass --force to replace it, or --output-dir DIR to write elsewhere",
    )


def save_run(model, directory: Path, model_file: str, weights_file: str, record: dict,
             history: dict[str, list[float]]) -> dict[str, Path]:
    """Write architecture, weights, history CSV and run record; return the paths written.

    Each file is replaced atomically; the record goes last and holds the
    SHA-256 of the architecture and weights it describes.
    """
    directory = Path(directory)
    paths = {
        "model": directory / model_file,
        "weights": directory / weights_file,
        "history": history_path(directory / model_file),
        "record": record_path(directory / model_file),
    }
    atomic_write(paths["weights"], lambda temp: write_weights_h5(model, temp))
    atomic_write_text(paths["model"], model.to_json())
    atomic_write_text(paths["history"], history_csv(history))
    record = dict(record)
    record["files"] = {
        "model": {"name": model_file, "sha256": sha256_of(paths["model"])},
        "weights": {"name": weights_file, "sha256": sha256_of(paths["weights"])},
        "history": paths["history"].name,
    }
    atomic_write_text(paths["record"], json.dumps(record, indent=2) + "\n")
    return paths


def history_csv(history: dict[str, list[float]]) -> str:
    """Per-epoch history as CSV text: epoch,loss,accuracy,..."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(history)
    writer.writerow(["epoch", *names])
    for epoch, values in enumerate(zip(*(history[n] for n in names)), start=1):
        writer.writerow([epoch, *(repr(v) for v in values)])
    return out.getvalue()


def read_record(model_path: Path) -> dict | None:
    """The run record beside a model, or None when there is none or it is unreadable."""
    path = record_path(model_path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --- loading ----------------------------------------------------------------------------


@dataclass
class LoadedModel:
    """A model read back from disk, with the files it came from."""

    model: object
    model_path: Path
    weights_path: Path
    record: dict | None

    @property
    def input_width(self) -> int:
        return int(self.model.input_shape[-1])


def find_model_file(name: str | Path) -> Path:
    """Resolve a model path; a bare name missing here is looked for in models/."""
    path = Path(name)
    if path.exists():
        if path.is_dir():
            raise InputError(f"{path}: is a directory, expected a model .json file")
        return path
    looked = [str(path)]
    if len(path.parts) == 1:
        candidate = Path(MODELS_DIR) / path
        looked.append(str(candidate))
        if candidate.exists():
            return candidate
    raise InputError(
        f"model file not found: looked for {' and '.join(looked)}",
        hint="train one with `xornet train CONFIG`, or pass --model PATH",
    )


def find_weights_file(model_path: Path, record: dict | None) -> Path:
    """The weights that go with a model: from its run record, else <stem>_weights.h5."""
    candidates = []
    if record and isinstance(record.get("files"), dict):
        name = record["files"].get("weights", {}).get("name")
        if name:
            candidates.append(model_path.with_name(name))
    stem = stem_of(model_path.name)
    candidates += [model_path.with_name(f"{stem}_weights.h5"), model_path.with_name(f"{stem}.weights.h5")]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise InputError(
        f"{model_path}: no weights file found beside it: looked for {', '.join(dict.fromkeys(map(str, candidates)))}",
        hint="pass --weights PATH",
    )


def read_model_json(model_path: Path) -> dict:
    """The architecture JSON as a dict, after checking it is a Keras model that runs no code."""
    try:
        config = json.loads(model_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{model_path}: not a text file, expected a Keras model JSON") from None
    except ValueError as exc:
        raise InputError(f"{model_path}: not valid JSON ({exc}), expected a Keras model JSON") from None
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise InputError(f"{model_path}: JSON without class_name and config, expected a Keras model (model.to_json())")
    _refuse_code(config, model_path)
    if is_keras2(config):
        config = to_keras3(config, str(model_path))
    return config


def read_architecture(model_path: Path, config: dict | None = None):
    """Build an untrained Keras model from an architecture JSON file."""
    from xornet.backend import import_keras

    keras = import_keras()
    config = dict(config if config is not None else read_model_json(model_path))
    # The training settings (compile_config) are not needed to predict, and
    # compiling would add the optimizer's variables to every summary.
    config.pop("compile_config", None)
    try:
        return keras.models.model_from_json(json.dumps(config))
    except Exception as exc:  # Keras raises many types for configs it cannot read
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{model_path}: Keras cannot build this model: {first}") from None


def _refuse_code(node, model_path: Path) -> None:
    """Refuse architectures that would run code: Lambda layers or classes from outside Keras."""
    if isinstance(node, dict):
        class_name = node.get("class_name")
        module = node.get("module")
        if class_name in ("Lambda", "TFOpLambda") or class_name == "__lambda__":
            raise InputError(f"{model_path}: refused: a {class_name} layer would run code from the file")
        if isinstance(module, str) and module and not module.startswith("keras"):
            raise InputError(
                f"{model_path}: refused: class {class_name!r} from module {module!r} is not part of Keras; "
                "loading it could run code from outside Keras"
            )
        for value in node.values():
            _refuse_code(value, model_path)
    elif isinstance(node, list):
        for value in node:
            _refuse_code(value, model_path)


def load_model(model_path: str | Path, weights_path: str | Path | None = None) -> LoadedModel:
    """Read a model's architecture JSON and HDF5 weights, ready to predict.

    Example:
        >>> loaded = load_model("models/basic_model.json")
        >>> loaded.input_width
        2
    """
    path, record, config, weights = _model_files(model_path, weights_path)
    model = read_architecture(path, config)
    set_weights_from(model, read_weights_h5(weights, layer_classes(config)), weights)
    return LoadedModel(model, path, weights, record)


def _model_files(model_path, weights_path) -> tuple[Path, dict | None, dict, Path]:
    """Find and check a model's files: (JSON path, run record, architecture dict, weights path).

    The architecture is checked before the weights are looked for, so a broken
    JSON file is reported as such.
    """
    path = find_model_file(model_path)
    record = read_record(path)
    config = read_model_json(path)
    weights = Path(weights_path) if weights_path is not None else find_weights_file(path, record)
    if not weights.exists():
        raise InputError(f"{weights}: weights file not found")
    return path, record, config, weights


@dataclass
class Predictor:
    """A saved model ready to predict: call it on rows, get probabilities.

    Plain Dense/Activation/Dropout networks run in NumPy (no TensorFlow
    import); anything else runs in Keras.
    """

    predict: Callable[[np.ndarray], np.ndarray]
    input_width: int
    record: dict | None
    engine: str


def load_predictor(model_path: str | Path, weights_path: str | Path | None = None) -> Predictor:
    """Load a saved model for prediction, with NumPy when the network allows it.

    Example:
        >>> predictor = load_predictor("models/basic_model.json")
        >>> predictor.predict(np.array([[0, 1]], "float32")).round(2).tolist()
        [[0.94]]
    """
    from xornet.numpy_inference import NumpyNetwork

    path, record, config, weights = _model_files(model_path, weights_path)
    layers = read_weights_h5(weights, layer_classes(config))
    network = NumpyNetwork.from_config(config, layers, weights)
    if network is not None:
        return Predictor(network, network.input_width, record, "numpy")
    from xornet.predicting import predict

    model = read_architecture(path, config)
    set_weights_from(model, layers, weights)
    return Predictor(lambda x: predict(model, x), int(model.input_shape[-1]), record, "keras")
