"""From raw columns to model inputs: the task, labels as classes, missing values, one-hot columns.

What is learned (class names, categorical vocabularies, fill values) is a plain
dict, stored in the run record's "data" section and applied again by
`evaluate` and `predict`.

Example:
    >>> encoding = feature_encoding(table, train_rows, ["color", "size"], config)
    >>> encoding["inputs"]
    ['color=blue', 'color=red', 'size']
"""

from __future__ import annotations

import math

import numpy as np

from xornet.config import ActivationLayer, Config, DenseLayer
from xornet.data.readers import Table, cell_as_written
from xornet.errors import InputError

BINARY_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge")
REGRESSION_LOSSES = ("mean_squared_error", "mean_absolute_error", "huber", "log_cosh")
OTHER = "<other>"  # the out-of-vocabulary column's category, with data.unknown: ignore


def task_of(loss: str) -> str:
    """"binary", "multiclass", "regression" or "other", from the loss.

    Example:
        >>> task_of("sparse_categorical_crossentropy")
        'multiclass'
    """
    if loss in BINARY_LOSSES:
        return "binary"
    if loss == "sparse_categorical_crossentropy":
        return "multiclass"
    if loss in REGRESSION_LOSSES:
        return "regression"
    return "other"


def _last_layer(config: Config) -> tuple[int | None, str]:
    """Units of the last Dense layer and the activation the network ends with."""
    units, activation = None, "linear"
    for layer in config.model.layers:
        if isinstance(layer, DenseLayer):
            units, activation = layer.units, layer.activation or "linear"
        elif isinstance(layer, ActivationLayer):
            activation = layer.activation
    return units, activation


def _is_missing(column: np.ndarray) -> np.ndarray:
    return np.isnan(column) if column.dtype != object else np.equal(column, None)


TRAINING_FINITE_HINT = ("training takes finite float32 numbers (up to about 3.4e38): fix or rescale the column, or "
                        "leave it out with data.features")


def refuse_infinite(table: Table, names: list[str], hint: str | None = TRAINING_FINITE_HINT) -> None:
    """Refuse inf, and numbers too large for float32, in the numeric columns `names`, naming the first one's
    line (CSV) or row and column as the file holds it. (A missing cell is NaN: `drop_missing`'s to handle.)

    Example:
        >>> refuse_infinite(read_table(Path("d.csv")), ["a"])
        Traceback (most recent call last):
        xornet.errors.InputError: d.csv, line 3, column 'a': expected a finite number, received '1e39' (1 such value)
    """
    firsts, count = [], 0
    for name in names:
        column = table.columns[name]
        if column.dtype == object:
            continue
        infinite = np.flatnonzero(np.isinf(column))
        if infinite.size:
            firsts.append((int(infinite[0]), table.names.index(name)))
            count += infinite.size
    if firsts:
        row, column = min(firsts)
        cell = cell_as_written(table.source, row, column, table.first_line)
        raise InputError(f"{table.where(row)}, column {table.names[column]!r}: expected a finite number, received "
                         f"{cell} ({count} such value{'s' if count > 1 else ''})", hint=hint)


def drop_missing(table: Table, features: list[str], label: str, policy: str) -> tuple[np.ndarray, dict]:
    """Rows to keep and the counts; an error naming the first missing cell when `policy` is "error", or the
    first infinite one.

    "drop" drops rows with any missing feature or label; "mean" and "zero" drop
    rows without a label and fill missing features later.
    """
    refuse_infinite(table, [*features, label])
    first, counts, dropped = None, {}, np.zeros(table.rows, bool)
    for name in [*features, label]:
        missing = _is_missing(table.columns[name])
        count = int(missing.sum())
        if not count:
            continue
        counts[name] = count
        row = int(missing.argmax())
        if first is None or row < first[0]:
            first = (row, name)
        if policy == "drop" or name == label:
            dropped |= missing
    if first is not None and policy == "error":
        row, name = first
        raise missing_cell_error(table.where(row), name, sum(counts.values()))
    if dropped.all():
        raise no_rows_left_error(table.source, policy, [name for name, count in counts.items() if count == table.rows],
                                 label)
    kept = np.flatnonzero(~dropped) if dropped.any() else np.arange(table.rows)
    filled = 0 if policy == "drop" else sum(int(_is_missing(table.columns[n])[kept].sum()) for n in features if n in counts)
    return kept, {"rows_dropped": int(dropped.sum()), "cells_filled": filled}


