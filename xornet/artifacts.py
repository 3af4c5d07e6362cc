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
    temp = _write_temp(path, write)
    os.replace(temp, path)
    _fsync_dir(path.parent)


def _write_temp(path: Path, write: Callable[[Path], None]) -> Path:
    """A complete, flushed temporary file beside `path`, made by `write(temp_path)`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp_path = Path(temp)
    try:
        os.chmod(temp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        write(temp_path)
        with open(temp_path, "rb+") as written:
            os.fsync(written.fileno())
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return temp_path


def stage(files: dict[Path, Callable[[Path], None]]) -> list[tuple[Path, Path]]:
    """Write each file to a temporary name beside it; return [(temp, final)]. Finals are untouched."""
    staged: list[tuple[Path, Path]] = []
    try:
        for final, write in files.items():
            staged.append((_write_temp(final, write), final))
    except BaseException:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        raise
    return staged


def journal_path(model_path: Path) -> Path:
    """Where a save in progress lists its renames: models/.basic_saving.json."""
    return model_path.with_name(f".{stem_of(model_path.name)}_saving.json")


def replace_together(journal: Path, staged: list[tuple[Path, Path]]) -> None:
    """Rename staged files onto their final names as one step that survives a crash.

    The renames are listed in `journal` first; if the process dies part way,
    `finish_interrupted_save` completes them, so readers see the old set of
    files or the new one, never a mix.
    """
    atomic_write_text(journal, json.dumps([[temp.name, final.name] for temp, final in staged]))
    _finish(journal)


def finish_interrupted_save(model_path: Path) -> None:
    """Complete a save of this model's files that a crash interrupted, if there was one."""
    journal = journal_path(model_path)
    if journal.exists():
        _finish(journal)


def _finish(journal: Path) -> None:
    for temp, final in json.loads(journal.read_text(encoding="utf-8")):
        try:
            os.replace(journal.parent / temp, journal.parent / final)
        except FileNotFoundError:
            pass  # renamed before the interruption
    _fsync_dir(journal.parent)
    journal.unlink(missing_ok=True)
    _fsync_dir(journal.parent)


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
    model_path = directory / model_file
    finish_interrupted_save(model_path)
    if force:
        return
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

    All four are written to temporary files first and then renamed together
    (see `replace_together`); the record holds the SHA-256 of the
    architecture and weights it describes.
    """
    directory = Path(directory)
    paths = {
        "model": directory / model_file,
        "weights": directory / weights_file,
        "history": history_path(directory / model_file),
        "record": record_path(directory / model_file),
    }
    staged = stage({
        paths["weights"]: lambda temp: write_weights_h5(model, temp),
        paths["model"]: lambda temp: temp.write_text(model.to_json(), encoding="utf-8"),
        paths["history"]: lambda temp: temp.write_text(history_csv(history), encoding="utf-8"),
    })
    try:
        record = dict(record)
        record["files"] = {
            "model": {"name": model_file, "sha256": sha256_of(staged[1][0])},
            "weights": {"name": weights_file, "sha256": sha256_of(staged[0][0])},
            "history": paths["history"].name,
        }
        text = json.dumps(record, indent=2) + "\n"
        staged += stage({paths["record"]: lambda temp: temp.write_text(text, encoding="utf-8")})
    except BaseException:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        raise
    replace_together(journal_path(paths["model"]), staged)
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
    finish_interrupted_save(path)
    if path.exists():
        if path.is_dir():
            raise InputError(f"{path}: is a directory, expected a model .json file")
        return path
    looked = [str(path)]
    if len(path.parts) == 1:
        candidate = Path(MODELS_DIR) / path
        finish_interrupted_save(candidate)
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
    verify_against_record(path, record, weights)
    return path, record, config, weights


def verify_against_record(model_path: Path, record: dict | None, weights_path: Path | None = None) -> None:
    """Check the model files named in a run record against the SHA-256 it holds.

    Files the record does not describe (another name or directory) are not checked.
    """
    files = (record or {}).get("files")
    if not isinstance(files, dict):
        return
    for role, path in (("model", model_path), ("weights", weights_path)):
        entry = files.get(role)
        if path is None or not isinstance(entry, dict) or entry.get("name") != path.name:
            continue
        if path.parent.resolve() != model_path.parent.resolve() or not entry.get("sha256"):
            continue
        if sha256_of(path) != entry["sha256"]:
            raise InputError(
                f"{path}: does not match its run record {record_path(model_path)} (SHA-256 differs): "
                "the file was replaced or damaged after training",
                hint="retrain it or restore the file; delete the run record to use the file as it is",
            )


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


EXPORT_FORMATS = ("keras2", "keras3", "keras")


def export_model(loaded: LoadedModel, to: str, directory: Path, force: bool = False) -> list[Path]:
    """Write a loaded model for another Keras: "keras2" (Keras 2 JSON + HDF5 weights),
    "keras3" (`to_json()` + `.weights.h5`) or "keras" (one `.keras` file). Returns the paths written.

    Example:
        >>> export_model(load_model("models/basic_model.json"), "keras2", Path("out"))
        [PosixPath('out/basic_model.json'), PosixPath('out/basic_weights.h5')]
    """
    from xornet.keras2 import to_keras2

    directory = Path(directory)
    stem = stem_of(loaded.model_path.name)
    model = loaded.model
    if to == "keras2":
        config = json.loads(model.to_json())
        files = {
            directory / f"{stem}_model.json":
                lambda temp: temp.write_text(json.dumps(to_keras2(config, str(loaded.model_path))), encoding="utf-8"),
            directory / f"{stem}_weights.h5": lambda temp: write_weights_h5(model, temp),
        }
    elif to == "keras3":
        files = {
            directory / f"{stem}_model.json": lambda temp: temp.write_text(model.to_json(), encoding="utf-8"),
            directory / f"{stem}.weights.h5": lambda temp: _save_with_suffix(temp, ".weights.h5", model.save_weights),
        }
    elif to == "keras":
        files = {directory / f"{stem}.keras": lambda temp: _save_with_suffix(temp, ".keras", model.save)}
    else:
        raise InputError(f"--to: expected one of {', '.join(EXPORT_FORMATS)}, received {to!r}")
    existing = [str(path) for path in files if path.exists()]
    if existing and not force:
        raise InputError(f"{existing[0]} already exists; refusing to overwrite it", hint="pass --force to replace it")
    for path, write in files.items():
        atomic_write(path, write)
    return list(files)


def _save_with_suffix(temp: Path, suffix: str, save: Callable[[str], None]) -> None:
    """Keras insists on file name endings; save under one beside `temp`, then move it onto `temp`."""
    named = temp.with_name(temp.name + suffix)
    try:
        save(str(named))
        os.replace(named, temp)
    finally:
        named.unlink(missing_ok=True)
