"""What a model is given: rows from CSV (files, stdin, request bodies), Parquet, .npy and --x values, checked
and encoded with the run record as the training rows were.

Every path ends in `model_inputs`: categorical columns become their one-hot
columns, a missing cell is filled as training filled it or refused, and a bad
cell is named by its line (or row) and column. CSV input is read in chunks, so a
file of millions of rows streams through in bounded memory.

Example:
    >>> parse_x(["0,1", "1,1"], 2)[0].tolist()
    [[0.0, 1.0], [1.0, 1.0]]
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from xornet.csv_text import carriage_return_error, other_separator_error
from xornet.errors import InputError
from xornet.predicting import number_text
from xornet.text import did_you_mean, is_missing, is_number, missing_marker_hint

CHUNK_BYTES = 1 << 23  # CSV input is read 8 MiB at a time


def parse_x(values: list[str], width: int, recorded: dict | None = None) -> tuple[np.ndarray, object]:
    """Rows given as `--x 0,1` options, and their text: the model's `width` numbers, or, with the run record's
    "data" section (`input_encoding`), its raw feature columns (categories as text, blank cells missing).

    Errors name the row (the n-th --x) and the column, counted from 1.

    Example:
        >>> parse_x(["0,1", "1,1"], 2)[0].tolist()
        [[0.0, 1.0], [1.0, 1.0]]
    """
    from xornet.csv_text import strings

    cells = [[c.strip() for c in text.split(",")] for text in values]
    expected = raw_width(width, recorded)
    for number, row in enumerate(cells, start=1):
        if len(row) != expected:
            raise InputError(f"--x, row {number}: expected {expected} comma-separated "
                             f"{describe_row(expected, recorded)}, received {len(row)}")
    places = [f"--x, row {number}" for number in range(1, len(cells) + 1)]
    labels = [column_label(i, None) for i in range(expected)]
    if recorded is None:
        rows = [[_number_in(cell, f"{place}, {labels[i]}") for i, cell in enumerate(row)]
                for place, row in zip(places, cells)]
        return np.array(rows, "float32").reshape(-1, width), strings([",".join(row) for row in cells])
    x = model_inputs(cells_table(cells, places, labels, recorded, "--x"), recorded)
    return x, strings(echo_texts(cells, x, recorded))


def describe_row(count: int, recorded: dict | None) -> str:
    """What a row of `count` cells holds: numbers (values, with categorical columns), as many as the model's
    inputs or the training features (named).

    Example:
        >>> describe_row(2, {"features": ["a", "c"], "categorical": {"c": ["x", "y"]}})
        'values (the training features a, c)'
    """
    return f"{cells_kind(count, recorded)} ({row_width_of(recorded)})"


def cells_kind(count: int, recorded: dict | None) -> str:
    """ "numbers", or "values" when categorical columns take text."""
    kind = "value" if recorded and recorded.get("categorical") else "number"
    return kind + ("s" if count != 1 else "")


def row_width_of(recorded: dict | None) -> str:
    """What sets a row's width: the training features (named) when categorical columns make the model's inputs
    wider, else the model's input width."""
    if recorded and recorded.get("categorical"):
        return f"the training features {', '.join(recorded['features'])}"
    return "the model's input width"


# --- the run record's encoding: raw feature columns to the model's inputs ---------------


def input_encoding(record: dict | None, width: int) -> dict | None:
    """The run record's "data" section when it says how raw feature columns become the model's `width` inputs
    (feature names, categorical vocabularies, fill values), else None (inputs are the model's numbers).

    Example:
        >>> input_encoding({"data": {"features": ["f", "c"], "inputs": ["f", "c=a", "c=b"]}}, 3)["features"]
        ['f', 'c']
    """
    recorded = (record or {}).get("data") or {}
    features = recorded.get("features")
    if not features or len(recorded.get("inputs") or features) != width:
        return None
    return recorded


def raw_width(width: int, recorded: dict | None) -> int:
    """How many values an input row holds: one per training feature, else the model's input width."""
    return len(recorded["features"]) if recorded else width


