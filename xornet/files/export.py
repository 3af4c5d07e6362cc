"""Writing a saved model for another Keras: Keras 2 files, the Keras 3 pair, or one .keras file.

Example:
    >>> export_model(load_model("models/basic_model.json"), "keras2", Path("out"))
    [PosixPath('out/basic_model.json'), PosixPath('out/basic_weights.h5')]
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from xornet.errors import InputError, XornetError
from xornet.files.names import checkpoint_path, history_path, journal_path, lock_path, record_path, stem_of
from xornet.files.safe_write import atomic_write

if TYPE_CHECKING:
    from xornet.files.load import LoadedModel

EXPORT_FORMATS = ("keras2", "keras3", "keras")
EXPORT_FILES = {  # the files (or directory) each --to format writes, named after the model's stem
    "keras2": ("{stem}_model.json", "{stem}_weights.h5"),
    "keras3": ("{stem}_model.json", "{stem}.weights.h5"),
    "keras": ("{stem}.keras",),
    "savedmodel": ("{stem}_savedmodel",),
    "tflite": ("{stem}.tflite",),
    "onnx": ("{stem}.onnx",),
}
CONVERTERS = {"onnx": "tf2onnx"}  # formats that need an optional package


def export_paths(model_file: str | Path, to: str, directory: Path) -> list[Path]:
    """The paths an export of `model_file` to format `to` writes into `directory`.

    Example:
        >>> export_paths("models/basic_model.json", "keras3", Path("out"))
        [PosixPath('out/basic_model.json'), PosixPath('out/basic.weights.h5')]
    """
    stem = stem_of(Path(model_file).name)
    return [Path(directory) / name.format(stem=stem) for name in EXPORT_FILES[to]]


def check_export(model_file: str | Path, to: str, directory: Path, force: bool = False,
                 weights: str | Path | None = None) -> None:
    """Refuse an export that cannot succeed, before TensorFlow is imported: one that would write over one of
    the model's own files (`model_files`; even with `force`), a file it would overwrite (without `force`), or a
    converter package that is not installed.

    Example:
        >>> check_export("models/basic_model.json", "keras3", Path("out"))
    """
    from xornet.files.load import find_model_file

    model_path = find_model_file(model_file)
    targets = export_paths(model_path, to, directory)
    own = model_files(model_path, weights)
    for target in targets:
        resolved = target.resolve()
        for path in own:  # compared resolved: the same file by another spelling or through a link
            inside = path.resolve()
            if inside == resolved or resolved in inside.parents:  # a SavedModel directory is replaced whole
                spelled = "" if str(target) == str(path) else f" (as {target})"
                raise InputError(f"export would overwrite {path}{spelled}, one of the model's own files",
                                 hint=f"export into another folder than {directory}")
    package = CONVERTERS.get(to)
    if package is not None and not _installed(package):
        raise XornetError(f"--to {to} needs {package}, which is not installed",
                          hint="pip install 'xornet[onnx]', which installs tf2onnx and onnxruntime")
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        raise InputError(f"{existing[0]} already exists; refusing to overwrite it", hint="pass --force to replace it")


def model_files(model_path: Path, weights: str | Path | None = None) -> list[Path]:
    """The files of a saved model that are there: its JSON, weights (`weights` and the ones predict would
    find), run record and the files it names, history and save bookkeeping.

    Example:
        >>> model_files(Path("models/basic_model.json"))
        [PosixPath('models/basic_model.json'), PosixPath('models/basic_run.json'), ...]
    """
    from xornet.files.load import find_weights_file
    from xornet.files.record import read_record

    candidates = [model_path, record_path(model_path), history_path(model_path), journal_path(model_path),
                  lock_path(model_path), checkpoint_path(model_path)]
    if weights is not None:
        candidates.append(Path(weights))
    try:  # a damaged record or no weights: loading the model reports it
        record = read_record(model_path)
        for entry in (record or {}).get("files", {}).values():
            name = entry.get("name") if isinstance(entry, dict) else entry
            if isinstance(name, str) and name:
                candidates.append(model_path.with_name(name))
        candidates.append(find_weights_file(model_path, record))
    except InputError:
        pass
    return [path for path in dict.fromkeys(candidates) if path.exists()]


def _installed(package: str) -> bool:
    if package in sys.modules:  # None there means `import package` fails
        return sys.modules[package] is not None
    return importlib.util.find_spec(package) is not None


def export_model(loaded: LoadedModel, to: str, directory: Path, force: bool = False) -> list[Path]:
    """Write a loaded model for another Keras: "keras2" (Keras 2 JSON + HDF5 weights),
    "keras3" (`to_json()` + `.weights.h5`) or "keras" (one `.keras` file). Returns the paths written.

    Example:
        >>> export_model(load_model("models/basic_model.json"), "keras2", Path("out"))
        [PosixPath('out/basic_model.json'), PosixPath('out/basic_weights.h5')]
    """
    from xornet.files.weights_h5 import write_weights_h5
    from xornet.keras2 import to_keras2

    if to not in EXPORT_FORMATS:
        raise InputError(f"--to: expected one of {', '.join(EXPORT_FORMATS)}, received {to!r}")
    check_export(loaded.model_path, to, directory, force, loaded.weights_path)
    paths = export_paths(loaded.model_path, to, directory)
    model = loaded.model
    if to == "keras2":
        config = json.loads(model.to_json())
        writers = [lambda temp: temp.write_text(json.dumps(to_keras2(config, str(loaded.model_path))), encoding="utf-8"),
                   lambda temp: write_weights_h5(model, temp)]
    elif to == "keras3":
        writers = [lambda temp: temp.write_text(model.to_json(), encoding="utf-8"),
                   lambda temp: _save_with_suffix(temp, ".weights.h5", model.save_weights)]
    else:
        writers = [lambda temp: _save_with_suffix(temp, ".keras", model.save)]
    files = dict(zip(paths, writers))
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
