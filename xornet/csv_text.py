"""CSV text through Arrow's compute kernels: input lines, their numbers, and output rows.

`xornet predict` echoes each input row as the file wrote it and appends the
prediction. Done line by line in Python, that costs more than the network
itself; here lines are Arrow string arrays made straight from the file's bytes,
and numbers are parsed and formatted by Arrow's kernels.

Example:
    >>> lines = read_lines(b"a,b\\n\\n 0, 1 \\n")
    >>> lines.to_pylist()
    ['a,b', '0, 1']
    >>> parse_numbers(b"0, 1\\n", 2, [1]).tolist(), chosen_cells(lines[1:], 2, [0]).to_pylist()
    ([[1.0]], ['0'])
    >>> float_texts(np.array([0.5, 1.0, 2e-05])).to_pylist()
    ['0.5', '1.0', '2e-05']
"""

from __future__ import annotations

import numpy as np

from xornet.errors import InputError


def read_lines(data: bytes):
    """The non-blank lines of `data` (UTF-8), whitespace trimmed, as an Arrow string array.

    Raises pyarrow.ArrowInvalid when `data` is not valid UTF-8.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10) + 1
    if not ends.size or ends[-1] != len(data):
        ends = np.append(ends, len(data))
    lines = pa.StringArray.from_buffers(len(ends), pa.py_buffer(np.concatenate([[0], ends]).astype(np.int32)),
                                        pa.py_buffer(data))
    lines.validate(full=True)
    lines = pc.utf8_trim_whitespace(lines)
    kept = np.flatnonzero(_numbers_of(pc.binary_length(lines), np.int32))
    return lines if len(kept) == len(lines) else lines.take(_array(kept))


def parse_numbers(data: bytes, width: int, columns: list[int]) -> np.ndarray:
    """The chosen columns of CSV lines `width` cells wide as float32 (rows x len(columns)), parsed on all cores.

    Raises pyarrow.ArrowInvalid on a line of another width or a chosen cell that is not a number.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [str(i) for i in range(width)]
    chosen = [names[i] for i in columns]
    table = pacsv.read_csv(pa.BufferReader(data), read_options=pacsv.ReadOptions(column_names=names),
                           convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(chosen, pa.float32()),
                                                                include_columns=chosen))
    values = np.empty((table.num_rows, len(columns)), "float32")
    for at, name in enumerate(chosen):
        values[:, at] = column_to_numpy(table.column(name))
    return values


def chosen_cells(lines, width: int, columns: list[int]):
    """The text of the chosen cells of each line, joined with commas (each cell trimmed of spaces).

    The first few cells of a line are cut off its end in one step, without splitting every cell.
    """
    import pyarrow.compute as pc

    if columns == list(range(len(columns))):
        head = _cells(pc.split_pattern(lines, ",", max_splits=width - len(columns), reverse=True), 0)
        return pc.utf8_rtrim_whitespace(head)
    cells = pc.split_pattern(lines, ",")
    return join_cells([pc.utf8_trim_whitespace(_cells(cells, i)) for i in columns], ",")


def float_texts(values: np.ndarray):
    """Each float64 value as Python's repr writes it ('0.25', '1.0', '7e-05'), as an Arrow string array.

    Arrow's shortest round-trip digits, with Python's notation: a '.0' on whole
    numbers, exponents of two digits, scientific below 1e-4 and from 1e16.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    values = np.asarray(values, "float64")
    texts = pc.cast(_array(values), pa.string())
    size = np.abs(values)
    for rows, fix in (
        (((size > 0) & (size < 1e-6)) | (size >= 1e16), _two_digit_exponent),  # Arrow: 1e-7; Python: 1e-07
        ((size >= 1e-6) & (size < 1e-4), _scientific),  # Arrow: 0.00007; Python: 7e-05
        ((values == np.floor(values)) & (size < 1e10), _point_zero),  # Arrow: 1; Python: 1.0
    ):
        rows = np.flatnonzero(rows)
        if rows.size:
            texts = _replace(texts, rows, fix(texts.take(_array(rows))))
    others = np.flatnonzero((size >= 1e10) & (size < 1e16))
    if others.size:  # Arrow writes these in scientific notation, Python does not: rare, so Python writes them
        texts = _replace(texts, others, strings([repr(v) for v in values[others].tolist()]))
    return texts


def _two_digit_exponent(texts):
    import pyarrow.compute as pc

    return pc.replace_substring_regex(texts, r"e([-+])(\d)$", r"e\10\2")  # group 1, then a 0


def _scientific(texts):
    """0.0000123 -> 1.23e-05 and 0.000001 -> 1e-06: Arrow's digits, Python's notation."""
    import pyarrow.compute as pc

    texts = pc.replace_substring_regex(texts, r"^(-?)0\.0000([1-9])(\d*)$", r"\1\2.\3e-05")
    texts = pc.replace_substring_regex(texts, r"^(-?)0\.00000([1-9])(\d*)$", r"\1\2.\3e-06")
    return pc.replace_substring(texts, ".e", "e")


def _point_zero(texts):
    return join_cells([texts, _repeat(".0", len(texts))], "")


def class_texts(classes: np.ndarray, class_names: list[str] | None):
    """Each row's class as text: its name when the classes have names, else its number."""
    names = class_names or [str(i) for i in range(int(classes.max(initial=0)) + 1)]
    return strings(names).take(_array(np.asarray(classes, np.int64)))


