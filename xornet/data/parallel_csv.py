"""Reading a CSV file on every core in bounded memory: chunks of lines parsed side by side into one float32 block.

pyarrow's whole-file reader holds the file's text and its parsed cells at once
(about 7 times the numbers' size). Here the file is cut at line ends into
chunks of a few MiB; each core parses one chunk at a time with pyarrow's
reader (which does not hold the GIL), copies its rows into their place in the
block and drops it, so memory holds the block and one chunk per core. Lines
hold no line breaks inside quotes, as pyarrow's own parallel reader assumes.

When every column is numeric, a chunk goes first to a small C parser of plain
numbers (_numeric_csv.c, built when the package is installed): about three
times faster than pyarrow on one core. It leaves any chunk that holds more than
plain numbers (quotes, spaces, missing cells, a bad cell) to pyarrow, so the
values read and the errors raised are pyarrow's either way.

Example:
    >>> block, texts = read_ranges(Path("data/iris.csv"), names, types, start=60)
    >>> block.shape, texts["species"][0]
    ((150, 4), 'setosa')
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

try:
    from xornet.data._numeric_csv import parse_floats
except ImportError:  # installed without a C compiler: pyarrow reads every chunk
    parse_floats = None

# The text a core parses at once. Reading 1M rows (62 MiB) on 2 cores: 4 MiB chunks grow memory by about
# 1.4x the float32 block and are faster than pyarrow's streaming reader over one range per core; larger
# chunks cost memory and gain nothing, smaller ones pay pyarrow's per-call cost more often.
CHUNK_BYTES = 4 << 20


def read_ranges(path: Path, names: list[str], types: dict, start: int) -> tuple[np.ndarray, dict]:
    """The data lines from byte `start` on: (block of the float32 columns, {text column: object array}).

    `types` maps every column name to pyarrow float32 or string. Raises
    pyarrow.ArrowInvalid on a cell that does not fit its type or a line of
    another width.
    """
    import pyarrow as pa

    chunks = _chunks(path, start)
    numeric = [name for name in names if types[name] == pa.float32()]
    texts: list[dict] = [{name: [] for name in names if name not in numeric} for _ in chunks]
    with ThreadPoolExecutor(min(os.cpu_count() or 1, len(chunks))) as pool:
        lines = list(pool.map(lambda chunk: _line_ends(path, *chunk), chunks))
        lines[-1] += 1  # only the last line may lack its line end; no chunk has more rows than lines
        offsets = np.concatenate([[0], np.cumsum(lines)]).astype(int)
        block = np.empty((int(offsets[-1]), len(numeric)), "float32")
        counts = list(pool.map(lambda index: _read_chunk(path, chunks[index], names, types, numeric, block,
                                                         int(offsets[index]), texts[index]), range(len(chunks))))
    rows = 0
    for index, count in enumerate(counts):  # close the gaps that blank lines (and a last line end) leave
        if offsets[index] != rows:
            block[rows:rows + count] = block[offsets[index]:offsets[index] + count]
        rows += count
    block.resize((rows, len(numeric)), refcheck=False)  # in place: the spare rows are given back
    pa.default_memory_pool().release_unused()  # the chunks' buffers, which the pool would otherwise keep
    text_columns = {name: np.concatenate([np.array(part[name], dtype=object) for part in texts]) if rows else
                    np.zeros(0, object) for name in texts[0]}
    return block, text_columns


def _chunks(path: Path, start: int) -> list[tuple[int, int]]:
    """[start, size) cut at the first line end after every CHUNK_BYTES."""
    size = path.stat().st_size
    cuts = [start]
    with open(path, "rb") as handle:
        while cuts[-1] + CHUNK_BYTES < size:
            handle.seek(cuts[-1] + CHUNK_BYTES)
            handle.readline()
            if handle.tell() >= size:
                break
            cuts.append(handle.tell())
    cuts.append(size)
    return list(zip(cuts, cuts[1:]))


def _line_ends(path: Path, start: int, stop: int) -> int:
    """The number of line ends in [start, stop); NumPy counts without holding the GIL, so chunks count at once."""
    count, piece = 0, np.empty(1 << 18, np.uint8)  # read in pieces that stay in the CPU's cache: 3x faster
    with open(path, "rb", buffering=0) as handle:
        handle.seek(start)
        while stop - handle.tell() > 0:
            size = handle.readinto(memoryview(piece)[:min(stop - handle.tell(), len(piece))])
            count += int(np.count_nonzero(piece[:size] == 10))
    return count


def _read_chunk(path: Path, chunk: tuple[int, int], names: list[str], types: dict, numeric: list[str],
                block: np.ndarray, at: int, texts: dict) -> int:
    """Parse one chunk into block[at:] (and `texts`); return its number of rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from xornet.data.readers import NULL_VALUES, copy_batch

    if chunk[0] == chunk[1]:  # a file of a header only
        return 0
    if parse_floats is not None and not texts:
        text = bytearray(chunk[1] - chunk[0])
        with open(path, "rb", buffering=0) as handle:
            handle.seek(chunk[0])
            size = handle.readinto(text)
        rows = parse_floats(memoryview(text)[:size], block, at, len(numeric))
        if rows >= 0:
            return rows
    read = pacsv.ReadOptions(column_names=names, use_threads=False)  # the other cores parse the other chunks
    convert = pacsv.ConvertOptions(column_types=types, null_values=NULL_VALUES, strings_can_be_null=True,
                                   quoted_strings_can_be_null=True)
    # A stream of pyarrow's own over the chunk: its reads do not take the GIL from the other threads.
    with pa.OSFile(str(path)) as file:
        table = pacsv.read_csv(file.get_stream(chunk[0], chunk[1] - chunk[0]), read_options=read,
                               convert_options=convert)
    rows = 0
    for batch in table.to_batches():
        copy_batch(batch, numeric, block, at + rows, texts)
        rows += batch.num_rows
    return rows
