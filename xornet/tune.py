"""Hyperparameter search: Optuna's TPE sampler over config keys, bad trials pruned early by a median pruner.

Each trial trains the config with the sampled values through the fast
trainer, which reports the metric between chunks of epochs; the pruner stops
a trial whose metric is worse than the median of earlier trials at the same
epoch and has stopped improving (`open_tune_study`). Every trial trains from
the config's seed (with `seed: null`, each its own): the same split and, for
the same width, the same initial weights, so trials differ by their values
rather than by a luckier draw, and `xornet train best.yaml` gives the best
trial's model again. The study lives in a storage like a sweep's (a journal
file by default, PostgreSQL across machines), so a search resumes where it
stopped and several workers share it: `--trials` is the number of finished
trials over all of them, exactly (`search`). Each trial draws its own values
(`xornet.tune_sampler`); a single worker draws the same ones on every run. A
trial whose worker was killed is failed (a dead pid on this machine, or
heartbeats that stopped on an RDB) and another takes its place.

Example:
    >>> space = parse_search(["training.learning_rate=loguniform(1e-3,1)", "model.layers.0.units=int(2,64)"])
    >>> space["model.layers.0.units"]
    Dimension(kind='int', low=2, high=64, choices=None)
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from xornet.config import (Config, apply_override, config_folder, parse_override, relative_data_paths,
                           validate_config)
from xornet.errors import InputError, TrainingError
from xornet.sweep import GRACE_SECONDS

KINDS = ("loguniform", "uniform", "int", "choice")
MAX_TRIALS = 100_000


@dataclass
class Dimension:
    kind: str  # loguniform | uniform | int | choice
    low: float | None
    high: float | None
    choices: list | None


def parse_search(options: list[str]) -> dict[str, Dimension]:
    """`KEY=loguniform(A,B)`, `uniform(A,B)`, `int(A,B)` or `choice(V1,V2,...)` options -> {key: Dimension}."""
    space = {}
    for option in options:
        key, _, text = option.partition("=")
        match = re.fullmatch(r"\s*(\w+)\((.*)\)\s*", text)
        if not key.strip() or not match or match.group(1) not in KINDS:
            raise InputError(f"--search {option!r}: expected KEY=KIND(...) with KIND one of {', '.join(KINDS)}, "
                             "for example training.learning_rate=loguniform(1e-3,1)")
        kind, values = match.group(1), [_value(part) for part in match.group(2).split(",")]
        space[key.strip()] = _dimension(option, kind, values)
    if not space:
        raise InputError("tune: expected at least one --search KEY=KIND(...)")
    return space


def _value(text: str) -> Any:
    """A number as Python reads it (YAML would read 1e-3 as a string), else a YAML scalar."""
    for kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            pass
    return parse_override(f"v={text.strip()}")[1]


def _dimension(option: str, kind: str, values: list) -> Dimension:
    if kind == "choice":
        return Dimension(kind, None, None, values)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
    if len(values) != 2 or not numbers or not values[0] < values[1]:
        raise InputError(f"--search {option!r}: expected two numbers LOW < HIGH, received {values}")
    if kind == "loguniform" and values[0] <= 0:
        raise InputError(f"--search {option!r}: loguniform needs LOW > 0, received {values[0]}")
    if kind == "int" and not all(isinstance(v, int) for v in values):
        raise InputError(f"--search {option!r}: int needs whole numbers, received {values}")
    return Dimension(kind, values[0], values[1], None)


def suggest(trial, space: dict[str, Dimension]) -> dict[str, Any]:
    """The values of one trial, drawn by the study's sampler."""
    params = {}
    for key, dim in space.items():
        if dim.kind == "choice":
            params[key] = trial.suggest_categorical(key, dim.choices)
        elif dim.kind == "int":
            params[key] = trial.suggest_int(key, dim.low, dim.high)
        else:
            params[key] = trial.suggest_float(key, dim.low, dim.high, log=dim.kind == "loguniform")
    return params


