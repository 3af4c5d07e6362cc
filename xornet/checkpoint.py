"""Training checkpoints: everything needed to continue a run exactly where it stopped.

One `.npz` file (NumPy arrays only, no pickles) holding the model's variables
(weights and the random-seed state of layers such as Dropout), the optimizer's
variables (step count, learning rate, moments), the callbacks' counters (early
stopping, reduce-on-plateau), the history so far, the epoch, and a fingerprint
of the run, so that a checkpoint is never applied to a different run. It is
written atomically: a crash leaves the previous checkpoint whole. (Keras'
`keras.callbacks.BackupAndRestore` keeps model, optimizer and epoch; this also
keeps the callbacks and history, so a resumed run equals an uninterrupted one.)

Example:
    >>> save_checkpoint(Path("models/.xor_checkpoint.npz"), checkpoint)
    >>> load_checkpoint(Path("models/.xor_checkpoint.npz")).epoch
    20
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xornet.errors import InputError
from xornet.files.safe_write import atomic_write

FORMAT = "xornet-checkpoint-1"
DATA_KEYS = ("data.stream", "data", "values", "stream")  # the fingerprint's keys that describe the training data


@dataclass
class Checkpoint:
    """A training run's state at the end of an epoch."""

    epoch: int  # epochs done
    history: dict[str, list[float]]
    fingerprint: dict  # what must match for a resume: settings, seed, data shapes and a hash of its values
    model: list[np.ndarray]  # model.variables, in order
    optimizer: list[np.ndarray]  # model.optimizer.variables, in order
    callbacks: dict[str, dict] = field(default_factory=dict)  # JSON-able counters per callback
    arrays: dict[str, list[np.ndarray]] = field(default_factory=dict)  # e.g. best weights
    stop_reason: str | None = None


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write `checkpoint` to `path` atomically."""
    meta = {"format": FORMAT, "epoch": checkpoint.epoch, "history": checkpoint.history,
            "fingerprint": checkpoint.fingerprint, "callbacks": checkpoint.callbacks,
            "stop_reason": checkpoint.stop_reason}
    arrays = {"meta": np.array(json.dumps(meta))}
    groups = {"model": checkpoint.model, "optimizer": checkpoint.optimizer, **checkpoint.arrays}
    for group, values in groups.items():
        arrays.update({f"{group}/{index}": np.asarray(value) for index, value in enumerate(values)})
        arrays[f"{group}/count"] = np.array(len(values))

    def write(temp: Path) -> None:
        with open(temp, "wb") as handle:
            np.savez(handle, **arrays)

    atomic_write(path, write)


def check_same_run(path: Path, saved: dict, now: dict) -> None:
    """Refuse a checkpoint whose fingerprint `saved` is not this run's (`now`), naming what differs: settings
    as the refusal to overwrite another experiment's model does ("training.learning_rate: 0.05 -> 0.001"),
    data in words (how it is read, row counts, changed values).

    Example:
        >>> check_same_run(path, {"seed": 3}, {"seed": 4})
        Traceback (most recent call last):
        InputError: ...: the checkpoint is of a different run (seed: 3 -> 4)
    """
    from xornet.files.save import config_differences

    settings = {key: value for key, value in saved.items() if key not in DATA_KEYS}
    # Under one key, so that none is taken for a key a re-run may change (seed, training.engine) and skipped.
    differences = [line.removeprefix("run.") for line in config_differences(
        {"run": settings}, {"run": {key: value for key, value in now.items() if key not in DATA_KEYS}})]
    differences += _data_differences(saved, now)
    if differences:
        raise InputError(f"{path}: the checkpoint is of a different run ({'; '.join(differences)})",
                         hint="to start over, train with --force and without --resume; it replaces the checkpoint")


def _data_differences(saved: dict, now: dict) -> list[str]:
    """How the data of two fingerprints differ, in words: how it is read, then row counts and width, then values.

    Example:
        >>> _data_differences({"data": [[8, 2], [8, 1]]}, {"data": [[6, 2], [6, 1]]})
        ['training rows: 8 -> 6']
    """
    if saved.get("data.stream") != now.get("data.stream"):
        return [f"data read {saved.get('data.stream', 'in memory')} then, {now.get('data.stream')} now"]
    before, after = saved.get("data", []), now.get("data", [])
    if before != after:
        lines = [f"{name} rows: {_rows(before, at)} -> {_rows(after, at)}"
                 for name, at in (("training", 0), ("validation", 2)) if _rows(before, at) != _rows(after, at)]
        if before[:1] and after[:1] and before[0][1:] != after[0][1:]:
            lines.append(f"inputs: {before[0][-1]} -> {after[0][-1]}")
        return lines or ["the shapes of the data differ"]
    if any(saved.get(key) != now.get(key) for key in ("values", "stream")):
        return ["the training or validation rows hold other values (the data file, or its split, changed)"]
    return []


def _rows(shapes: list, at: int) -> int | str:
    return shapes[at][0] if len(shapes) > at else "none"


def load_checkpoint(path: Path) -> Checkpoint:
    """Read the checkpoint at `path`; a missing or damaged file is an `InputError`."""
    if not path.exists():
        raise InputError(f"{path}: no checkpoint to resume from",
                         hint="set training.checkpoint_every and train without --resume first")
    if not zipfile.is_zipfile(path):  # else NumPy takes it for a pickle and speaks of allow_pickle
        raise InputError(f"{path}: not a readable xornet checkpoint (not a .npz archive)",
                         hint="train without --resume to start over")
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: not a readable xornet checkpoint ({exc})",
                         hint="train without --resume to start over") from exc
    if meta.get("format") != FORMAT:
        raise InputError(f"{path}: expected checkpoint format {FORMAT}, received {meta.get('format')!r}")
    groups = {name.split("/")[0] for name in arrays}
    lists = {group: [arrays[f"{group}/{i}"] for i in range(int(arrays[f"{group}/count"]))] for group in groups}
    return Checkpoint(meta["epoch"], meta["history"], meta["fingerprint"], lists.pop("model"),
                      lists.pop("optimizer"), meta["callbacks"], lists, meta["stop_reason"])