def join_rows(columns: list):
    """CSV rows from equal-length columns of text, each ended by a newline, as one bytes-like buffer."""
    *first, last = columns
    rows = join_cells([*first, join_cells([last, _repeat("\n", len(last))], "")], ",")
    offsets = _numbers_of(rows, np.int32, buffer=1, extra=1)
    return rows.buffers()[2][offsets[0]:offsets[-1]]


def join_cells(columns: list, separator: str):
    """The columns' texts joined row by row with `separator`."""
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(*columns, _repeat(separator, len(columns[0])))


def strings(texts: list[str]):
    """An Arrow string array of `texts`."""
    import pyarrow as pa

    encoded = [text.encode() for text in texts]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded)))


def column_to_numpy(column) -> np.ndarray:
    """One NumPy array from a chunked column: float32 (NaN for missing) or object (None for missing).

    Without pandas: pyarrow's copying conversions import it (about a second).
    """
    import pyarrow.compute as pc

    parts = []
    for chunk in column.chunks:
        if chunk.type == "string" or chunk.type == "large_string":
            parts.append(np.array(chunk.to_pylist(), dtype=object))
        else:
            if chunk.null_count:
                chunk = pc.fill_null(chunk, np.float32("nan"))
            # The float32 data buffer itself (to_numpy would import pandas).
            parts.append(np.frombuffer(chunk.buffers()[1], "float32", len(chunk), chunk.offset * 4))
    if not parts:
        return np.zeros(0, "float32")
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


# Arrays are made from buffers here, never from Python values: pyarrow's conversions of
# those (pa.array, pa.scalar) import pandas when it is installed, over half a second.

def _array(values: np.ndarray):
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    kind = {np.dtype("float64"): pa.float64(), np.dtype("int64"): pa.int64()}[values.dtype]
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def _numbers_of(array, dtype, buffer: int = 1, extra: int = 0) -> np.ndarray:
    """A numeric array's values (or a string array's offsets, with extra=1) as NumPy, without copying."""
    size = np.dtype(dtype).itemsize
    return np.frombuffer(array.buffers()[buffer], dtype, len(array) + extra, array.offset * size)


def _repeat(text: str, rows: int):
    import pyarrow as pa

    data = text.encode()
    offsets = np.arange(rows + 1, dtype=np.int32) * len(data)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data * rows))


def _cells(cells, index: int):
    """The `index`-th cell of each line's list of cells (every list has more than `index` cells)."""
    starts = _numbers_of(cells, np.int32, extra=1)[:-1]
    return cells.values.take(_array(starts.astype(np.int64) + index))


def _replace(texts, rows: np.ndarray, replacements):
    """`texts` with the texts at `rows` (sorted) replaced by `replacements`, in order."""
    import pyarrow as pa

    index = np.arange(len(texts), dtype=np.int64)
    index[rows] = len(texts) + np.arange(len(rows))
    return pa.concat_arrays([texts, replacements]).take(_array(index))


def carriage_return_error(source: str, line: int) -> InputError:
    """The error for a CSV file whose lines end in a carriage return alone (old Mac line ends): the readers cut
    lines at "\\n" only, as pyarrow's parallel reader does."""
    return InputError(f"{source}, line {line}: the line ends in a carriage return alone (old Mac line ends), "
                      "expected \\n or \\r\\n", hint="convert the file with: tr '\\r' '\\n' < OLD > NEW")


def other_separator_error(header: list[str], source: str, line: int = 1) -> InputError | None:
    """The error for a header that is one column holding a semicolon, a tab or a pipe (a file separated by it,
    not by commas); None for any other header.

    Example:
        >>> other_separator_error(["a;b;y"], "f.csv").message
        "f.csv, line 1: the header 'a;b;y' is one column: the file looks semicolon-separated, expected ..."
    """
    found = next(((name, sign) for name, sign in (("semicolon", ";"), ("tab", "\t"), ("pipe", "|"))
                  if len(header) == 1 and sign in header[0]), None)
    if found is None:
        return None
    decimal = ", decimal=','" if found[1] == ";" else ""  # where ; separates, a comma is the decimal point
    return InputError(f"{source}, line {line}: the header {header[0]!r} is one column: the file looks {found[0]}-"
                      "separated, expected comma-separated CSV",
                      hint=f"convert it, e.g. pandas.read_csv(FILE, sep={found[1]!r}{decimal}).to_csv(NEW, index=False)")