def model_inputs(table, recorded: dict) -> np.ndarray:
    """The model's inputs from a table of raw feature columns, encoded as the run's training rows were: every
    input (file, stdin, --x, a request body) comes through here.

    Categorical columns become their one-hot columns; a missing cell is filled as training filled it
    (data.missing: mean or zero, the record's "fill" values) or refused, naming its line (row) and column.

    Example:
        >>> recorded = {"features": ["f", "c"], "categorical": {"c": ["a", "b"]}, "inputs": ["f", "c=a", "c=b"]}
        >>> model_inputs(cells_table([["1", "b"]], ["--x, row 1"], ["column 1", "column 2"], recorded, "--x"), recorded)
        array([[1., 0., 1.]], dtype=float32)
    """
    check_header_names(list(table.columns), recorded["features"], table.source)
    _refuse_missing(table, recorded)
    numbers = [table.columns[name] for name in recorded["features"]]
    if not recorded.get("categorical") and not any(np.isnan(column).any() for column in numbers):
        x = np.stack(numbers, axis=1).astype("float32", copy=False)  # nothing to encode (and no import of pydantic)
    else:
        from xornet.data import encode_inputs

        x = encode_inputs(table, recorded)
    check_finite_inputs(x, table.source)
    return x


def _refuse_missing(table, recorded: dict) -> None:
    """Refuse the first missing cell that training would not have filled: in a categorical column, or in any
    column of a model trained with data.missing: error or drop (no fill values in its record)."""
    fill, categorical = recorded.get("fill") or {}, recorded.get("categorical") or {}
    firsts = []
    for order, name in enumerate(recorded["features"]):
        column = table.columns[name]
        missing = np.equal(column, None) if column.dtype == object else np.isnan(column)
        if name not in fill and missing.any():
            firsts.append((int(missing.argmax()), order, name))
    if not firsts:
        return
    row, _, name = min(firsts)
    if name in categorical:
        raise InputError(f"{table.where(row)}, {table.label(name)}: missing value, expected one of its categories "
                         f"({', '.join(categorical[name][:8])}{', ...' if len(categorical[name]) > 8 else ''})",
                         hint="fill it in")
    policy = (recorded.get("missing") or {}).get("policy", "error")
    raise InputError(f"{table.where(row)}, {table.label(name)}: missing value, expected a number",
                     hint=f"fill it in: the model was trained with data.missing: {policy}, which keeps no value to "
                          "fill it with; a model trained with data.missing: mean or zero fills it")


@dataclass
class CellsTable:
    """A table of raw feature columns made from cells (CSV text, --x values, JSON values), read by
    `xornet.data.encode_inputs` as it reads a file's `Table`; `places` says where each row is
    ("<stdin>, line 3", "--x, row 1") and `labels` how each column is named ("column 'region'")."""

    names: list[str]
    columns: dict[str, np.ndarray]
    source: str
    places: list[str]
    labels: dict[str, str]
    block = None  # no float32 block of numeric columns, as a file's Table may have

    @property
    def rows(self) -> int:
        return len(self.places)

    def where(self, row: int) -> str:
        return self.places[row]

    def label(self, name: str) -> str:
        """How errors name a column: as the input does ("column 'region'" under a header, else "column 4")."""
        return self.labels[name]


def cells_table(rows: list[list], places: list[str], labels: list[str], recorded: dict, source: str,
                shown=repr, text_numbers: bool = True) -> CellsTable:
    """The raw feature columns of `rows` (cells in the order of the record's features): numbers (text or JSON
    numbers) as float32, categories as text; a blank cell or None is missing (NaN or None).

    `shown(cell)` is how an error shows a bad cell; `text_numbers=False` refuses a number written as text
    (a JSON "1"). Cells that are not numbers, and numbers that are not finite
    float32 (inf, 1e39), are refused, naming the row's place and the column.

    Example:
        >>> cells_table([["1", ""]], ["--x, row 1"], ["column 1", "column 2"], {"features": ["a", "b"]}, "--x").columns
        {'a': array([1.], dtype=float32), 'b': array([nan], dtype=float32)}
    """
    categorical = recorded.get("categorical") or {}
    columns, infinite = {}, []
    for k, name in enumerate(recorded["features"]):
        cells = [row[k] for row in rows]
        if name in categorical:
            columns[name] = np.array([_category(cell, place, labels[k], shown) for cell, place in zip(cells, places)],
                                     object)
            continue
        with np.errstate(over="ignore"):  # too large for float32 becomes inf, refused below
            column = np.array([_cell_number(cell, place, labels[k], shown, text_numbers)
                               for cell, place in zip(cells, places)], "float32")
        bad = np.flatnonzero(np.isinf(column))
        if bad.size:
            infinite.append((int(bad[0]), k, bad.size))
        columns[name] = column
    if infinite:
        row, k, _ = min(infinite)
        raise InputError(f"{places[row]}, {labels[k]}: expected a finite number, received {shown(rows[row][k])}"
                         f"{_count(sum(count for _, _, count in infinite))}")
    return CellsTable(list(recorded["features"]), columns, source, places, dict(zip(recorded["features"], labels)))


