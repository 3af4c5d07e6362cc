"""Reading tables from CSV, Parquet and .npy files into NumPy columns.

CSV and Parquet go through pyarrow's multi-threaded readers: numeric columns
arrive as float32 (NaN where a cell is missing), text columns as object arrays
of str (None where missing). When pyarrow rejects a cell, the column is read
again as text to name the line, column and value.

Example:
    >>> table = read_table(Path("data/iris.csv"), text_columns={"species"})
    >>> table.columns["sepal_length"].dtype, table.columns["species"][0]
    (dtype('float32'), 'setosa')
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from xornet.csv_text import carriage_return_error, column_to_numpy
from xornet.errors import InputError
from xornet.text import NULL_VALUES, is_missing, is_number, missing_marker_hint

SUFFIXES = (".csv", ".txt", ".parquet", ".pq", ".npy")


@dataclass
class Block:
    """The numeric columns of a table as one float32 array (rows x len(names)); the table's columns are its views."""

    values: np.ndarray
    names: list[str]


@dataclass
class Table:
    """Named columns of equal length, read from `source`.

    `first_line` is the file line of the first data row (CSV only; None for
    files without lines), so errors can say "line L" where a user can look.
    """

    names: list[str]
    columns: dict[str, np.ndarray]
    source: str
    first_line: int | None
    has_header: bool = True
    block: Block | None = None

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def where(self, row: int) -> str:
        """ "file, line L" for CSV files, "file, row R" otherwise (row is 0-based)."""
        return location(self.source, self.first_line, row)

    def label(self, name: str) -> str:
        """How errors name a column: "column 'region'"."""
        return f"column {name!r}"


def location(source: str, first_line: int | None, row: int) -> str:
    """Where a 0-based data row is: "file, line L" in a file with lines (first_line: the first data row's line),
    else "file, row R".

    Example:
        >>> location("d.csv", 2, 0), location("d.npy", None, 0)
        ('d.csv, line 2', 'd.npy, row 1')
    """
    if first_line is None:
        return f"{source}, row {row + 1}"
    return f"{source}, line {line_of_row(source, first_line, row)}"


def cell_as_written(path: Path, row: int, column: int, first_line: int | None = None) -> str:
    """One cell as the file holds it, quoted for an error message (reads the file again: only after an error).

    `row` counts data rows from 0; `first_line` is a CSV file's line of its first data row.

    Example:
        >>> cell_as_written(Path("d.csv"), 0, 1, first_line=2)
        "'1e39'"
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        value = array[array.dtype.names[column]][row] if array.dtype.names else array[row, column]
        return repr(value.item())
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        value = pq.read_table(path, columns=[pq.read_schema(path).names[column]]).column(0)[row].as_py()
        return "null" if value is None else repr(value)
    import itertools

    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        line = next(itertools.islice(handle, line_of_row(str(path), first_line, row) - 1, None), "")
    cells = next(csv.reader([line]), [])
    return repr(cells[column].strip()) if column < len(cells) else "nothing"


def line_of_row(path: str, first_line: int, row: int) -> int:
    """The file line of 0-based data row `row`, counting the empty lines that the readers skip (for errors only:
    it reads the file up to that row). Without a readable file: first_line + row.

    Example:
        >>> line_of_row("d.csv", 2, 0)
        2
    """
    rows_before = row
    try:
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if number >= first_line and line.rstrip(b"\r\n"):
                    if rows_before == 0:
                        return number
                    rows_before -= 1
    except OSError:
        pass
    return first_line + row


def read_table(path: Path, text_columns=(), infer_columns=()) -> Table:
    """Read a CSV, Parquet or .npy file.

    Columns in `text_columns` are kept as text; columns in `infer_columns` are
    numbers when every cell is one, else text (a label may be "setosa" or 0);
    every other column must be numeric.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        names, values = load_npy(path)
        return Table(names, {n: values[:, i] for i, n in enumerate(names)}, str(path), None, block=Block(values, names))
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path, set(text_columns), set(infer_columns))
    if suffix in (".csv", ".txt"):
        return _read_csv(path, set(text_columns), set(infer_columns))
    raise InputError(f"{path}: data.path: expected a .csv, .parquet or .npy file, received {suffix or 'no extension'!r}")


