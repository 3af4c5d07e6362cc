"""Sweeps: how often does a setting converge? Many seeds, a grid of config values, Optuna as the engine.

Every (setting, seed) pair is one Optuna trial, identified by the fingerprint
of what it trains: the SHA-256 of the canonical JSON of its whole resolved
config (after `--set`, `--grid` and the seed) and of its data. A finished
trial is reused only when a planned trial has the same fingerprint, so any
change to the config runs new trials.

Trials wait in a queue in a study whose storage every worker shares: several
`xornet sweep` processes (on one machine or several) take trials from the same
queue, and a sweep that was interrupted resumes with the trials that did not
finish. A worker takes the waiting trials of one setting at a time and, where
`xornet.many_seeds` supports the setting, trains all their seeds at once.

The default storage is an Optuna journal file in the sweep's directory, which
file locks keep consistent between processes. `--storage` also takes an RDB
URL: PostgreSQL or MySQL for workers on several machines. On an RDB, workers
send heartbeats, and the trials of a worker that stops beating for the grace
period are failed and queued again; on a journal file, the trials of a dead
worker on this machine are.

A sweep's report files are named by an id of its runs and target loss
(`summary-<id>.csv`), so a sweep of another grid in the same study writes its
own files beside the earlier ones. Grid values that train the same config
(0.1 and 0.10) are merged into one setting.

Example:
    >>> plan = plan_sweep(config, seeds=range(10), grid={"training.learning_rate": [0.1, 0.5]})
    >>> len(plan.trials)
    20
"""

from __future__ import annotations

import base64
import contextlib
import csv
import functools
import hashlib
import io
import itertools
import json
import math
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from xornet.config import (Config, apply_override, config_folder, parse_override, parse_yaml, relative_data_paths,
                           validate_config)
from xornet.errors import InputError, XornetError
from xornet.text import counted

MAX_RUNS = 100_000  # settings x seeds in one sweep command
GRACE_SECONDS = 60  # an RDB worker silent this long is taken as dead and its trials run again
RDB_SCHEMES = ("sqlite:", "postgresql", "mysql")


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
        if key.strip() == "seed":
            raise InputError("--grid seed=...: use --seeds N for seeds")
        parts = raw.split(",")
        if len(parts) > MAX_RUNS:
            raise InputError(f"--grid {key.strip()}: expected at most {MAX_RUNS:,} values, received {len(parts):,}")
        grid[key.strip()] = grid.get(key.strip(), []) + _grid_values(option, key, parts)  # a repeated KEY adds values
    return grid


def _grid_values(option: str, key: str, parts: list[str]) -> list[Any]:
    """The values of a --grid option, each parsed as --set parses its value; errors name the --grid option."""
    try:
        path, _ = parse_override(f"{key}=0")
    except InputError:
        raise InputError(f"--grid {option}: expected KEY=V1,V2,... with a dotted KEY, for example "
                         "training.learning_rate=0.05,0.1") from None
    return [parse_yaml(part, f"--grid {option}: the value {part!r}", path)[0] if part.strip() else None
            for part in parts]


def check_sweep_size(seeds: int, grid: dict[str, list[Any]]) -> None:
    """Refuse a sweep of more than MAX_RUNS runs before anything is planned or allocated.

    Example:
        >>> check_sweep_size(10**6, {})
        Traceback (most recent call last):
        xornet.errors.InputError: --seeds 1000000: expected at most 100,000 ...
    """
    if seeds > MAX_RUNS:
        raise InputError(f"--seeds {seeds}: expected at most {MAX_RUNS:,} seeds, received {seeds:,}")
    settings = math.prod(len(values) for values in grid.values())
    if settings * max(seeds, 1) > MAX_RUNS:
        raise InputError(f"the sweep has {counted(settings * max(seeds, 1), 'run')} ({counted(settings, 'setting')} x "
                         f"{counted(max(seeds, 1), 'seed')}): expected at most {MAX_RUNS:,}",
                         hint="fewer --seeds or --grid values")