def _cell_number(cell, place: str, label: str, shown, text_numbers: bool) -> float:
    """A numeric column's cell: text or a JSON number; None, or text a reader takes as missing (blank, NA, NaN,
    ...), is missing (NaN)."""
    if cell is None or (isinstance(cell, str) and text_numbers and is_missing(cell)):
        return np.nan
    if (isinstance(cell, str) and text_numbers and is_number(cell)) or type(cell) in (int, float):
        value = float(cell)
    else:
        raise InputError(f"{place}, {label}: expected a number, received {shown(cell)}",
                         hint=missing_marker_hint(cell) if isinstance(cell, str) else None)
    if np.isnan(value):  # a JSON NaN: a missing value is JSON null (text nan is missing, above)
        raise InputError(f"{place}, {label}: expected a finite number, received {shown(cell)}")
    return value


def _category(cell, place: str, label: str, shown) -> str | None:
    """A categorical column's cell: text; None, or text a reader takes as missing (blank, NA, ...), is missing
    (None)."""
    if cell is None or (isinstance(cell, str) and is_missing(cell)):
        return None
    if isinstance(cell, str):
        return cell.strip()
    raise InputError(f"{place}, {label}: expected a category as text, received {shown(cell)}")


def echo_texts(rows: list[list[str]], x: np.ndarray, recorded: dict) -> list[str]:
    """Each row's inputs as text to echo: the numeric cells as written, the rest (one-hot columns, filled
    cells) as the model took them.

    Example:
        >>> echo_texts([["1.50", "b"]], np.array([[1.5, 0, 1]]), {"features": ["f", "c"], "categorical": {"c": []},
        ...                                                         "inputs": ["f", "c=a", "c=b"]})
        ['1.50,0,1']
    """
    inputs = recorded.get("inputs") or recorded["features"]
    written = [(k, inputs.index(name)) for k, name in enumerate(recorded["features"])
               if name not in (recorded.get("categorical") or {})]
    texts = []
    for row, values in zip(rows, x.tolist()):
        cells = [number_text(v) for v in values]
        for k, at in written:
            if row[k].strip():
                cells[at] = row[k].strip()
        texts.append(",".join(cells))
    return texts


def column_label(index: int, names: list[str] | None) -> str:
    """How errors name a column: by its header name when the input has one, else counted from 1.

    Example:
        >>> column_label(1, ["x1", "x2"]), column_label(1, None)
        ("column 'x2'", 'column 2')
    """
    return f"column {names[index]!r}" if names else f"column {index + 1}"


def _number_in(cell: str, where: str) -> float:
    """The float32 value of one text cell, or an error at `where` for text that is not a finite float32 number."""
    if not is_number(cell):
        raise InputError(f"{where}: expected a number, received {cell!r}")
    with np.errstate(over="ignore"):  # too large for float32 becomes inf, refused just below
        value = np.float32(float(cell))
    if not np.isfinite(value):
        raise InputError(f"{where}: expected a finite number, received {cell!r}")
    return float(value)


def read_npy_inputs(path: Path, width: int, recorded: dict | None = None) -> np.ndarray:
    """A 2-D numeric .npy file of inputs, `width` columns wide (columns named by its fields when it has them).

    With the run record's "data" section of a model without categorical columns, a NaN is a missing cell,
    filled or refused by `model_inputs` as in any other input; otherwise NaN is refused as not finite.
    """
    from xornet.data import load_npy
    from xornet.data.readers import Table, cell_as_written

    try:
        names, values = load_npy(path)
    except InputError:
        _explain_text_npy(path)
        raise
    if values.shape[1] != width:
        raise InputError(f"{path}: expected {width} columns (the model's input width), received {values.shape[1]}")
    fields = None if names == [str(i) for i in range(len(names))] else names
    encoded = recorded is not None and not recorded.get("categorical")
    check_finite_inputs(np.nan_to_num(values, nan=0.0, posinf=np.inf, neginf=-np.inf) if encoded else values,
                        str(path), fields, received=lambda row, column: cell_as_written(path, row, column))
    if not encoded:
        return values
    table = Table(list(recorded["features"]), dict(zip(recorded["features"], values.T)), str(path), None)
    return model_inputs(table, recorded)


