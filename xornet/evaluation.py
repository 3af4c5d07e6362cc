"""Scoring a model's predictions against labels: loss, accuracy, precision, recall, F1, confusion matrix.

Example:
    >>> scores = evaluate_predictions(np.array([[0.1], [0.8]]), np.array([[0], [1]]), "binary_crossentropy")
    >>> scores["accuracy"], scores["confusion_matrix"]
    (1.0, [[1, 0], [0, 1]])
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from xornet.errors import InputError
from xornet.predicting import to_classes

if TYPE_CHECKING:
    from xornet.config import Config
    from xornet.data import Dataset

EPSILON = 1e-7  # keras.backend.epsilon(), the clipping Keras' cross-entropies use


def loss_value(name: str, probabilities: np.ndarray, labels: np.ndarray, logits: np.ndarray | None = None) -> float:
    """The mean loss as Keras' `model.evaluate` reports it.

    A model ending in sigmoid or softmax gives Keras' cross-entropies their
    `logits` (the activation's input): the loss is computed from those, unclipped,
    as TensorFlow's *_cross_entropy_with_logits do. Otherwise it is computed from
    the outputs the way `keras.losses.<name>` does (probabilities clipped to 1e-7).

    Example:
        >>> loss_value("binary_crossentropy", np.array([[1.0]]), np.array([[0.0]]), logits=np.array([[40.0]]))
        40.0
    """
    p = probabilities.astype("float64")
    y = labels.astype("float64")
    if logits is not None and name == "binary_crossentropy":
        z = logits.astype("float64")
        return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))
    if logits is not None and name == "sparse_categorical_crossentropy":
        z = logits.astype("float64")
        top = z.max(axis=1)
        log_total = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
        return float(np.mean(log_total - z[np.arange(len(z)), y[:, 0].astype(int)]))
    if name == "binary_crossentropy":
        p = np.clip(p, EPSILON, 1 - EPSILON)
        return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))
    if name == "sparse_categorical_crossentropy":
        p = np.clip(p / p.sum(axis=1, keepdims=True), EPSILON, 1 - EPSILON)
        return float(np.mean(-np.log(p[np.arange(len(p)), y[:, 0].astype(int)])))
    if name == "mean_squared_error":
        return float(np.mean((p - y) ** 2))
    if name == "mean_absolute_error":
        return float(np.mean(np.abs(p - y)))
    from xornet.backend import import_keras

    keras = import_keras()
    return float(np.mean(np.asarray(keras.losses.get(name)(labels.astype("float32"), probabilities))))


def _row_of_labels(index: int) -> str:
    return f"labels, row {index + 1}"


def check_labels(labels: np.ndarray, outputs: int, where: Callable[[int], str] = _row_of_labels) -> None:
    """Refuse labels the model's outputs cannot score: 0 or 1 for one output, 0 .. N-1 for N outputs.

    `where(i)` says where label i came from (`Dataset.where`: "file, line L").

    Example:
        >>> check_labels(np.array([[0], [2]]), 1)
        Traceback (most recent call last):
        xornet.errors.InputError: labels, row 2: expected a label of 0 or 1 (the model has one output), received 2 (1 such row)
    """
    values = labels[:, 0]
    classes = max(2, outputs)
    bad = np.flatnonzero(~np.isin(values, np.arange(classes)))
    if bad.size:
        row = int(bad[0])
        expected = "0 or 1 (the model has one output)" if outputs == 1 else (
            f"a class number from 0 to {classes - 1} (the model has {outputs} outputs)")
        raise InputError(f"{where(row)}: expected a label of {expected}, received {values[row]:g} "
                         f"({bad.size} such row{'s' if bad.size > 1 else ''})")


def evaluate_regression(predictions: np.ndarray, targets: np.ndarray, loss: str) -> dict:
    """Loss, mean absolute error, root mean squared error and R² of predicted values.

    Example:
        >>> evaluate_regression(np.array([[1.0], [3.0]]), np.array([[1.0], [2.0]]), "mean_squared_error")["mae"]
        0.5
    """
    p, y = predictions[:, 0].astype("float64"), targets[:, 0].astype("float64")
    total = float(np.sum((y - y.mean()) ** 2))
    return {
        "rows": int(len(y)),
        "loss": loss_value(loss, predictions, targets),
        "mae": float(np.mean(np.abs(p - y))),
        "rmse": float(np.sqrt(np.mean((p - y) ** 2))),
        "r2": float(1 - np.sum((p - y) ** 2) / total) if total > 0 else None,  # undefined for constant targets
    }


def evaluate_predictions(probabilities: np.ndarray, labels: np.ndarray, loss: str, threshold: float = 0.5,
                         class_names: list[str] | None = None,
                         where: Callable[[int], str] = _row_of_labels, logits: np.ndarray | None = None) -> dict:
    """Loss (from `logits` when the model has them: `loss_value`), accuracy, precision, recall, F1 and confusion
    matrix.

    With one output, class 1 is the positive class; with several, precision,
    recall and F1 are macro averages over the classes, and "per_class" holds
    each class's figures. Labels outside the model's classes are refused
    (`check_labels`); `where(i)` names label i's place in errors.
    """
    check_labels(labels, probabilities.shape[1], where)
    predicted = to_classes(probabilities, threshold)
    true = labels[:, 0].astype(int)
    classes = max(2, probabilities.shape[1])
    matrix = np.zeros((classes, classes), dtype=int)
    np.add.at(matrix, (true, predicted), 1)
    tp = np.diag(matrix).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(tp / matrix.sum(axis=0))
        recall = np.nan_to_num(tp / matrix.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    pick = (lambda values: float(values[1])) if probabilities.shape[1] == 1 else (lambda values: float(values.mean()))
    scores = {
        "rows": int(len(true)),
        "loss": loss_value(loss, probabilities, labels, logits),
        "accuracy": float(tp.sum() / max(len(true), 1)),
        "precision": pick(precision),
        "recall": pick(recall),
        "f1": pick(f1),
        "confusion_matrix": matrix.tolist(),
    }
    if class_names is not None:
        scores["classes"] = list(class_names)
    if probabilities.shape[1] > 1:
        names = class_names or [str(i) for i in range(classes)]
        scores["per_class"] = [
            {"class": names[i], "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
             "support": int(matrix[i].sum())} for i in range(classes)]
    return scores


def format_evaluation(scores: dict) -> str:
    """The scores as an aligned text table with the confusion matrix (or MAE, RMSE, R² for regression)."""
    if "r2" in scores:
        return "\n".join([f"{'loss':<10} {scores['loss']:.4f}", f"{'MAE':<10} {scores['mae']:.4f}",
                          f"{'RMSE':<10} {scores['rmse']:.4f}", f"{'R²':<10} " + ("n/a (constant targets)" if scores['r2'] is None else f"{scores['r2']:.4f}")])
    classes = scores.get("classes") or []
    averaged = " (macro average)" if "per_class" in scores else (
        f" (positive class: {classes[1]})" if len(classes) == 2 else "")
    lines = [f"{'loss':<10} {scores['loss']:.4f}", f"{'accuracy':<10} {scores['accuracy'] * 100:.1f}%"]
    lines += [f"{name:<10} {scores[name]:.4f}{averaged}" for name in ("precision", "recall", "f1")]
    matrix = scores["confusion_matrix"]
    names = scores.get("classes") or [str(i) for i in range(len(matrix))]
    if "per_class" in scores:
        width = max(5, *(len(row["class"]) for row in scores["per_class"]))
        lines += ["", f"{'class':<{width}}  precision  recall      f1  support"]
        lines += [f"{row['class']:<{width}}  {row['precision']:>9.4f}  {row['recall']:>6.4f}  {row['f1']:>6.4f}"
                  f"  {row['support']:>7}" for row in scores["per_class"]]
    label = max(len(name) for name in names) + 6
    width = max(6, *(len(str(v)) for row in matrix for v in row), *(len(name) + 5 for name in names))
    lines += ["", "confusion matrix (rows: true class, columns: predicted class)",
              " " * label + "".join(f"  {'pred ' + name:>{width}}" for name in names)]
    lines += [f"{'true ' + names[i]:<{label}}" + "".join(f"  {v:>{width}}" for v in row) for i, row in enumerate(matrix)]
    return "\n".join(lines)


def score(outputs: np.ndarray, labels: np.ndarray, loss: str, task: str, threshold: float = 0.5,
          class_names: list[str] | None = None, where: Callable[[int], str] = _row_of_labels,
          logits: np.ndarray | None = None) -> dict:
    """The scores that fit the task: MAE, RMSE and R² for regression, else the classification scores."""
    if task == "regression":
        return evaluate_regression(outputs, labels, loss)
    return evaluate_predictions(outputs, labels, loss, threshold, class_names, where, logits)


def model_loss(record: dict | None, default: str | None = "binary_crossentropy") -> str | None:
    """The loss a model was trained with, from its run record; `default` without one.

    Example:
        >>> model_loss({"config": {"training": {"loss": "mean_squared_error"}}})
        'mean_squared_error'
    """
    return (record or {}).get("config", {}).get("training", {}).get("loss", default)


def file_rows(path: Path, recorded: dict, label: str | None = None, role: str = "--data") -> Dataset:
    """Every labelled row of a CSV, Parquet or .npy file, encoded as the model's training rows were.

    `recorded` is the run record's "data" (the model's columns and encoding); `label` (--label) replaces its
    label. The file must have the model's columns; a label that is one of the model's features is refused, and a
    file of one column gets training's hint when it looks semicolon-, tab- or pipe-separated (`pick_columns`).

    Example:
        >>> file_rows(Path("data/iris.csv"), record["data"]).x.shape
        (150, 4)
    """
    from xornet.data import column_names, load_file, load_labelled_file, pick_columns

    label_flag = None if label is None else f"--label {label}"
    features = recorded.get("features")
    header = column_names(path) if path.exists() and not path.is_dir() else None
    if header is not None and len(header) == 1:  # never the model's columns: training's words for why
        pick_columns(header, None, None, str(path))
    if label is not None and features and label in features:
        pick_columns(features, features, label, str(path), label_flag)
    if "inputs" in recorded:  # a file run: encode the file as its training rows were
        return load_labelled_file(str(path), recorded | ({"label": label} if label else {}), role=role,
                                  label_flag=label_flag)
    is_npy = path.suffix.lower() == ".npy"
    return load_file(str(path), features if features and not is_npy else None,
                     label if label is not None else recorded.get("label") if not is_npy else None, label_flag)


def config_rows(config: Config, recorded: dict) -> Dataset:
    """Every row of a config's data (its data.path file or truth table), encoded as the model's training rows
    were; refused unless the config picks the model's features and label (`recorded`: its run record's "data").

    Example:
        >>> config_rows(load_config("configs/xor.yaml"), record["data"]).x.shape
        (4, 2)
    """
    from xornet.data import column_names, load_file, pick_columns, truth_table

    data = config.data
    if data.path is None:
        table = truth_table(data.table, data.inputs)
        columns = (table.feature_names, table.label_name)
    else:
        header = column_names(Path(data.path)) if Path(data.path).is_file() else None
        columns = pick_columns(header, data.features, data.label, data.path) if header is not None else None
    if recorded.get("features") and columns is not None and (
            list(columns[0]), columns[1]) != (list(recorded["features"]), recorded.get("label")):
        raise InputError(f"{config.source}: the config's data has features {', '.join(columns[0])} and label "
                         f"{columns[1]!r}, the model was trained on features {', '.join(recorded['features'])} and "
                         f"label {recorded.get('label')!r}",
                         hint="pass the config the model was trained from, or --data FILE with the model's columns")
    if data.path is None:
        return table
    if recorded.get("features"):
        return file_rows(Path(data.path), recorded, role=f"data.path of {config.source}")
    return load_file(data.path, data.features, data.label)