def fingerprint(data: Any) -> str:
    """SHA-256 of the canonical JSON of `data` (sorted keys, no spaces): equal data, equal fingerprint.

    Example:
        >>> fingerprint({"b": 1, "a": [0.1]}) == fingerprint({"a": [0.1], "b": 1})
        True
    """
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _trained(resolved: dict, folder: Path, data_sha256: str) -> dict:
    """What a run trains: its resolved config (less `output`: sweeps save no model files; data paths relative to
    the config's `folder`, so that every machine names the same study) and its data."""
    return {"config": {k: v for k, v in relative_data_paths(resolved, folder).items() if k != "output"},
            "data_sha256": data_sha256}


@dataclass
class PlannedTrial:
    params: dict[str, Any]  # the setting's grid values and the seed
    fingerprint: str  # of the resolved config and data this trial trains
    setting: str  # fingerprint of the same config without its seed: trials that may train together


@dataclass
class SweepPlan:
    """The base config, the grid of settings and the seeds: every trial the sweep will run."""

    config: Config
    grid: dict[str, list[Any]]
    seeds: list[int]
    target_loss: float
    data_sha256: str
    grid_options: dict[str, str] = field(default_factory=dict)  # key -> the --grid option as typed, for errors
    notes: list[str] = field(default_factory=list)  # grid values merged with an equal one, for the user

    def settings(self) -> list[dict[str, Any]]:
        """Every combination of grid values, as {key: value}."""
        return [dict(zip(self.grid, values)) for values in itertools.product(*self.grid.values())]

    def config_for(self, params: dict[str, Any]) -> Config:
        """The config one trial trains: the base config with the setting and seed applied, no early stop."""
        data, origins = self.config.resolved(), {}
        for key, value in params.items():
            path, _ = parse_override(f"{key}=0")
            origin = self.grid_options.get(key, f"--grid {key}")
            apply_override(data, path, value, origin)
            if key != "seed":
                origins[path] = origin
        data["training"]["target_loss"] = None
        data["training"]["restarts"] = 0
        data["training"]["tensorboard"] = None
        return validate_config(data, self.config.source or "<sweep>", origins=origins)

    @functools.cached_property
    def trials(self) -> list[PlannedTrial]:
        """Every planned trial with its fingerprint, setting by setting."""
        planned = []
        for setting in self.settings():
            resolved = self.config_for({**setting, "seed": self.seeds[0]}).resolved()
            group = self.mark(resolved, None)
            for seed in self.seeds:
                planned.append(PlannedTrial({**setting, "seed": seed}, self.mark(resolved, seed), group))
        return planned

    def mark(self, resolved: dict, seed: int | None) -> str:
        """The fingerprint of the `resolved` config with `seed` (None: the setting's, seed left out) and the data."""
        return fingerprint(_trained({**resolved, "seed": seed}, self.folder, self.data_sha256))

    @property
    def config_fingerprint(self) -> str:
        """The fingerprint of the base config (after --set) and data, before the grid and seeds."""
        return fingerprint(_trained(self.config.resolved(), self.folder, self.data_sha256))

    @property
    def report_id(self) -> str:
        """8 hex digits naming this sweep's report files: the fingerprint of its runs and target loss.

        The same sweep (in any order of grid values) writes the same files again; another grid, other seeds or
        another target loss writes new files beside them.
        """
        return fingerprint({"runs": sorted(t.fingerprint for t in self.trials), "target_loss": self.target_loss})[:8]

    @property
    def folder(self) -> Path:
        return config_folder(self.config)

    @property
    def default_study_name(self) -> str:
        """`<experiment>-<first 8 hex digits of the config fingerprint>`: another config, another study."""
        return f"{self.config.name}-{self.config_fingerprint[:8]}"


def data_fingerprint(config: Config) -> str:
    """SHA-256 of the rows a config trains on (features and labels, as float32)."""
    from xornet.data import load_data

    dataset = load_data(config)
    digest = hashlib.sha256()
    for array in (dataset.x, dataset.y):
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array, dtype="float32").tobytes())
    return digest.hexdigest()