def _explain_text_npy(path: Path) -> None:
    """For a 2-D .npy array of text, the first cell that is not a number as an error naming its row and column."""
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError):
        return
    if not isinstance(array, np.ndarray):  # an .npz archive
        array.close()
        return
    if array.ndim == 2 and array.dtype.kind in "US":
        for (row, column), cell in np.ndenumerate(array):
            if not is_number(cell):
                raise InputError(f"{path}, row {row + 1}, column {column + 1}: expected a number, received {str(cell)!r}")


def read_parquet_inputs(path: Path, width: int, recorded: dict | None) -> np.ndarray:
    """The model's inputs from a Parquet file: the training features' columns when it has them, else every column
    in order; with the run record's "data" section, encoded by `model_inputs` (categories, fills).

    Other columns (a label, an id) may hold text; the chosen ones must hold numbers (or text that is one), or
    text for a categorical feature.
    """
    from xornet.data import column_names, read_table
    from xornet.data.encoding import refuse_infinite
    from xornet.data.readers import Table, cell_as_written, text_as_numbers

    features = recorded["features"] if recorded else None
    in_file = column_names(path)
    check_header_names(in_file, features, str(path))
    names = features or in_file
    expected = raw_width(width, recorded)
    if len(names) != expected:
        named = f" or columns named {', '.join(features)}" if features else ""
        raise InputError(f"{path}: expected {expected} columns ({row_width_of(recorded)}){named}, "
                         f"received {len(in_file)} ({', '.join(in_file)})")
    categorical = (recorded or {}).get("categorical") or {}
    text = {name for name, feature in zip(names, features or names) if feature in categorical}
    table = read_table(path, text_columns=text | (set(in_file) - set(names)), infer_columns=set(names) - text)
    numeric = [name for name in names if name not in text]
    for name in numeric:
        if table.columns[name].dtype == object:
            table.columns[name] = text_as_numbers(table.columns[name], str(path), name)
    refuse_infinite(table, numeric, hint=None)
    if recorded is None:
        values = np.stack([table.columns[name] for name in names], axis=1)
        check_finite_inputs(values, str(path), names,
                            received=lambda row, column: cell_as_written(path, row, table.names.index(names[column])))
        return values
    raw = Table(list(features), {feature: table.columns[name] for feature, name in zip(features, names)}, str(path),
                None)
    return model_inputs(raw, recorded)


def check_finite_inputs(x: np.ndarray, source: str, column_names: list[str] | None = None, received=None) -> None:
    """Refuse nan, inf and numbers too large for float32, naming the row and column (counted from 1, or by name).

    `received(row, column)` tells how the input held the first bad value (default: its float32 value).

    Example:
        >>> check_finite_inputs(np.array([[0.0, np.nan]], "float32"), "in.npy")
        Traceback (most recent call last):
        xornet.errors.InputError: in.npy, row 1, column 2: expected a finite number, received nan (1 such value)
    """
    bad = np.argwhere(~np.isfinite(x))
    if bad.size:
        row, column = (int(i) for i in bad[0])
        shown = received(row, column) if received else str(x[row, column])
        raise InputError(f"{source}, row {row + 1}, {column_label(column, column_names)}: expected a finite number, "
                         f"received {shown}{_count(len(bad))}")


def _count(values: int) -> str:
    return f" ({values} such value{'s' if values > 1 else ''})"


