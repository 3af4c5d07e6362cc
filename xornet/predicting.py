"""Predictions: running the model on its inputs (read by `xornet.prediction_inputs`), and formatting rows.

Example:
    >>> from xornet.predicting import predict, to_classes
    >>> probabilities = predict(model, [[0, 0], [0, 1]])
    >>> to_classes(probabilities).tolist()
    [0, 1]
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from xornet.errors import InputError

CHUNK_ROWS = 65536


def predict(model, x, batch_size: int = CHUNK_ROWS) -> np.ndarray:
    """Probabilities for the rows of `x` (rows x outputs), in large batches; nan, inf and numbers too large for
    float32 are refused (an `InputError` naming the row and column), as the command line refuses them.

    Example:
        >>> predict(model, [[0, 1]]).shape
        (1, 1)
    """
    import tensorflow as tf

    from xornet.prediction_inputs import check_finite_inputs

    with np.errstate(over="ignore"):
        x = np.asarray(x, dtype="float32")
    check_finite_inputs(x, "inputs")
    call = getattr(model, "_xornet_predict", None)
    if call is None:
        # One compiled call per model, for any number of rows.
        call = tf.function(lambda batch: model(batch, training=False),
                           input_signature=[tf.TensorSpec([None, x.shape[1]], tf.float32)])
        model._xornet_predict = call
    parts = [call(tf.constant(x[i:i + batch_size])).numpy() for i in range(0, len(x), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, int(model.output_shape[-1])), "float32")


def to_classes(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class per row: probability > threshold for one output, else the most probable output.

    Example:
        >>> to_classes(np.array([[0.2], [0.7]])).tolist()
        [0, 1]
    """
    if probabilities.shape[1] == 1:
        return (probabilities[:, 0] > threshold).astype(int)
    return probabilities.argmax(axis=1)


def trained_on_file(record: dict | None) -> str | None:
    """The data file a run record says the model was trained on; None for a truth table or without a record.

    Example:
        >>> trained_on_file({"data": {"source": "data/diabetes.csv"}, "config": {"data": {"table": None}}})
        'data/diabetes.csv'
        >>> trained_on_file({"data": {"source": "truth table xor"}, "config": {"data": {"table": "xor"}}}) is None
        True
    """
    source = ((record or {}).get("data") or {}).get("source")
    table = (((record or {}).get("config") or {}).get("data") or {}).get("table")
    if not source or table or str(source).startswith("truth table "):
        return None
    return str(source)


def prediction_labels(record: dict | None, output_activation: str | None = None) -> dict:
    """The run record's class names and whether its model is a regression, as the formatting functions take them.
    Without a task in the record (a model from elsewhere), an output that is not a sigmoid or softmax is a
    regression: its values are not probabilities.

    Example:
        >>> prediction_labels({"data": {"task": "multiclass", "classes": ["a", "b", "c"]}})
        {'class_names': ['a', 'b', 'c'], 'regression': False}
        >>> prediction_labels(None, "linear")
        {'class_names': None, 'regression': True}
    """
    from xornet.files.architecture import outputs_values

    recorded = (record or {}).get("data") or {}
    task = recorded.get("task")
    regression = task == "regression" if task else outputs_values(output_activation)
    return {"class_names": recorded.get("classes"), "regression": regression}


def class_threshold(threshold: float | None, regression: bool, outputs: int) -> float:
    """--threshold: 0.5 unless given, and a number from 0 to 1; refused for a model whose output is not one
    probability (a regression's values, or several classes' probabilities, whose class is the most probable).

    Example:
        >>> class_threshold(None, False, 3), class_threshold(0.9, False, 1)
        (0.5, 0.9)
    """
    if threshold is None:
        return 0.5
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"--threshold: expected a number from 0 to 1, received {threshold:g}")
    if regression or outputs != 1:
        gives = "values (a regression)" if regression else f"{outputs} probabilities, one per class (the class is " \
                                                           "the most probable)"
        raise InputError(f"--threshold {threshold:g}: goes with one sigmoid output (the probability of class 1); "
                         f"this model gives {gives}")
    return threshold


def predict_finite(run, x: np.ndarray, first_row: int = 1) -> np.ndarray:
    """`run(x)`, refusing outputs that are not finite numbers (inputs so large that the network overflows).

    Overflow is expected here and reported as one error, not as NumPy warnings.

    Example:
        >>> predict_finite(lambda x: x * 2, np.array([[1.0]], "float32")).tolist()
        [[2.0]]
    """
    with np.errstate(over="ignore", invalid="ignore"):
        probabilities = run(x)
    if np.isfinite(probabilities).all():  # the usual case, checked in a microsecond (a served request's path)
        return probabilities
    bad = np.flatnonzero(~np.isfinite(probabilities).all(axis=1))
    if bad.size:
        row = int(bad[0])
        values = ", ".join(f"{v:g}" for v in x[row])
        raise InputError(f"input row {first_row + row} ([{values}]): the model's output is "
                         f"{', '.join(str(v) for v in probabilities[row])}, not a finite number; "
                         f"the inputs are too large for this network", hint="scale the inputs like the training data")
    return probabilities


# --- formatting -----------------------------------------------------------------------


