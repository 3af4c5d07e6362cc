"""Where a model's files live and what they are called.

One experiment writes four files with a shared stem: `basic_model.json`,
`basic_weights.h5`, `basic_run.json` and `basic_history.csv`.

Example:
    >>> stem_of("basic_model.json")
    'basic'
"""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = "models"

def stem_of(model_file: str) -> str:
    """The shared stem of a model's files: basic_model.json -> basic.

    Example:
        >>> stem_of("basic_model.json"), stem_of("net.json"), stem_of("net.keras")
        ('basic', 'net', 'net')
    """
    name = Path(model_file).name
    for suffix in ("_model.json", ".json", ".keras"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def record_path(model_path: Path) -> Path:
    """The run record beside a model: models/basic_model.json -> models/basic_run.json."""
    return model_path.with_name(f"{stem_of(model_path.name)}_run.json")


def history_path(model_path: Path) -> Path:
    """The per-epoch history CSV beside a model: basic_model.json -> basic_history.csv."""
    return model_path.with_name(f"{stem_of(model_path.name)}_history.csv")


def journal_path(model_path: Path) -> Path:
    """Where a save in progress lists its renames: models/.basic_saving.json."""
    return model_path.with_name(f".{stem_of(model_path.name)}_saving.json")


def lock_path(model_path: Path) -> Path:
    """The lock that serializes saves of one model: models/.basic_saving.lock."""
    return model_path.with_name(f".{stem_of(model_path.name)}_saving.lock")


def checkpoint_path(model_path: Path) -> Path:
    """Where a run's checkpoint is kept while it trains: models/basic_model.json -> models/.basic_checkpoint.npz."""
    return model_path.with_name(f".{stem_of(model_path.name)}_checkpoint.npz")
