"""Writing a saved model for another Keras: Keras 2 files, the Keras 3 pair, or one .keras file.

Example:
    >>> export_model(load_model("models/basic_model.json"), "keras2", Path("out"))
    [PosixPath('out/basic_model.json'), PosixPath('out/basic_weights.h5')]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from xornet.errors import InputError
from xornet.files.load import LoadedModel
from xornet.files.names import stem_of
from xornet.files.safe_write import atomic_write
from xornet.files.weights_h5 import write_weights_h5

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
