"""`xornet evaluate` and `xornet plot`: scores and pictures of a saved model."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from xornet.cli.app import (WEIGHTS_HELP, app, check_model_options, check_output_file, friendly_errors,
                            shown_path)
from xornet.errors import InputError
from xornet.text import counted


class EvaluateFormat(str, Enum):
    table = "table"
    json = "json"


@app.command(short_help="Score a saved model on labelled data.")
@friendly_errors
def evaluate(
    model: str = typer.Option("basic_model.json", "--model", "-m", metavar="<path>",
                              help="The architecture JSON, or a Keras 3 .keras file (a bare name is also looked for in models/)."),
    data: Optional[Path] = typer.Option(None, "--data", "-d", metavar="<path>",
                                        help="A config (.yaml: every row of its data file or truth table; its features and "
                                             "label must be the model's) or a CSV / Parquet / .npy file with labels. "
                                             "Default: the test split of the run's own config."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help=WEIGHTS_HELP),
    label: Optional[str] = typer.Option(None, "--label", "-l", metavar="<column>",
                                        help="The label column of --data. Default: the model's training label (.npy: the last column)."),
    threshold: Optional[float] = typer.Option(
        None, "--threshold", help="Class 1 when the probability is above this (default 0.5; one sigmoid output)."),
    output_format: EvaluateFormat = typer.Option(EvaluateFormat.table, "--format", "-f", help="table or json."),
):
    """Score a saved model on labelled data: loss, accuracy, precision, recall, F1, confusion matrix
    (MAE, RMSE, R² for regression).

    Labels must fit the model: 0 or 1 for a one-output model, a class number
    0 .. N-1 (or a class name the run recorded) for N outputs; other labels are
    refused, naming the row.
    """
    import json

    from xornet.config import load_config
    from xornet.data import test_split_of_record
    from xornet.data.encoding import task_of
    from xornet.evaluation import config_rows, file_rows, format_evaluation, model_loss, score
    from xornet.files.architecture import outputs_values
    from xornet.predicting import class_threshold, predict_finite
    from xornet.prediction_inputs import check_finite_inputs
    from xornet.predictor import load_predictor

    check_model_options(model, weights)
    is_config = data is not None and data.suffix.lower() in (".yaml", ".yml")
    if data is not None and data.is_dir():
        raise InputError(f"--data {data}: is a directory, expected a config (.yaml) or a CSV, Parquet or .npy file")
    if label is not None and (data is None or is_config):
        raise InputError("--label goes with --data FILE (a CSV, Parquet or .npy file)",
                         hint="for a config, set data.label in it")
    cfg = load_config(data) if is_config else None
    predictor = load_predictor(model, weights)
    record = predictor.record or {}
    recorded = record.get("data", {})
    loss = model_loss(record, cfg.training.loss if cfg else None)
    rows_are = ""
    if data is None:
        dataset, rows_are = test_split_of_record(record, shown_path(str(predictor.path))), "the test rows of "
    elif cfg is not None:
        dataset = config_rows(cfg, recorded)
    else:
        dataset = file_rows(data, recorded, label)
    if dataset.width != predictor.input_width:
        raise InputError(f"{data}: the data has {dataset.width} feature columns, the model takes {predictor.input_width}")
    check_finite_inputs(dataset.x, dataset.source, dataset.feature_names)
    outputs = predict_finite(predictor.predict, dataset.x)
    if loss is None:  # a model without a run record: the loss of its output (values, or probabilities of classes)
        loss = ("mean_squared_error" if outputs_values(predictor.output_activation) else
                "binary_crossentropy" if outputs.shape[1] == 1 else "sparse_categorical_crossentropy")
    task = recorded.get("task") or task_of(loss)
    if task == "regression" and outputs.shape[1] != 1:
        raise InputError(f"{model}: the model gives {outputs.shape[1]} values a row, and a label column holds one: "
                         "evaluate scores models of one output value", hint="xornet predict shows every value")
    threshold = class_threshold(threshold, task == "regression", outputs.shape[1])
    scores = score(outputs, dataset.y, loss, task, threshold, dataset.classes, where=dataset.where,
                   logits=predictor.logits(dataset.x))
    if output_format is EvaluateFormat.json:
        typer.echo(json.dumps(scores, allow_nan=False))
    else:
        typer.echo(f"{model} on {rows_are}{shown_path(dataset.source)} ({scores['rows']} rows"
                   f"{_missing_note(dataset.missing)}, loss {loss})")
        typer.echo(format_evaluation(scores))


def _missing_note(missing: dict) -> str:
    """", 116 rows dropped for missing values (data.missing: drop)", or "" when none were dropped or filled."""
    done = [counted(missing[key], noun) + verb for key, noun, verb in (
        ("rows_dropped", "row", " dropped"), ("cells_filled", "cell", " filled")) if missing.get(key)]
    return f", {' and '.join(done)} for missing values (data.missing: {missing['policy']})" if done else ""


@app.command(short_help="Draw a saved model's training curves.")
@friendly_errors
def plot(
    target: str = typer.Argument(..., metavar="MODEL", help="A saved model (.json) or its run record (_run.json)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="The picture to write; its suffix picks the format: .png, .svg, .pdf, "
                                            ".jpg, ... Default: <stem>_plot.png beside the model."),
):
    """Draw loss and accuracy per epoch and, for two-input models, the decision surface."""
    from xornet.files.names import stem_of
    from xornet.predictor import load_predictor
    from xornet.data import dataset_of_record
    from xornet.plotting import picture_format, plot_run

    check_model_options(target, None, "MODEL")
    if out is not None:
        check_output_file(out, f"--out {out}")
        picture_format(out, f"--out {out}")
    target = Path(target)
    model_path = target
    if target.name.endswith("_run.json"):
        model_path = target.with_name(target.name[: -len("_run.json")] + "_model.json")
    predictor = load_predictor(model_path)
    out = out or model_path.with_name(f"{stem_of(model_path.name)}_plot.png")
    written = plot_run(Path(model_path), out, predictor, dataset_of_record(predictor.record))
    typer.echo(f"Wrote {written}")
