"""Small helpers for text that import nothing heavy, so reading a model file or a request needs no pydantic.

Example:
    >>> is_number("1e-3"), is_number("x1")
    (True, False)
    >>> dotted_key(("model", "layers", 0))
    'model.layers.0'
"""

from __future__ import annotations

import os


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
