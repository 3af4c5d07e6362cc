"""Training data: built-in truth tables, CSV files and .npy files.

Everything here is NumPy only, so data problems are found before TensorFlow
is imported.

Example:
    >>> from xornet.data import truth_table
    >>> truth_table("xor").y.ravel().tolist()
    [0.0, 1.0, 1.0, 0.0]
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xornet.config import Config, DenseLayer, did_you_mean
from xornet.errors import InputError

_GATES = {
    "xor": lambda bits: sum(bits) % 2,
    "xnor": lambda bits: 1 - sum(bits) % 2,
    "and": lambda bits: int(all(bits)),
    "nand": lambda bits: 1 - int(all(bits)),
    "or": lambda bits: int(any(bits)),
    "nor": lambda bits: 1 - int(any(bits)),
}


@dataclass
class Dataset:
    """Features `x` (rows x columns, float32), labels `y` (rows x 1) and where they came from."""

    x: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    label_name: str
    source: str

    @property
    def width(self) -> int:
        return self.x.shape[1]


def all_binary_inputs(width: int) -> np.ndarray:
    """Every 0/1 combination of `width` inputs, in counting order.

    Example:
        >>> all_binary_inputs(2).tolist()
        [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    """
    return np.array(list(itertools.product((0, 1), repeat=width)), dtype="float32").reshape(-1, width)


def truth_table(gate: str, inputs: int = 2) -> Dataset:
    """The truth table of a logic gate over `inputs` bits (xor of many bits is parity)."""
    x = all_binary_inputs(inputs)
    y = np.array([[_GATES[gate](row)] for row in x.astype(int).tolist()], dtype="float32")
    names = [f"x{i + 1}" for i in range(inputs)]
    return Dataset(x, y, names, "y", f"truth table {gate}")


def _pick_columns(names: list[str], features, label, source: str) -> tuple[list[int], int]:
    def index_of(column, role: str) -> int:
        if isinstance(column, int):
            if 0 <= column < len(names):
                return column
            raise InputError(f"{source}: data.{role}: column {column} is out of range, the file has {len(names)} columns")
        if column in names:
            return names.index(column)
        raise InputError(
            f"{source}: data.{role}: no column named {column!r}{did_you_mean(column, names)}; "
            f"the file has columns: {', '.join(names)}"
        )

    label_index = index_of(label, "label") if label is not None else len(names) - 1
    if features is None:
        feature_indexes = [i for i in range(len(names)) if i != label_index]
    else:
        feature_indexes = [index_of(f, "features") for f in features]
    if label_index in feature_indexes:
        raise InputError(f"{source}: column {names[label_index]!r} is both a feature and the label")
    if not feature_indexes:
        raise InputError(f"{source}: expected at least one feature column besides the label, received none")
    return feature_indexes, label_index


def read_csv_table(path: Path) -> tuple[list[str], np.ndarray, bool]:
    """Read a numeric CSV file; return (column names, values, had_header).

    A first row that is not all numbers is taken as the header; without one the
    columns are named 0, 1, 2, ...
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: a byte-order mark is not data
            rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text CSV file (not UTF-8 at byte {exc.start})") from exc
    if not rows:
        raise InputError(f"{path}: the CSV file is empty, expected rows of numbers")
    header = rows[0]
    has_header = not all(is_number(cell) for cell in header)
    names = [cell.strip() for cell in header] if has_header else [str(i) for i in range(len(header))]
    body = rows[1:] if has_header else rows
    first_line = 2 if has_header else 1
    if not body:
        raise InputError(f"{path}: the CSV file has a header but no data rows")
    values = np.empty((len(body), len(names)), dtype="float32")
    for offset, row in enumerate(body):
        line = first_line + offset
        if len(row) != len(names):
            raise InputError(f"{path}, line {line}: expected {len(names)} columns, received {len(row)}")
        for column, cell in enumerate(row):
            try:
                values[offset, column] = float(cell)
            except ValueError:
                raise InputError(
                    f"{path}, line {line}, column {names[column]!r}: expected a number, received {cell.strip()!r}"
                ) from None
    return names, values, has_header


def is_number(text: str) -> bool:
    """True when `text` parses as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_npy(path: Path) -> tuple[list[str], np.ndarray]:
    """Read a 2-D numeric .npy array (or a structured array with named fields)."""
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise InputError(f"{path}: refused: the .npy file holds Python objects, expected numbers") from None
        raise InputError(f"{path}: not a readable .npy file: {exc}") from None
    except EOFError:
        raise InputError(f"{path}: the .npy file is empty or cut short, expected a 2-D array of numbers") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the .npy file: {exc}") from None
    if not isinstance(array, np.ndarray):  # np.load opens .npz archives whatever their name
        array.close()
        raise InputError(f"{path}: an .npz archive, expected a single .npy array (save it with np.save)")
    if array.dtype.names:
        names = list(array.dtype.names)
        array = np.stack([array[name] for name in names], axis=1)
    elif array.ndim == 2:
        names = [str(i) for i in range(array.shape[1])]
    else:
        raise InputError(f"{path}: expected a 2-D array (rows x columns), received shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise InputError(f"{path}: expected numbers, received dtype {array.dtype}")
    if len(array) == 0:
        raise InputError(f"{path}: the array has no rows, expected at least one row of numbers")
    with np.errstate(over="ignore"):  # values too large for float32 become inf; callers refuse non-finite values
        return names, array.astype("float32")


def load_file(path: str, features=None, label=None) -> Dataset:
    """Load a CSV or .npy training file, picking feature and label columns by name or index."""
    file = Path(path)
    if not file.exists():
        raise InputError(f"{path}: data file not found (data.path)")
    if file.is_dir():
        raise InputError(f"{path}: is a directory, expected a .csv or .npy data file (data.path)")
    if file.suffix.lower() == ".npy":
        names, values = load_npy(file)
    elif file.suffix.lower() in (".csv", ".txt"):
        names, values, _ = read_csv_table(file)
    else:
        raise InputError(f"{path}: data.path: expected a .csv or .npy file, received {file.suffix or 'no extension'!r}")
    feature_indexes, label_index = _pick_columns(names, features, label, str(path))
    return Dataset(
        x=np.ascontiguousarray(values[:, feature_indexes]),
        y=values[:, [label_index]].copy(),
        feature_names=[names[i] for i in feature_indexes],
        label_name=names[label_index],
        source=str(path),
    )


def load_data(config: Config) -> Dataset:
    """The training data a config names, checked against its model and loss.

    Example:
        >>> load_data(Config()).x.shape
        (4, 2)
    """
    if config.data.path is not None:
        dataset = load_file(config.data.path, config.data.features, config.data.label)
    else:
        dataset = truth_table(config.data.table, config.data.inputs)
    check_fits_model(dataset, config)
    return dataset


def check_fits_model(dataset: Dataset, config: Config) -> None:
    """Check the data's width and labels against the first layer, last layer and loss."""
    first = config.model.layers[0]
    if isinstance(first, DenseLayer) and first.input_dim is not None and first.input_dim != dataset.width:
        raise InputError(
            f"{config.source}: model.layers.0.input_dim is {first.input_dim}, but the data "
            f"({dataset.source}) has {dataset.width} feature column{'s' if dataset.width != 1 else ''}",
            hint="make them agree, or leave input_dim out to take the width from the data",
        )
    loss = config.training.loss
    dense = [layer for layer in config.model.layers if isinstance(layer, DenseLayer)]
    units = dense[-1].units if dense else dataset.width
    labels = dataset.y[:, 0]
    if loss in ("binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge"):
        bad = np.flatnonzero((labels != 0) & (labels != 1))
        allowed = "0 or 1"
    elif loss == "sparse_categorical_crossentropy":
        bad = np.flatnonzero((labels != np.round(labels)) | (labels < 0) | (labels >= units))
        allowed = f"a class number from 0 to {units - 1}"
    else:
        return
    if bad.size:
        row = int(bad[0])
        raise InputError(
            f"{dataset.source}: row {row + 1}: label {dataset.label_name!r} is {labels[row]:g}, "
            f"expected {allowed} for loss {loss} ({bad.size} such row{'s' if bad.size > 1 else ''})"
        )


def dataset_of_record(record: dict | None) -> Dataset | None:
    """The training data a run record's config names, or None when it cannot be read back."""
    from xornet.config import validate_config

    if not record or not isinstance(record.get("config"), dict):
        return None
    try:
        config = validate_config(dict(record["config"]), "<run record>")
        return load_data(config)
    except InputError:
        return None