def _first_rows(path: Path) -> tuple[list[list[str]], int]:
    """The cells of the first two non-empty lines (one in a file of one line) and the first one's index
    (a UTF-8 BOM is dropped)."""
    rows, first = [], None
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            for index, line in enumerate(handle):
                if line.endswith("\r"):
                    raise carriage_return_error(str(path), index + 1)
                if line.strip():
                    rows.append(next(csv.reader([line])))
                    first = index if first is None else first
                    if len(rows) == 2:
                        break
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a text CSV file (not UTF-8 at byte {exc.start})") from exc
    if not rows:
        raise InputError(f"{path}: the CSV file is empty, expected rows of numbers")
    return rows, first


def csv_header(path: Path) -> tuple[list[str], int, bool]:
    """(column names, lines before the data, whether the first line is a header) of a CSV file.

    A first line shaped like the second (a number where it has a number, text where it has text, at least one
    number; a missing cell such as "" or "NA" fits either) is data, as in headerless files with text classes
    ("5.1,3.5,1.4,0.2,Iris-setosa") or a blank first cell ("0.1,,1"): its columns are then named "0", "1", ...

    Example:
        >>> csv_header(Path("data/iris.csv"))[:2]
        (['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'species'], 1)
    """
    rows, index = _first_rows(path)
    cells = rows[0]
    # A missing cell (blank, NA) is neither a number nor text: it matches either, but a header is never all missing.
    kinds = [[None if is_missing(cell) else is_number(cell) for cell in row] for row in rows]
    first = [kind for kind in kinds[0] if kind is not None]
    alike = len(rows) == 2 and len(kinds[1]) == len(kinds[0]) and all(
        a is None or b is None or a == b for a, b in zip(*kinds))
    if first and (all(first) or (any(first) and alike)):
        return [str(i) for i in range(len(cells))], index, False
    return [cell.strip() for cell in cells], index + 1, True


def _read_csv(path: Path, text_columns: set, infer_columns: set) -> Table:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from xornet.data.parallel_csv import read_ranges

    names, skip, has_header = csv_header(path)
    _check_names(names, path)
    types = {name: pa.string() if name in text_columns else pa.float32()
             for name in names if name not in infer_columns}
    start, first = _data_start(path, skip)
    cells = dict(zip(names, first))
    guessed = {name: pa.string() if _is_text(cells.get(name, "")) else pa.float32()  # a label: numbers or names
               for name in names if name in infer_columns}
    first_line = skip + 1
    try:
        values, texts = read_ranges(path, names, types | guessed, start)
        numeric = [name for name in names if name not in texts]
        columns = {name: texts[name] if name in texts else values[:, numeric.index(name)] for name in names}
        block = Block(values, numeric)
    except pa.ArrowInvalid:
        # A label's type that changes further down, or a bad cell: read whole, so that errors name the cell.
        read = pacsv.ReadOptions(column_names=names, skip_rows=skip, block_size=1 << 20)
        try:
            arrow = _read_arrow_csv(path, read, types)
        except pa.ArrowInvalid as exc:
            raise _explain_csv_error(path, names, read, str(exc), first_line) from None
        schema, rows, batches = arrow.schema, arrow.num_rows, _drained(arrow)
        del arrow  # the batches now hold the only reference: each is released once copied
        columns, block = _columns(schema, batches, rows, names)
    if len(columns[names[0]]) == 0:
        raise InputError(f"{path}: the CSV file has a header but no data rows")
    return Table(names, columns, str(path), first_line, has_header, block)


def _drained(arrow):
    """The record batches of a pyarrow Table, each released once the next is asked for."""
    batches = arrow.to_batches()[::-1]
    del arrow
    while batches:
        yield batches.pop()


def _is_text(cell: str) -> bool:
    return not is_missing(cell) and not is_number(cell)


def _data_start(path: Path, lines: int) -> tuple[int, list[str]]:
    """The byte offset after the first `lines` lines, and the cells of the line there (empty at the end)."""
    with open(path, "rb") as handle:
        for _ in range(lines):
            handle.readline()
        start = handle.tell()
        line = handle.readline().decode("utf-8", errors="replace")
    return start, next(csv.reader([line]), []) if line.strip() else []


