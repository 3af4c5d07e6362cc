"""Training data: built-in truth tables and CSV, Parquet and .npy files, split and encoded.

Everything here is NumPy (and pyarrow for reading), so data problems are found
before TensorFlow is imported.

Example:
    >>> from xornet.data import truth_table
    >>> truth_table("xor").y.ravel().tolist()
    [0.0, 1.0, 1.0, 0.0]
"""

from __future__ import annotations

import csv
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xornet.config import Config, DenseLayer, check_data_files, did_you_mean
from xornet.csv_text import other_separator_error
from xornet.data.encoding import aligned_copy, drop_missing, encode_table, feature_encoding, label_encoding
from xornet.data.readers import (Table, csv_header, is_number, is_text_type, load_npy, location, read_csv_table,
                                 read_table, value_type)
from xornet.data.splits import rows_hash, split_rows, values_hash
from xornet.errors import InputError
from xornet.preprocessing import moments, unscalable_column

__all__ = ["Dataset", "Splits", "all_binary_inputs", "truth_table", "load_file", "load_data", "load_splits",
           "check_fits_model", "dataset_of_record", "is_number", "load_npy", "read_csv_table", "read_table",
           "Table", "encode_inputs", "load_labelled_file", "test_split_of_record", "unused_columns"]

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
    """Features `x` (rows x columns, float32), labels `y` (rows x 1) and where they came from.

    `classes` names the label's classes when it has names; `rows` are the
    0-based row numbers in the source file (None for truth tables).
    """

    x: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    label_name: str
    source: str
    classes: list[str] | None = None
    rows: np.ndarray | None = None
    held_out: dict[str, int] = field(default_factory=dict)  # on training rows: "validation"/"test" -> rows
    missing: dict = field(default_factory=dict)  # on training rows: data.missing's policy and counts
    first_line: int | None = None  # the file line of the source's first data row (CSV), for errors

    @property
    def width(self) -> int:
        return self.x.shape[1]

    def where(self, index: int) -> str:
        """Where x[index] came from: "file, line L" for a CSV file, else "source, row R"."""
        row = index if self.rows is None else int(self.rows[index])
        return location(self.source, self.first_line, row)


@dataclass
class Splits:
    """The training rows, the held-out rows (None when not asked for), and how they were made.

    `encoding` is what the run record's "data" section stores: columns, task,
    classes, categorical vocabularies, missing-value counts and the splits.
    """

    train: Dataset
    validation: Dataset | None = None
    test: Dataset | None = None
    encoding: dict = field(default_factory=dict)


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


def pick_columns(names: list[str], features, label, source: str, label_flag: str | None = None) -> tuple[list[str], str]:
    """(feature names, label name) of a file's columns, from data.features and data.label (names or indices).

    An error about the label names `label_flag` (e.g. "--label z") when the label came from it.

    Example:
        >>> pick_columns(["a", "b", "y"], None, None, "f.csv")
        (['a', 'b'], 'y')
    """
    separator = other_separator_error(names, source)
    if separator:
        raise separator

    def name_of(column, role: str) -> str:
        where = f"{label_flag}: {source}" if role == "label" and label_flag else f"{source}: data.{role}"
        if isinstance(column, int) and str(column) not in names:
            if 0 <= column < len(names):
                return names[column]
            raise InputError(f"{where}: column {column} is out of range: the file has {len(names)} columns, "
                             f"numbered from 0 to {len(names) - 1}")
        if str(column) in names:
            return str(column)
        raise no_column_error(where, column, names)

    label_name = name_of(label, "label") if label is not None else names[-1]
    if features is None:
        feature_names = [name for name in names if name != label_name]
        if "" in feature_names:  # pandas' to_csv writes its row index under an empty name
            raise InputError(f"{source}: column {names.index('') + 1} has no name in the header, expected a name for "
                             "every feature (a pandas row index, written by to_csv without index=False?)",
                             hint="write the file with index=False, or list the features in data.features")
    else:
        feature_names = [name_of(f, "features") for f in features]
    if label_name in feature_names:
        raise InputError(f"{source}: column {label_name!r} is both a feature and the label")
    if not feature_names:
        raise InputError(f"{source}: expected at least one feature column besides the label, received none")
    return feature_names, label_name


def unused_columns(header: list[str] | None, features: list[str], label: str | None) -> set[str]:
    """The columns of a file that are neither features nor the label: read as text, never an error whatever they
    hold (an id, a name with commas, a date).

    Example:
        >>> unused_columns(["id", "a", "b", "y"], ["a", "b"], "y")
        {'id'}
    """
    return set(header or []) - set(features) - {label}


