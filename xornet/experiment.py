"""One experiment end to end: config -> data -> model -> training -> files.

Example:
    >>> import xornet
    >>> run = xornet.train(xornet.load_config("configs/xor.yaml"))
    >>> run.final["accuracy"]
    1.0
"""

from __future__ import annotations

import datetime
import platform
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from xornet import __version__
from xornet.artifacts import check_can_write, save_run
from xornet.config import Config
from xornet.data import Dataset, load_data
from xornet.trainer import ProgressFn, TrainResult, evaluate_model, train_model


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

    @property
    def converged(self) -> bool | None:
        """True when every training row is classified right and the target loss (if any) is reached.

        None when the config has no accuracy metric and no target loss to judge by.
        """
        checks = []
        if "accuracy" in self.final:
            checks.append(self.final["accuracy"] >= 1.0)
        if self.config.training.target_loss is not None:
            checks.append(self.final["loss"] < self.config.training.target_loss)
        return all(checks) if checks else None


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


def train(config: Config, force: bool = False, save: bool = True, progress: ProgressFn | None = None,
          on_start: Callable[[Dataset, object], None] | None = None) -> Run:
    """Train the experiment `config` describes and (by default) save its files.

    Raises `InputError` for bad data or an output that would overwrite another
    experiment's model (unless `force`), before TensorFlow is imported.
    `on_start(dataset, model)` is called once the model is built, before training.
    """
    from xornet.network import build_model, compile_model

    dataset = load_data(config)
    directory = Path(config.output.dir)
    if save:
        check_can_write(directory, config.output.model_file, config.output.weights_file, config.name, force)
    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    model = build_model(config, dataset.width, seed)
    compile_model(model, config.training)
    if on_start:
        on_start(dataset, model)
    result = train_model(model, dataset.x, dataset.y, config.training, seed=seed, progress=progress)
    final = evaluate_model(model, dataset.x, dataset.y)
    probabilities = np.asarray(model(dataset.x, training=False))
    run = Run(config, seed, dataset, model, result, final, probabilities, None)
    if save:
        record = run_record(run)
        run.paths = save_run(model, directory, config.output.model_file, config.output.weights_file,
                             record, result.history)
    return run


def run_record(run: Run) -> dict:
    """Everything needed to understand and repeat a run (saved as <stem>_run.json)."""
    return {
        "experiment": run.config.name,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config_file": run.config.source,
        "overrides": run.config.overrides,
        "seed": run.seed,
        "engine": run.result.engine,
        "engine_reason": run.result.engine_reason,
        "epochs_run": run.result.epochs_run,
        "stop_reason": run.result.stop_reason,
        "train_seconds": round(run.result.seconds, 3),
        "final": run.final,
        "converged": run.converged,
        "data": {
            "source": run.dataset.source,
            "rows": int(run.dataset.x.shape[0]),
            "features": run.dataset.feature_names,
            "label": run.dataset.label_name,
        },
        "versions": library_versions(),
        "config": run.config.resolved() | {"seed": run.seed},
        "history": run.result.history,
    }
