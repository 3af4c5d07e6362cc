"""The run record (`<stem>_run.json`) and history CSV written beside a model.

The record holds everything needed to understand and repeat a run, and the
SHA-256 of the model files it describes, checked before they are used.

Example:
    >>> record = read_record(Path("models/basic_model.json"))
    >>> record["experiment"]
    'xor'
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from xornet.errors import InputError
from xornet.files.keras_archive import is_keras_archive
from xornet.files.names import record_path
from xornet.files.safe_write import sha256_of
from xornet.keras_names import LOSSES
from xornet.text import dotted_key

def history_csv(history: dict[str, list[float]]) -> str:
    """Per-epoch history as CSV text: epoch,loss,accuracy,..."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(history)
    writer.writerow(["epoch", *names])
    for epoch, values in enumerate(zip(*(history[n] for n in names)), start=1):
        writer.writerow([epoch, *(repr(v) for v in values)])
    return out.getvalue()


MAX_RECORD_BYTES = 10_000_000
MAX_RECORD_DEPTH = 64


def read_record(model_path: Path) -> dict | None:
    """The run record beside a model, its structure checked; None when there is none.

    A record that exists but cannot be read, or has the wrong shape, is an
    error rather than ignored: ignoring it would skip its SHA-256 check.

    Example:
        >>> read_record(Path("models/basic_model.json"))["files"]["weights"]["name"]
        'basic_weights.h5'
    """
    path = record_path(model_path)
    if is_keras_archive(model_path):  # self-contained; a record beside it is that of the JSON pair of its stem
        return None
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_dir():
        raise _damaged(path, "is a directory, expected a run record (JSON)")
    if path.exists() and not path.is_file():  # a FIFO or device would block or never end
        raise _damaged(path, "is not a regular file, expected a run record (JSON)")
    try:
        size = path.stat().st_size
        if size > MAX_RECORD_BYTES:
            raise _damaged(path, f"is {size:,} bytes, more than the {MAX_RECORD_BYTES:,} a run record may have")
        record = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise _damaged(path, f"is not UTF-8 text (byte {exc.start}), expected a run record (JSON)") from None
    except RecursionError:
        raise _damaged(path, "is nested too deeply to read") from None
    except ValueError as exc:
        raise _damaged(path, f"is not valid JSON ({exc}), expected a run record") from None
    except OSError as exc:
        raise _damaged(path, f"cannot be read: {exc.strerror or exc}") from None
    check_record(record, path)
    return record


def _damaged(path: Path, problem: str) -> InputError:
    return InputError(f"{path}: run record {problem}",
                      hint=f"retrain the model, restore the record, or delete {path} to use the model files unchecked")


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_plain_name(value) -> bool:
    return (isinstance(value, str) and value not in ("", ".", "..")
            and not any(c in value for c in "/\\\0"))


# What each key that xornet reads back must hold: (test, what is expected).
_TEXT = (lambda v: isinstance(v, str), "a string")
_OPTIONAL_INT = (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)), "an integer or null")
_DICT = (lambda v: isinstance(v, dict), "a mapping")
_NAME = (_is_plain_name, "a file name without a directory")
_RECORD_SHAPE = {
    ("experiment",): _TEXT,
    ("seed",): _OPTIONAL_INT,
    ("epochs_run",): _OPTIONAL_INT,
    ("final",): (lambda v: isinstance(v, dict) and all(_is_number(x) for x in v.values()),
                 "a mapping of metric names to numbers"),
    ("config",): _DICT,
    ("config", "training"): _DICT,
    ("config", "training", "loss"): (lambda v: v in LOSSES, "a Keras loss name"),
    ("config", "data"): _DICT,
    ("data",): _DICT,
    ("data", "source"): _TEXT,
    ("data", "features"): (lambda v: v is None or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
                           "a list of column names or null"),
    ("data", "label"): (lambda v: v is None or isinstance(v, (str, int)) and not isinstance(v, bool),
                        "a column name or null"),
    ("files",): _DICT,
    ("files", "model"): _DICT,
    ("files", "model", "name"): _NAME,
    ("files", "model", "sha256"): (lambda v: isinstance(v, str) and bool(_SHA256.match(v)), "64 hexadecimal digits"),
    ("files", "weights"): _DICT,
    ("files", "weights", "name"): _NAME,
    ("files", "weights", "sha256"): (lambda v: isinstance(v, str) and bool(_SHA256.match(v)), "64 hexadecimal digits"),
    ("files", "history"): _NAME,
}
# Without these the record could not vouch for the model files: a record must hold them.
_REQUIRED = {("files",), ("files", "model"), ("files", "model", "name"), ("files", "model", "sha256"),
             ("files", "weights"), ("files", "weights", "name"), ("files", "weights", "sha256")}