def plan_sweep(config: Config, seeds, grid: dict[str, list[Any]], target_loss: float | None = None,
               grid_options: list[str] = ()) -> SweepPlan:
    """Check every setting of the grid now, before any training; errors name the `grid_options` as typed."""
    target = target_loss or config.training.target_loss or 0.1
    named, typed = {}, {}
    for option in grid_options:
        key, _, raw = option.partition("=")
        named[key.strip()] = " ".join(filter(None, [named.get(key.strip()), f"--grid {option}"]))
        typed[key.strip()] = typed.get(key.strip(), []) + [part.strip() for part in raw.split(",")]
    plan = SweepPlan(config, dict(grid), list(seeds) or [config.seed or 0], target, data_fingerprint(config), named)
    _merge_repeated_values(plan, typed)
    for setting in plan.settings():
        plan.config_for({**setting, "seed": plan.seeds[0]})
    return plan


def _merge_repeated_values(plan: SweepPlan, typed: dict[str, list[str]]) -> None:
    """Keep one of the grid values of a key that train the same config (0.1 and 0.10); a note names each merge.

    Two such values would make two settings of equal runs: two report rows of one setting, each run trained once.
    """
    first = {key: values[0] for key, values in plan.grid.items() if values}
    for key, values in plan.grid.items():
        spelled = typed.get(key) if len(typed.get(key, [])) == len(values) else [str(v) for v in values]
        kept: dict[str, int] = {}  # setting fingerprint -> index of its first value
        for number, value in enumerate(values):
            mark = plan.mark(plan.config_for({**first, key: value, "seed": plan.seeds[0]}).resolved(), None)
            if mark in kept:
                earlier, this = spelled[kept[mark]], spelled[number]
                same = f"{this} is repeated" if this == earlier else f"{this} gives the same config as {earlier}"
                plan.notes.append(f"{plan.grid_options.get(key, f'--grid {key}')}: {same}: merged into one setting")
            else:
                kept[mark] = number
        plan.grid[key] = [values[number] for number in kept.values()]


# --- the study and its queue -------------------------------------------------------------


@dataclass
class Study:
    """An Optuna study and the storage it lives in (an RDB with heartbeats, or a journal file)."""

    optuna: Any
    storage: Any
    heartbeat_seconds: int | None


def open_study(storage: str, name: str, grace: int = GRACE_SECONDS, direction: str = "minimize") -> Study:
    """The study `name` in `storage` (a journal file path or an RDB URL), created if missing (to `direction` its
    values; an existing study keeps the direction it was created with)."""
    if not storage.startswith(RDB_SCHEMES):
        return _open_study(storage, name, grace, direction)
    for attempt in range(5):
        try:
            return _open_study(storage, name, grace, direction)
        except Exception as exc:  # noqa: BLE001
            # Workers starting together on a fresh database race to create its tables
            # and the study (a unique-key violation in one of them): the next try finds them.
            failure = exc
            time.sleep(0.5 * (attempt + 1))
    raise XornetError(f"--storage {shown_storage(storage)}: {str(failure).splitlines()[0]}",
                      hint="check that the database server runs and the URL, user and password are right")


