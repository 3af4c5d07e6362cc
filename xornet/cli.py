"""The `xornet` command line: parse arguments, call the library, format results.

TensorFlow is imported only inside the commands that need it, so `xornet --help`
and config validation stay fast.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
import traceback
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from xornet import __version__
from xornet.errors import InputError, Interrupted, XornetError

app = typer.Typer(
    help="Train, save and use small Keras networks from YAML experiment configs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
)

_state = {"debug": False}
SHOWN_ROWS = 16  # training rows whose predictions `train` prints


def _err(text: str = "") -> None:
    typer.echo(text, err=True)


def friendly_errors(command):
    """Turn xornet errors into one line on stderr and the right exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except XornetError as exc:
            if _state["debug"]:
                traceback.print_exc()
            _err(f"error: {exc}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _err("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:  # a bug in xornet or a library: still one line unless --debug
            if _state["debug"]:
                traceback.print_exc()
            _err(f"error: unexpected failure: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
            raise typer.Exit(1) from None

    return wrapper


def _version(value: bool):
    if value:
        typer.echo(f"xornet {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and TensorFlow's own log lines."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
):
    """Train, save and use small Keras networks from YAML experiment configs."""
    _state["debug"] = debug
    if debug:
        os.environ["XORNET_DEBUG"] = "1"


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _load_config(path: Path, overrides: list[str]):
    from xornet.config import load_config

    return load_config(path, overrides)


# --- train ------------------------------------------------------------------------------


class ProgressBar:
    """A progress bar on stderr, shown only on a terminal and only for runs longer than about a second."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.perf_counter()
        self.bar = None

    def __call__(self, done: int, total: int, logs: dict) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        if self.bar is None:
            if done >= total or elapsed / done * total < 1.0:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[stats]}"),
                                TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("train", total=total, stats="")
        stats = "  ".join(f"{k} {v:.4f}" for k, v in logs.items()) + f"  {done / elapsed:,.0f} epochs/s"
        self.bar.update(self.task, completed=done, stats=stats)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
@friendly_errors
def train(
    config: Path = typer.Argument(..., help="The experiment config (YAML)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Override training.epochs."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the seed (the initial weights)."),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", help="Override output.dir."),
    overrides: List[str] = typer.Option([], "--set", help="Override any key: --set training.learning_rate=0.5"),
    force: bool = typer.Option(False, "--force", help="Replace a model made by a different experiment."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only warnings and errors."),
):
    """Train the network a config describes and save it (JSON + HDF5 + run record)."""
    extra = list(overrides)
    if epochs is not None:
        extra.append(f"training.epochs={epochs}")
    if seed is not None:
        extra.append(f"seed={seed}")
    if output_dir is not None:
        extra.append(f"output.dir={str(output_dir)!r}")
    cfg = _load_config(config, extra)

    from xornet.experiment import train as train_experiment
    from xornet.summary import format_metrics, model_summary

    say = (lambda text="": None) if quiet else typer.echo
    t = cfg.training

    def describe(dataset, model):
        seed_text = f"seed {cfg.seed}" if cfg.seed is not None else "random seed"
        say(f"Experiment {cfg.name} ({config}), {seed_text}")
        say(f"Data: {dataset.source}, {len(dataset.x)} rows, {dataset.width} inputs")
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
        run = train_experiment(cfg, force=force, progress=bar, on_start=describe, on_attempt=report_attempt)
    except KeyboardInterrupt:
        raise Interrupted("interrupted during training: nothing was written, existing files are untouched") from None
    finally:
        bar.close()
    dataset = run.dataset

    from xornet.predicting import format_table, to_classes

    result = run.result
    how = (f"Stopped at epoch {result.epochs_run} of {t.epochs} (loss below target {t.target_loss:g})"
           if result.stop_reason == "target_loss" else f"Trained {result.epochs_run} epochs")
    say(f"{how} in {result.seconds:.2f} s (seed {run.seed}, engine {result.engine})")
    say(f"Final on the training data: {format_metrics(run.final)}")
    say("")
    shown = min(len(dataset.x), SHOWN_ROWS)
    x, probabilities = dataset.x[:shown], run.probabilities[:shown]
    lines = format_table(x, probabilities, to_classes(probabilities), dataset.feature_names).splitlines()
    say(lines[0] + "  target")
    for line, target_value in zip(lines[1:], dataset.y[:shown, 0]):
        say(f"{line}  {target_value:>6g}")
    if len(dataset.x) > shown:
        say(f"... {len(dataset.x) - shown} more rows (xornet predict --input FILE shows them all)")
    say("")
    say("Wrote " + ", ".join(str(p) for p in run.paths.values()))
    if run.converged is False:
        tries = f"best of {len(run.attempts)} attempts (seed {run.seed}), " if len(run.attempts) > 1 else ""
        _err(
            f"warning: training did not converge ({tries}{format_metrics(run.final)}): "
            f"try more epochs (--epochs {max(t.epochs * 10, 1000)}) or another seed (--seed N, or seed: null)"
        )


# --- predict ----------------------------------------------------------------------------


@app.command()
@friendly_errors
def predict(
    model: Path = typer.Option(Path("basic_model.json"), "--model", "-m",
                               help="The architecture JSON (a bare name is also looked for in models/)."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w",
                                           help="The HDF5 weights [default: from the run record or <stem>_weights.h5]."),
    input_file: Optional[str] = typer.Option(None, "--input", "-i", help="CSV or .npy file of inputs; - reads CSV from stdin."),
    xs: List[str] = typer.Option([], "--x", help="One input row, comma-separated, e.g. --x 0,1 (repeatable)."),
    threshold: float = typer.Option(0.5, "--threshold", help="Class 1 when the probability is above this."),
    output_format: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
):
    """Predict with a saved model. Without inputs: every 0/1 combination of its inputs."""
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"--threshold: expected a number from 0 to 1, received {threshold:g}")
    if input_file is not None and xs:
        raise InputError("--input and --x: expected one source of inputs, received both")
    from xornet.artifacts import load_predictor
    from xornet.predicting import iter_csv_inputs, parse_x, read_npy_inputs

    predictor = load_predictor(model, weights)
    width = predictor.input_width
    features = (predictor.record or {}).get("data", {}).get("features")
    handle = None
    if input_file is None:
        from xornet.data import all_binary_inputs

        if xs:
            chunks = iter([(parse_x(xs, width), None)])
        elif width > 16:
            raise InputError(f"the model has {width} inputs: too many to list every 0/1 combination",
                             hint="pass --input FILE or --x values")
        else:
            chunks = iter([(all_binary_inputs(width), None)])
    elif input_file == "-":
        chunks = iter_csv_inputs(sys.stdin, width, "<stdin>", features)
    else:
        path = Path(input_file)
        if not path.exists():
            raise InputError(f"{path}: input file not found")
        if path.suffix.lower() == ".npy":
            chunks = iter([(read_npy_inputs(path, width), None)])
        else:
            handle = open(path, encoding="utf-8", errors="replace")
            chunks = iter_csv_inputs(handle, width, str(path), features)
    with handle or contextlib.nullcontext():
        _write_predictions(chunks, predictor.predict, threshold, output_format, width, features)


def _write_predictions(chunks, run, threshold: float, output_format: Format, width: int, features) -> None:
    """Predict each chunk of inputs and write it to stdout in the chosen format."""
    import numpy as np

    from xornet.predicting import csv_header, format_csv_chunk, format_json_chunk, format_table, to_classes

    out = sys.stdout
    if output_format is Format.table:
        x = np.concatenate([values for values, _ in chunks])
        probabilities = run(x)
        out.write(format_table(x, probabilities, to_classes(probabilities, threshold), features) + "\n")
        return
    first = True
    for x, texts in chunks:
        probabilities = run(x)
        classes = to_classes(probabilities, threshold)
        if output_format is Format.json:
            out.write(format_json_chunk(x, probabilities, classes, first))
        else:
            header = csv_header(width, probabilities.shape[1], features) if first else None
            out.write(format_csv_chunk(x, probabilities, classes, header, texts))
        first = False
    if output_format is Format.json:
        out.write("[]\n" if first else "\n]\n")


# --- summary ----------------------------------------------------------------------------


@app.command()
@friendly_errors
def summary(
    target: Optional[Path] = typer.Argument(None, help="A config (.yaml) or a saved model (.json); default: the reference XOR net."),
    overrides: List[str] = typer.Option([], "--set", help="Override a config key: --set model.layers.0.units=4"),
):
    """Show the network a config describes (built, not trained) or a saved model."""
    from xornet.summary import config_summary, saved_model_summary

    if target is not None and target.suffix.lower() == ".json":
        if overrides:
            raise InputError("--set applies to configs, not to a saved model")
        typer.echo(saved_model_summary(target))
        return
    if target is None:
        from xornet.config import validate_config

        cfg = validate_config({}, "<reference experiment>", overrides=overrides)
    else:
        cfg = _load_config(target, overrides)
    typer.echo(config_summary(cfg))


# --- evaluate and plot -------------------------------------------------------------------


@app.command()
@friendly_errors
def evaluate(
    model: Path = typer.Option(Path("basic_model.json"), "--model", "-m", help="The architecture JSON."),
    data: Path = typer.Option(..., "--data", "-d", help="A config (.yaml: its data) or a CSV / .npy file with labels."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="The HDF5 weights [default: as for predict]."),
    threshold: float = typer.Option(0.5, "--threshold", help="Class 1 when the probability is above this."),
    output_format: Format = typer.Option(Format.table, "--format", "-f", help="table or json."),
):
    """Score a saved model on labelled data: loss, accuracy, precision, recall, F1, confusion matrix."""
    import json

    from xornet.artifacts import load_predictor
    from xornet.data import load_data, load_file
    from xornet.evaluation import evaluate_predictions, format_evaluation

    if output_format is Format.csv:
        raise InputError("--format: evaluate prints table or json, received csv")
    predictor = load_predictor(model, weights)
    record = predictor.record or {}
    loss = record.get("config", {}).get("training", {}).get("loss", "binary_crossentropy")
    if data.suffix.lower() in (".yaml", ".yml"):
        cfg = _load_config(data, [])
        dataset, loss = load_data(cfg), cfg.training.loss
    else:
        recorded = record.get("data", {})
        features = recorded.get("features")
        dataset = load_file(str(data), features if features and data.suffix.lower() != ".npy" else None,
                            recorded.get("label") if data.suffix.lower() != ".npy" else None)
    if dataset.width != predictor.input_width:
        raise InputError(f"{data}: the data has {dataset.width} feature columns, the model takes {predictor.input_width}")
    scores = evaluate_predictions(predictor.predict(dataset.x), dataset.y, loss, threshold)
    if output_format is Format.json:
        typer.echo(json.dumps(scores))
    else:
        typer.echo(f"{model} on {dataset.source} ({scores['rows']} rows, loss {loss})")
        typer.echo(format_evaluation(scores))


@app.command()
@friendly_errors
def plot(
    target: Path = typer.Argument(..., help="A saved model (.json) or its run record (_run.json)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The PNG to write [default: <stem>_plot.png beside the model]."),
):
    """Draw loss and accuracy per epoch and, for two-input models, the decision surface."""
    from xornet.artifacts import load_predictor, stem_of
    from xornet.data import dataset_of_record
    from xornet.plotting import plot_run

    model_path = target
    if target.name.endswith("_run.json"):
        model_path = target.with_name(target.name[: -len("_run.json")] + "_model.json")
    predictor = load_predictor(model_path)
    out = out or model_path.with_name(f"{stem_of(model_path.name)}_plot.png")
    written = plot_run(Path(model_path), out, predictor, dataset_of_record(predictor.record))
    typer.echo(f"Wrote {written}")


# --- sweep ------------------------------------------------------------------------------


@app.command()
@friendly_errors
def sweep(
    config: Path = typer.Argument(..., help="The experiment config (YAML)."),
    seeds: int = typer.Option(0, "--seeds", help="Train every setting from seeds 0 .. N-1 [default: the config's seed]."),
    grid: List[str] = typer.Option([], "--grid", help="Values to try: --grid training.learning_rate=0.05,0.1,0.5 (repeatable)."),
    overrides: List[str] = typer.Option([], "--set", help="Override a key for every run: --set training.epochs=100"),
    target_loss: Optional[float] = typer.Option(None, "--target-loss", help="Loss that counts as converged [default: training.target_loss, else 0.1]."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Worker processes on this machine."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna storage shared by all workers: a journal file path, or a PostgreSQL/MySQL/SQLite URL [default: <out>/study.log]."),
    study_name: Optional[str] = typer.Option(None, "--study", help="Optuna study name [default: the experiment name]."),
    out: Optional[Path] = typer.Option(None, "--out", help="The sweep directory [default: sweeps/<experiment>]."),
    worker: bool = typer.Option(False, "--worker", hidden=True, help="Only run queued trials (used by --jobs)."),
):
    """Train many seeds and settings; report how often and how fast each setting converges."""
    import subprocess

    from xornet.artifacts import atomic_write_text
    from xornet.sweep import enqueue, format_report, parse_grid, plan_sweep, plot_convergence, report, report_csv, work

    cfg = _load_config(config, overrides)
    if target_loss is not None and target_loss <= 0:
        raise InputError(f"--target-loss: expected a number greater than 0, received {target_loss:g}")
    plan = plan_sweep(cfg, range(seeds), parse_grid(grid), target_loss)
    directory = out or Path("sweeps") / cfg.name
    directory.mkdir(parents=True, exist_ok=True)
    url = storage or str(directory / "study.log")
    if jobs > 1 and url.startswith("sqlite:"):
        raise InputError("--jobs with SQLite storage: SQLite cannot hand trials to parallel workers safely",
                         hint="leave --storage out (a journal file), or use PostgreSQL or MySQL")
    name = study_name or cfg.name
    if worker:
        work(plan, url, name)
        return
    queued = enqueue(plan, url, name)
    total = len(plan.trials())
    _err(f"Sweep {name}: {total} runs ({len(plan.settings())} settings x {len(plan.seeds)} seeds), "
         f"{queued} to run, {jobs} worker{'s' if jobs > 1 else ''}, storage {url}")
    started = time.perf_counter()
    if jobs == 1:
        work(plan, url, name)
    else:
        command = [sys.executable, "-m", "xornet", "sweep", str(config), "--seeds", str(seeds), "--storage", url,
                   "--study", name, "--out", str(directory), "--worker"]
        command += [a for g in grid for a in ("--grid", g)] + [a for o in overrides for a in ("--set", o)]
        if target_loss is not None:
            command += ["--target-loss", str(target_loss)]
        workers = [subprocess.Popen(command) for _ in range(jobs)]
        codes = [w.wait() for w in workers]
        if any(codes):
            raise XornetError(f"a sweep worker failed (exit codes {codes}); run the sweep again to resume it")
    reports = report(plan, url, name)
    summary_csv = directory / "summary.csv"
    picture = directory / "convergence.png"
    atomic_write_text(summary_csv, report_csv(plan, reports))
    plot_convergence(plan, reports, picture)
    typer.echo(format_report(plan, reports))
    typer.echo(f"\n{sum(r.runs for r in reports)} of {total} runs done in {time.perf_counter() - started:.1f} s; "
               f"wrote {summary_csv}, {picture}")


# --- export -----------------------------------------------------------------------------


class ExportFormat(str, Enum):
    keras2 = "keras2"
    keras3 = "keras3"
    keras = "keras"


@app.command()
@friendly_errors
def export(
    model: Path = typer.Argument(..., help="The architecture JSON to export (weights found as for predict)."),
    directory: Path = typer.Argument(..., help="Where to write the exported files."),
    to: ExportFormat = typer.Option(..., "--to", help="keras2: Keras 2 JSON + HDF5; keras3: to_json() + .weights.h5; keras: one .keras file."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="The HDF5 weights [default: as for predict]."),
    force: bool = typer.Option(False, "--force", help="Replace existing files."),
):
    """Write a saved model in a form another Keras reads: Keras 2, the Keras 3 pair, or a .keras file."""
    from xornet.artifacts import export_model, load_model

    written = export_model(load_model(model, weights), to.value, directory, force)
    typer.echo("Wrote " + ", ".join(str(p) for p in written))


# --- config -----------------------------------------------------------------------------

config_app = typer.Typer(help="Check, show and start experiment configs.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
@friendly_errors
def config_show(
    config: Path = typer.Argument(..., help="The experiment config (YAML)."),
    overrides: List[str] = typer.Option([], "--set", help="Override a key: --set training.epochs=500"),
):
    """Print the fully resolved config: file, defaults and overrides together."""
    import yaml

    typer.echo(yaml.safe_dump(_load_config(config, overrides).resolved(), sort_keys=False).rstrip("\n"))


@config_app.command("init")
@friendly_errors
def config_init(
    path: Path = typer.Argument(Path("xornet.yaml"), help="Where to write the starter config."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file."),
):
    """Write a commented starter config (the XOR experiment)."""
    from xornet.artifacts import atomic_write_text
    from xornet.config import STARTER

    if path.exists() and not force:
        raise InputError(f"{path} already exists; refusing to overwrite it", hint="pass --force, or give another PATH")
    atomic_write_text(path, STARTER)
    typer.echo(f"Wrote {path}")


@config_app.command("validate")
def config_validate(configs: List[Path] = typer.Argument(..., help="Config files to check.")):
    """Check configs without training: exit 0 when all are valid, 2 otherwise."""
    failed = 0
    for path in configs:
        try:
            _load_config(path, [])
        except XornetError as exc:
            failed += 1
            _err(f"error: {exc}")
        else:
            typer.echo(f"ok: {path}")
    if failed:
        raise typer.Exit(2)


def main() -> None:
    """Entry point of the `xornet` console script."""
    app(prog_name="xornet")


if __name__ == "__main__":
    main()
