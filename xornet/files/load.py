"""Loading a saved model: find its files, check them, build the Keras model.

The architecture JSON is checked before anything else
(`xornet.files.architecture`): a Sequential model of layers xornet can run,
with no code in the file, translated to a Keras 3 config. The SHA-256 in the run record is checked before
the files are used.

Example:
    >>> loaded = load_model("models/basic_model.json")
    >>> loaded.input_width
    2
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from xornet.errors import InputError
from xornet.files.architecture import check_architecture
from xornet.files.keras_archive import CONFIG_MEMBER, archive_member, is_keras_archive
from xornet.files.names import MODELS_DIR, stem_of
from xornet.files.record import read_record, verify_against_record
from xornet.files.safe_write import finish_interrupted_save
from xornet.files.weights_h5 import layer_classes, read_weights_h5, set_weights_from

@dataclass
class LoadedModel:
    """A model read back from disk, with the files it came from."""

    model: object
    model_path: Path
    weights_path: Path | None  # None: an architecture file alone (load_model's weights_optional)
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
        hint="train one with `xornet train CONFIG`, or give the path of a saved model's .json (or .keras) file",
    )


def find_weights_file(model_path: Path, record: dict | None) -> Path:
    """The weights that go with a model: the first of `weights_candidates` that exists, or the model file
    itself when it is a `.keras` archive."""
    if is_keras_archive(model_path):
        return model_path
    candidates = weights_candidates(model_path, record)
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise InputError(
        f"{model_path}: no weights file found beside it: looked for {', '.join(map(str, candidates))}",
        hint="pass --weights PATH",
    )


def weights_candidates(model_path: Path, record: dict | None) -> list[Path]:
    """Where a model's weights may be: the name its run record gives, else <stem>_weights.h5, <stem>.weights.h5,
    or Keras 2's habit: model.h5 beside model.json (a weights file or a whole-model file).

    Example:
        >>> [p.name for p in weights_candidates(Path("models/model.json"), None)]
        ['model_weights.h5', 'model.weights.h5', 'model.h5']
    """
    candidates = []
    if record and isinstance(record.get("files"), dict):
        name = record["files"].get("weights", {}).get("name")
        if name:
            candidates.append(model_path.with_name(name))
    stem = stem_of(model_path.name)
    candidates += [model_path.with_name(f"{stem}_weights.h5"), model_path.with_name(f"{stem}.weights.h5"),
                   model_path.with_suffix(".h5")]
    return list(dict.fromkeys(candidates))


def read_model_json(model_path: Path) -> dict:
    """The architecture JSON, checked and translated to a Keras 3 Sequential config (`check_architecture`).

    Every command that reads a saved model reads its architecture here.
    """
    try:
        text = (archive_member(model_path, CONFIG_MEMBER) if is_keras_archive(model_path) else
                model_path.read_bytes()).decode("utf-8")
        config = json.loads(text)
    except UnicodeDecodeError:
        raise InputError(f"{model_path}: not a text file, expected a Keras model JSON") from None
    except RecursionError:
        raise InputError(f"{model_path}: JSON nested too deeply, expected a Keras model JSON") from None
    except ValueError as exc:
        raise InputError(f"{model_path}: not valid JSON ({exc}), expected a Keras model JSON") from None
    return check_architecture(config, str(model_path))


def read_architecture(model_path: Path, config: dict | None = None):
    """Build an untrained Keras model from an architecture JSON file (or its checked config)."""
    from xornet.backend import import_keras

    keras = import_keras()
    config = config if config is not None else read_model_json(model_path)
    try:
        return keras.models.model_from_json(json.dumps(config))
    except Exception as exc:  # Keras raises many types for configs it cannot read
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{model_path}: Keras cannot build this model: {first}") from None


def load_model(model_path: str | Path, weights_path: str | Path | None = None,
               weights_optional: bool = False) -> LoadedModel:
    """Read a model's architecture JSON and HDF5 weights, ready to predict.

    With `weights_optional` (what summary shows), an architecture file with no
    weights beside it and no run record is built untrained, `weights_path` None;
    every file that is there is checked as for predict.

    Example:
        >>> loaded = load_model("models/basic_model.json")
        >>> loaded.input_width
        2
    """
    path, record, config, weights = _model_files(model_path, weights_path, weights_optional)
    model = read_architecture(path, config)
    if weights is not None:
        set_weights_from(model, read_weights_h5(weights, layer_classes(config)), weights)
    return LoadedModel(model, path, weights, record)


def _model_files(model_path, weights_path, weights_optional: bool = False) -> tuple[Path, dict | None, dict, Path | None]:
    """Find and check a model's files: (JSON path, run record, architecture dict, weights path).

    The architecture is checked before the weights are looked for, so a broken
    JSON file is reported as such. The weights path is None only with
    `weights_optional`, when no weights are found and no run record names any.
    """
    path = find_model_file(model_path)
    record = read_record(path)
    config = read_model_json(path)
    if weights_path is not None:
        weights = Path(weights_path)
    else:
        try:
            weights = find_weights_file(path, record)
        except InputError:
            if weights_optional and record is None:
                return path, record, config, None
            raise
    if not weights.exists():
        raise InputError(f"{weights}: weights file not found")
    verify_against_record(path, record, weights)
    return path, record, config, weights