def _open_study(storage: str, name: str, grace: int, direction: str) -> Study:
    import warnings

    import optuna
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeats: stable enough
    heartbeat = None
    if storage.startswith(RDB_SCHEMES):
        heartbeat = max(1, min(10, grace // 4))
        backend = optuna.storages.RDBStorage(_driver_url(storage), heartbeat_interval=heartbeat, grace_period=grace)
    else:
        backend = optuna.storages.JournalStorage(JournalFileBackend(storage))
    wrapped = optuna.storages.get_storage(backend)  # the object the study itself uses
    study = optuna.create_study(study_name=name, storage=wrapped, load_if_exists=True, direction=direction)
    return Study(study, wrapped, heartbeat)


def _driver_url(url: str) -> str:
    """postgresql:// means psycopg2 to SQLAlchemy; use psycopg 3 when only it is installed."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg2") is None \
            and importlib.util.find_spec("psycopg") is not None:
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def shown_storage(url: str) -> str:
    """The storage as printed: an RDB URL's password hidden.

    Example:
        >>> shown_storage("postgresql://me:secret@db/sweeps")
        'postgresql://me:***@db/sweeps'
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url) if "://" in url else None
    if parts is None or parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def check_study_config(study: Study, plan: SweepPlan, force: bool) -> None:
    """Refuse to mix another config's runs into a named study (a study name reused by mistake)."""
    mine = plan.config_fingerprint
    theirs = study.optuna.user_attrs.get("config_fingerprint")
    if theirs and theirs != mine and not force:
        raise InputError(f"study {study.optuna.study_name!r} holds a sweep of another config (fingerprint "
                         f"{theirs[:12]}, this config {mine[:12]})",
                         hint="leave --study out (the default name includes the config fingerprint), or pass --force "
                              "to add this config's runs to it")
    study.optuna.set_user_attr("config_fingerprint", mine)


def _state_of(study: Study) -> dict[str, set[str]]:
    """Fingerprints by state: finished ("complete" or failed in training: "settled") and queued ("alive")."""
    from optuna.trial import TrialState

    found = {"complete": set(), "settled": set(), "alive": set()}
    for trial in study.optuna.get_trials(deepcopy=False):
        mark = trial.user_attrs.get("fingerprint")
        if mark is None:
            continue
        if trial.state == TrialState.COMPLETE:
            found["complete"].add(mark)
            found["settled"].add(mark)
        elif trial.state == TrialState.FAIL and "error" in trial.user_attrs:
            found["settled"].add(mark)
        elif trial.state in (TrialState.WAITING, TrialState.RUNNING):
            found["alive"].add(mark)
    return found


@dataclass
class QueueCounts:
    reused: int  # finished trials with a planned trial's fingerprint
    queued: int  # planned trials waiting or running (from an earlier command or another worker)
    added: int  # planned trials put into the queue now


def enqueue(plan: SweepPlan, study: Study) -> QueueCounts:
    """Put every planned trial that has not finished (and is not queued or running) into the study's queue."""
    from optuna.trial import TrialState, create_trial

    fail_dead_workers(study)
    state = _state_of(study)
    new = [t for t in plan.trials if t.fingerprint not in state["settled"] | state["alive"]]
    study.optuna.add_trials([create_trial(state=TrialState.WAITING, user_attrs={
        "params": t.params, "fingerprint": t.fingerprint, "setting": t.setting}) for t in new])
    reused = sum(t.fingerprint in state["complete"] for t in plan.trials)
    queued = sum(t.fingerprint in state["alive"] for t in plan.trials)
    return QueueCounts(reused, queued, len(new))


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_dead_workers(study: Study) -> None:
    """Fail trials whose worker died: stale heartbeats on an RDB; else a vanished process on this machine."""
    import optuna
    from optuna.trial import TrialState

    if study.heartbeat_seconds:
        optuna.storages.fail_stale_trials(study.optuna)
        return
    host = socket.gethostname()
    for trial in study.optuna.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        if worker_host == host and pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                study.optuna.tell(trial.number, state=TrialState.FAIL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _take(study: Study, plan: SweepPlan, share: int) -> list:
    """Claim waiting trials of one planned setting (at most 1/`share` of them, at least one) for this worker."""
    import optuna
    from optuna.trial import TrialState

    planned = {t.fingerprint for t in plan.trials}
    waiting = [t for t in study.optuna.get_trials(deepcopy=False, states=(TrialState.WAITING,))
               if t.user_attrs.get("fingerprint") in planned]
    if not waiting:
        return []
    setting = waiting[0].user_attrs["setting"]
    mine = [t for t in waiting if t.user_attrs["setting"] == setting]
    limit = max(1, math.ceil(len(mine) / share))
    taken = []
    for trial in mine:
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            if study.heartbeat_seconds:
                # Before the claim: a worker killed just after claiming must leave a heartbeat to go stale.
                # (fail_stale_trials never fails a running trial that has none: it would wait forever.)
                study.storage.record_heartbeat(trial._trial_id)
            with _interrupts_deferred():  # a Ctrl-C between claim and mark would leave a claim nobody puts back
                if study.storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING):
                    study.storage.set_trial_user_attr(trial._trial_id, "worker", worker_id())
                    taken.append(trial)
        if len(taken) == limit:
            break
    return _drop_duplicates(study, taken)


def _drop_duplicates(study: Study, taken: list) -> list:
    """Prune claimed trials whose fingerprint another live trial with a lower number (or a finished one) has.

    Two commands enqueueing at once may queue one fingerprint twice; this rule,
    applied on claiming, lets exactly one of them train.
    """
    from optuna.trial import TrialState

    first: dict[str, int] = {}
    for trial in study.optuna.get_trials(deepcopy=False):
        mark = trial.user_attrs.get("fingerprint")
        if mark and trial.state != TrialState.FAIL and trial.state != TrialState.PRUNED:
            first[mark] = min(first.get(mark, trial.number), trial.number)
            if trial.state == TrialState.COMPLETE:
                first[mark] = -1
    kept = []
    for trial in taken:
        if first.get(trial.user_attrs["fingerprint"], trial.number) < trial.number:
            study.optuna.tell(trial.number, state=TrialState.PRUNED)
        else:
            kept.append(trial)
    return kept


@contextlib.contextmanager
def _heartbeats(study: Study, trials: list):
    """While training, tell an RDB every few seconds that this worker holds `trials`."""
    if not study.heartbeat_seconds or not trials:
        yield
        return
    stop = threading.Event()

    def beat():
        while not stop.wait(study.heartbeat_seconds):
            for trial in trials:
                study.storage.record_heartbeat(trial._trial_id)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def count_done(plan: SweepPlan, study: Study) -> int:
    """How many planned trials have finished."""
    state = _state_of(study)
    return sum(t.fingerprint in state["settled"] for t in plan.trials)


def work(plan: SweepPlan, study: Study, share: int = 1, on_progress: Callable[[int], None] | None = None) -> None:
    """Run queued trials of `plan` until every one has finished (waiting for other workers' running trials).

    `share`: how many workers split each setting's seeds; `on_progress(done)` after each batch.
    On Ctrl-C, the trials this worker holds and has not finished go back into the queue at once (for the other
    workers, or the next command), then KeyboardInterrupt goes on.
    """
    try:
        _work(plan, study, share, on_progress)
    except KeyboardInterrupt:
        with _interrupts_ignored():
            _put_back(plan, study)
        raise


def _work(plan: SweepPlan, study: Study, share: int, on_progress: Callable[[int], None] | None) -> None:
    while True:
        taken = _take(study, plan, share)
        if taken:
            with _heartbeats(study, taken):
                _train_batch(plan, study, taken)
            if on_progress:
                on_progress(count_done(plan, study))
            continue
        if not _others_running(plan, study):
            return
        time.sleep(1.0)
        enqueue(plan, study)  # trials of workers found dead go back into the queue


def _put_back(plan: SweepPlan, study: Study) -> None:
    """Fail the trials this process holds (claimed, not finished) and queue their runs again."""
    from optuna.trial import TrialState

    for trial in study.optuna.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get("worker") == worker_id():
            study.optuna.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
    enqueue(plan, study)


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold a Ctrl-C (in the main thread) until the block ends; it then raises KeyboardInterrupt as usual."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextlib.contextmanager
def _interrupts_ignored():
    """Ignore Ctrl-C for a moment (in the main thread): a second one must not leave trials claimed."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupted_message(plan: SweepPlan, study: Study, storage: str) -> str:
    """What an interrupted sweep keeps: its finished runs, in the study the same command continues from."""
    return (f"interrupted: {count_done(plan, study)} of {counted(len(plan.trials), 'run')} finished and kept in study "
            f"{study.optuna.study_name} (storage {shown_storage(storage)}); no report written")


def _others_running(plan: SweepPlan, study: Study) -> bool:
    """True while another worker runs planned trials that may still finish (or be found dead and redone)."""
    from optuna.trial import TrialState

    planned = {t.fingerprint for t in plan.trials}
    host = socket.gethostname()
    for trial in study.optuna.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get("fingerprint") in planned:
            worker_host = str(trial.user_attrs.get("worker", "")).rpartition(":")[0]
            if study.heartbeat_seconds or worker_host == host:
                return True
    return False


def _train_batch(plan: SweepPlan, study: Study, trials: list) -> None:
    """Train the claimed trials (one setting, several seeds) and tell the study each result.

    All seeds at once with `xornet.many_seeds` where it supports the setting, else seed by seed.
    """
    from xornet.data import load_data
    from xornet.experiment import train
    from xornet.many_seeds import train_seeds, unsupported

    configs = [plan.config_for(trial.user_attrs["params"]) for trial in trials]
    if len(trials) > 1 and unsupported(configs[0], len(load_data(configs[0]).x)) is None:
        for trial, run in zip(trials, train_seeds(configs[0], [config.seed for config in configs])):
            _tell(study, trial, run.history["loss"], run.final, run.error)
        return
    for trial, config in zip(trials, configs):
        try:
            run = train(config, save=False)
        except XornetError as exc:
            _tell(study, trial, [], {}, str(exc))
            continue
        _tell(study, trial, run.result.history["loss"], run.final)


def _tell(study: Study, trial, losses: list[float], final: dict[str, float], error: str | None = None) -> None:
    from optuna.trial import TrialState

    if error:
        study.storage.set_trial_user_attr(trial._trial_id, "error", error)
        study.optuna.tell(trial.number, state=TrialState.FAIL)
        print(f"warning: run {trial.user_attrs['params']} failed: {error}", file=sys.stderr)
        return
    # One attribute, one write: on a journal file every write is an fsync.
    study.storage.set_trial_user_attr(trial._trial_id, "result", {"final": final, "losses": encode_losses(losses)})
    study.optuna.tell(trial.number, final["loss"])


def encode_losses(losses) -> str:
    """A loss curve as base64 float32 (4 bytes an epoch in the study).

    Example:
        >>> decode_losses(encode_losses([0.5, 0.25]))
        [0.5, 0.25]
    """
    return base64.b64encode(np.asarray(losses, dtype="<f4").tobytes()).decode()


def decode_losses(text: str) -> list[float]:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(float).tolist()


# --- the report ---------------------------------------------------------------------------


@dataclass
class SettingReport:
    setting: dict[str, Any]
    runs: int
    full_accuracy: float | None  # None when the runs have no accuracy (regression, or no such metric)
    reached_target: float
    epochs_median: float | None
    epochs_p90: float | None
    final_loss_median: float
    epochs_to_target: list[int | None]
    config_fingerprint: str  # of the config this setting trains (seed left out) and its data


def epochs_to(losses: list[float], target: float) -> int | None:
    """The first epoch (from 1) whose loss is below `target`, or None."""
    below = np.flatnonzero(np.asarray(losses) < target)
    return int(below[0]) + 1 if len(below) else None


def report(plan: SweepPlan, study: Study) -> list[SettingReport]:
    """Per setting: share at 100% accuracy, epochs to the target loss (median, 90th percentile), final loss."""
    from optuna.trial import TrialState

    finished = {}
    for trial in study.optuna.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if "fingerprint" in trial.user_attrs:
            finished.setdefault(trial.user_attrs["fingerprint"], trial)
    reports = []
    for number, setting in enumerate(plan.settings()):
        planned = plan.trials[number * len(plan.seeds):(number + 1) * len(plan.seeds)]
        trials = [finished[t.fingerprint] for t in planned if t.fingerprint in finished]
        if not trials:
            continue
        epochs = [epochs_to(decode_losses(t.user_attrs["result"]["losses"]), plan.target_loss) for t in trials]
        reached = sorted(e for e in epochs if e is not None)
        reports.append(SettingReport(
            setting=setting,
            runs=len(trials),
            full_accuracy=_share_at_full_accuracy([t.user_attrs["result"]["final"] for t in trials]),
            reached_target=len(reached) / len(trials),
            epochs_median=float(np.median(reached)) if reached else None,
            epochs_p90=float(np.percentile(reached, 90)) if reached else None,
            final_loss_median=float(np.median([t.value for t in trials])),
            epochs_to_target=epochs,
            config_fingerprint=planned[0].setting,
        ))
    return reports


def _share_at_full_accuracy(finals: list[dict]) -> float | None:
    if not all("accuracy" in final for final in finals):
        return None
    return float(np.mean([final["accuracy"] >= 1.0 for final in finals]))


def _setting_text(setting: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in setting.items()) or "(config as is)"


def _epochs(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def format_report(plan: SweepPlan, reports: list[SettingReport]) -> str:
    """The report as an aligned table."""
    header = ["setting", "runs", "100% acc", f"loss<{plan.target_loss:g}", "epochs med", "epochs p90", "final loss med"]
    rows = [[_setting_text(r.setting), str(r.runs), "-" if r.full_accuracy is None else f"{r.full_accuracy * 100:.0f}%",
             f"{r.reached_target * 100:.0f}%",
             _epochs(r.epochs_median), _epochs(r.epochs_p90), f"{r.final_loss_median:.4f}"] for r in reports]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in [header, *rows]]
    return "\n".join(lines)


def report_csv(plan: SweepPlan, reports: list[SettingReport]) -> str:
    """The report as CSV: a row per setting; `config_fingerprint` is the `setting` attribute of its runs."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = list(plan.grid)
    writer.writerow([*keys, "runs", "full_accuracy_share", "reached_target_share", "target_loss",
                     "epochs_to_target_median", "epochs_to_target_p90", "final_loss_median", "config_fingerprint"])
    for r in reports:
        writer.writerow([*(r.setting[k] for k in keys), r.runs, "" if r.full_accuracy is None else r.full_accuracy,
                         r.reached_target, plan.target_loss,
                         r.epochs_median if r.epochs_median is not None else "",
                         r.epochs_p90 if r.epochs_p90 is not None else "", r.final_loss_median,
                         r.config_fingerprint])
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
        reached = np.sort([e if e is not None else math.inf for e in r.epochs_to_target])
        axis.plot(epochs, np.searchsorted(reached, epochs, side="right") / len(reached) * 100,
                  label=_setting_text(r.setting))
    axis.set_xlabel("epoch")
    axis.set_ylabel(f"runs with loss < {plan.target_loss:g} (%)")
    axis.set_ylim(-2, 102)
    axis.set_title(f"convergence of {plan.config.name}: {len(plan.seeds)} seeds per setting")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    atomic_write(out, lambda temp: figure.savefig(temp, format="png", dpi=100))
    plt.close(figure)


class Progress:
    """`runs 12/40, 3.1 s, about 7 s left` on one terminal line of stderr; silent when stderr is not a terminal.

    Example:
        >>> progress = Progress(total=40)
        >>> progress.update(12)
    """

    def __init__(self, total: int, stream=None, unit: str = "runs"):
        self.total = total
        self.unit = unit
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self.first: int | None = None  # runs already done when counting started (reused ones)
        self.shown = False

    def update(self, done: int) -> None:
        if not self.stream.isatty():
            return
        if self.first is None:
            self.first = done
        elapsed = time.perf_counter() - self.started
        fresh = done - self.first
        left = f", about {elapsed / fresh * (self.total - done):.0f} s left" if 0 < fresh and done < self.total else ""
        self.stream.write(f"\r{self.unit} {done}/{self.total}, {elapsed:.1f} s{left}\x1b[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