def _read(path: str, config: Config | None = None, features=None, label=None, categorical=(),
          label_flag: str | None = None) -> tuple[Table, list, str]:
    file = Path(path)
    if not file.exists():
        raise InputError(f"{path}: data file not found (data.path)")
    if file.is_dir():
        raise InputError(f"{path}: is a directory, expected a .csv, .parquet or .npy data file (data.path)")
    # The label may be text only where the config lets it be a class name: its column is read as inferred
    # (numbers or text). A misspelt column is named before the body is read, not as a text cell elsewhere.
    label_column, unused = _check_header(path, features, label, categorical, label_flag)
    try:
        table = read_table(file, text_columns=set(map(str, categorical)) | unused, infer_columns=label_column)
    except InputError as exc:
        column = re.search(r"column '(.+?)': expected a number, received ", exc.message)
        if config is not None and exc.hint is None and column and _holds_text(file, column[1]):
            exc.hint = "a column of text: add it to data.categorical to one-hot encode it, or leave it out with " \
                       "data.features"
        raise
    feature_names, label_name = pick_columns(table.names, features, label, str(path), label_flag)
    check_categorical(categorical, feature_names, path)
    return table, feature_names, label_name


def check_columns(config: Config) -> None:
    """Refuse a config whose data.features, data.label or data.categorical name columns its data file does not
    have, reading only the file's header or Parquet schema (for `config validate`: no rows, no TensorFlow).

    Example:
        >>> check_columns(load_config("configs/iris.yaml", ["data.label=specie"]))
        Traceback (most recent call last):
        xornet.errors.InputError: --set data.label=specie: .../data/iris.csv: no column named 'specie' (did you ...
    """
    data = config.data
    if data.path is not None:
        _check_header(data.path, data.features, data.label, data.categorical, config.override_of("data.label"))


def _check_header(path: str, features, label, categorical, label_flag: str | None) -> tuple[set, set]:
    """Check the column names a read will use against the file's header; ({label column}, columns the features
    leave unused), both empty for a file without column names (.npy)."""
    header = column_names(Path(path))
    if header is None:
        return set(), set()
    picked, label_name = pick_columns(header, features, label, str(path), label_flag)
    check_categorical(categorical, picked, path)  # before the body is read: else a text cell is the error
    return {label_name}, unused_columns(header, picked, label_name) if features is not None else set()


def _holds_text(file: Path, name: str, rows: int = 50) -> bool:
    """Whether most of the first `rows` filled cells of column `name` are text, not numbers (a column of words,
    not one mistyped cell); for an error's hint only."""
    if file.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return is_text_type(value_type(pq.read_schema(file).field(name).type))
    with open(file, newline="", encoding="utf-8-sig", errors="replace") as handle:
        cells = [row.get(name) for row, _ in zip(csv.DictReader(handle), range(rows))]
    filled = [cell.strip() for cell in cells if cell and cell.strip()]
    return sum(not is_number(cell) for cell in filled) * 2 > len(filled)


def check_categorical(categorical, feature_names: list[str], path: str) -> None:
    """Refuse a data.categorical name that is not one of the feature columns, with a did-you-mean."""
    for name in categorical:
        if str(name) not in feature_names:
            raise InputError(f"{path}: data.categorical: {name!r} is not one of the feature columns "
                             f"({', '.join(feature_names)}){did_you_mean(name, feature_names)}")


def no_column_error(where: str, name, names: list[str]) -> InputError:
    """The refusal of a column `name` a file (with columns `names`) does not have, with a did-you-mean."""
    return InputError(f"{where}: no column named {name!r}{did_you_mean(name, names)}; "
                      f"the file has columns: {', '.join(names)}")


def column_names(file: Path) -> list[str] | None:
    """The column names of a CSV (its header, or 0, 1, ... without one) or Parquet file, reading only its
    head; None for other files (.npy).

    Example:
        >>> column_names(Path("data/iris.csv"))
        ['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'species']
    """
    suffix = file.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(file).names)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{file}: not a readable Parquet file: {str(exc).splitlines()[0]}") from None
    return csv_header(file)[0] if suffix in (".csv", ".txt") else None


def load_file(path: str, features=None, label=None, label_flag: str | None = None) -> Dataset:
    """Load a CSV, Parquet or .npy file of numbers, picking feature and label columns by name or index.

    Errors about the label name `label_flag` (e.g. "--label y") when the label came from it.

    Example:
        >>> load_file("data/breast_cancer.csv", label="diagnosis").x.shape
        (569, 30)
    """
    table, feature_names, label_name = _read(path, features=features, label=label, label_flag=label_flag)
    encoding = {"features": feature_names, "label": label_name}
    rows = np.arange(table.rows)
    x, y = encode_table(table, encoding, rows)
    return Dataset(x, y, feature_names, label_name, str(path), rows=rows, first_line=table.first_line)