def config_with(config: Config, params: dict[str, Any]) -> Config:
    """`config` with the trial's values applied and no restarts (checked like any config)."""
    data, origins = config.resolved(), {}
    for key, value in params.items():
        path, _ = parse_override(f"{key}=0")
        apply_override(data, path, value, f"--search {key}")
        origins[path] = f"--search {key}"  # an error in this key names the flag, not the config file
    data["training"]["restarts"] = 0
    return validate_config(data, config.source or "<tune>", origins=origins)


def check_space(config: Config, space: dict[str, Dimension]) -> None:
    """Fail now, not in trial 37, when a key or a range end does not fit the config."""
    for key, dim in space.items():
        for value in dim.choices or [dim.low, dim.high]:
            config_with(config, {key: value})


def check_seed(config: Config, space: dict[str, Dimension]) -> None:
    """Trials are compared on the same rows from the same start: a config without a seed would give each trial
    its own split and initial weights, so refuse it (unless the seed is itself searched)."""
    if config.seed is None and "seed" not in space:
        raise InputError(f"{config.source}: seed is null, so every trial would draw its own split and initial "
                         "weights and trials would not be compared on the same rows",
                         hint="set seed: 42 in the config, or --set seed=42")


def check_metric(config: Config, metric: str) -> None:
    """`metric` is a column of the training history (a validation one needs a validation split): say so before
    any trial trains."""
    data = config.data
    validation = data.validation is not None or data.validation_path is not None
    if metric.startswith("val_") and not validation:
        raise InputError(f"--metric {metric}: the config has no validation split (data.validation or "
                         "data.validation_path)",
                         hint="use --metric loss" if data.path is None else  # a truth table has no rows to hold out
                         "add --set data.validation=0.2, or use --metric loss")
    columns = ["loss", *config.training.metrics]
    columns += [f"val_{column}" for column in columns] if validation else []
    if metric not in columns:
        raise _no_such_column(metric, columns)


def _no_such_column(metric: str, columns) -> InputError:
    return InputError(f"--metric {metric}: the training history has no {metric} (it has {', '.join(columns)})",
                      hint="use --metric loss")


def metric_direction(metric: str) -> str:
    """"maximize" or "minimize": Keras' own rule for mode="auto" (keras.callbacks.EarlyStopping, ModelCheckpoint;
    Keras 3's MonitorCallback): the loss is minimised, a metric goes the way its Keras metric object's direction
    says ("up": accuracy, auc, precision, recall; "down": mean_squared_error, mean_absolute_error).

    Example:
        >>> metric_direction("val_accuracy"), metric_direction("val_loss"), metric_direction("mean_absolute_error")
        ('maximize', 'minimize', 'minimize')
    """
    name = metric.removeprefix("val_")
    if name == "loss":
        return "minimize"
    from xornet.backend import import_keras

    keras = import_keras()
    return "maximize" if getattr(keras.metrics.get(name), "_direction", "down") == "up" else "minimize"


def keeps_best_epoch(config: Config, metric: str) -> bool:
    """Does a trial keep its best epoch's weights for `metric` (early stopping on it, best weights restored)?

    Then its score is the best epoch's value, as KerasTuner scores a trial;
    otherwise the final epoch's.
    """
    stopping = config.training.early_stopping
    return stopping is not None and stopping.restore_best_weights and stopping.monitor == metric


def objective(config: Config, space: dict[str, Dimension], metric: str) -> Callable:
    """The Optuna objective: train, report `metric` after each chunk of epochs, prune if the pruner says so.

    The score is `metric` of the weights the trial keeps: the best epoch's when
    early stopping restores the best weights (`keeps_best_epoch`), else the
    last epoch's. (The median pruner, too, judges a trial by its best epoch.)
    """
    import optuna

    from xornet.experiment import train

    best_epoch = keeps_best_epoch(config, metric)

    def run(trial) -> float:
        params = suggest(trial, space)
        trial.set_user_attr("params", params)

        def report(done: float, total: int, logs: dict) -> None:
            if done != int(done):  # part way through an epoch (a long one): no logs, nothing new to report
                return
            if metric not in logs:
                raise _no_such_column(metric, logs)
            trial.report(logs[metric], step=int(done))
            if done < total and trial.should_prune():  # a finished trial is worth keeping
                raise optuna.TrialPruned(f"{metric} {logs[metric]:.4g} at epoch {int(done)}")

        try:
            result = train(config_with(config, params), save=False, progress=report).result
        except TrainingError as exc:
            trial.set_user_attr("failed", re.sub(r"^training stopped at epoch \d+: ", "", exc.message))
            raise
        history = result.history[metric]
        return history[result.best_epoch - 1] if best_epoch and result.best_epoch else history[-1]

    return run


