"""Sweeps: how often does a setting converge? Many seeds, a grid of config values, Optuna as the engine.

Every (setting, seed) pair is one Optuna trial, enqueued once into a study
whose storage is shared by every worker: several `xornet sweep` processes take
trials from the same queue, each trial runs once, and a sweep that was
interrupted resumes with the trials that did not finish.

The default storage is an Optuna journal file in the sweep's directory, which
file locks keep consistent between processes. Optuna's SQLite storage was
tried first: two workers on it ran the same trial ("Cannot tell a COMPLETE
trial"), as SQLite does not lock rows. `--storage` also takes an RDB URL:
PostgreSQL or MySQL for workers on several machines (an NFS-shared journal
file works too).

Example:
    >>> plan = plan_sweep(config, seeds=range(10), grid={"training.learning_rate": [0.1, 0.5]})
    >>> len(plan.trials())
    20
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xornet.config import Config, apply_override, parse_override, validate_config
from xornet.errors import InputError

HEARTBEAT_SECONDS = 10  # a worker that stops beating for GRACE_SECONDS is taken as dead
GRACE_SECONDS = 60


def parse_grid(options: list[str]) -> dict[str, list[Any]]:
    """`--grid training.learning_rate=0.05,0.1` options -> {"training.learning_rate": [0.05, 0.1]}.

    Example:
        >>> parse_grid(["model.layers.0.units=2,4"])
        {'model.layers.0.units': [2, 4]}
    """
    grid: dict[str, list[Any]] = {}
    for option in options:
        key, sep, raw = option.partition("=")
        if not sep or not raw.strip():
            raise InputError(f"--grid {option!r}: expected KEY=V1,V2,... for example training.learning_rate=0.05,0.1")
        values = [parse_override(f"{key}={part}")[1] for part in raw.split(",")]
        if key.strip() == "seed":
            raise InputError("--grid seed=...: use --seeds N for seeds")
        grid[key.strip()] = values
    return grid


@dataclass
class SweepPlan:
    """The base config, the grid of settings and the seeds: every trial the sweep will run."""

    config: Config
    grid: dict[str, list[Any]]
    seeds: list[int]
    target_loss: float

    def settings(self) -> list[dict[str, Any]]:
        """Every combination of grid values, as {key: value}."""
        return [dict(zip(self.grid, values)) for values in itertools.product(*self.grid.values())]

    def trials(self) -> list[dict[str, Any]]:
        """The Optuna params of every trial: the setting's values and a seed."""
        return [{**setting, "seed": seed} for setting in self.settings() for seed in self.seeds]

    def config_for(self, params: dict[str, Any]) -> Config:
        """The config one trial trains: the base config with the setting and seed applied, no early stop."""
        data = self.config.resolved()
        for key, value in params.items():
            path, _ = parse_override(f"{key}=0")
            apply_override(data, path, value, f"--grid {key}")
        data["training"]["target_loss"] = None
        data["training"]["restarts"] = 0
        data["training"]["tensorboard"] = None
        return validate_config(data, self.config.source or "<sweep>")


def plan_sweep(config: Config, seeds, grid: dict[str, list[Any]], target_loss: float | None = None) -> SweepPlan:
    """Check every setting of the grid now, before any training."""
    target = target_loss or config.training.target_loss or 0.1
    plan = SweepPlan(config, grid, list(seeds) or [config.seed or 0], target)
    for setting in plan.settings():
        plan.config_for({**setting, "seed": plan.seeds[0]})
    return plan


RDB_SCHEMES = ("sqlite:", "postgresql", "mysql")


def _study(storage: str, name: str):
    """The study in `storage`: an RDB URL (heartbeats mark dead workers' trials), else an Optuna journal file."""
    import warnings

    import optuna
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeats: stable enough
    if storage.startswith(RDB_SCHEMES):
        backend = optuna.storages.RDBStorage(storage, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS)
    else:
        backend = optuna.storages.JournalStorage(JournalFileBackend(storage))
    return optuna.create_study(study_name=name, storage=backend, load_if_exists=True, direction="minimize")