def iter_csv_inputs(stream: BinaryIO, width: int, source: str, recorded: dict | None = None,
                    chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[np.ndarray, object]]:
    """Yield (rows, their text) chunks from CSV bytes; the text is each row's inputs as the file wrote them
    (an Arrow string array or a list), to be echoed in the output.

    With the run record's "data" section (`input_encoding`), rows hold the raw training features, encoded by
    `model_inputs`; a header naming them picks them out of wider rows (a training CSV with its label column).
    Without it, rows are the model's `width` numbers. A first line with a cell that is not a number where a
    number goes is a header.
    """
    expected = raw_width(width, recorded)
    features = recorded["features"] if recorded else None
    line_number, first = 0, b""
    while not first.strip():
        first = stream.readline()
        line_number += 1
        if not first:
            raise InputError(f"{source}: no input rows, expected CSV rows of {expected} "
                             f"{cells_kind(expected, recorded)}")
    if b"\r" in first.rstrip(b"\r\n"):
        raise carriage_return_error(source, line_number)
    if line_number == 1 and first.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark is not part of the header
        first = first[3:]
    columns, header = None, None
    cells = [c.strip() for c in next(csv.reader([first.decode("utf-8", errors="replace")]), [])]
    pending = first
    if _is_header(cells, recorded):
        separator = other_separator_error(cells, source, line_number) if features else None
        if separator and not set(features) <= set(cells):
            raise separator
        check_header_names(cells, features, f"{source}, line {line_number}")
        if features:
            columns = [cells.index(name) for name in features]
        elif len(cells) != expected:
            raise other_separator_error(cells, source, line_number) or InputError(
                f"{source}, line {line_number}: the header has {len(cells)} columns, expected {expected} "
                f"({row_width_of(recorded)})" + (f" or columns named {', '.join(features)}" if features else "")
            )
        pending, line_number, header = b"", line_number + 1, cells
    file_width = expected if columns is None else len(cells)
    rows_seen = False
    while True:
        data = stream.read(chunk_bytes)
        block, end = pending + data, len(data) < chunk_bytes
        cut = len(block) if end else block.rfind(b"\n") + 1
        if not cut and not end:  # one line longer than a chunk: read on
            pending = block
            continue
        block, pending = block[:cut], block[cut:]
        if block.strip():
            rows_seen = True
            yield _rows_of(block, file_width, columns, source, line_number, header, recorded)
        line_number += block.count(b"\n")
        if end:
            break
    if not rows_seen:
        raise InputError(f"{source}: the CSV has a header but no data rows, expected rows of {expected} "
                         f"{cells_kind(expected, recorded)}")


def check_header_names(names: list[str], features: list[str] | None, where: str) -> None:
    """Refuse column names (a CSV header, a Parquet file's columns) that do not include every training feature
    of a model with a run record: its columns taken in order could put one column's values under another's name.

    Example:
        >>> check_header_names(["rooms", "sqm", "distance"], ["sqm", "rooms", "dist_km"], "in.csv, line 1")
        Traceback (most recent call last):
        xornet.errors.InputError: in.csv, line 1: no column named 'dist_km', expected the training features ...
    """
    twice = next((name for name in features or () if names.count(name) > 1), None)
    if twice is not None:  # which of the two would be the feature?
        raise InputError(f"{where}: column {twice!r} appears twice, expected each training feature once")
    absent = [name for name in features or () if name not in names]
    if absent and len(names) != len(features) and sum(is_number(name) for name in names) * 2 >= len(names):
        # Mostly numbers: a data row, taken for a header because it holds text (a label of class names, say).
        raise InputError(f"{where}: expected {len(features)} values (the training features {', '.join(features)}), "
                         f"received {len(names)}: {', '.join(map(str, names))}",
                         hint="leave the label column out: predict takes the features only" if len(names) ==
                         len(features) + 1 else None)
    if absent:
        raise InputError(f"{where}: no column named {absent[0]!r}{did_you_mean(absent[0], names)}, expected the "
                         f"training features ({', '.join(features)}), received {', '.join(map(str, names))}",
                         hint="name the columns as the features are named, or leave the header out to give the "
                              "values in the training order")


def _is_header(cells: list[str], recorded: dict | None) -> bool:
    """Whether a first line is a header: it names the training features, or a cell where a number goes is
    neither a number nor missing (blank, NA, ...; with categorical columns, only the cells of numeric features
    need be numbers)."""
    features = recorded["features"] if recorded else None
    if features and all(name in cells for name in features):
        return True
    categorical = (recorded or {}).get("categorical") or {}
    numeric = ([cell for cell, name in zip(cells, features) if name not in categorical]
               if categorical and len(cells) == len(features) else cells)
    return not all(is_number(cell) or is_missing(cell) for cell in numeric)


