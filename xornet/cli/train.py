"""`xornet train`: train the network a config describes and save it."""

from __future__ import annotations

import json
import sys
import time
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from xornet.cli.app import _err, _load_config, app, friendly_errors, shown_path
from xornet.text import counted
from xornet.errors import InputError, Interrupted


SHOWN_ROWS = 16  # training rows whose predictions `train` prints
SHOWN_INPUTS = 4  # inputs per row that preview shows


NOT_CONVERGED_EXIT = 3  # `train --fail-if-not-converged` when training did not converge


class TrainFormat(str, Enum):
    text = "text"
    json = "json"


class ProgressBar:
    """A progress bar on stderr, shown only on a terminal and only for runs longer than about a second.

    The line always fits the terminal: the epoch counter and the time left are
    never cut; the bar shrinks first, then metrics are dropped from the end.
    """

    MIN_BAR = 10

    def __init__(self, enabled: bool, console=None):
        self.enabled = enabled and (console is not None or sys.stderr.isatty())
        self.console = console
        self.started = time.perf_counter()
        self.bar = None

    def __call__(self, done: int, total: int, logs: dict) -> None:
        if not self.enabled:
            return
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        if self.bar is None:
            if done >= total or elapsed / done * total < 1.0:
                return
            self._start(total)
        counter = f"{done:>{len(str(total))}}/{total}"
        self.bar.update(self.task, completed=done, counter=counter, stats=self.fit_stats(logs, done / elapsed, total))

    def _start(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = self.console or Console(stderr=True)
        self.bar = Progress(TextColumn("epoch {task.fields[counter]}"), BarColumn(bar_width=None),
                            TextColumn("{task.fields[stats]}"), TimeRemainingColumn(),
                            console=self.console, transient=True, expand=True)
        self.bar.start()
        self.task = self.bar.add_task("train", total=total, counter="", stats="")

    def fit_stats(self, logs: dict, rate: float, total: int) -> str:
        """Metrics and speed, dropping entries from the end until the line fits the terminal."""
        fixed = len(f"epoch {total}/{total}") + self.MIN_BAR + len("0:00:00") + 3  # 3 column gaps
        parts = [f"{k} {v:.4f}" for k, v in logs.items()] + [f"{rate:,.0f} epochs/s"]
        while parts and len("  ".join(parts)) > self.console.width - fixed - 1:
            parts.pop()
        return "  ".join(parts)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command(short_help="Train a config's network and save it.")
@friendly_errors
def train(
    config: Path = typer.Argument(..., metavar="CONFIG", help="The experiment config (YAML)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Override training.epochs."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the seed (the initial weights)."),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", help="Override output.dir."),
    overrides: List[str] = typer.Option([], "--set", metavar="<key=value>",
                                        help="Override any key: --set training.learning_rate=0.5 (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Replace a model made by a different experiment."),
    resume: bool = typer.Option(False, "--resume",
                                help="Continue an interrupted run from its last checkpoint (training.checkpoint_every)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only warnings and errors."),
    output_format: TrainFormat = typer.Option(
        TrainFormat.text, "--format", "-f",
        help="text, or json: one JSON object (files, final metrics, converged, epochs, seed, engine) on stdout."),
    fail_if_not_converged: bool = typer.Option(
        False, "--fail-if-not-converged",
        help=f"Exit with code {NOT_CONVERGED_EXIT} when training does not converge (the files are still written). "
             "Default: exit 0 with a warning."),
):
    """Train the network a config describes and save it (JSON + HDF5 + run record).

    Exit codes: 0 trained (converged or not, unless --fail-if-not-converged),
    1 training failed, 2 bad input, 3 not converged with --fail-if-not-converged,
    130 interrupted.
    """
    flags = {}  # override text -> the flag the user typed, so errors name the flag
    if epochs is not None:
        flags[f"training.epochs={epochs}"] = f"--epochs {epochs}"
    if seed is not None:
        flags[f"seed={seed}"] = f"--seed {seed}"
    if output_dir is not None:
        flags[f"output.dir={str(output_dir)!r}"] = f"--output-dir {output_dir}"
    try:
        cfg = _load_config(config, list(overrides) + list(flags))
    except InputError as exc:
        _name_flag(exc, flags)
        raise

    from xornet.experiment import convergence_hint, interrupted_message, train as train_experiment
    from xornet.summary import format_metrics, model_summary

    as_json = output_format is TrainFormat.json
    say = (lambda text="": None) if quiet or as_json else typer.echo
    t = cfg.training

    def describe(dataset, model):
        seed_text = f"seed {cfg.seed}" if cfg.seed is not None else "random seed"
        say(f"Experiment {cfg.name} ({config}), {seed_text}")
        held_out = ", ".join(f"{rows} {name}" for name, rows in dataset.held_out.items())
        say(f"Data: {shown_path(dataset.source)}, {len(dataset.x)} {'training ' if held_out else ''}rows"
            f"{f' ({held_out})' if held_out else ''}, {dataset.width} inputs")
        if dataset.missing.get("rows_dropped") or dataset.missing.get("cells_filled"):
            say(f"Missing values (data.missing: {dataset.missing['policy']}): "
                f"{counted(dataset.missing['rows_dropped'], 'row')} dropped, "
                f"{counted(dataset.missing['cells_filled'], 'cell')} filled")
        rows = len(dataset.x)
        batch = "full batch" if t.batch_size is None or t.batch_size >= rows else (
            "stochastic (batch size 1)" if t.batch_size == 1 else f"mini-batch (batch size {t.batch_size})")
        target = f", target loss {t.target_loss:g}" if t.target_loss is not None else ""
        say(f"Training: {t.epochs} epochs, {batch}, {t.optimizer} learning rate {t.learning_rate:g}, "
            f"loss {t.loss}{target}")
        say(model_summary(model))

    def report_attempt(attempt, number):
        if attempt.converged is False or number > 1:  # a first attempt that converged needs no line
            verdict = {True: "converged", False: "not converged", None: "done"}[attempt.converged]
            say(f"Attempt {number} of at most {t.restarts + 1}, seed {attempt.seed}: {attempt.result.epochs_run} epochs, "
                f"{format_metrics(attempt.final)}: {verdict}")

    bar = ProgressBar(enabled=not quiet)
    try:
        run = train_experiment(cfg, force=force, progress=bar, on_start=describe, on_attempt=report_attempt,
                               resume=resume)
    except KeyboardInterrupt:
        raise Interrupted(interrupted_message(cfg)) from None
    except InputError as exc:
        if exc.message.startswith("output.dir: "):  # name where output.dir came from: the flag, --set or the file
            exc.message = f"{_origin_of_output_dir(config, output_dir, overrides)}: {exc.message}"
        _name_flag(exc, flags)
        raise
    finally:
        bar.close()
    dataset = run.dataset

    from xornet.predicting import format_table, to_classes

    result = run.result
    # Keras' EarlyStopping restores the best epoch's weights at the end of training, however training ends
    restored = result.best_epoch if t.early_stopping and t.early_stopping.restore_best_weights else None
    if result.stop_reason == "target_loss":
        how = f"Stopped at epoch {result.epochs_run} of {t.epochs} (loss below target {t.target_loss:g})"
    elif result.stop_reason == "early_stopping":
        best = f", weights of epoch {restored}" if restored else ""
        how = f"Stopped early at epoch {result.epochs_run} of {t.epochs} (no {t.early_stopping.monitor} progress{best})"
    else:
        how = f"Trained {result.epochs_run} epoch{'' if result.epochs_run == 1 else 's'}"
    if result.stop_reason != "early_stopping" and restored and restored != result.epochs_run:
        how += f" (weights of epoch {restored}, the best {t.early_stopping.monitor})"
    if result.resumed_from:
        how += f", resumed from the checkpoint of epoch {result.resumed_from}"
    say(f"{how} in {result.seconds:.2f} s (seed {run.seed}, engine {result.engine})")
    if run.devices:
        say(f"Data-parallel on {len(run.devices)} devices: {', '.join(run.devices)}")
    say(f"Final on the training rows: {format_metrics(run.final)}")
    for name, scores in run.held_out.items():
        figures = {k: v for k, v in scores.items() if k != "rows"}
        say(f"On the {name} rows ({scores['rows']}): {format_metrics(figures)}")
    say("")
    shown = min(len(dataset.x), SHOWN_ROWS)
    x, probabilities = dataset.x[:shown], run.probabilities[:shown]
    names = dataset.feature_names
    if dataset.width > SHOWN_INPUTS:  # keep the preview readable; predict shows every input
        x, names = x[:, :SHOWN_INPUTS], names[:SHOWN_INPUTS]
        say(f"(the first {SHOWN_INPUTS} of {dataset.width} inputs shown)")
    regression = run.splits is not None and run.splits.encoding.get("task") == "regression"
    lines = format_table(x, probabilities, to_classes(probabilities), names, dataset.classes, regression).splitlines()
    targets = [dataset.classes[int(v)] if dataset.classes else f"{v:g}" for v in dataset.y[:shown, 0]]
    width = max(6, *(len(t) for t in targets))
    say(lines[0] + f"  {'target':>{width}}")
    for line, target_value in zip(lines[1:], targets):
        say(f"{line}  {target_value:>{width}}")
    if len(dataset.x) > shown:
        say(f"... {len(dataset.x) - shown} more rows (xornet predict --input FILE shows them all)")
    say("")
    say("Wrote " + ", ".join(str(p) for p in run.paths.values()))
    if as_json:
        typer.echo(json.dumps(train_report(run), allow_nan=False))
    if run.converged is False:
        tries = f"best of {len(run.attempts)} attempts (seed {run.seed}), " if len(run.attempts) > 1 else ""
        _err(
            f"warning: training did not converge ({tries}{format_metrics(run.final)}): "
            + convergence_hint(run)
        )
        if fail_if_not_converged:
            raise typer.Exit(NOT_CONVERGED_EXIT)


def _name_flag(exc: InputError, flags: dict[str, str]) -> None:
    """An error about `--set training.epochs=5` names the flag the user typed, `--epochs 5`."""
    for text, flag in flags.items():
        if exc.message.startswith(f"--set {text}:"):
            exc.message = flag + exc.message[len(f"--set {text}"):]


def _origin_of_output_dir(config: Path, output_dir: Path | None, overrides: list[str]) -> str:
    """Where the output paths were set, as the user typed it: `--output-dir DIR`, `--set output.KEY=VALUE` (the
    folder or a file name in it), or the config."""
    if output_dir is not None:
        return f"--output-dir {output_dir}"
    typed = [text for text in overrides if text.partition("=")[0].strip().split(".")[0] == "output"]
    return f"--set {typed[-1]}" if typed else str(config)


def train_report(run) -> dict:
    """What `train --format json` prints: files written, final metrics, convergence, epochs, seed, engine, and the
    held-out figures when the config holds rows out."""
    return {
        "experiment": run.config.name,
        "files": {kind: str(path) for kind, path in run.paths.items()},
        "final": run.final,
        "converged": run.converged,
        "epochs": run.config.training.epochs,
        "epochs_run": run.result.epochs_run,
        "stop_reason": run.result.stop_reason,
        "attempts": len(run.attempts) or 1,
        "seed": run.seed,
        "engine": run.result.engine,
        "seconds": round(run.result.seconds, 3),
        **({"held_out": run.held_out} if run.held_out else {}),  # {"validation": {"rows": N, "loss": ...}, "test": ...}
    }
