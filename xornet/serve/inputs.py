"""Request bodies to input rows: JSON `{"inputs": [[0, 1], ...]}` (a row may also be an object keyed by the
training features' names, `{"sqm": 3, "rooms": 2}`) or CSV, checked like the CLI checks them.

Every problem is an `InputError` with one line saying where, what was
expected and what was received; `MalformedBody` (not JSON or not UTF-8 at all)
is answered with 400, the rest with 422.

Example:
    >>> rows_from_body(b'{"inputs": [[0, 1]]}', "application/json", 2, None).tolist()
    [[0.0, 1.0]]
"""

from __future__ import annotations

import io
import json
import math

import numpy as np

from xornet.errors import InputError
from xornet.prediction_inputs import (cells_kind, cells_table, check_finite_inputs, describe_row, iter_csv_inputs,
                                      model_inputs, raw_width)
from xornet.text import did_you_mean

SOURCE = "request body"
JSON_EXAMPLE = '{"inputs": [[0, 1], ...]}'


class MalformedBody(InputError):
    """The body cannot be read at all as the content type it claims (answered with 400)."""


class UnsupportedContentType(InputError):
    """The body is neither JSON nor CSV (answered with 415)."""


def rows_from_body(body: bytes, content_type: str, width: int, recorded: dict | None) -> np.ndarray:
    """The model's inputs from a request body, float32, `width` columns wide; finite numbers only.

    With the run record's "data" section (`xornet.prediction_inputs.input_encoding`), rows hold the raw training
    features (categories as text, null or a blank cell where missing), encoded as `xornet predict` encodes them.

    Example:
        >>> rows_from_body(b"x1,x2\\n0,1\\n", "text/csv", 2, {"features": ["x1", "x2"]}).tolist()
        [[0.0, 1.0]]
    """
    kind = content_type.split(";")[0].strip().lower()
    # `curl -d` labels any body as a form; a JSON body is what it is meant to carry here.
    if kind in ("", "application/json", "application/x-www-form-urlencoded"):
        rows = rows_from_json(body, width, recorded)
    elif kind in ("text/csv", "text/plain"):
        rows = rows_from_csv(body, width, recorded)
    else:
        raise UnsupportedContentType(f"{SOURCE}: content type {kind!r} is not supported, "
                                     "expected application/json or text/csv")
    check_finite_inputs(rows, SOURCE)
    return rows


def rows_from_json(body: bytes, width: int, recorded: dict | None = None) -> np.ndarray:
    """Rows from `{"inputs": [[...], ...]}`, each exactly `width` numbers, or the raw training features'
    values with a run record's "data" section, as lists or as objects keyed by feature name."""
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise MalformedBody(f"{SOURCE}: not UTF-8 text, expected JSON like {JSON_EXAMPLE}") from None
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"{SOURCE}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}), "
                            f"expected {JSON_EXAMPLE}") from None
    if not isinstance(data, dict) or "inputs" not in data:
        received = "an object with keys " + ", ".join(map(repr, data)) if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{SOURCE}: expected an object with key \"inputs\" like {JSON_EXAMPLE}, received {received}")
    extra = sorted(set(data) - {"inputs"})
    if extra:
        raise InputError(f"{SOURCE}: unknown key {extra[0]!r}, expected only \"inputs\"")
    rows = data["inputs"]
    if not isinstance(rows, list) or not rows:
        raise InputError(f"{SOURCE}: \"inputs\" must be a non-empty list of rows like [[0, 1]], "
                         f"received {_describe(rows)}")
    expected = raw_width(width, recorded)
    contents = describe_row(expected, recorded)
    objects = all(isinstance(row, dict) for row in rows)  # columns are then named by their keys
    rows = [_listed(row, f"{SOURCE}, row {number}", recorded) if isinstance(row, dict) else row
            for number, row in enumerate(rows, start=1)]
    for number, row in enumerate(rows, start=1):
        where = f"{SOURCE}, row {number}"
        if not isinstance(row, list):
            raise InputError(f"{where}: expected a list of {expected} {contents}, received {_describe(row)}")
        if len(row) != expected:
            raise InputError(f"{where}: expected {expected} {contents}, received {len(row)}")
    numbers = not (recorded or {}).get("categorical") and all(type(v) in (int, float) for row in rows for v in row)
    if numbers:  # the usual request: nothing to encode or fill, answered in microseconds
        with np.errstate(over="ignore"):  # too large for float32 becomes inf
            values = np.array(rows, dtype="float32")
        if recorded is None or np.isfinite(values).all():
            check_finite_inputs(values, SOURCE, received=lambda row, column: _describe(rows[row][column]))  # 1e39
            return values
    if recorded is None:
        for number, row in enumerate(rows, start=1):
            for column, value in enumerate(row, start=1):
                if type(value) not in (int, float):
                    raise InputError(f"{SOURCE}, row {number}, column {column}: expected a number, "
                                     f"received {_describe(value)}")
    places = [f"{SOURCE}, row {number}" for number in range(1, len(rows) + 1)]
    labels = ([f"column {name!r}" for name in recorded["features"]] if objects else
              [f"column {column}" for column in range(1, expected + 1)])
    return model_inputs(cells_table(rows, places, labels, recorded, SOURCE, shown=_describe, text_numbers=False),
                        recorded)


def _listed(row: dict, where: str, recorded: dict | None) -> list:
    """A row given as an object keyed by feature name, as the list of its values in the training features'
    order."""
    features = (recorded or {}).get("features")
    if not features:
        raise InputError(f"{where}: a row as an object needs the training features' names, and this model has no "
                         f"run record naming them; expected a list of numbers like [0, 1]")
    received = f"keys {', '.join(map(repr, row))}" if row else "an empty object"
    for name in features:
        if name not in row:
            raise InputError(f"{where}: no value for feature {name!r}{did_you_mean(name, list(row))}, expected the "
                             f"training features ({', '.join(features)}), received {received}")
    extra = [key for key in row if key not in features]
    if extra:
        raise InputError(f"{where}: unknown key {extra[0]!r}, expected only the training features "
                         f"({', '.join(features)})")
    return [row[name] for name in features]


def rows_from_csv(body: bytes, width: int, recorded: dict | None = None) -> np.ndarray:
    """Rows from CSV text, read exactly as `xornet predict --input -` reads them (header optional)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody(f"{SOURCE}: not UTF-8 text, expected CSV rows of {raw_width(width, recorded)} "
                            f"{cells_kind(raw_width(width, recorded), recorded)}") from None
    chunks = [values for values, _ in iter_csv_inputs(io.BytesIO(body), width, SOURCE, recorded)]
    return np.concatenate(chunks) if chunks else np.zeros((0, width), "float32")


def _describe(value) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