def missing_cell_error(where: str, name: str, cells: int | None) -> InputError:
    """data.missing: error's refusal of the first missing cell (`cells`: how many the file has, when counted)."""
    count = f" ({cells} missing cell{'s' if cells > 1 else ''} in the file)" if cells else ""
    return InputError(f"{where}, column {name!r}: missing value{count}",
                      hint="fill it in, or set data.missing: drop, mean or zero")


def no_rows_left_error(source: str, policy: str, empty: list[str], label: str) -> InputError:
    """The refusal of a file whose every row data.missing dropped (`empty`: the columns empty in every row)."""
    return InputError(f"{source}: no rows left with data.missing: {policy}: "
                      + (f"column {empty[0]!r} is empty in every row" if empty else "every row has a missing cell"),
                      hint=f"check data.label (now {label!r}): a comma at the end of every line makes an empty "
                           "last column" if label in empty else "fill in the missing cells, or data.missing: mean")


def category_index(vocabulary: list[str]):
    """`index(value)`: a category's position in `vocabulary`, -1 for one not in it. Categories written as numbers
    match by value: a CSV's "3.0" and a Parquet file's 3 (named "3") are one category, whichever the training
    file held.

    Example:
        >>> index = category_index(["1.0", "2", "red"])
        >>> index("red"), index("1"), index("2.0"), index("blue")
        (2, 0, 1, -1)
    """
    exact = {value: position for position, value in enumerate(vocabulary)}
    numbers = _numeric_names(vocabulary)

    def index(value) -> int:
        found = exact.get(value)
        if found is None and numbers:
            found = numbers.get(_as_number(value))
        return -1 if found is None else found

    return index


def category_error(where: str, column: str, value: str | None, vocabulary: list[str]) -> InputError:
    """The refusal of a missing or unknown category (data.unknown: error); `column` names the column as its input
    does ("column 'region'", or "column 4" in rows without a header)."""
    if value is None:
        return InputError(f"{where}, {column}: missing value", hint="fill it in, or set data.missing: drop")
    shown = ", ".join(vocabulary[:8]) + (", ..." if len(vocabulary) > 8 else "")
    return InputError(f"{where}, {column}: unknown category {value!r}, the training rows have: {shown}",
                      hint="train with data.unknown: ignore to give unseen categories their own column")


def _numeric_names(vocabulary: list[str]) -> dict[float, int]:
    """The categories written as numbers, by value: a CSV's "3.0" and a Parquet file's 3 (named "3") are one
    category, whichever the training file held.

    Example:
        >>> _numeric_names(["1.0", "2", "red"])
        {1.0: 0, 2.0: 1}
    """
    numbers = {}
    for index, name in enumerate(vocabulary):
        value = _as_number(name)
        if value is not None:
            numbers.setdefault(value, index)
    return numbers


