"""Small helpers for text that import nothing heavy, so reading a model file or a request needs no pydantic.

Example:
    >>> is_number("1e-3"), is_number("x1")
    (True, False)
    >>> dotted_key(("model", "layers", 0))
    'model.layers.0'
"""

from __future__ import annotations

import difflib
import os

NULL_VALUES = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]  # the cells every reader takes as missing


def did_you_mean(received: str, choices) -> str:
    """Return " (did you mean 'x'?)" for the closest choice, or "".

    Example:
        >>> did_you_mean("tahn", ["tanh", "relu"])
        " (did you mean 'tanh'?)"
    """
    close = difflib.get_close_matches(str(received), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def is_number(text: str) -> bool:
    """True when `text` parses as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def dotted_key(path: tuple) -> str:
    """("model", "layers", 0) -> "model.layers.0"; a key that is not plain printable text is quoted.

    Example:
        >>> dotted_key(("data", "a\\nb"))
        "data.'a\\\\nb'"
    """
    shown = (str(p) if str(p).isprintable() and str(p) and "." not in str(p) else repr(p) for p in path)
    return ".".join(shown) or "(top level)"


def shown_path(path: str) -> str:
    """A path as a person at this directory would type it: relative when it is below here.

    Example:
        >>> shown_path(str(Path.cwd() / "data" / "iris.csv"))
        'data/iris.csv'
    """
    if not os.path.isabs(path):
        return path
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def counted(count: int, noun: str) -> str:
    """A count and its noun, singular for one.

    Example:
        >>> counted(1, "seed"), counted(2_000, "run")
        ('1 seed', '2,000 runs')
    """
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def is_missing(cell: str) -> bool:
    """Whether a text cell stands for a missing value (blank, NA, NaN, null, ...), as every reader takes it.

    Example:
        >>> is_missing(" NA"), is_missing("0")
        (True, False)
    """
    return cell.strip() in NULL_VALUES


def missing_marker_hint(cell: str) -> str | None:
    """A hint for a cell written as some programs write a missing value (?, -, #N/A) that the readers do not take
    as missing; None for any other cell.

    Example:
        >>> missing_marker_hint("?")
        "if '?' marks a missing value, write it blank or as NA (missing: blank, NA, N/A, NaN, nan, null, NULL, ..."
    """
    markers = ", ".join(NULL_VALUES[1:])
    if is_missing(cell):  # a training file's cell, which pyarrow's readers take as missing only when it is exact
        return f"a missing value is written with no spaces around it: blank, or one of {markers}"
    if cell.strip().lower() not in ("?", "-", "--", ".", "#n/a", "#na", "n.a.", "na", "none", "null", "missing"):
        return None
    return f"if {cell.strip()!r} marks a missing value, write it blank or as NA (missing: blank, {markers})"
