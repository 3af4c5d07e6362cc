"""`xornet evaluate` and `xornet plot`: scores and pictures of a saved model."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from xornet.cli.app import Format, _load_config, app, friendly_errors
from xornet.errors import InputError


@app.command()
@friendly_errors
def evaluate(
    model: Path = typer.Option(Path("basic_model.json"), "--model", "-m", help="The architecture JSON."),
    data: Optional[Path] = typer.Option(None, "--data", "-d",
                                        help="A config (.yaml: its data) or a CSV / Parquet / .npy file with labels "
                                             "[default: the test split of the run's own config]."),
    label: Optional[str] = typer.Option(None, "--label", "-l", help="The label column of --data [default: the run's]."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="The HDF5 weights [default: as for predict]."),
    threshold: float = typer.Option(0.5, "--threshold", help="Class 1 when the probability is above this."),
    output_format: Format = typer.Option(Format.table, "--format", "-f", help="table or json."),
):
    """Score a saved model on labelled data: loss, accuracy, precision, recall, F1, confusion matrix (MAE, RMSE, R² for regression)."""
    import json

    from xornet.predictor import load_predictor
    from xornet.data import load_data, load_file, load_labelled_file, test_split_of_record
    from xornet.data.encoding import task_of
    from xornet.evaluation import format_evaluation, score

    if output_format is Format.csv:
        raise InputError("--format: evaluate prints table or json, received csv")
    if label is not None and (data is None or data.suffix.lower() in (".yaml", ".yml")):
        raise InputError("--label goes with --data FILE (a CSV, Parquet or .npy file)")
    predictor = load_predictor(model, weights)
    record = predictor.record or {}
    recorded = record.get("data", {})
    loss = record.get("config", {}).get("training", {}).get("loss", "binary_crossentropy")
    rows_are = ""
    if data is None:
        dataset, rows_are = test_split_of_record(record, str(model)), "the test rows of "
    elif data.suffix.lower() in (".yaml", ".yml"):
        cfg = _load_config(data, [])
        dataset, loss = load_data(cfg), cfg.training.loss
    elif "inputs" in recorded:  # a file run: encode the file as its training rows were
        dataset = load_labelled_file(str(data), recorded | ({"label": label} if label else {}))
    else:
        features = recorded.get("features")
        npy = data.suffix.lower() == ".npy"
        dataset = load_file(str(data), features if features and not npy else None,
                            label or (recorded.get("label") if not npy else None))
    if dataset.width != predictor.input_width:
        raise InputError(f"{data}: the data has {dataset.width} feature columns, the model takes {predictor.input_width}")
    task = recorded.get("task") or task_of(loss)
    scores = score(predictor.predict(dataset.x), dataset.y, loss, task, threshold, dataset.classes)
    if output_format is Format.json:
        typer.echo(json.dumps(scores))
    else:
        typer.echo(f"{model} on {rows_are}{dataset.source} ({scores['rows']} rows, loss {loss})")
        typer.echo(format_evaluation(scores))


@app.command()
@friendly_errors
def plot(
    target: Path = typer.Argument(..., help="A saved model (.json) or its run record (_run.json)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The PNG to write [default: <stem>_plot.png beside the model]."),
):
    """Draw loss and accuracy per epoch and, for two-input models, the decision surface."""
    from xornet.files.names import stem_of
    from xornet.predictor import load_predictor
    from xornet.data import dataset_of_record
    from xornet.plotting import plot_run

    model_path = target
    if target.name.endswith("_run.json"):
        model_path = target.with_name(target.name[: -len("_run.json")] + "_model.json")
    predictor = load_predictor(model_path)
    out = out or model_path.with_name(f"{stem_of(model_path.name)}_plot.png")
    written = plot_run(Path(model_path), out, predictor, dataset_of_record(predictor.record))
    typer.echo(f"Wrote {written}")