def _as_number(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _class_name(value) -> str:
    return value if isinstance(value, str) else (str(int(value)) if float(value).is_integer() else repr(float(value)))


def label_encoding(table: Table, rows: np.ndarray, label: str, config: Config) -> dict:
    """The task and class names, checked against the model's last layer before training."""
    task = task_of(config.training.loss)
    column = table.columns[label][rows]
    units, activation = _last_layer(config)
    classes = None
    if column.dtype == object:
        classes = sorted(set(column.tolist()))
        check_class_names(classes, label, config, table.source, (table.where(int(rows[0])), column[0]))
    elif task == "binary" and np.any((column != 0) & (column != 1)):
        classes = [_class_name(v) for v in np.unique(column)]
        if len(classes) <= 2:
            classes = None  # e.g. 0 and 2: check_fits_model names the row
        else:
            check_class_names(classes, label, config, table.source, None)
    elif task == "multiclass":
        classes = [str(i) for i in range(units or 0)]
    if task == "regression":
        _check_output_range(column, label, activation, config.training.loss, table.source)
    return {"task": task, "classes": classes, "text_label": bool(column.dtype == object)}


def check_class_names(classes: list, label: str, config: Config, source: str, first: tuple[str, str] | None) -> None:
    """Refuse a label of names (`first`: where the first row is, "file, line L", and its name) for a loss that is
    not a classification one, or labels with more classes than the model's last layer can tell apart."""
    task = task_of(config.training.loss)
    units, activation = _last_layer(config)
    if first is not None and task in ("regression", "other"):
        raise InputError(f"{first[0]}, column {label!r}: the label is text ({first[1]!r}), "
                         f"expected numbers for loss {config.training.loss}",
                         hint="text labels are classes: use loss binary_crossentropy or sparse_categorical_crossentropy")
    if len(classes) > 2 if task == "binary" else len(classes) != units:
        lookalike = len({name.strip().lower() for name in classes}) < len(classes)  # 'yes', ' yes', 'Yes'
        shown = ", ".join(map(repr, classes[:6]) if lookalike else classes[:6]) + (", ..." if len(classes) > 6 else "")
        hint = (f"end the model with Dense({len(classes)}, activation softmax) and use loss "
                "sparse_categorical_crossentropy" if len(classes) > 2 else
                "end the model with Dense(1, activation sigmoid) and use loss binary_crossentropy")
        if lookalike:
            hint = f"some classes differ only in spaces or capitals: clean the label column, or {hint}"
        raise InputError(f"{source}: the label {label!r} has {len(classes)} classes ({shown}), but the model "
                         f"ends in {units} {activation} unit{'s' if units != 1 else ''} with loss "
                         f"{config.training.loss}", hint=hint)


# What an output activation can reach: (lowest, highest, how to say it).
OUTPUT_RANGES = {"sigmoid": (0, 1, "between 0 and 1"), "softmax": (0, 1, "between 0 and 1"),
                 "tanh": (-1, 1, "between -1 and 1"), "softsign": (-1, 1, "between -1 and 1"),
                 "relu": (0, np.inf, "0 or more"), "softplus": (0, np.inf, "0 or more")}


def _check_output_range(column: np.ndarray, label: str, activation: str, loss: str, source: str) -> None:
    """Refuse regression targets that the model's last activation cannot reach (a sigmoid for targets near 100)."""
    if activation not in OUTPUT_RANGES or not len(column):
        return
    low, high, reach = OUTPUT_RANGES[activation]
    smallest, largest = float(np.nanmin(column)), float(np.nanmax(column))
    if smallest < low or largest > high:
        raise InputError(f"{source}: the label {label!r} runs from {smallest:g} to {largest:g}, but the model ends in "
                         f"{activation}, whose outputs are {reach} (loss {loss})",
                         hint="end the model with a linear Dense(1) for regression (no activation)")


def feature_encoding(table: Table, train_rows: np.ndarray, features: list[str], config: Config) -> dict:
    """Fill values and one-hot vocabularies, learned on the training rows only."""
    data = config.data
    categorical = {str(name) for name in data.categorical}
    vocabularies, fill, inputs = {}, {}, []
    for name in features:
        column = table.columns[name]
        if name in categorical:
            if column.dtype != object:
                column = np.array([None if np.isnan(v) else _class_name(v) for v in column], object)
                table.columns[name] = column
            vocabularies[name] = sorted(set(column[train_rows].tolist()) - {None})
            inputs += [f"{name}={value}" for value in vocabularies[name]]
            inputs += [f"{name}={OTHER}"] if data.unknown == "ignore" else []
            continue
        if column.dtype == object:
            raise InputError(f"{table.source}: column {name!r} holds text, expected numbers",
                             hint="add it to data.categorical to one-hot encode it")
        if data.missing == "mean" and np.isnan(column[train_rows]).all():
            raise InputError(f"{table.source}: column {name!r} is empty in every training row: it has no mean to "
                             "fill its missing cells with (data.missing: mean)",
                             hint="leave it out with data.features, or fill it in")
        if data.missing in ("mean", "zero"):
            fill[name] = float(np.nanmean(column[train_rows])) if data.missing == "mean" else 0.0
        inputs.append(name)
    return {"categorical": vocabularies, "unknown": data.unknown, "fill": fill, "inputs": inputs}


def encode_table(table: Table, encoding: dict, rows: np.ndarray, features: bool = True,
                 labels: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Inputs (rows x len(encoding["inputs"])) and labels (rows x 1) as float32."""
    x = _encode_features(table, encoding, rows) if features else None
    y = _encode_labels(table, encoding, rows) if labels else None
    return x, y


def _encode_features(table: Table, encoding: dict, rows: np.ndarray) -> np.ndarray:
    vocabularies, fill = encoding.get("categorical", {}), encoding.get("fill", {})
    x = _numbers_from_block(table, encoding["features"], rows) if not vocabularies else None
    if x is not None and not _any_nan(x):
        return x
    x = np.zeros((len(rows), len(encoding.get("inputs", encoding["features"]))), "float32")
    at = 0
    for name in encoding["features"]:
        column = table.columns[name]
        if name in vocabularies:
            at += _one_hot(table, name, rows, vocabularies[name], encoding.get("unknown") == "ignore", x, at)
            continue
        if column.dtype == object:
            raise InputError(f"{table.source}: column {name!r} holds text, expected numbers")
        x[:, at] = column if len(rows) == len(column) else column[rows]  # rows are sorted and unique
        missing = np.isnan(x[:, at])
        if missing.any():
            if name not in fill:
                raise missing_cell_error(table.where(int(rows[missing.argmax()])), name, None)
            x[missing, at] = fill[name]
        at += 1
    return x


def _any_nan(x: np.ndarray, rows: int = 1 << 16) -> bool:
    """Whether `x` holds a NaN, looked for a slice of rows at a time: little memory, and fast on a view."""
    return any(np.isnan(x[start:start + rows]).any() for start in range(0, len(x), rows))


def _numbers_from_block(table: Table, features: list[str], rows: np.ndarray) -> np.ndarray | None:
    """The feature columns of `rows` taken from the table's float32 block in one step, or None.

    When every row is taken and the columns are adjacent, this is a view: no copy of a big file's data.
    Otherwise it is a new C-order array that TensorFlow can share (`aligned_empty`).
    """
    if table.block is None or not set(features) <= set(table.block.names):
        return None
    values = table.block.values
    index = [table.block.names.index(name) for name in features]
    every_row = len(rows) == len(values)  # rows are sorted and unique
    if index == list(range(index[0], index[0] + len(index))):
        adjacent = values[:, index[0]:index[-1] + 1]
        return adjacent if every_row else np.take(adjacent, rows, axis=0, out=aligned_empty((len(rows), len(index))))
    return values[:, index] if every_row else values[rows[:, None], index]


ALIGNMENT = 64  # bytes: what TensorFlow's CPU allocator guarantees, and needs to share an array's memory


def aligned_empty(shape: tuple[int, int]) -> np.ndarray:
    """An uninitialised float32 array whose data starts on an ALIGNMENT (64-byte) boundary.

    TensorFlow's CPU kernels need that alignment to use a NumPy array's memory
    as a tensor's without copying it (xornet.trainer hands big tables over so).

    Example:
        >>> aligned_empty((3, 2)).ctypes.data % 64
        0
    """
    size = int(np.prod(shape)) * 4
    raw = np.empty(size + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + size].view(np.float32).reshape(shape)


def aligned_copy(array: np.ndarray) -> np.ndarray:
    """`array` as float32 in a new C-order, 64-byte aligned array (see aligned_empty)."""
    copy = aligned_empty(array.shape)
    np.copyto(copy, array, casting="same_kind")
    return copy


def _one_hot(table: Table, name: str, rows: np.ndarray, vocabulary: list[str], ignore: bool,
             x: np.ndarray, at: int) -> int:
    """Write the one-hot columns of `name` into x[:, at:]; return how many columns they take."""
    column = table.columns[name][rows]
    if column.dtype != object:
        column = np.array([_class_name(v) for v in column], object)
    index = category_index(vocabulary)
    codes = np.array([index(value) for value in column.tolist()], dtype=np.int64)
    bad = np.flatnonzero(codes < 0)
    if bad.size and not ignore:
        raise category_error(table.where(int(rows[bad[0]])), table.label(name), column[bad[0]], vocabulary)
    codes[bad] = len(vocabulary)  # data.unknown: ignore: the "<other>" column
    x[np.arange(len(rows)), at + codes] = 1.0
    return len(vocabulary) + (1 if ignore else 0)


def _encode_labels(table: Table, encoding: dict, rows: np.ndarray) -> np.ndarray:
    column = table.columns[encoding["label"]]
    column = column if len(rows) == len(column) else column[rows]  # rows are sorted and unique
    classes = encoding.get("classes")
    if classes is None or (column.dtype != object and not encoding.get("text_label")):
        if column.dtype == object:
            raise InputError(f"{table.source}: column {encoding['label']!r}: the label is text, expected numbers")
        return column.astype("float32").reshape(-1, 1)
    lookup = {name: index for index, name in enumerate(classes)}
    names = column.tolist() if column.dtype == object else [_class_name(v) for v in column]
    codes = np.array([lookup.get(name, -1) for name in names], dtype=np.int64)
    bad = np.flatnonzero(codes < 0)
    if bad.size:
        raise InputError(f"{table.where(int(rows[bad[0]]))}, column {encoding['label']!r}: label {names[bad[0]]!r} "
                         f"is not one of the model's classes ({', '.join(classes)})")
    return codes.astype("float32").reshape(-1, 1)
