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


@dataclass
class Checkpoint:
    """A training run's state at the end of an epoch."""

    epoch: int  # epochs done
    history: dict[str, list[float]]
    fingerprint: dict  # what must match for a resume: settings, seed, data shapes
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
    """Refuse a checkpoint whose fingerprint `saved` is not this run's (`now`), naming each key that differs
    as the refusal to overwrite another experiment's model does ("training.learning_rate: 0.05 -> 0.001").

    Example:
        >>> check_same_run(path, {"seed": 3}, {"seed": 4})
        Traceback (most recent call last):
        InputError: ...: the checkpoint is of a different run (seed: 3 -> 4)
    """
    from xornet.files.save import config_differences

    # Under one key, so that none is taken for a key a re-run may change (seed, training.engine) and skipped.
    differences = [line.removeprefix("run.") for line in config_differences({"run": saved}, {"run": now})]
    if differences:
        raise InputError(f"{path}: the checkpoint is of a different run ({'; '.join(differences)})",
                         hint="train without --resume to start over")


def load_checkpoint(path: Path) -> Checkpoint:
    """Read the checkpoint at `path`; a missing or damaged file is an `InputError`."""
    if not path.exists():
        raise InputError(f"{path}: no checkpoint to resume from",
                         hint="set training.checkpoint_every and train without --resume first")
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