def open_tune_study(storage: str, name: str, seed: int | None, trials: int = 50, epochs: int = 100,
                    metric: str = "loss", grace: int = GRACE_SECONDS):
    """The search study: multivariate TPE sampler (seeded from the config), patient median pruner, optimising
    `metric` in its direction (`metric_direction`); a study that exists already must have that direction.

    The sampler draws a single worker's trials from the config's seed (the
    same values on every run) and gives a trial another worker started, or
    one of a resumed search, its own random stream (`TrialSeededSampler`):
    workers sharing the study never repeat each other's values. On an RDB
    each trial sends heartbeats; one silent for `grace` seconds has failed.

    TPE samples at random for its first trials (`startup_trials`): half of a
    small budget, 10 (Optuna's default) from 20 trials on. Started sooner, its
    model of the good values rests on the one best of two or three trials.
    Multivariate, it models learning rate and width together.
    A trial is pruned when its score is worse than the median of earlier trials
    at the same epoch AND has not improved for a tenth of the epochs, never in
    its first fifth, nor before as many trials as TPE's random start have
    finished: slow starters (a small learning rate) are often the good ones,
    and a pruned trial still counts against --trials.
    """
    import optuna

    from xornet.sweep import open_study, shown_storage
    from xornet.tune_sampler import TrialSeededSampler

    startup = startup_trials(trials)
    direction = metric_direction(metric)
    study = open_study(storage, name, grace, direction=direction).optuna
    had = study.direction.name.lower()
    if had != direction:
        raise InputError(f"--metric {metric}: study {name} in {shown_storage(storage)} was created to {had} its "
                         f"metric, but {metric} is to {direction} (Keras' rule for {metric})",
                         hint="pass --study NAME for a new study, or --out DIR for a new search")
    study.sampler = TrialSeededSampler(seed, n_startup_trials=startup, multivariate=True, constant_liar=True)
    median = optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=max(1, epochs // 5))
    study.pruner = optuna.pruners.PatientPruner(median, patience=max(1, epochs // 10))
    return study


def startup_trials(trials: int) -> int:
    """The trials TPE samples at random before it models the good ones: half of `trials`, 2 to 10.

    Example:
        >>> [startup_trials(n) for n in (3, 10, 50)]
        [2, 5, 10]
    """
    return min(10, max(2, trials // 2))


class Surplus(Exception):
    """A trial started when the study already had its trials finished or running (another worker's came first)."""


def search(study, config: Config, space: dict[str, Dimension], metric: str, trials: int,
           on_trial: Callable[[int], None] | None = None) -> None:
    """Run trials until the study has `trials` finished ones (`finished_trials`), whichever worker ran them.

    A trial starts only while the finished and running trials are fewer than
    `trials`; else this worker waits for the running ones, which finish or,
    their worker dead, fail and leave their place to a new trial
    (`fail_dead_workers`). Two workers starting a trial at the same moment:
    the one with the higher number gives way (`Surplus`). So the study ends
    with exactly `trials` finished trials.
    A trial whose loss became NaN or inf fails: its reason is recorded
    (`diverged`) and the search goes on. It counts against `trials` as any
    other, so a space where every trial diverges still ends.
    """
    import optuna

    from xornet.sweep import fail_dead_workers, worker_id

    train_trial = objective(config, space, metric)
    workers = _workers_view(study)

    def run(trial) -> float:
        trial.set_user_attr("worker", worker_id())  # host:pid, to find the trial of a killed worker (journal file)
        if _taken(workers, below=trial.number) >= trials:
            trial.set_user_attr("surplus", True)
            raise Surplus(f"trial {trial.number}: the study has {trials} trials finished or running")
        return train_trial(trial)

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # not a traceback per failed trial: the summary counts them
    while True:
        fail_dead_workers(workers)
        _fail_killed_as_started(study)
        done = finished_trials(study)
        if done >= trials:
            return
        if _taken(workers) >= trials:
            time.sleep(1.0)  # the last trials run in other workers: they finish, or fail and run again
            continue
        study.optimize(run, n_trials=1, catch=(TrainingError, Surplus))
        if on_trial:
            on_trial(finished_trials(study))


def _workers_view(study):
    """`study` as xornet.sweep's dead-worker functions see it: with heartbeats on an RDB (Optuna's own, which
    study.optimize sends for each trial), without on a journal file or in memory (the trial's worker pid)."""
    # Private Optuna API, kept to this function: Optuna has no public way to ask a study whether its storage beats.
    from optuna.storages._heartbeat import is_heartbeat_enabled

    from xornet.sweep import Study

    return Study(study, study._storage, 1 if is_heartbeat_enabled(study._storage) else None)


def _taken(workers, below: int | None = None) -> int:
    """Finished trials and running ones that may still finish (numbered below `below`, if given)."""
    from optuna.trial import TrialState

    counted = 0
    for trial in workers.optuna.get_trials(deepcopy=False):
        if below is not None and trial.number >= below:
            continue
        counted += _finished(trial) or (trial.state == TrialState.RUNNING and _may_finish(workers, trial))
    return counted


def _may_finish(workers, trial) -> bool:
    """A running trial on an RDB (a dead worker's fails when its heartbeats stop); on a journal file, one of a
    live worker on this machine (`fail_dead_workers` failed the dead ones); on both, one just started, which
    has no worker yet (`_fail_killed_as_started` failed the old ones)."""
    import socket

    worker = trial.user_attrs.get("worker")
    if workers.heartbeat_seconds or worker is None:
        return True
    return worker.rpartition(":")[0] == socket.gethostname()


def _fail_killed_as_started(study) -> None:
    """Fail running trials without a worker after the grace period: their worker was killed in the moment between
    starting the trial and recording its pid (before its first heartbeat, on an RDB), so nothing else would."""
    import contextlib
    import datetime

    import optuna
    from optuna.trial import TrialState

    long_ago = datetime.datetime.now() - datetime.timedelta(seconds=GRACE_SECONDS)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if "worker" not in trial.user_attrs and trial.datetime_start < long_ago:
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                study.tell(trial.number, state=TrialState.FAIL)


def finished_trials(study) -> int:
    """Trials that complete, were pruned or diverged; not those of a killed worker, which are run again."""
    return sum(_finished(t) for t in study.get_trials(deepcopy=False))


def _finished(trial) -> bool:
    from optuna.trial import TrialState

    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and "failed" in trial.user_attrs)


def state_of(trial) -> str:
    """A trial's state as trials.csv and the summary name it: Optuna's (complete, pruned, running; fail: its
    loss diverged), or "stopped": its worker was killed or interrupted, and another trial took its place."""
    from optuna.trial import TrialState

    if trial.state == TrialState.FAIL and "failed" not in trial.user_attrs:
        return "stopped"
    return trial.state.name.lower()


def diverged(study) -> int:
    """The trials stopped because their loss became NaN or inf (their reason is the user attribute "failed")."""
    return sum("failed" in t.user_attrs for t in study.get_trials(deepcopy=False))


def best_config(study, config: Config) -> Config:
    """The config of the best complete trial."""
    return config_with(config, study.best_trial.user_attrs["params"])


def default_study_name(config: Config, searches: list[str], metric: str) -> str:
    """`<experiment>-tune-<8 hex digits>` of the config, the --search options and the metric: another search,
    another study; the same on every machine (data paths relative to the config's folder).

    Example:
        >>> default_study_name(load_config("configs/breast_cancer.yaml"), ["training.learning_rate=loguniform(1e-3,1)"],
        ...                    "val_loss")
        'breast_cancer-tune-14ecfa07'
    """
    from xornet.sweep import fingerprint

    portable = relative_data_paths(config.resolved(), config_folder(config))
    return f"{config.name}-tune-{fingerprint([portable, searches, metric])[:8]}"


BEST_HEADER = "# xornet tune: the best trial of study "


def best_yaml(best: Config, directory: Path, study_name: str) -> str:
    """best.yaml, written into `directory`: the whole config, with its data paths relative to that folder (as a
    config's are) and its model saved into directory/model, beside the search rather than over the base
    config's model. Its first line names the study (`check_results_of`).

    Example:
        >>> yaml.safe_load(best_yaml(best, Path("tunes/breast_cancer"), "breast_cancer-tune-1"))["output"]["dir"]
        'tunes/breast_cancer/model'
    """
    import yaml

    resolved = relative_data_paths(best.resolved(), directory)
    resolved["output"]["dir"] = str(directory / "model")
    return f"{BEST_HEADER}{study_name}\n" + yaml.safe_dump(resolved, sort_keys=False)


def check_results_of(directory: Path, study_name: str) -> None:
    """Refuse to write over the results another study (another config, space or metric) left in `directory`."""
    best = directory / "best.yaml"
    if not best.is_file():
        return
    with open(best, encoding="utf-8", errors="replace") as handle:
        first = handle.readline().rstrip("\n")
    other = first[len(BEST_HEADER):] if first.startswith(BEST_HEADER) else None
    if other != study_name:
        raise InputError(f"--out {directory}: holds the results of {f'study {other}' if other else 'another search'}"
                         f", not of {study_name} (another config, search space or metric)",
                         hint="pass --out DIR for this search, or --force to replace them")


def trials_csv(study, space: dict[str, Dimension], metric: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["trial", "state", *space, metric, "epochs"])
    for trial in study.get_trials(deepcopy=False):
        if "surplus" in trial.user_attrs:  # never trained: another worker's trial took its place
            continue
        params = trial.user_attrs.get("params", {})
        steps = max(trial.intermediate_values, default="")
        writer.writerow([trial.number, state_of(trial), *(params.get(k, "") for k in space),
                         "" if trial.value is None else trial.value, steps])
    return out.getvalue()


def format_table(study, space: dict[str, Dimension], metric: str, limit: int = 10) -> str:
    """The best `limit` complete trials, best first (highest first for a maximised metric), and a line saying
    how many are left out."""
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    done = sorted(complete, key=lambda t: t.value, reverse=study.direction == StudyDirection.MAXIMIZE)[:limit]
    header = ["trial", *space, metric]
    rows = [[str(t.number), *(_short(t.user_attrs["params"][k]) for k in space), f"{t.value:.4f}"] for t in done]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    table = "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in [header, *rows])
    if len(complete) > limit:
        table += f"\n(the best {limit} of {len(complete)} complete trials; trials.csv lists every trial)"
    return table


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def plot_trials(study, metric: str, out: Path) -> None:
    """PNG: each trial's final metric (pruned trials at their last report) and the best so far (highest for a
    maximised metric)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    from xornet.files.safe_write import atomic_write

    figure, axis = plt.subplots(figsize=(7, 4.5))
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    pruned = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.PRUNED and t.intermediate_values]
    axis.scatter([t.number for t in complete], [t.value for t in complete], s=14, label="complete")
    axis.scatter([t.number for t in pruned], [t.intermediate_values[max(t.intermediate_values)] for t in pruned],
                 s=14, marker="x", label="pruned (last report)")
    maximize = study.direction == StudyDirection.MAXIMIZE
    better = max if maximize else min
    best, line = -math.inf if maximize else math.inf, []
    for t in sorted(complete, key=lambda t: t.number):
        best = better(best, t.value)
        line.append((t.number, best))
    if line:
        axis.step(*zip(*line), where="post", color="black", label="best so far")
    if not maximize:  # losses span decades; accuracy-like metrics lie between 0 and 1
        axis.set_yscale("log")
    axis.set_xlabel("trial")
    axis.set_ylabel(metric)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    atomic_write(out, lambda temp: figure.savefig(temp, format="png", dpi=100))
    plt.close(figure)