RESCALE_HINT = "rescale the column, or set data.normalize: false"


def load_data(config: Config) -> Dataset:
    """The training rows a config names, checked against its model and loss.

    Example:
        >>> load_data(Config()).x.shape
        (4, 2)
    """
    return load_splits(config, config.seed or 0).train


def load_splits(config: Config, seed: int) -> Splits:
    """The training, validation and test rows a config names, split with `seed` and encoded.

    Example:
        >>> splits = load_splits(load_config("configs/iris.yaml"), seed=1)
        >>> len(splits.train.x), len(splits.validation.x), len(splits.test.x)
        (105, 23, 22)
    """
    data = config.data
    if data.path is None:
        dataset = truth_table(data.table, data.inputs)
        check_fits_model(dataset, config)
        return Splits(dataset, encoding={"source": dataset.source, "rows": len(dataset.x),
                                         "features": dataset.feature_names, "label": dataset.label_name})
    check_data_files(config)
    table, feature_names, label_name = _read(data.path, config, data.features, data.label, data.categorical,
                                             config.override_of("data.label"))
    kept, missing = drop_missing(table, feature_names, label_name, data.missing)
    encoding = {"features": feature_names, "label": label_name} | label_encoding(table, kept, label_name, config)
    strata = None  # classification: split each class in the same proportions
    if encoding["task"] in ("binary", "multiclass"):
        strata = encode_table(table, encoding, kept, features=False)[1][:, 0]
    parts = split_rows(len(kept), None if data.validation_path else data.validation,
                       None if data.test_path else data.test, seed, strata)
    index_type = np.int32 if table.rows < 2**31 else np.int64  # row numbers kept through training: half the memory
    parts = {name: kept[index].astype(index_type) for name, index in parts.items()}
    encoding |= feature_encoding(table, parts["train"], feature_names, config)
    encoding["missing"] = {"policy": data.missing, **missing}
    datasets = {name: _dataset(table, encoding, rows) for name, rows in parts.items() if len(rows) or name == "train"}
    train = datasets["train"]
    unscalable = unscalable_column(*moments(train.x)) if data.normalize else None
    if unscalable is not None:
        column, why = unscalable
        name = encoding["inputs"][column]
        if why.startswith("too large"):  # name the largest value, where a user can look
            at = int(np.abs(train.x[:, column]).argmax())
            raise InputError(f"{table.where(int(train.rows[at]))}, column {name!r}: {float(train.x[at, column]):g} is "
                             f"{why}", hint=RESCALE_HINT)
        raise InputError(f"{table.source}, column {name!r}: {why}", hint=RESCALE_HINT)
    if not train.x.flags.c_contiguous:  # a view of the file's block: a copy TensorFlow can share (xornet.trainer)
        train.x, train.y = aligned_copy(train.x), aligned_copy(train.y)
    for name, path in (("validation", data.validation_path), ("test", data.test_path)):
        if path is not None:
            datasets[name] = load_labelled_file(path, encoding, role=f"data.{name}_path")
    encoding["splits"] = {"seed": seed} | {
        name: {"rows": len(ds.x), "source": ds.source,
               **({"sha256": rows_hash(ds.rows)} if ds.source == table.source else {}),
               **({"values_sha256": values_hash(ds.x, ds.y)} if name == "test" else {})}
        for name, ds in datasets.items()}
    encoding = {"source": table.source, "rows": table.rows} | encoding
    splits = Splits(train, datasets.get("validation"), datasets.get("test"), encoding)
    splits.train.held_out = {name: len(ds.x) for name, ds in datasets.items() if name != "train"}
    splits.train.missing = encoding["missing"]
    check_fits_model(splits.train, config)
    return splits


def _dataset(table: Table, encoding: dict, rows: np.ndarray) -> Dataset:
    x, y = encode_table(table, encoding, rows)
    return Dataset(x, y, encoding["inputs"], encoding["label"], table.source, encoding.get("classes"), rows,
                   first_line=table.first_line)