def _key(params: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def enqueue(plan: SweepPlan, storage: str, name: str) -> int:
    """Put every planned trial that has not finished (and is not queued or running) into the study's queue."""
    import optuna
    from optuna.trial import TrialState

    study = _study(storage, name)
    if storage.startswith(RDB_SCHEMES):
        optuna.storages.fail_stale_trials(study)
    _fail_dead_local_trials(study)
    alive = (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
    present = {_key(t.user_attrs["params"]) for t in study.get_trials(states=alive) if "params" in t.user_attrs}
    added = 0
    for params in plan.trials():
        if _key(params) not in present:
            study.enqueue_trial({}, user_attrs={"params": params})
            added += 1
    return added


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _fail_dead_local_trials(study) -> None:
    """Mark trials left RUNNING by a worker on this machine that no longer exists (killed) as failed."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        if worker_host == host and pid.isdigit() and not _alive(int(pid)):
            study.tell(trial.number, state=TrialState.FAIL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def work(plan: SweepPlan, storage: str, name: str) -> None:
    """Run queued trials until the queue is empty."""
    import optuna
    from optuna.trial import TrialState

    from xornet.experiment import train

    study = _study(storage, name)

    def objective(trial):
        # The setting and seed travel as a user attribute rather than as Optuna
        # distributions, so later sweeps on the same study may extend the grid.
        params = trial.user_attrs.get("params")
        if params is None:  # the queue emptied while this worker asked for a trial
            trial.study.stop()
            raise optuna.TrialPruned("no planned trial left")
        trial.set_user_attr("worker", _worker_id())
        run = train(plan.config_for(params), save=False)
        losses = run.result.history["loss"]
        reached = next((epoch for epoch, loss in enumerate(losses, start=1) if loss < plan.target_loss), None)
        trial.set_user_attr("epochs_to_target", reached)
        trial.set_user_attr("final", run.final)
        trial.set_user_attr("full_accuracy", bool(run.final.get("accuracy", 0.0) >= 1.0))
        return run.final["loss"]

    def stop_when_empty(study, _trial):
        if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            study.stop()

    if study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        study.optimize(objective, callbacks=[stop_when_empty])


@dataclass
class SettingReport:
    setting: dict[str, Any]
    runs: int
    full_accuracy: float
    reached_target: float
    epochs_median: float | None
    epochs_p90: float | None
    final_loss_median: float
    epochs_to_target: list[int | None]


def report(plan: SweepPlan, storage: str, name: str) -> list[SettingReport]:
    """Per setting: share at 100% accuracy, epochs to the target loss (median, 90th percentile), final loss."""
    from optuna.trial import TrialState

    study = _study(storage, name)
    finished = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if "params" in trial.user_attrs:
            finished.setdefault(_key(trial.user_attrs["params"]), trial)
    reports = []
    for setting in plan.settings():
        trials = [finished[_key({**setting, "seed": seed})] for seed in plan.seeds
                  if _key({**setting, "seed": seed}) in finished]
        if not trials:
            continue
        epochs = [t.user_attrs["epochs_to_target"] for t in trials]
        reached = sorted(e for e in epochs if e is not None)
        reports.append(SettingReport(
            setting=setting,
            runs=len(trials),
            full_accuracy=float(np.mean([t.user_attrs["full_accuracy"] for t in trials])),
            reached_target=len(reached) / len(trials),
            epochs_median=float(np.median(reached)) if reached else None,
            epochs_p90=float(np.percentile(reached, 90)) if reached else None,
            final_loss_median=float(np.median([t.value for t in trials])),
            epochs_to_target=epochs,
        ))
    return reports


def _setting_text(setting: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in setting.items()) or "(config as is)"


def _epochs(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def format_report(plan: SweepPlan, reports: list[SettingReport]) -> str:
    """The report as an aligned table."""
    header = ["setting", "runs", "100% acc", f"loss<{plan.target_loss:g}", "epochs med", "epochs p90", "final loss med"]
    rows = [[_setting_text(r.setting), str(r.runs), f"{r.full_accuracy * 100:.0f}%", f"{r.reached_target * 100:.0f}%",
             _epochs(r.epochs_median), _epochs(r.epochs_p90), f"{r.final_loss_median:.4f}"] for r in reports]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in [header, *rows]]
    return "\n".join(lines)


def report_csv(plan: SweepPlan, reports: list[SettingReport]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = list(plan.grid)
    writer.writerow([*keys, "runs", "full_accuracy_share", "reached_target_share", "target_loss",
                     "epochs_to_target_median", "epochs_to_target_p90", "final_loss_median"])
    for r in reports:
        writer.writerow([*(r.setting[k] for k in keys), r.runs, r.full_accuracy, r.reached_target, plan.target_loss,
                         r.epochs_median if r.epochs_median is not None else "",
                         r.epochs_p90 if r.epochs_p90 is not None else "", r.final_loss_median])
    return out.getvalue()


def plot_convergence(plan: SweepPlan, reports: list[SettingReport], out: Path) -> None:
    """PNG: for each setting, the share of runs whose loss is below the target by each epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xornet.files.safe_write import atomic_write

    longest = max(plan.config_for({**setting, "seed": 0}).training.epochs for setting in plan.settings())
    epochs = np.arange(1, longest + 1)
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for r in reports:
        reached = np.array([e if e is not None else math.inf for e in r.epochs_to_target])
        axis.plot(epochs, [(reached <= e).mean() * 100 for e in epochs], label=_setting_text(r.setting))
    axis.set_xlabel("epoch")
    axis.set_ylabel(f"runs with loss < {plan.target_loss:g} (%)")
    axis.set_ylim(-2, 102)
    axis.set_title(f"convergence of {plan.config.name}: {len(plan.seeds)} seeds per setting")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    atomic_write(out, lambda temp: figure.savefig(temp, format="png", dpi=100))
    plt.close(figure)
