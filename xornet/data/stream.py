"""Data larger than memory: a CSV or Parquet file read in record batches, never whole.

Rows go to train, validation or test by a seeded hash of their row number, so
a split needs no pass over the file and no index in memory. One scan pass
counts the rows of each part, checks the labels, counts the missing cells and
computes the training rows' mean and variance (for `Normalization`, and the
fill values of data.missing: mean); each epoch then reads the file again
through a bounded shuffle buffer, as a `tf.data.Dataset` of chunks of whole
batches. Memory is flat in the number of rows. A CSV is parsed once, into a
temporary Arrow IPC file of its columns (float32; data.categorical ones as
text) that the epochs read. data.validation_path and data.test_path files are
read in record batches too; data.categorical columns are one-hot encoded
batch by batch with the training rows' categories, found in a pass before the
scan.

Example:
    >>> stream = open_stream(load_config("big.yaml"), seed=1)
    >>> stream.counts["train"], stream.mean.shape
    (800312, (8,))
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xornet.config import Config, check_streamable
from xornet.data import (RESCALE_HINT, Dataset, Splits, check_categorical, check_fits_model, column_names,
                         no_column_error, pick_columns)
from xornet.data.encoding import (OTHER, _class_name, _last_layer, _numeric_names, category_error, category_index,
                                  check_class_names, missing_cell_error, no_rows_left_error, task_of)
from xornet.data.readers import (NULL_VALUES, _data_start, _explain_csv_error, _is_text, csv_header, is_numeric_type,
                                 is_text_type, location, value_type)
from xornet.errors import InputError
from xornet.preprocessing import unscalable_column

PARTS = ("train", "validation", "test")
READ_ROWS = 65536  # rows per record batch read from the file
SHUFFLE_ROWS = 262144  # rows the shuffle buffer holds (about 9 MB for 8 features + label)
PREVIEW_ROWS = 16
NUMBER_LABEL_HINT = ("a streamed label holds class names when its first row does, else numbers; "
                     "data.stream: false reads a label of numbers and names as class names")
TEXT_CELL_HINT = ("streamed data (data.stream) reads every cell as a number, but a data.categorical column's: add a text "
                  "column to data.categorical to one-hot encode it")


def memory_available() -> int:
    """MemAvailable from /proc/meminfo, in bytes (0 when unknown)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def wants_stream(config: Config) -> bool:
    """Whether `config`'s data is streamed: data.stream true, or auto and the file is larger than
    data.stream_memory_share of the available memory.

    Example:
        >>> wants_stream(load_config("configs/xor.yaml"))
        False
    """
    data = config.data
    if data.path is None or data.stream is False:
        return False
    if data.stream == "auto":
        path = Path(data.path)
        if not path.is_file() or path.suffix.lower() not in (".csv", ".txt", ".parquet", ".pq"):
            return False
        available = memory_available()
        return available > 0 and path.stat().st_size > data.stream_memory_share * available
    return True


def stream_reason(config: Config) -> str:
    """Why `config`'s data is streamed, as refusals say it.

    Example:
        >>> stream_reason(load_config("big.yaml"))
        'data.stream: auto, and the file is larger than data.stream_memory_share 0.25 of the available memory'
    """
    if config.data.stream is True:
        return "data.stream: true"
    return (f"data.stream: auto, and the file is larger than data.stream_memory_share "
            f"{config.data.stream_memory_share:g} of the available memory")


def split_codes(rows: np.ndarray, validation: float | None, test: float | None, seed: int) -> np.ndarray:
    """The part of each row number: 0 train, 1 validation, 2 test, by a seeded SplitMix64 hash.

    A row is in the test part when its hash (a uniform number in [0, 1)) is below
    `test`, in validation when below `test + validation`. The same row number and
    seed always land in the same part, whatever batch the row is read in.

    Example:
        >>> split_codes(np.arange(6), 0.5, None, seed=1).tolist()
        [0, 1, 0, 1, 1, 0]
    """
    with np.errstate(over="ignore"):
        z = np.asarray(rows, dtype=np.uint64) + np.uint64(seed % 2**63) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    uniform = (z >> np.uint64(11)).astype(np.float64) / 2.0**53
    codes = np.zeros(len(uniform), dtype=np.int8)
    codes[uniform < (test or 0) + (validation or 0)] = 1
    codes[uniform < (test or 0)] = 2
    return codes


class _Moments:
    """Count, mean and sum of squared deviations of each column's values, merged batch by batch (Chan et al.);
    a missing value (NaN, data.missing: mean before its fill values are known) is left out of its column's."""

    def __init__(self, width: int):
        self.count, self.mean, self.m2 = np.zeros(width), np.zeros(width), np.zeros(width)

    def add(self, x: np.ndarray, gaps: bool = False) -> None:
        """Merge the rows `x` (holding NaN only if `gaps`)."""
        if not len(x):
            return
        x = x.astype(np.float64)
        if gaps and np.isnan(x).any():
            gaps = np.isnan(x)
            n = (~gaps).sum(axis=0)
            mean = np.nansum(x, axis=0) / np.maximum(n, 1)
            m2 = np.nansum((x - mean) ** 2, axis=0)
        else:
            n, mean = len(x), x.mean(axis=0)
            m2 = ((x - mean) ** 2).sum(axis=0)
        total = self.count + n
        share = n / np.maximum(total, 1)
        delta = mean - self.mean
        self.mean = self.mean + delta * share
        self.m2 = self.m2 + m2 + delta**2 * self.count * share
        self.count = total


