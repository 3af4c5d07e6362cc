"""Reading a CSV file on every core in bounded memory: byte ranges streamed side by side into one float32 block.

pyarrow's whole-file reader holds the file's text and its parsed cells at once
(about 7 times the numbers' size); its streaming reader holds one block at a
time but uses one core. Here the file is cut at line ends into one range per
core, each range is streamed by its own thread, and each batch is copied into
its place in the block and dropped. Lines hold no line breaks inside quotes,
as pyarrow's own parallel reader assumes.

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

BLOCK_BYTES = 1 << 16  # a reader's block: each reader's memory grows with it (14 MiB at 64 KiB, 22 at 128), speed does not
RANGE_BYTES = 1 << 22  # no range smaller than this: a thread costs more than it saves on small files


def read_ranges(path: Path, names: list[str], types: dict, start: int) -> tuple[np.ndarray, dict]:
    """The data lines from byte `start` on: (block of the float32 columns, {text column: object array}).

    `types` maps every column name to pyarrow float32 or string. Raises
    pyarrow.ArrowInvalid on a cell that does not fit its type or a line of
    another width.
    """
    import pyarrow as pa

    ranges = _ranges(path, start)
    numeric = [name for name in names if types[name] == pa.float32()]
    texts: list[dict] = [{name: [] for name in names if name not in numeric} for _ in ranges]
    with ThreadPoolExecutor(len(ranges)) as pool:
        bounds = [ends + 1 for ends in pool.map(lambda byte_range: _line_ends(path, *byte_range), ranges)]
        offsets = np.concatenate([[0], np.cumsum(bounds)]).astype(int)  # no range has more rows than its lines
        block = np.empty((int(offsets[-1]), len(numeric)), "float32")
        counts = list(pool.map(lambda index: _read_range(path, ranges[index], names, types, numeric, block,
                                                         int(offsets[index]), texts[index]), range(len(ranges))))
    rows = 0
    for index, count in enumerate(counts):  # close the gaps left by the line counts' spare rows
        if offsets[index] != rows:
            block[rows:rows + count] = block[offsets[index]:offsets[index] + count]
        rows += count
    block.resize((rows, len(numeric)), refcheck=False)  # in place: the spare rows are given back
    pa.default_memory_pool().release_unused()  # the readers' buffers, which the pool would otherwise keep
    text_columns = {name: np.concatenate([np.array(part[name], dtype=object) for part in texts]) if rows else
                    np.zeros(0, object) for name in texts[0]}
    return block, text_columns


def _ranges(path: Path, start: int) -> list[tuple[int, int]]:
    """[start, size) cut at line ends into one range per core (fewer for small files)."""
    size = path.stat().st_size
    count = max(1, min(os.cpu_count() or 1, (size - start) // RANGE_BYTES))
    cuts = [start]
    with open(path, "rb") as handle:
        for index in range(1, count):
            handle.seek(max(cuts[-1], start + (size - start) * index // count))
            handle.readline()
            cuts.append(handle.tell())
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a] or [(start, start)]


def _line_ends(path: Path, start: int, stop: int) -> int:
    """The number of line ends in [start, stop); NumPy counts without holding the GIL, so ranges count at once."""
    count, chunk = 0, np.empty(1 << 18, np.uint8)
    with open(path, "rb", buffering=0) as handle:
        handle.seek(start)
        while stop - handle.tell() > 0:
            size = handle.readinto(memoryview(chunk)[:min(stop - handle.tell(), len(chunk))])
            count += int(np.count_nonzero(chunk[:size] == 10))
    return count


def _read_range(path: Path, byte_range: tuple[int, int], names: list[str], types: dict, numeric: list[str],
                block: np.ndarray, at: int, texts: dict) -> int:
    """Stream one range into block[at:] (and `texts`); return its number of rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from xornet.data.readers import NULL_VALUES, copy_batch

    read = pacsv.ReadOptions(column_names=names, block_size=BLOCK_BYTES, use_threads=False)
    convert = pacsv.ConvertOptions(column_types=types, null_values=NULL_VALUES, strings_can_be_null=True,
                                   quoted_strings_can_be_null=True)
    rows = 0
    if byte_range[0] == byte_range[1]:
        return 0
    # A stream of pyarrow's own over the range: its reads do not take the GIL from the other threads.
    with pa.OSFile(str(path)) as file:
        stream = file.get_stream(byte_range[0], byte_range[1] - byte_range[0])
        with pacsv.open_csv(stream, read_options=read, convert_options=convert) as reader:
            for batch in reader:
                copy_batch(batch, numeric, block, at + rows, texts)
                rows += batch.num_rows
    return rows