def check_record(record, path: Path) -> None:
    """Raise a clear InputError unless `record` has the shape of a run record.

    Checks the keys xornet reads back (see `_RECORD_SHAPE`); other keys may hold anything
    JSON holds, nested at most `MAX_RECORD_DEPTH` deep, with text that is valid Unicode.

    Example:
        >>> check_record({"files": None}, Path("models/basic_run.json"))
        Traceback (most recent call last):
        xornet.errors.InputError: models/basic_run.json: run record key files: expected a mapping, received null ...
    """
    if not isinstance(record, dict):
        raise _damaged(path, f"holds {_describe(record)}, expected a mapping of keys (experiment, files, config, ...)")
    _check_nesting(record, path)
    _check_keys(record, path)


def _check_keys(record: dict, path: Path) -> None:
    for key, (test, expected) in _RECORD_SHAPE.items():
        parent = _lookup(record, key[:-1])
        if not isinstance(parent, dict) or key[-1] not in parent:
            if key in _REQUIRED:
                raise _damaged(path, f"has no key {'.'.join(key)}, which holds the SHA-256 of the model files")
            continue
        value = parent[key[-1]]
        if not test(value):
            raise _damaged(path, f"key {'.'.join(key)}: expected {expected}, received {_describe(value)}")


def _lookup(record: dict, key: tuple):
    node = record
    for part in key:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _check_nesting(record: dict, path: Path) -> None:
    """Depth and text of every value, walked without recursion."""
    stack = [(record, (), 1)]
    while stack:
        node, where, depth = stack.pop()
        if depth > MAX_RECORD_DEPTH:
            raise _damaged(path, f"is nested more than {MAX_RECORD_DEPTH} levels deep at key {dotted_key(where)}")
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(value, (dict, list)):
                stack.append((value, where + (key,), depth + 1))
            elif (isinstance(value, str) and not _is_unicode(value)) or (isinstance(key, str) and not _is_unicode(key)):
                raise _damaged(path, f"key {dotted_key(where + (key,))} holds text that is not valid Unicode")


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800", which JSON allows
        return False
    return True


def _describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def verify_against_record(model_path: Path, record: dict | None, weights_path: Path | None = None) -> None:
    """Check the model files named in a run record against the SHA-256 it holds.

    The record must describe this model file. Weights of another name or
    directory (passed with --weights) are not checked, unless the weights the
    record names are missing: then nothing vouches for the ones used.

    Example:
        >>> verify_against_record(Path("models/basic_model.json"), record, Path("models/basic_weights.h5"))
    """
    if record is None:
        return
    source = record_path(model_path)
    if not isinstance(record, dict):
        raise _damaged(source, f"holds {_describe(record)}, expected a mapping")
    _check_keys(record, source)  # read_record checked the rest
    files = record["files"]
    if files["model"]["name"] != model_path.name:
        raise _damaged(source, f"describes the model file {files['model']['name']!r}, not {model_path.name!r}")
    _verify_file(model_path, files["model"]["sha256"], source)
    if weights_path is None:
        return
    recorded = model_path.with_name(files["weights"]["name"])
    if weights_path.name == recorded.name and weights_path.parent.resolve() == model_path.parent.resolve():
        _verify_file(weights_path, files["weights"]["sha256"], source)
    elif not recorded.exists():
        raise _damaged(source, f"names the weights {recorded.name!r}, which are missing; "
                               f"refusing to use {weights_path} unchecked")


def _verify_file(path: Path, sha256: str, source: Path) -> None:
    if sha256_of(path) != sha256:
        raise InputError(
            f"{path}: does not match its run record {source} (SHA-256 differs): "
            "the file was replaced or damaged after training",
            hint="retrain it or restore the file; delete the run record to use the file as it is",
        )
