"""The run record (`<stem>_run.json`) and history CSV written beside a model.

The record holds everything needed to understand and repeat a run, and the
SHA-256 of the model files it describes, checked before they are used.

Example:
    >>> record = read_record(Path("models/basic_model.json"))
    >>> record["experiment"]
    'xor'
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from xornet.errors import InputError
from xornet.files.names import record_path
from xornet.files.safe_write import sha256_of

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