@dataclass
class Stream:
    """A file read in record batches: its columns, its split and what the scan pass learned."""

    path: Path
    features: list[str]
    label: str
    validation: float | None
    test: float | None
    seed: int
    counts: dict[str, int] = field(default_factory=dict)
    mean: np.ndarray | None = None
    variance: np.ndarray | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    class_counts: dict[int, int] = field(default_factory=dict)  # training rows of each class (class_weight)
    missing: str = "error"  # data.missing
    fill: np.ndarray | None = None  # data.missing mean or zero: each feature's fill value (mean: after the scan)
    missing_counts: dict = field(default_factory=dict)  # the scan's "rows_dropped", "cells_filled", as in memory
    rows_read: int = 0  # the file's rows, dropped ones too (data.rows, as in memory)
    files: dict[str, "Stream"] = field(default_factory=dict)  # parts read from their own file (data.test_path)
    test_values_hash: str | None = None  # splits.values_hash of the test rows (evaluate checks it)
    values_hash: str | None = None  # with training.checkpoint_every: SHA-256 of every value read (a resume matches it)
    classes: list[str] | None = None  # a label of class names: its names, sorted (their index is the class)
    categorical: dict[str, list[str] | None] = field(default_factory=dict)  # data.categorical: each one's vocabulary
    unknown: str = "error"  # data.unknown
    cache: Path | None = None  # a CSV's columns as a temporary Arrow IPC file, parsed once (see cache_csv)

    def cache_csv(self) -> None:
        """Parse a CSV once into a temporary Arrow IPC file of its float32 columns, read again each epoch.

        Parsing text is what costs when a file is read every epoch; the IPC file
        (4 bytes per cell, in the system temp directory) is read without parsing
        and deleted when the stream is (or, after a crash or a kill, by the next
        streamed run). Parquet files are read as they are.
        """
        import pyarrow as pa

        if self.path.suffix.lower() in (".parquet", ".pq"):
            return
        _remove_stale_caches()
        directory = tempfile.mkdtemp(prefix=f"xornet_stream_{os.getpid()}_")
        weakref.finalize(self, shutil.rmtree, directory, True)
        cache = Path(directory) / "columns.arrows"
        writer = None
        with pa.OSFile(str(cache), "wb") as sink:
            for batch in _record_batches(self.path, [*self.features, self.label], self.text_columns):
                writer = writer or pa.ipc.new_stream(sink, batch.schema)
                writer.write_batch(batch)
            if writer is not None:
                writer.close()
        self.cache = cache

    @property
    def text_columns(self) -> set[str]:
        """The columns read as text: data.categorical ones, and a label of class names."""
        return set(self.categorical) | ({self.label} if self.classes is not None else set())

    @property
    def inputs(self) -> list[str]:
        """The model's inputs, as in memory: each feature, or a categorical one's one-hot columns ("color=red").

        Example:
            >>> stream.inputs
            ['color=blue', 'color=red', 'size']
        """
        names = []
        for name in self.features:
            if name in self.categorical:
                names += [f"{name}={value}" for value in self.categorical[name] or []]
                names += [f"{name}={OTHER}"] if self.unknown == "ignore" else []
            else:
                names.append(name)
        return names

    def chunks(self, tally: dict | None = None):
        """(row numbers, x float32, y float32) for each record batch of the whole file, rows with a missing cell
        dropped or filled as data.missing says. The scan pass's `tally` counts what data.missing did (see
        _handle_missing) and the rows read."""
        start = 0
        for batch in _record_batches(self.cache or self.path, [*self.features, self.label], self.text_columns):
            begin, rows = start, np.arange(start, start + batch.num_rows)
            columns = [self._category_numbers(batch.column(name), self.categorical[name]) if name in self.categorical
                       else batch.column(name).to_numpy(zero_copy_only=False) for name in self.features]
            columns.append(self._class_numbers(batch.column(self.label), rows) if self.classes is not None else
                           batch.column(self.label).to_numpy(zero_copy_only=False))
            values = np.column_stack(columns).astype(np.float32, copy=False)
            x, y = values[:, :-1], values[:, -1:]
            start += len(values)
            with np.errstate(invalid="ignore", over="ignore"):  # inf - inf; a sum of large numbers
                finite = np.isfinite(values.sum())  # a sum is faster than looking at every value
            if not finite and np.isinf(values).any():
                self._refuse_infinite(values, rows)
            if tally is not None:
                tally["rows"] += len(values)
            if not finite and np.isnan(values).any():
                x, y, rows = self._handle_missing(values, rows, tally)
            yield rows, self._one_hot(x, rows, batch, begin) if self.categorical else x, y

    @staticmethod
    def _category_numbers(column, vocabulary: list[str]) -> np.ndarray:
        """A categorical column's values as their index in `vocabulary`: NaN where missing, -1 where unknown
        (a text that is not a category, matched by value when a number, as `encoding.category_index` does)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        column = _category_names(column)
        numbers = pc.index_in(column, value_set=pa.array(vocabulary, pa.string())).to_numpy(zero_copy_only=False)
        numbers = numbers.astype(np.float64)
        misses = np.flatnonzero(np.isnan(numbers) & column.is_valid().to_numpy(zero_copy_only=False))
        numbers[misses] = -1
        if misses.size and _numeric_names(vocabulary):  # only categories written as numbers can match by value
            index = category_index(vocabulary)
            numbers[misses] = [index(column[int(at)].as_py()) for at in misses]
        return numbers

    def _one_hot(self, x: np.ndarray, rows: np.ndarray, batch, start: int) -> np.ndarray:
        """The batch's inputs: each categorical column's category numbers as one-hot columns, as in memory (a
        missing or unknown category goes to the "<other>" column with data.unknown: ignore, else is refused)."""
        out = np.zeros((len(x), len(self.inputs)), np.float32)
        at = 0
        for column, name in enumerate(self.features):
            if name not in self.categorical:
                out[:, at] = x[:, column]
                at += 1
                continue
            vocabulary, numbers = self.categorical[name], x[:, column]
            bad = np.flatnonzero(~(numbers >= 0))  # NaN (missing) or -1 (not in the vocabulary)
            if bad.size and self.unknown != "ignore":
                row = int(rows[bad[0]])
                raise category_error(self._where(row), f"column {name!r}",
                                     _category_names(batch.column(name))[row - start].as_py(),
                                     vocabulary)
            numbers = np.where(numbers >= 0, numbers, len(vocabulary)).astype(np.int64)
            out[np.arange(len(x)), at + numbers] = 1.0
            at += len(vocabulary) + (self.unknown == "ignore")
        return out

    def _handle_missing(self, values: np.ndarray, rows: np.ndarray, tally: dict | None):
        """(x, y, rows) of a batch holding a missing cell, as the in-memory reader does: a row without a label is
        dropped; one with a missing feature too with data.missing drop, else filled (mean, zero); data.missing:
        error refuses the first such cell (the scan pass counts them all first, for the message)."""
        gaps = np.isnan(values)
        features = gaps[:, :-1]
        lost = gaps[:, -1] | (features.any(axis=1) if self.missing in ("drop", "error") else False)
        if tally is not None:
            if tally["first"] is None:
                at = int(np.flatnonzero(gaps.any(axis=1))[0])
                tally["first"] = (int(rows[at]), int(np.flatnonzero(gaps[at])[0]))
            tally["columns"] += gaps.sum(axis=0)
            tally["rows_dropped"] += int(np.count_nonzero(lost))
            tally["cells_filled"] += int(np.count_nonzero(features[~lost])) if self.missing in ("mean", "zero") else 0
        elif self.missing == "error":
            at = int(np.flatnonzero(gaps.any(axis=1))[0])
            self._refuse_missing((int(rows[at]), int(np.flatnonzero(gaps[at])[0])))
        values, rows = values[~lost], rows[~lost]
        x, y = values[:, :-1], values[:, -1:]
        if self.fill is not None:
            x = np.where(np.isnan(x), self.fill, x).astype(np.float32, copy=False)
        return x, y, rows

    def _refuse_missing(self, first: tuple[int, int], cells: int | None = None) -> None:
        """The in-memory reader's error for a missing cell with data.missing: error: (row, column) and the file's count."""
        row, column = first
        raise missing_cell_error(self._where(row), [*self.features, self.label][column], cells)

    def _class_numbers(self, names, rows: np.ndarray) -> np.ndarray:
        """A text label's class numbers (NaN where the cell is missing); a name that is not a class is refused."""
        import pyarrow as pa
        import pyarrow.compute as pc

        numbers = pc.index_in(names, value_set=pa.array(self.classes, pa.string()))
        if numbers.null_count > names.null_count:
            at = int(np.flatnonzero(numbers.is_null().to_numpy(zero_copy_only=False) &
                                    names.is_valid().to_numpy(zero_copy_only=False))[0])
            raise InputError(f"{self._where(int(rows[at]))}, column {self.label!r}: class {names[at].as_py()!r} is not "
                             f"one of the model's classes ({', '.join(self.classes)})")
        return numbers.to_numpy(zero_copy_only=False)

    def _refuse_infinite(self, values: np.ndarray, rows: np.ndarray) -> None:
        """The first infinite value of a batch (or one too large for float32) as an error, as the file holds it."""
        from xornet.data import column_names
        from xornet.data.encoding import TRAINING_FINITE_HINT
        from xornet.data.readers import cell_as_written

        at, column = (int(i) for i in np.argwhere(np.isinf(values))[0])
        name = [*self.features, self.label][column]
        cell = cell_as_written(self.path, int(rows[at]), column_names(self.path).index(name), self._first_line())
        raise InputError(f"{self._where(int(rows[at]))}, column {name!r}: expected a finite number, received {cell}",
                         hint=TRAINING_FINITE_HINT)

    def _where(self, row: int) -> str:
        """ "file, line L" for a CSV (as the in-memory reader says), "file, row R" for Parquet."""
        return location(str(self.path), self._first_line(), row)

    def _first_line(self) -> int | None:
        """The line of a CSV file's first data row; None for Parquet."""
        return None if self.path.suffix.lower() in (".parquet", ".pq") else csv_header(self.path)[1] + 1

    def part(self, name: str):
        """(rows, x, y) of each record batch, keeping only the rows of part `name` (read from its own file with
        data.validation_path or data.test_path)."""
        if name in self.files:
            yield from self.files[name].chunks()
            return
        if not (self.validation or self.test):  # every row trains: no hash to compute
            yield from self.chunks() if name == "train" else ()
            return
        code = PARTS.index(name)
        for rows, x, y in self.chunks():
            keep = split_codes(rows, self.validation, self.test, self.seed) == code
            yield rows[keep], x[keep], y[keep]

    def shuffled(self, name: str, chunk_rows: int, epoch: int, shuffle: bool = True):
        """(x, y) chunks of `chunk_rows` rows of part `name`, the last one shorter; with `shuffle`, each
        chunk drawn at random from a buffer of SHUFFLE_ROWS rows by a generator seeded by (seed, epoch)."""
        pieces = ((x, y) for _, x, y in self.part(name))
        if not shuffle:
            yield from _rechunk(pieces, chunk_rows)
            return
        buffer = _ShuffleBuffer(len(self.inputs), chunk_rows, np.random.default_rng([self.seed, epoch]))
        for x, y in pieces:
            for start in range(0, len(x), chunk_rows):
                buffer.add(x[start:start + chunk_rows], y[start:start + chunk_rows])
                while buffer.held >= SHUFFLE_ROWS + chunk_rows:
                    yield buffer.draw()
        yield from buffer.rest()

    def dataset(self, name: str, batch_size: int, epoch: int = 0, shuffle: bool = True,
                class_weight: dict[int, float] | None = None, epochs: int = 1):
        """A `tf.data.Dataset` of (x, y) chunks of whole batches of part `name` (the last may be short),
        read in a background thread while the previous chunk trains. With `class_weight`, (x, y, sample
        weight) chunks, each row weighted by its class as `model.fit(class_weight=...)` does. With
        `epochs` > 1, the chunks of epochs `epoch`, `epoch` + 1, ... follow each other (chunks_per_epoch
        each), so the next epoch's reading starts while this one's last chunks train.

        Example:
            >>> for x, y in stream.dataset("train", 256, epoch=0): ...
        """
        import tensorflow as tf

        from xornet.trainer import sample_weights

        chunk_rows = self.chunk_rows(batch_size)
        signature = (tf.TensorSpec([None, len(self.inputs)], tf.float32), tf.TensorSpec([None, 1], tf.float32))
        if class_weight is not None:
            signature += (tf.TensorSpec([None], tf.float32),)

        def chunks():
            for number in range(epoch, epoch + epochs):
                for x, y in self.shuffled(name, chunk_rows, number, shuffle):
                    yield (x, y) if class_weight is None else (x, y, sample_weights(y, class_weight))

        return tf.data.Dataset.from_generator(chunks, output_signature=signature).prefetch(2)

    @staticmethod
    def chunk_rows(batch_size: int) -> int:
        """Rows of a chunk: whole batches, about READ_ROWS."""
        return max(1, READ_ROWS // batch_size) * batch_size

    def chunks_per_epoch(self, name: str, batch_size: int) -> int:
        """How many chunks `dataset` gives for one epoch of part `name`."""
        return -(-self.counts[name] // self.chunk_rows(batch_size))


def _rechunk(pieces, chunk_rows: int):
    """The rows of (x, y) `pieces` in order, as chunks of `chunk_rows` rows (the last one shorter)."""
    xs, ys, held = [], [], 0
    for x, y in pieces:
        xs.append(x)
        ys.append(y)
        held += len(x)
        if held >= chunk_rows:
            x, y = np.concatenate(xs), np.concatenate(ys)
            cut = held // chunk_rows * chunk_rows
            for start in range(0, cut, chunk_rows):
                yield x[start:start + chunk_rows], y[start:start + chunk_rows]
            xs, ys, held = [x[cut:]], [y[cut:]], held - cut
    if held:
        yield np.concatenate(xs), np.concatenate(ys)


class _ShuffleBuffer:
    """A bounded shuffle buffer: rows come in at the end; a chunk of rows at random places goes out and the
    rows at the end fill the holes, so each row is copied about three times, whatever SHUFFLE_ROWS is."""

    def __init__(self, width: int, chunk_rows: int, rng: np.random.Generator):
        self.x = np.empty((SHUFFLE_ROWS + 2 * chunk_rows, width), np.float32)
        self.y = np.empty((SHUFFLE_ROWS + 2 * chunk_rows, 1), np.float32)
        self.chunk_rows, self.rng, self.held = chunk_rows, rng, 0

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """Append at most chunk_rows rows (the caller draws before the buffer is full)."""
        self.x[self.held:self.held + len(x)] = x
        self.y[self.held:self.held + len(y)] = y
        self.held += len(x)

    def draw(self) -> tuple[np.ndarray, np.ndarray]:
        """chunk_rows rows from random places of the buffer, in random order."""
        k, held = self.chunk_rows, self.held
        places = self.rng.choice(held, k, replace=False)
        out = np.take(self.x, places, axis=0), np.take(self.y, places, axis=0)
        tail = held - k
        holes = places[places < tail]
        staying = np.ones(k, bool)
        staying[places[places >= tail] - tail] = False
        movers = tail + np.flatnonzero(staying)
        for rows in self.x.view(f"V{self.x.shape[1] * 4}")[:, 0], self.y[:, 0]:  # whole rows as single items: faster
            np.put(rows, holes, rows[movers])
        self.held = tail
        return out

    def rest(self):
        """What the buffer holds at the end, shuffled, in chunks."""
        order = self.rng.permutation(self.held)
        x, y = np.take(self.x, order, axis=0), np.take(self.y, order, axis=0)
        for start in range(0, self.held, self.chunk_rows):
            yield x[start:start + self.chunk_rows], y[start:start + self.chunk_rows]


def _remove_stale_caches() -> None:
    """Delete the CSV caches of streamed runs whose process has ended without deleting its own (a kill)."""
    for directory in Path(tempfile.gettempdir()).glob("xornet_stream_*_*"):
        pid = directory.name.split("_")[2]
        if pid.isdigit() and not _process_exists(int(pid)):
            shutil.rmtree(directory, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    """Whether process `pid` is running (a killed process not yet reaped by its parent, a zombie, is not)."""
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but belongs to another user
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:  # Linux: "pid (name) state ..."
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _record_batches(path: Path, columns: list[str], text: set[str] = frozenset()):
    """pyarrow record batches of `columns` (those in `text` as text, the others float32): `ParquetFile.iter_batches`
    (row group by row group), float32 `csv.open_csv`, or the Arrow IPC file of `Stream.cache_csv`."""
    import pyarrow as pa

    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):  # one at a time: a whole-file reader's memory grows with the file
            yield from parquet.iter_batches(batch_size=READ_ROWS, row_groups=[group], columns=columns)
        return
    if path.suffix == ".arrows":  # Stream.cache_csv's file
        with pa.OSFile(str(path)) as source:
            yield from pa.ipc.open_stream(source)
        return
    import pyarrow.csv as pacsv

    names, skip, _ = csv_header(path)
    read = pacsv.ReadOptions(column_names=names, skip_rows=skip, block_size=1 << 22)
    types = {name: pa.string() if name in text else pa.float32() for name in columns}
    convert = pacsv.ConvertOptions(column_types=types, include_columns=columns,
                                   null_values=NULL_VALUES, strings_can_be_null=True)
    try:
        with pacsv.open_csv(path, read_options=read, convert_options=convert) as reader:
            yield from reader
    except pa.ArrowInvalid as exc:  # named as the in-memory reader names it: file, line, column, value
        raise _explain_csv_error(path, names, read, str(exc), skip + 1, cell_hint=lambda name: NUMBER_LABEL_HINT
                                 if name == columns[-1] else TEXT_CELL_HINT) from None  # the label: the last column


def _check_numeric_schema(path: Path, columns: list[str], label: str, categorical=()) -> None:
    """Refuse a Parquet feature of text not in data.categorical, or a label neither numbers nor text, from the
    file's schema, before reading rows."""
    if path.suffix.lower() not in (".parquet", ".pq"):
        return
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    for name in columns:
        kind = value_type(schema.field(name).type)
        if not is_numeric_type(kind) and not ((name == label or name in categorical) and is_text_type(kind)):
            raise InputError(f"{path}: column {name!r}: expected {'numbers or class names' if name == label else 'numbers'}"
                             f", received Parquet type {kind}", hint=None if name == label else TEXT_CELL_HINT)


def _text_label(path: Path, label: str) -> bool:
    """Whether a file's label holds class names: a Parquet text column, or a CSV label whose first row is a name
    (the in-memory reader's guess from the same row).

    Example:
        >>> _text_label(Path("data/iris.csv"), "species")
        True
    """
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return is_text_type(value_type(pq.read_schema(path).field(label).type))
    names, skip, _ = csv_header(path)
    return _is_text(dict(zip(names, _data_start(path, skip)[1])).get(label, ""))


def _class_names(stream: Stream) -> tuple[list[str], str | None]:
    """The sorted names in a text label, over every row (as the in-memory reader finds its classes), and the
    first row's label (for errors), from the same pass."""
    import pyarrow.compute as pc

    names, first = set(), None
    for batch in _record_batches(stream.cache or stream.path, [stream.label], {stream.label}):
        if first is None and batch.num_rows:
            first = batch.column(stream.label)[0].as_py()
        names.update(pc.unique(batch.column(stream.label)).to_pylist())
    names.discard(None)
    return sorted(names), first


SUFFIXES = (".csv", ".txt", ".parquet", ".pq")


def open_stream(config: Config, seed: int, scan: bool = True, learned: dict | None = None) -> Stream:
    """Check what streaming supports, then (with `scan`) make the scan pass: part sizes, hashes of each
    part's row numbers, label checks, missing cells, the training rows' mean and variance. What a run learned
    (its record's "data": class names, fill values, categorical vocabularies) comes from `learned`, or else:
    a label of class names is numbered by its sorted names, found by a pass over the label; data.categorical
    one-hot encodes the categories of the training rows, found by a pass before the scan; data.missing: mean
    fills with the scan's means.

    Example:
        >>> open_stream(config, seed=1).counts
        {'train': 8012, 'validation': 1988, 'test': 0}
    """
    data, source = config.data, str(config.data.path)
    path = Path(data.path)
    if not path.is_file():
        raise InputError(f"{source}: data file not found (data.path)")
    if path.suffix.lower() not in SUFFIXES:
        raise InputError(f"{source}: data.stream reads .csv and .parquet files, received {path.suffix or 'no extension'!r}",
                         hint="data.stream: false to read it into memory")
    check_streamable(config, why=stream_reason(config))
    features, label = pick_columns(column_names(path), data.features, data.label, source, config.override_of("data.label"))
    categorical = [str(name) for name in data.categorical]
    check_categorical(categorical, features, source)
    _check_numeric_schema(path, [*features, label], label, categorical)
    learned = learned or {}
    stream = Stream(path, features, label, None if data.validation_path else data.validation,
                    None if data.test_path else data.test, seed, missing=data.missing, unknown=data.unknown,
                    categorical={name: learned.get("categorical", {}).get(name) for name in categorical})
    fill = {"mean": learned.get("fill") or {}, "zero": dict.fromkeys(features, 0.0)}.get(data.missing)
    if fill:  # NaN: a categorical column is one-hot encoded, not filled
        stream.fill = np.array([np.nan if name in categorical else fill[name] for name in features], np.float32)
    classes = learned.get("classes") if learned.get("text_label") else None
    if _text_label(path, label):
        stream.classes = classes if classes is not None else []
    for name in ("validation", "test"):
        if getattr(data, f"{name}_path") is not None:
            stream.files[name] = _part_file(stream, Path(getattr(data, f"{name}_path")), f"data.{name}_path")
    if scan:
        stream.cache_csv()
        if classes is None and stream.classes is not None:  # a run's own classes were checked when it trained
            stream.classes, first = _class_names(stream)
            if stream.classes:
                check_class_names(stream.classes, label, config, source, (stream._where(0), first))
        if categorical and not learned:
            stream.categorical = _vocabularies(stream)
        _scan(stream, config)
    _share_encoding(stream)
    return stream


def _part_file(stream: Stream, path: Path, key: str) -> Stream:
    """The stream of a validation or test file (`key`: data.validation_path ...), its columns checked from its
    header or schema; it is read as the training file is (its classes and fill values, see _share_encoding)."""
    if not path.is_file():
        raise InputError(f"{path}: file not found ({key})")
    if path.suffix.lower() not in SUFFIXES:
        raise InputError(f"{path}: data.stream reads .csv and .parquet files ({key}), received "
                         f"{path.suffix or 'no extension'!r}", hint="data.stream: false to read it into memory")
    names = column_names(path)
    for name in [*stream.features, stream.label]:
        if name not in names:
            raise no_column_error(f"{path}: {key}", name, names)
    _check_numeric_schema(path, [*stream.features, stream.label], stream.label, stream.categorical)
    return Stream(path, stream.features, stream.label, None, None, stream.seed, missing=stream.missing,
                  unknown=stream.unknown)


def _share_encoding(stream: Stream) -> None:
    """Give the validation and test files the training file's classes, fill values and vocabularies."""
    for part in stream.files.values():
        part.classes, part.fill, part.categorical = stream.classes, stream.fill, stream.categorical


def _category_names(column):
    """A categorical column as text: a column of numbers (Parquet) named as the in-memory encoder names them."""
    import pyarrow as pa

    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return pa.array([None if value is None or value != value else _class_name(value) for value in column.to_pylist()],
                    pa.string())


def _vocabularies(stream: Stream) -> dict[str, list[str]]:
    """Each data.categorical column's sorted categories in the training rows (the rows the scan keeps), as the
    in-memory encoder learns them: one pass over the file before the scan, which one-hot encodes with them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found, start = {name: set() for name in stream.categorical}, 0
    for batch in _record_batches(stream.cache or stream.path, [*stream.features, stream.label], stream.text_columns):
        rows = np.arange(start, start + batch.num_rows)
        start += batch.num_rows
        keep = split_codes(rows, stream.validation, stream.test, stream.seed) == 0
        for name in [*stream.features, stream.label]:  # the rows that _handle_missing drops
            if name == stream.label or stream.missing in ("drop", "error"):
                keep &= ~pc.is_null(batch.column(name), nan_is_null=True).to_numpy(zero_copy_only=False)
        for name in found:
            found[name].update(pc.unique(_category_names(batch.column(name).filter(pa.array(keep)))).to_pylist())
    return {name: sorted(values - {None}) for name, values in found.items()}


def stream_part(config: Config, seed: int, name: str, learned: dict | None = None) -> Dataset:
    """Part `name` ("test", ...) of a streamed file (or its data.test_path file), read into memory (what
    `evaluate` scores), encoded as the run's record says (`learned`: its "data").

    Example:
        >>> stream_part(config, seed=1, name="test").rows[:3]
        array([ 4, 17, 30])
    """
    stream = open_stream(config, seed, scan=False, learned=learned)
    parts = list(stream.part(name))
    rows, x, y = (np.concatenate([part[i] for part in parts]) for i in range(3))
    return Dataset(x, y, stream.inputs, stream.label, str(stream.files.get(name, stream).path),
                   classes=stream.classes or None, rows=rows)


def _tally(stream: Stream) -> dict:
    """What the scan pass counts of a file's rows and missing cells (see Stream.chunks)."""
    return {"rows": 0, "rows_dropped": 0, "cells_filled": 0, "first": None,
            "columns": np.zeros(len(stream.features) + 1, np.int64)}


def _check_missing(stream: Stream, tally: dict) -> None:
    """After a file's scan: refuse its missing cells (data.missing: error) or a file left without rows, as the
    in-memory reader does, else keep its counts."""
    if stream.missing == "error" and tally["first"] is not None:
        stream._refuse_missing(tally["first"], int(tally["columns"].sum()))
    if tally["rows"] and tally["rows_dropped"] == tally["rows"]:
        empty = [name for name, count in zip([*stream.features, stream.label], tally["columns"].tolist())
                 if count == tally["rows"]]
        raise no_rows_left_error(str(stream.path), stream.missing, empty, stream.label)
    stream.missing_counts = {"rows_dropped": tally["rows_dropped"], "cells_filled": tally["cells_filled"]}
    stream.rows_read = tally["rows"]


def _means(stream: Stream, moments: _Moments) -> np.ndarray:
    """data.missing: mean: each feature's mean over the training rows' values it has, as float32 (NaN for a
    categorical feature: it is not filled)."""
    inputs, fill = stream.inputs, np.full(len(stream.features), np.nan, np.float32)
    for column, name in enumerate(stream.features):
        if name not in stream.categorical:
            at = inputs.index(name)
            if moments.count[at] == 0:
                raise InputError(f"{stream.path}: column {name!r} is empty in every training row: it has no mean to "
                                 "fill its missing cells with (data.missing: mean)",
                                 hint="leave it out with data.features, or fill it in")
            fill[column] = moments.mean[at]
    return fill


def _values_hash(parts, check=None) -> tuple[int, str]:
    """(rows, splits.values_hash) of the (rows, x, y) batches `parts`: their inputs' bytes in order, then
    their labels' (kept until the end: 4 bytes a row); `check(rows, x, y)` looks at each batch."""
    digest, labels, count = hashlib.sha256(), [], 0
    for rows, x, y in parts:
        if check is not None:
            check(rows, x, y)
        digest.update(np.ascontiguousarray(x, dtype="<f4").tobytes())
        labels.append(np.ascontiguousarray(y, dtype="<f4"))
        count += len(x)
    for label in labels:
        digest.update(label.tobytes())
    return count, digest.hexdigest()


def _scan(stream: Stream, config: Config) -> None:
    from xornet.trainer import class_labels

    counts, classes = dict.fromkeys(PARTS, 0), {}
    hashes = {name: hashlib.sha256() for name in PARTS}  # equal to rows_hash of each part's row numbers
    # values_hash of the test rows, as evaluate checks them: their inputs' bytes in order (row-major, so chunk by
    # chunk), then their labels' (kept until the end: 4 bytes a test row)
    test_values, test_labels, test_gaps = hashlib.sha256(), [], False
    moments = _Moments(len(stream.inputs))
    tally = _tally(stream)
    values = hashlib.sha256() if config.training.checkpoint_every else None  # an edited file is not resumed
    for rows, x, y in stream.chunks(tally):
        codes = split_codes(rows, stream.validation, stream.test, stream.seed)
        if values is not None:
            values.update(np.ascontiguousarray(x, dtype="<f4").tobytes())
            values.update(np.ascontiguousarray(y, dtype="<f4").tobytes())
        check_fits_model(Dataset(x, y, stream.inputs, stream.label, str(stream.path), rows=rows), config)
        for code, name in enumerate(PARTS):
            counts[name] += int(np.count_nonzero(codes == code))
            hashes[name].update(rows[codes == code].astype("<i8").tobytes())
        unfilled = stream.fill is None and stream.missing == "mean"  # filled after the scan, with the means
        moments.add(x[codes == 0], gaps=unfilled)
        test = x[codes == 2]
        test_gaps = test_gaps or (unfilled and bool(np.isnan(test).any()))
        test_values.update(np.ascontiguousarray(test, dtype="<f4").tobytes())
        test_labels.append(np.ascontiguousarray(y[codes == 2], dtype="<f4"))
        if config.training.class_weight == "balanced":
            for label, n in zip(*np.unique(class_labels(y[codes == 0]), return_counts=True)):
                classes[int(label)] = classes.get(int(label), 0) + int(n)
    _check_missing(stream, tally)
    if counts["train"] == 0:
        raise InputError(f"{stream.path}: no training rows to stream (the file is empty, or every row is held out)")
    if stream.missing == "mean":
        stream.fill = _means(stream, moments)
    # the variance of the filled column (a mean-filled cell adds no deviation), as Normalization.adapt finds it
    stream.counts, stream.mean, stream.variance = counts, moments.mean, moments.m2 / counts["train"]
    unscalable = unscalable_column(stream.mean, stream.variance) if config.data.normalize else None
    if unscalable is not None:
        raise InputError(f"{stream.path}, column {stream.inputs[unscalable[0]]!r}: {unscalable[1]}", hint=RESCALE_HINT)
    stream.hashes = {name: hashes[name].hexdigest() for name in PARTS}
    for labels in test_labels:
        test_values.update(labels.tobytes())
    stream.test_values_hash = test_values.hexdigest()
    if test_gaps:  # one more read of the test rows, now with their fill values
        stream.test_values_hash = _values_hash(stream.part("test"))[1]
    stream.class_counts = dict(sorted(classes.items()))
    _share_encoding(stream)
    for name, part in stream.files.items():
        part.cache_csv()
        part_tally = _tally(part)
        counts[name], digest = _values_hash(part.chunks(part_tally), lambda rows, x, y: check_fits_model(
            Dataset(x, y, part.inputs, part.label, str(part.path), rows=rows), config))
        _check_missing(part, part_tally)
        if name == "test":
            stream.test_values_hash = digest
        if values is not None:
            values.update(digest.encode())
    stream.values_hash = values.hexdigest() if values is not None else None


class PreviewRows:
    """The first training rows, standing in for the whole (unread) training array.

    `len()` and `shape` give the full count, so what a run prints and records
    ("800312 training rows") is true; slicing gives the preview rows only.
    """

    def __init__(self, rows: np.ndarray, total: int):
        self.rows, self.total = rows, total

    def __len__(self) -> int:
        return self.total

    @property
    def shape(self) -> tuple[int, int]:
        return (self.total, *self.rows.shape[1:])

    def __getitem__(self, index):
        return self.rows[index]


@dataclass
class StreamSplits(Splits):
    """Splits of a streamed file: `train` holds preview rows and the counts; `stream` reads the rows."""

    stream: Stream | None = None


def stream_splits(config: Config, seed: int) -> StreamSplits:
    """The streamed counterpart of `load_splits`: a scanned `Stream` and a preview of its training rows."""
    stream = open_stream(config, seed)
    x, y = next(iter(stream.shuffled("train", PREVIEW_ROWS, 0, shuffle=False)))
    train = Dataset(PreviewRows(x, stream.counts["train"]), PreviewRows(y, stream.counts["train"]),
                    stream.inputs, stream.label, str(stream.path), classes=stream.classes or None)
    train.held_out = {name: stream.counts[name] for name in PARTS[1:] if stream.counts[name]}
    train.missing = {"policy": config.data.missing, **stream.missing_counts}
    task = task_of(config.training.loss)
    units = _last_layer(config)[0]
    encoding = {"source": str(stream.path), "rows": stream.rows_read, "features": stream.features,
                "label": stream.label, "task": task,
                "classes": stream.classes if stream.classes is not None else
                [str(i) for i in range(units or 0)] if task == "multiclass" else None,
                "text_label": stream.classes is not None,
                "categorical": stream.categorical, "unknown": config.data.unknown,
                "fill": {} if stream.fill is None else {name: value for name, value in
                                                         zip(stream.features, stream.fill.tolist())
                                                         if name not in stream.categorical},
                "inputs": stream.inputs, "missing": train.missing,
                "splits": {"seed": seed, "method": "hash of the row number (data.stream)",
                           **{name: _split_record(stream, name) for name, n in stream.counts.items()
                              if n or name == "train"}},
                "stream": True}
    return StreamSplits(train, encoding=encoding, stream=stream)


def _split_record(stream: Stream, name: str) -> dict:
    """The run record's entry of part `name`: its rows, file, hash of its row numbers (none for a part read
    from its own file, as in memory) and, for the test part, of its values."""
    source = stream.files.get(name, stream)
    return {"rows": stream.counts[name], "source": str(source.path),
            **({"sha256": stream.hashes[name]} if source is stream else {}),
            **({"values_sha256": stream.test_values_hash} if name == "test" else {})}