def _read_arrow_csv(path: Path, read, types: dict):
    """The CSV as a pyarrow Table; columns without a type are numbers when every cell is one, else text."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def options(types):
        return pacsv.ConvertOptions(column_types=types, null_values=NULL_VALUES, strings_can_be_null=True,
                                    quoted_strings_can_be_null=True)
    try:
        return pacsv.read_csv(path, read_options=read, convert_options=options(types))
    except pa.ArrowInvalid:
        inferred = [name for name in read.column_names if name not in types]
        if not inferred:
            raise
    # A type guessed from the first block may not fit a later one (0 and 1, then "cat"): read those as text.
    arrow = pacsv.read_csv(path, read_options=read, convert_options=options(types | dict.fromkeys(inferred, pa.string())))
    for name in inferred:
        column = arrow.column(name)
        if _first_non_number(column_to_numpy(column))[0] is None:
            try:
                arrow = arrow.set_column(arrow.column_names.index(name), name, column.cast(pa.float32()))
            except pa.ArrowInvalid:  # numbers Python reads but Arrow does not (" 1"): kept as text
                pass
    return arrow


def _columns(schema, batches, rows: int, names: list[str]) -> tuple[dict[str, np.ndarray], Block]:
    """The numeric columns as views of one float32 block (rows x numeric columns), text columns as object arrays.

    `batches` yields the table's record batches in order (`rows` rows in all);
    each is copied and dropped, so reading holds little more than the block itself.
    """
    numeric, text = [], []
    for name in names:
        kind = value_type(schema.field(name).type)
        if is_text_type(kind):
            text.append(name)
        elif is_numeric_type(kind):
            numeric.append(name)
        else:
            raise InputError(f"column {name!r}: expected numbers or text, received {kind}")
    block = np.empty((rows, len(numeric)), "float32")
    texts: dict[str, list] = {name: [] for name in text}
    start = 0
    for batch in batches:
        copy_batch(batch, numeric, block, start, texts)
        start += batch.num_rows
    columns = {name: block[:, index] for index, name in enumerate(numeric)}
    columns |= {name: np.array(cells, dtype=object) for name, cells in texts.items()}
    return {name: columns[name] for name in names}, Block(block, numeric)


def value_type(kind):
    """An Arrow column type, with a dictionary column's type of its values."""
    import pyarrow as pa

    return kind.value_type if pa.types.is_dictionary(kind) else kind


def is_text_type(kind) -> bool:
    """Do cells of this Arrow type (after `value_type`) read as text?"""
    import pyarrow as pa

    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def is_numeric_type(kind) -> bool:
    """Do cells of this Arrow type (after `value_type`) read as float32? A column of only missing cells has type
    null: NaNs."""
    import pyarrow as pa

    return pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)


def copy_batch(batch, numeric: list[str], block: np.ndarray, at: int, texts: dict[str, list]) -> None:
    """Copy a record batch's `numeric` columns into block[at:] as float32 (NaN where a cell is missing),
    and append the cells of its text columns to the lists in `texts` (None where missing)."""
    import pyarrow as pa

    if numeric:  # the batch's rows in one pyarrow call
        floats = pa.RecordBatch.from_arrays([_float32(batch.column(name)) for name in numeric], names=numeric)
        block[at:at + batch.num_rows] = floats.to_tensor(null_to_nan=True, row_major=True).to_numpy()
    for name, cells in texts.items():
        cells.extend(batch.column(name).to_pylist())


def _float32(column):
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column if pa.types.is_float32(column.type) else column.cast(pa.float32(), safe=False)


def _check_names(names: list[str], path: Path) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise InputError(f"{path}, line 1: column {name!r} appears twice in the header")
        seen.add(name)


