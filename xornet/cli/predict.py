"""`xornet predict`: predictions of a saved model for rows from a file, stdin or the command line."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import List, Optional

import typer

from xornet.cli.app import (WEIGHTS_HELP, Format, app, check_input_file, check_model_options, friendly_errors,
                            open_binary, reader_left)
from xornet.errors import InputError


@app.command(short_help="Predict with a saved model.")
@friendly_errors
def predict(
    model: str = typer.Option("basic_model.json", "--model", "-m", metavar="<path>",
                               help="The architecture JSON, or a Keras 3 .keras file (a bare name is also looked for in models/)."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help=WEIGHTS_HELP),
    input_file: Optional[str] = typer.Option(None, "--input", "-i", metavar="<path>",
                                             help="CSV, Parquet or .npy file of inputs; - reads CSV from stdin."),
    xs: List[str] = typer.Option([], "--x", metavar="<row>", help="One input row, comma-separated, e.g. --x 0,1 (repeatable)."),
    threshold: Optional[float] = typer.Option(
        None, "--threshold", help="Class 1 when the probability is above this (default 0.5; one sigmoid output)."),
    output_format: Format = typer.Option(Format.table, "--format", "-f",
                                         help="table, json (one strict JSON array) or csv."),
):
    """Predict with a saved model. Without inputs, a model trained on a truth table
    (XOR, AND, ...) predicts every 0/1 combination of its inputs.

    Rows hold the training features (a data.categorical column as its text, one-hot
    encoded as in training). Inputs must be finite numbers: nan, inf and values too
    large for float32 are refused, naming the line (or row) and column. A blank cell
    is missing: filled as training filled it (data.missing: mean or zero), else refused.
    """
    check_model_options(model, weights)
    if input_file is not None and xs:
        raise InputError("--input and --x: expected one source of inputs, received both")
    from xornet.predictor import load_predictor
    from xornet.predicting import class_threshold, prediction_labels, trained_on_file
    from xornet.prediction_inputs import input_encoding, iter_csv_inputs, parse_x, read_npy_inputs

    predictor = load_predictor(model, weights)
    width = predictor.input_width
    recorded = input_encoding(predictor.record, width)  # how raw feature columns become the model's inputs
    names = (recorded.get("inputs") or recorded["features"]) if recorded else None
    labels = prediction_labels(predictor.record, predictor.output_activation)
    threshold = class_threshold(threshold, labels["regression"], predictor.output_width)
    handle = None
    if input_file is None:
        from xornet.data import all_binary_inputs

        if xs:
            chunks = iter([parse_x(xs, width, recorded)])
        elif source := trained_on_file(predictor.record):
            raise InputError(f"the model was trained on {_shown(source)}, not a truth table: expected inputs to "
                             "predict, pass --input FILE or --x VALUES", hint=_evaluate_hint(model, weights, predictor.record))
        elif width > 16:
            raise InputError(f"the model has {width} inputs: too many to list every 0/1 combination",
                             hint="pass --input FILE or --x values")
        else:
            chunks = iter([(all_binary_inputs(width), None)])
    elif input_file == "-":
        chunks = iter_csv_inputs(sys.stdin.buffer, width, "<stdin>", recorded)
    else:
        path = Path(input_file)
        check_input_file(path, "--input", "a CSV, Parquet or .npy file of inputs")
        if path.suffix.lower() == ".npy":
            chunks = iter([(read_npy_inputs(path, width, recorded), None)])
        elif path.suffix.lower() in (".parquet", ".pq"):
            from xornet.prediction_inputs import read_parquet_inputs

            chunks = iter([(read_parquet_inputs(path, width, recorded), None)])
        else:
            handle = open_binary(path)
            chunks = iter_csv_inputs(handle, width, str(path), recorded)
    with handle or contextlib.nullcontext():
        _write_predictions(chunks, predictor.predict, threshold, output_format, width, names, labels)


def _evaluate_hint(model: str, weights: Optional[Path], record: dict) -> str:
    """How to score a model trained on a file: on its test split when the run kept one, else on a labelled file."""
    evaluate = f"xornet evaluate --model {model}" + (f" --weights {weights}" if weights else "")
    if "test" in ((record.get("data") or {}).get("splits") or {}):
        return f"to score it on its test split, run `{evaluate}`"
    return f"to score it on a labelled file, run `{evaluate} --data FILE`"


def _shown(path: str) -> str:
    """A path relative to the working directory when it lies inside it, else as it is."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def _write_predictions(chunks, run, threshold: float, output_format: Format, width: int, features,
                       labels: dict) -> None:
    """Predict each chunk of inputs and write it to stdout in the chosen format; stop when the reader has left
    (`xornet predict ... | head`)."""
    try:
        _write_all(chunks, run, threshold, output_format, width, features, labels)
    except BrokenPipeError:
        reader_left()


def _write_all(chunks, run, threshold: float, output_format: Format, width: int, features, labels: dict) -> None:
    import numpy as np

    from xornet.predicting import csv_header, format_csv_chunk, format_json_chunk, format_table, predict_finite, to_classes

    out = sys.stdout
    if output_format is Format.table:
        parts = list(chunks)
        x = np.concatenate([values for values, _ in parts])
        texts = None if any(text is None for _, text in parts) else [t for _, text in parts for t in text.to_pylist()]
        probabilities = predict_finite(run, x)
        out.write(format_table(x, probabilities, to_classes(probabilities, threshold), features, texts=texts,
                               **labels) + "\n")
        return
    first = True
    rows_done = 0
    for x, texts in chunks:
        probabilities = predict_finite(run, x, rows_done + 1)
        rows_done += len(x)
        classes = to_classes(probabilities, threshold)
        if output_format is Format.json:
            out.write(format_json_chunk(x, probabilities, classes, first, **labels))
        else:
            header = csv_header(width, probabilities.shape[1], features, **labels) if first else None
            out.flush()  # the rows go to the bytes underneath
            out.buffer.write(format_csv_chunk(x, probabilities, classes, header, texts, **labels))
        first = False
    if output_format is Format.json:
        out.write("[]\n" if first else "\n]\n")