def _number(value: float):
    if float(value).is_integer():
        return int(value)
    # The shortest text that reads back as the same float32: 17.99, not 17.989999771118164.
    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))


def _probability(row: np.ndarray):
    return float(row[0]) if row.shape[0] == 1 else [float(v) for v in row]


def rows_as_json_objects(x: np.ndarray, probabilities: np.ndarray, classes: np.ndarray,
                         class_names: list[str] | None = None, regression: bool = False) -> list[dict]:
    """One dict per row: {"input": [...], "probability": p, "class": c}, or {"input", "prediction"} for regression.

    With class names, "class" is the name and "probabilities" maps each name to its probability (with one
    sigmoid output, "probability" is the second class's).
    """
    if regression:
        return [{"input": [_number(v) for v in xi], "prediction": _probability(pi)} for xi, pi in zip(x, probabilities)]
    rows = []
    for xi, pi, ci in zip(x, probabilities, classes):
        row = {"input": [_number(v) for v in xi], "probability": _probability(pi), "class": int(ci)}
        if class_names:
            row["class"] = class_names[int(ci)]
            if len(pi) == len(class_names):
                row["probabilities"] = {name: float(p) for name, p in zip(class_names, pi)}
            elif len(pi) == 1 and len(class_names) == 2:  # one sigmoid: the probability of the second class
                row["probabilities"] = {class_names[0]: 1 - float(pi[0]), class_names[1]: float(pi[0])}
        rows.append(row)
    return rows


def format_json_chunk(x, probabilities, classes, first: bool, class_names=None, regression: bool = False) -> str:
    """A chunk of the JSON array (without its closing bracket)."""
    objects = rows_as_json_objects(x, probabilities, classes, class_names, regression)
    body = ",\n".join("  " + json.dumps(obj, allow_nan=False) for obj in objects)
    return ("[\n" if first else ",\n") + body


def format_csv_chunk(x, probabilities, classes, header: list[str] | None, texts=None,
                     class_names: list[str] | None = None, regression: bool = False):
    """CSV rows as bytes: inputs (as the input file wrote them, when `texts` is given), probabilities, class.

    Numbers are written as Python's repr writes them; for regression, the prediction instead of probability and class.
    """
    from xornet.csv_text import class_texts, float_texts, join_rows, strings

    if texts is None:
        texts = strings([",".join(map(number_text, row)) for row in x.tolist()])
    cells = [texts, *(float_texts(probabilities[:, k]) for k in range(probabilities.shape[1]))]
    if not regression:
        cells.append(class_texts(classes, class_names))
    head = b""
    if header is not None:  # the csv module quotes a name holding a comma, a quote, \r or \n (its line end's)
        line = io.StringIO()
        csv.writer(line, lineterminator="\r\n").writerow(header)
        head = (line.getvalue()[:-2] + "\n").encode()
    return head + (join_rows(cells) if len(texts) else b"")


def number_text(value: float) -> str:
    """A number as the shortest text that reads back as the same float32 (an integer without '.0')."""
    return str(_number(value))


def input_names(width: int, feature_names: list[str] | None) -> list[str]:
    """The training feature names when known, else x1, x2, ..."""
    return feature_names if feature_names and len(feature_names) == width else [f"x{i + 1}" for i in range(width)]


def csv_header(width: int, outputs: int, feature_names: list[str] | None, class_names: list[str] | None = None,
               regression: bool = False) -> list[str]:
    names = input_names(width, feature_names)
    if regression:
        return [*names, *(["prediction"] if outputs == 1 else [f"prediction_{k}" for k in range(outputs)])]
    if outputs == 1:
        probability = ["probability"]
    else:
        probability = [f"probability_{name}" for name in (class_names or range(outputs))]
    return [*names, *probability, "class"]


def format_table(x, probabilities, classes, feature_names: list[str] | None = None,
                 class_names: list[str] | None = None, regression: bool = False, texts: list[str] | None = None) -> str:
    """An aligned text table: input, probability, class (class names when known; the value for regression).

    Inputs are shown as `texts` gives them (each row's cells as written, comma-separated) when given.
    """
    if texts is not None:
        inputs = [" ".join(next(csv.reader([text]), [])) for text in texts]
    else:
        inputs = [" ".join(str(_number(v)) for v in row) for row in x]
    probs = [f"{p[0]:.4f}" if len(p) == 1 else " ".join(f"{v:.4f}" for v in p) for p in probabilities]
    title = "prediction" if regression else (  # one sigmoid: the probability of the second class, named
        f"P({class_names[1]})" if class_names and len(class_names) == 2 and probabilities.shape[1] == 1 else "probability")
    names = [class_names[int(c)] if class_names else str(int(c)) for c in classes]
    head_input = " ".join(input_names(x.shape[1], feature_names))
    widths = [max(len(head_input), *(len(s) for s in inputs)), max(len(title), *(len(s) for s in probs)),
              max(5, *(len(n) for n in names))]
    lines = [f"{head_input:<{widths[0]}}  {title:>{widths[1]}}" + ("" if regression else f"  {'class':>{widths[2]}}")]
    for inp, prob, name in zip(inputs, probs, names):
        lines.append(f"{inp:<{widths[0]}}  {prob:>{widths[1]}}" + ("" if regression else f"  {name:>{widths[2]}}"))
    return "\n".join(lines)
