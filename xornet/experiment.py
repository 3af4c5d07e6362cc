"""One experiment end to end: config -> data -> model -> training -> files.

Example:
    >>> import xornet
    >>> run = xornet.train(xornet.load_config("configs/xor.yaml"))
    >>> run.final["accuracy"]
    1.0
"""

from __future__ import annotations

import datetime
import importlib.util
import platform
import random
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from xornet import __version__
from xornet.checkpoint import load_checkpoint
from xornet.files.save import check_can_write, save_run
from xornet.config import Config, check_data_files
from xornet.data import Dataset, Splits, load_splits
from xornet.data.stream import StreamSplits, stream_splits, wants_stream
from xornet.errors import InputError
from xornet.files.names import checkpoint_path
from xornet.text import counted
from xornet.trainer import ProgressFn, TrainResult, check_monitors, evaluate_model, train_model

PREVIEW_ROWS = 16  # training rows whose predictions a run keeps (what `train` prints)


@dataclass
class Run:
    """A finished training run: the trained model, its numbers and the files written."""

    config: Config
    seed: int
    dataset: Dataset
    model: object
    result: TrainResult
    final: dict[str, float]
    probabilities: np.ndarray
    paths: dict[str, Path] | None
    attempts: list[dict] = field(default_factory=list)
    splits: Splits | None = None
    held_out: dict[str, dict] = field(default_factory=dict)  # "validation"/"test" -> {"rows": n, metrics...}
    devices: list[str] = field(default_factory=list)  # training.devices > 1: the replicas' devices (CPU:0, ...)

    @property
    def converged(self) -> bool | None:
        """Did the run reach what it was asked to?

        For a truth table: every row classified right and the target loss (if
        any) reached. For file data, where noisy rows never reach 100%: the
        target loss, or an early stop on validation. None when there is
        nothing to judge by.
        """
        target = self.config.training.target_loss
        if self.config.data.path is not None:
            if target is not None:
                return self.final["loss"] < target
            return True if self.result.stop_reason == "early_stopping" else None
        checks = []
        if "accuracy" in self.final:
            checks.append(self.final["accuracy"] >= 1.0)
        if target is not None:
            checks.append(self.final["loss"] < target)
        return all(checks) if checks else None


def convergence_hint(run: Run) -> str:
    """What to try when a run did not converge, sized to the data (more epochs are cheap only on small data)."""
    epochs = run.config.training.epochs
    rows = len(run.dataset.x)
    if run.config.data.path is None or rows * epochs * 10 <= 50_000_000:
        return f"try more epochs (--epochs {max(epochs * 10, 1000)}) or another seed (--seed N, or seed: null)"
    tips = [] if run.config.data.normalize else ["data.normalize: true"]
    tips += ["a larger training.learning_rate or optimizer adam", f"a few more epochs (--epochs {epochs * 2})"]
    return "try " + ", ".join(tips) + "; or a training.target_loss that fits this data"


def library_versions() -> dict[str, str]:
    import h5py
    import keras
    import tensorflow as tf

    return {
        "xornet": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "h5py": h5py.__version__,
        "numpy": np.__version__,
    }


def restart_seeds(seed: int, restarts: int) -> list[int]:
    """The seeds of the first attempt and of each restart, derived from the first.

    Example:
        >>> restart_seeds(42, 2)[0]
        42
    """
    draw = random.Random(seed)
    return [seed] + [draw.randrange(2**31) for _ in range(restarts)]


def train(config: Config, force: bool = False, save: bool = True, progress: ProgressFn | None = None,
          on_start: Callable[[Dataset, object], None] | None = None,
          on_attempt: Callable[[Run, int], None] | None = None, resume: bool = False) -> Run:
    """Train the experiment `config` describes and (by default) save its files.

    Raises `InputError` for bad data or an output that would overwrite another
    experiment's model (unless `force`), before TensorFlow is imported.
    When an attempt does not converge and `training.restarts` allows, training
    starts again from a new seed; the converged attempt is kept, or else the one
    with the lowest loss. `on_start(dataset, model)` is called once the first
    model is built; `on_attempt(run, number)` after each attempt.

    With `training.checkpoint_every`, a checkpoint is written beside the model
    files while training (and removed once they are saved); `resume=True`
    continues the interrupted attempt from it, with the seed it was trained from.
    """
    directory = Path(config.output.dir)
    wants_checkpoint = save and config.training.checkpoint_every
    checkpoint = checkpoint_path(directory / config.output.model_file) if wants_checkpoint else None
    if resume and (checkpoint is None or not checkpoint.exists()):
        raise _nothing_to_resume(config, checkpoint)
    saved = load_checkpoint(checkpoint) if resume else _readable_checkpoint(checkpoint)
    if saved is not None and resume and saved.epoch > config.training.epochs:
        raise InputError(f"{config.place_of('training.epochs')}: the checkpoint has {counted(saved.epoch, 'epoch')} "
                         f"trained already, more than training.epochs {config.training.epochs}",
                         hint=f"resume with --epochs {saved.epoch} or more")
    if saved is not None and not resume and not force:
        raise InputError(f"{checkpoint}: an interrupted run's checkpoint (epoch {saved.epoch}) would be replaced",
                         hint="--resume continues it; --force starts over and replaces it")
    first_seed = config.seed if config.seed is not None else (
        int(saved.fingerprint["seed"]) if resume else secrets.randbelow(2**31))
    check_data_files(config)  # before the stream-or-memory choice, which sizes the file
    splits = stream_splits(config, first_seed) if wants_stream(config) else load_splits(config, first_seed)
    check_monitors(config.training, has_validation=bool(config.data.validation or config.data.validation_path))
    if save:
        check_can_write(directory, config.output.model_file, config.output.weights_file, config.resolved(), force)
    if config.training.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise InputError("training.tensorboard: writing TensorBoard scalars needs the tensorboard package",
                         hint="pip install tensorboard (or pip install 'xornet[tensorboard]')")
    best, attempts = None, []
    for number, seed in enumerate(restart_seeds(first_seed, config.training.restarts), start=1):
        run = _train_once(config, splits, seed, progress, on_start if number == 1 else None,
                          checkpoint, resume and number == 1)
        attempts.append({"seed": seed, "epochs": run.result.epochs_run, "stop_reason": run.result.stop_reason,
                         "final": run.final, "converged": run.converged})
        if on_attempt:
            on_attempt(run, number)
        if best is None or run.final["loss"] < best.final["loss"]:
            best = run
        if run.converged is not False:
            best = run
            break
    best.attempts = attempts
    if config.training.tensorboard:
        from xornet.tensorboard import write_scalars

        write_scalars(Path(config.training.tensorboard) / config.name, best.result.history)
    if save:
        best.paths = save_run(best.model, directory, config.output.model_file, config.output.weights_file,
                              run_record(best), best.result.history, force=force)
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)  # kept until now: a crash before the save loses no training
    return best


