"""`xornet tune`: search config values with Optuna (TPE sampler, patient median pruner)."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer

from xornet.cli.app import _err, _load_config, app, friendly_errors
from xornet.errors import InputError, Interrupted, XornetError


@app.command()
@friendly_errors
def tune(
    config: Path = typer.Argument(..., metavar="CONFIG", help="The experiment config (YAML)."),
    searches: List[str] = typer.Option([], "--search", metavar="<key=range>", help="A key and its range: KEY=loguniform(A,B) | uniform(A,B) | int(A,B) | choice(V1,V2,...) (repeatable)."),
    trials: int = typer.Option(50, "--trials", min=1, help="Finished trials (complete, pruned or diverged) the study should have, over all workers."),
    metric: str = typer.Option("loss", "--metric", help="The history column to optimise: loss or a metric of training.metrics (accuracy, auc, ...), val_loss or val_<metric> when the data has a validation split. Losses and errors are minimised, accuracy, auc, precision and recall maximised (Keras' mode='auto' rule)."),
    overrides: List[str] = typer.Option([], "--set", metavar="<key=value>", help="Override a key for every trial: --set training.epochs=300"),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Worker processes on this machine."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna storage shared by all workers: a journal file path, or a PostgreSQL/MySQL URL (default: OUT/study.log)."),
    study_name: Optional[str] = typer.Option(None, "--study", help="Optuna study name (default: the experiment name, 'tune' and the first 8 hex digits of the fingerprint of the config and search space)."),
    out: Optional[Path] = typer.Option(None, "--out", help="The directory for best.yaml, trials.csv and trials.png, and the model of best.yaml (OUT/model) (default: tunes/<experiment>)."),
    grace: int = typer.Option(60, "--grace", min=2, help="Seconds without a heartbeat after which a worker's trial has failed and another takes its place (RDB storage)."),
    force: bool = typer.Option(False, "--force", help="Replace the best.yaml, trials.csv and trials.png that another search (another config, space or metric) wrote into --out."),
    worker: bool = typer.Option(False, "--worker", hidden=True, help="Only run trials (used by --jobs)."),
):
    """Search config values for the best --metric; write the best config as YAML that `xornet train` takes."""
    from xornet.files.safe_write import atomic_write_text
    from xornet.sweep import Progress, shown_storage
    from xornet.tune import (MAX_TRIALS, best_config, best_yaml, check_metric, check_results_of, check_seed,
                             check_space, default_study_name, diverged, finished_trials, format_table,
                             open_tune_study, parse_search, plot_trials, search, state_of, trials_csv)

    if trials > MAX_TRIALS:
        raise InputError(f"--trials {trials}: expected at most {MAX_TRIALS:,}")
    space = parse_search(searches)
    cfg = _load_config(config, overrides)
    check_space(cfg, space)
    check_seed(cfg, space)
    check_metric(cfg, metric)
    directory = out or Path("tunes") / cfg.name
    if directory.exists() and not directory.is_dir():
        raise InputError(f"--out {directory}: expected a directory, found a file")
    directory.mkdir(parents=True, exist_ok=True)
    url = storage or str(directory / "study.log")
    name = study_name or default_study_name(cfg, searches, metric)
    if not worker and not force:
        check_results_of(directory, name)
    study = open_tune_study(url, name, cfg.seed, trials, cfg.training.epochs, metric, grace)
    if worker:
        try:
            with _ctrl_c_noted():
                search(study, cfg, space, metric, trials)
        except KeyboardInterrupt:  # Ctrl-C reached the whole process group: the command that started us says it
            raise typer.Exit(130) from None
        return
    direction = study.direction.name.lower().replace("ize", "ised")
    _err(f"Tune {name}: {trials} trials, metric {metric} ({direction}), {jobs} worker{'s' if jobs > 1 else ''}, "
         f"storage {shown_storage(url)}")
    started = time.perf_counter()
    progress = Progress(trials, unit="trials")
    command = [sys.executable, "-m", "xornet", "tune", str(config), "--trials", str(trials), "--metric", metric,
               "--storage", url, "--study", name, "--out", str(directory), "--grace", str(grace), "--worker"]
    command += [a for s in searches for a in ("--search", s)] + [a for o in overrides for a in ("--set", o)]
    try:
        with _ctrl_c_noted():
            _run_trials(study, cfg, space, metric, trials, jobs, command, progress)
    except KeyboardInterrupt:
        progress.close()
        raise Interrupted(f"interrupted after {finished_trials(study)} of {trials} trials; the study {name} is kept "
                          f"in {shown_storage(url)}: run the same command to continue") from None
    progress.close()
    failed = diverged(study)
    why = f", {failed} diverged (the loss became NaN or inf)" if failed else ""
    if not any(t.value is not None for t in study.get_trials(deepcopy=False)):
        raise XornetError(f"no trial completed: {why[2:] or 'every trial was pruned'}",
                          hint="narrow the search (a lower learning rate) or run more --trials" if failed else
                          "run more --trials")
    best = best_config(study, cfg)
    paths = [directory / "best.yaml", directory / "trials.csv", directory / "trials.png"]
    atomic_write_text(paths[0], best_yaml(best, directory, name))
    atomic_write_text(paths[1], trials_csv(study, space, metric))
    plot_trials(study, metric, paths[2])
    states = [state_of(t) for t in study.get_trials(deepcopy=False) if "surplus" not in t.user_attrs]
    if "stopped" in states:
        why += f", {states.count('stopped')} stopped (worker killed or interrupted)"
    typer.echo(format_table(study, space, metric))
    typer.echo(f"\n{states.count('complete')} complete, {states.count('pruned')} pruned{why} in "
               f"{time.perf_counter() - started:.1f} s; best trial {study.best_trial.number}: {metric} "
               f"{study.best_value:.4f}; wrote {', '.join(map(str, paths))}")


def _run_trials(study, cfg, space, metric: str, trials: int, jobs: int, command: list[str], progress) -> None:
    """Run the search in this process (`jobs` 1), or in `jobs` worker processes running `command`."""
    from xornet.cli.workers import run_workers
    from xornet.tune import finished_trials, search

    if jobs == 1:
        search(study, cfg, space, metric, trials, on_trial=progress.update)
        return
    run_workers(command, jobs, lambda: progress.update(finished_trials(study)), "a tune worker",
                "run the same command again to resume the search")


@contextlib.contextmanager
def _ctrl_c_noted():
    """Ctrl-C raises KeyboardInterrupt, even where a library turns it into another error (TensorFlow raised
    "TypeError: Failed to convert elements of (None,) to Tensor" from a trial interrupted as it started); a
    second Ctrl-C is ignored, so that the first one's trial is still marked stopped in the study."""
    seen = []

    def interrupt(_signal, _frame):
        if not seen:
            seen.append(True)
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    except Exception:
        if seen:
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