def load_labelled_file(path: str, encoding: dict, role: str = "--data", label_flag: str | None = None) -> Dataset:
    """Rows with labels from another file, encoded as a run's training rows were (its record's "data").

    The columns are checked against the file's header before its body is read; an error about the label
    names `label_flag` (e.g. "--label y") when the label came from it.

    Example:
        >>> load_labelled_file("data/iris.csv", record["data"]).classes
        ['setosa', 'versicolor', 'virginica']
    """
    if not Path(path).exists():
        raise InputError(f"{path}: file not found ({role})")
    def check(names: list[str]) -> None:
        for name in [*encoding["features"], encoding["label"]]:
            if name not in names:
                where = f"{label_flag}: {path}" if label_flag and name == encoding["label"] else f"{path}: {role}"
                raise no_column_error(where, name, names)

    header = column_names(Path(path))
    if header is not None:
        check(header)
    text = set(encoding.get("categorical", {})) | unused_columns(header, encoding["features"], encoding["label"])
    table = read_table(Path(path), text_columns=text, infer_columns={encoding["label"]})
    check(table.names)
    policy = encoding.get("missing", {}).get("policy", "error")
    kept, counts = drop_missing(table, encoding["features"], encoding["label"], policy)
    dataset = _dataset(table, encoding, kept)
    dataset.missing = {"policy": policy, **counts}  # what evaluate says it dropped or filled
    return dataset


def encode_inputs(table: Table, encoding: dict) -> np.ndarray:
    """Model inputs from a table of raw feature columns, encoded as the run's training rows were.

    This is what `predict` applies to a file when the run record has categorical
    columns: their text becomes one-hot columns.
    """
    x, _ = encode_table(table, encoding, np.arange(table.rows), labels=False)
    return x


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
    labels, hint = dataset.y[:, 0], None
    if loss in ("binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge"):
        bad = np.flatnonzero((labels != 0) & (labels != 1))
        allowed = "0 or 1"
    elif loss == "sparse_categorical_crossentropy":
        bad = np.flatnonzero((labels != np.round(labels)) | (labels < 0) | (labels >= units))
        allowed = f"a class number from 0 to {units - 1}"
        found = np.unique(labels[(labels == np.round(labels)) & (labels >= 0)])
        if len(found) > units:
            hint = (f"the model ends in {units} unit{'s' if units > 1 else ''}, one per class: the label has "
                    f"{len(found)} class numbers, so end it with Dense({int(found.max()) + 1}, activation softmax)")
    else:
        return
    if bad.size:
        row = int(bad[0])
        raise InputError(
            f"{dataset.where(row)}: label {dataset.label_name!r} is {labels[row]:g}, "
            f"expected {allowed} for loss {loss} ({bad.size} such row{'s' if bad.size > 1 else ''})", hint=hint)


def test_split_of_record(record: dict, source: str) -> Dataset:
    """The test rows of a saved run, re-derived from its config and split seed and checked against its hash.

    Example:
        >>> test_split_of_record(read_record(Path("models/iris/basic_model.json")), "iris").classes
        ['setosa', 'versicolor', 'virginica']
    """
    from xornet.config import validate_config
    from xornet.text import shown_path

    recorded = (record or {}).get("data", {}).get("splits", {})
    if not record:
        raise InputError(f"{source}: the model has no run record beside it, so no test split to score",
                         hint="pass --data FILE (and --label COLUMN) to score a file")
    if "test" not in recorded or not isinstance(record.get("config"), dict):
        raise InputError(f"{source}: the run has no test split to score (data.test or data.test_path in its config)",
                         hint="pass --data FILE (and --label COLUMN) to score a file")
    config = validate_config(dict(record["config"]), f"{source} (run record)")
    if record["data"].get("stream"):  # a streamed run: its test rows are picked by a hash of the row number
        from xornet.data.stream import stream_part

        test = stream_part(config, recorded["seed"], "test", record["data"])
    else:
        test = load_splits(config, recorded["seed"]).test
    expected, values = recorded["test"].get("sha256"), recorded["test"].get("values_sha256")
    if test is None or (expected is not None and rows_hash(test.rows) != expected):
        raise InputError(f"{source}: the test split re-derived from the run record is not the one the run used "
                         f"(the data file {config.data.path} changed since training?)",
                         hint="pass --data FILE to score the file as it is now")
    if values is not None and values_hash(test.x, test.y) != values:
        raise InputError(f"{source}: the test rows of {shown_path(test.source)} hold other values than when the run scored them "
                         "(the file changed since training)", hint="pass --data FILE to score the file as it is now")
    return test


def dataset_of_record(record: dict | None) -> Dataset | None:
    """The training data a run record's config names, or None when it cannot be read back."""
    from xornet.config import validate_config

    if not record or not isinstance(record.get("config"), dict):
        return None
    try:
        config = validate_config(dict(record["config"]), "<run record>")
        return load_splits(config, record.get("data", {}).get("splits", {}).get("seed", config.seed or 0)).train
    except InputError:
        return None