def _nothing_to_resume(config: Config, checkpoint: Path | None) -> InputError:
    message = f"--resume: no checkpoint to resume from ({checkpoint or 'training.checkpoint_every is not set'})"
    if checkpoint is None:
        return InputError(message, hint="set training.checkpoint_every: N and train without --resume first")
    model = Path(config.output.dir) / config.output.model_file
    why = (f"the run finished and saved {model} (its checkpoint is removed then)" if model.exists() else
           f"the run never started, or stopped before its first checkpoint (epoch {config.training.checkpoint_every})")
    return InputError(message, hint=f"{why}: there is nothing to resume; train without --resume")


def interrupted_message(config: Config) -> str:
    """What an interrupted `train` leaves: no model files, and maybe a checkpoint that --resume continues from.

    Example:
        >>> interrupted_message(load_config("configs/xor.yaml"))
        'interrupted during training: nothing was written, existing files are untouched'
    """
    checkpoint = checkpoint_path(Path(config.output.dir) / config.output.model_file)
    if not config.training.checkpoint_every or not checkpoint.exists():
        return "interrupted during training: nothing was written, existing files are untouched"
    try:
        epoch = f"epoch {load_checkpoint(checkpoint).epoch}"
    except InputError:  # damaged: --resume will say so
        epoch = "its epoch"
    return (f"interrupted during training: the model files were not written (existing ones are untouched); "
            f"the checkpoint {checkpoint} is kept: train again with --resume to continue from {epoch}")


def _readable_checkpoint(path: Path | None):
    """The checkpoint at `path`, or None when there is none or it cannot be read (--resume says why)."""
    if path is None or not path.exists():
        return None
    try:
        return load_checkpoint(path)
    except InputError:
        return None


def _train_once(config: Config, splits: Splits, seed: int, progress, on_start,
                checkpoint: Path | None = None, resume: bool = False) -> Run:
    from xornet.devices import device_names, strategy_scope
    from xornet.network import build_model, compile_model

    if isinstance(splits, StreamSplits):  # data.stream: the file is read in batches
        from xornet.stream_training import train_streamed

        return train_streamed(config, splits, seed, progress, on_start, checkpoint, resume)
    dataset = splits.train
    with strategy_scope(config.training):  # training.devices > 1: a MirroredStrategy's variables
        model = build_model(config, dataset.width, seed, normalize_on=dataset.x if config.data.normalize else None)
        compile_model(model, config.training)
    if on_start:
        on_start(dataset, model)
    validation = (splits.validation.x, splits.validation.y) if splits.validation is not None else None
    result = train_model(model, dataset.x, dataset.y, config.training, seed=seed, progress=progress,
                         validation=validation, class_names=dataset.classes, checkpoint_path=checkpoint,
                         resume=resume)
    final = evaluate_model(model, dataset.x, dataset.y)
    held_out = {name: {"rows": len(part.x)} | evaluate_model(model, part.x, part.y)
                for name, part in (("validation", splits.validation), ("test", splits.test)) if part is not None}
    probabilities = np.asarray(model(dataset.x[:PREVIEW_ROWS], training=False))
    return Run(config, seed, dataset, model, result, final, probabilities, None, splits=splits, held_out=held_out,
               devices=device_names(model))


def run_record(run: Run) -> dict:
    """Everything needed to understand and repeat a run (saved as <stem>_run.json)."""
    return {
        "experiment": run.config.name,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config_file": run.config.source,
        "overrides": run.config.overrides,
        "seed": run.seed,
        "attempts": run.attempts,
        "engine": run.result.engine,
        "engine_reason": run.result.engine_reason,
        "devices": run.devices,
        "epochs_run": run.result.epochs_run,
        "stop_reason": run.result.stop_reason,
        "train_seconds": round(run.result.seconds, 3),
        "final": run.final,
        "converged": run.converged,
        "held_out": run.held_out,
        "data": {
            "source": run.dataset.source,
            "rows": int(run.dataset.x.shape[0]),
            "features": run.dataset.feature_names,
            "label": run.dataset.label_name,
        } | (run.splits.encoding if run.splits else {}),
        "versions": library_versions(),
        "config": run.config.resolved() | {"seed": run.seed},
        "history": run.result.history,
    }