def _explain_csv_error(path: Path, names: list[str], read, message: str, first_line: int,
                       cell_hint: Callable[[str], str | None] = lambda name: None) -> InputError:
    """Turn pyarrow's message into file, line, column, value (reading one column again as text); a cell that is
    not a number gets `cell_hint(column name)` as its hint."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    match = re.search(r"In CSV column #(\d+)", message)
    if match:
        name = names[int(match.group(1))]
        convert = pacsv.ConvertOptions(column_types={name: pa.string()}, include_columns=[name],
                                       null_values=NULL_VALUES, strings_can_be_null=True)
        text = pacsv.read_csv(path, read_options=read, convert_options=convert).column(name)
        row, cell = _first_non_number(column_to_numpy(text))
        if row is not None:
            return InputError(f"{location(str(path), first_line, row)}, column {name!r}: expected a number, "
                              f"received {cell!r}", hint=missing_marker_hint(cell) or cell_hint(name))
    match = re.search(r"Expected (\d+) columns, got (\d+)", message)
    if match:
        line, cells = _line_with_columns(path, len(names), first_line) or (None, None)
        where = f"{path}, line {line}" if line else str(path)
        if cells is not None and not any(cell.strip() for cell in cells):
            return InputError(f"{where}: the line holds only spaces, expected {match.group(1)} columns",
                              hint="delete the line (empty lines are skipped)")
        return InputError(f"{where}: expected {match.group(1)} columns, received {match.group(2)}")
    return InputError(f"{path}: cannot read the CSV file: {message.splitlines()[0]}")


def text_as_numbers(cells: np.ndarray, source: str, name: str) -> np.ndarray:
    """A column of text cells (None where missing) as float32, or an error naming its first cell that is not a
    number (row counted from 1). A number too large for float32 becomes inf, for the callers' finite checks.

    Example:
        >>> text_as_numbers(np.array(["1", None], dtype=object), "d.parquet", "a")
        array([ 1., nan], dtype=float32)
    """
    row, cell = _first_non_number(cells)
    if row is not None:
        raise InputError(f"{source}, row {row + 1}, column {name!r}: expected a number, received {cell!r}")
    with np.errstate(over="ignore"):
        return np.array([np.nan if c is None else float(c) for c in cells], "float32")


def _first_non_number(cells: np.ndarray, block: int = 65536) -> tuple[int | None, str | None]:
    for start in range(0, len(cells), block):
        part = cells[start:start + block]
        try:
            np.array([c if c is not None else "nan" for c in part], dtype="float32")
            continue
        except ValueError:
            pass
        for offset, cell in enumerate(part):
            if cell is not None and not is_number(cell):
                return start + offset, cell.strip()
    return None, None


def _line_with_columns(path: Path, width: int, first_line: int) -> tuple[int, list[str]] | None:
    """The first data line whose number of cells is not `width`, and its cells (slow; only after an error)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if number >= first_line and row and len(row) != width:
                return number, row
    return None


def _read_parquet(path: Path, text_columns: set, infer_columns: set) -> Table:
    """Read batch by batch into the float32 block: memory holds the block and one batch of the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def unreadable(exc: Exception) -> InputError:
        return InputError(f"{path}: not a readable Parquet file: {str(exc).splitlines()[0]}")

    try:
        parquet = pq.ParquetFile(path, pre_buffer=False)  # pre-buffering keeps every row group read so far
        schema, rows = parquet.schema_arrow, parquet.metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise unreadable(exc) from None
    names = schema.names
    # Columns read as text (categorical, and those the run does not use) may hold dates or times: their text.
    kinds = {name: value_type(schema.field(name).type) for name in names}
    dates = [name for name in names if name in text_columns and not (is_text_type(kinds[name]) or
                                                                     is_numeric_type(kinds[name]))]
    for name in dates:
        schema = schema.set(names.index(name), pa.field(name, pa.string()))
    batches = (_with_text(batch, dates) for batch in parquet.iter_batches(batch_size=1 << 18))
    try:
        columns, block = _columns(schema, batches, rows, names)
    except InputError as exc:
        raise InputError(f"{path}: {exc.message}") from None
    except (pa.ArrowException, OSError) as exc:
        raise unreadable(exc) from None
    finally:
        parquet.close()
        pa.default_memory_pool().release_unused()  # the decoded batches, which the pool would otherwise keep
    for name in names:
        if columns[name].dtype == object and name not in text_columns | infer_columns:
            columns[name] = text_as_numbers(columns[name], str(path), name)
    if rows == 0:
        raise InputError(f"{path}: the Parquet file has no rows")
    return Table(names, columns, str(path), None, block=block)


def _with_text(batch, names: list[str]):
    """`batch` with the columns `names` cast to text (a date as "2020-01-31")."""
    import pyarrow as pa

    for name in names:
        index = batch.schema.get_field_index(name)
        batch = batch.set_column(index, name, batch.column(index).cast(pa.string()))
    return batch


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


def read_csv_table(path: Path) -> tuple[list[str], np.ndarray, bool]:
    """Read a numeric CSV file; return (column names, values, had_header).

    A first row that is not all numbers is taken as the header; without one the
    columns are named 0, 1, 2, ...
    """
    table = read_table(Path(path))
    values = np.stack([table.columns[n] for n in table.names], axis=1)
    return table.names, values, table.has_header
