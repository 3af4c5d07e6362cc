"""Saving a trained run: architecture, weights, history and run record, together.

Example:
    >>> check_can_write(Path("models"), "basic_model.json", "basic_weights.h5", "xor", force=False)
    >>> save_run(model, Path("models"), "basic_model.json", "basic_weights.h5", record, history)
"""

from __future__ import annotations

import json
from pathlib import Path

from xornet.errors import InputError
from xornet.files.names import history_path, journal_path, record_path
from xornet.files.record import history_csv, read_record
from xornet.files.safe_write import finish_interrupted_save, replace_together, sha256_of, stage
from xornet.files.weights_h5 import write_weights_h5

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