def _rows_of(block: bytes, width: int, columns: list[int] | None, source: str, first_line: int,
             header: list[str] | None, recorded: dict | None):
    """The chosen columns of a block of CSV lines as the model's inputs, and their text; errors name the line
    and column."""
    import pyarrow as pa

    from xornet.csv_text import chosen_cells, parse_numbers, read_lines

    # Parsed by Arrow on all cores; quoted cells may hold commas: only the csv module cuts those right.
    if b'"' not in block and (recorded or {}).get("categorical"):
        encoded = _encoded_rows(block, width, columns, source, recorded)
        if encoded is not None:
            return encoded
    elif b'"' not in block:
        try:
            values = parse_numbers(block, width, columns or list(range(width)))
            lines = read_lines(block)
            if len(lines) == len(values) and np.isfinite(values).all():
                return values, lines if columns is None else chosen_cells(lines, width, columns)
        except pa.ArrowInvalid:
            pass
    return _explain_rows(block.decode("utf-8", errors="replace").split("\n"), width, columns, source, first_line,
                         header, recorded)


def _encoded_rows(block: bytes, width: int, columns: list[int] | None, source: str, recorded: dict):
    """The model's inputs and their text from plain CSV lines of a model with categorical columns, cut and
    parsed by Arrow, encoded by `model_inputs`; None when a line needs reading cell by cell (a blank or bad
    cell, an unknown category: that read names its line)."""
    import pyarrow as pa

    from xornet.csv_text import chosen_cells, join_cells, parse_numbers, read_lines, strings

    chosen, features, categorical = columns or list(range(width)), recorded["features"], recorded["categorical"]
    numeric = [k for k, name in enumerate(features) if name not in categorical]
    try:
        lines = read_lines(block)
        values = parse_numbers(block, width, [chosen[k] for k in numeric])
    except pa.ArrowInvalid:
        return None
    if len(values) != len(lines) or not np.isfinite(values).all():
        return None
    texts = {name: chosen_cells(lines, width, [chosen[k]]) for k, name in enumerate(features)}
    cells = {name: values[:, numeric.index(k)] if k in numeric else np.array(texts[name].to_pylist(), object)
             for k, name in enumerate(features)}
    if any((cells[name] == "").any() for name in categorical):
        return None
    table = CellsTable(list(features), cells, source, [source] * len(lines), {name: name for name in features})
    try:
        x = model_inputs(table, recorded)
    except InputError:
        return None
    inputs = recorded.get("inputs") or features
    echoed = [texts[name] if name in features and name not in categorical else
              strings([str(int(v)) for v in x[:, j]]) for j, name in enumerate(inputs)]
    return x, join_cells(echoed, ",")


def _explain_rows(lines: list[str], width: int, columns: list[int] | None, source: str, first_line: int,
                  header: list[str] | None, recorded: dict | None):
    """The rows of CSV lines cut by the csv module, read cell by cell: the model's inputs (encoded by
    `model_inputs` with a run record) and their text, or the first line with a wrong number of cells or a
    cell that is not a number, as an error.

    Columns are named by the header when the file has one, else counted from 1.
    For lines the fast read cannot take: quoted cells, categories, missing or bad cells.
    """
    from xornet.csv_text import strings

    expected = (f"{width} {describe_row(width, recorded)}" if columns is None
                else f"{width} cells (as many as the header)")
    chosen = columns or list(range(width))
    labels = [column_label(i, header) for i in chosen]
    rows, places = [], []
    for offset, line in enumerate(lines):
        if not line.strip():
            continue
        cells = [c.strip() for c in next(csv.reader([line.strip()]))]
        places.append(f"{source}, line {first_line + offset}")
        if len(cells) != width:
            raise InputError(f"{places[-1]}: expected {expected}, received {len(cells)}")
        rows.append([cells[i] for i in chosen])
    if recorded is not None:
        x = model_inputs(cells_table(rows, places, labels, recorded, source), recorded)
        return x, strings(echo_texts(rows, x, recorded))
    values = [[_number_in(cell, f"{place}, {label}") for cell, label in zip(row, labels)]
              for row, place in zip(rows, places)]
    return np.array(values, "float32").reshape(-1, len(chosen)), strings([",".join(row) for row in rows])
