"""Whether a file can be written at a path, checked before any work is done.

Example:
    >>> check_writable(Path("models/basic_model.json"), "output.dir")
"""

from __future__ import annotations

import os
from pathlib import Path

from xornet.errors import InputError

SPECIAL_DIRS = (Path("/proc"), Path("/sys"), Path("/dev"))  # kernel and device files, not a place for models
_TEMP_EXTRA = len(".") + len(".XXXXXXXX.tmp")  # what _write_temp adds to a name


def check_writable(path: Path, what: str) -> None:
    """Raise InputError unless a regular file can be written at `path` (checked without writing anything).

    Refused: NUL bytes, a name too long for the file system (counting the
    temporary name written first), an existing directory, a parent that is a
    file, a parent that is not writable, and /proc, /sys, /dev. `what` says
    where the path came from, e.g. "output.dir" or "config init PATH".

    Example:
        >>> check_writable(Path("models/basic_model.json"), "output.dir")
    """
    text = str(path)
    if "\0" in text:
        raise InputError(f"{what}: {text!r} contains a NUL byte, expected a file path")
    absolute = Path(os.path.abspath(path))
    for candidate in (absolute, _resolve(absolute)):
        if any(candidate == special or special in candidate.parents for special in SPECIAL_DIRS):
            raise InputError(f"{what}: {path} is inside a system directory "
                             f"({', '.join(map(str, SPECIAL_DIRS))}), expected a place for ordinary files")
    ancestor = path.parent
    while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"{what}: {ancestor} is a file, expected a directory to write {path.name} in")
    name_max = _pathconf(ancestor, "PC_NAME_MAX", 255)
    for index, part in enumerate(absolute.parts[1:], start=2):
        extra = _TEMP_EXTRA if index == len(absolute.parts) else 0
        if len(os.fsencode(part)) + extra > name_max:
            raise InputError(f"{what}: the name {_short(part)} is too long for the file system "
                             f"({len(os.fsencode(part))} bytes; at most {name_max - extra} here)")
    if len(os.fsencode(str(absolute))) + _TEMP_EXTRA >= _pathconf(ancestor, "PC_PATH_MAX", 4096):
        raise InputError(f"{what}: {_short(text)} is too long for the file system "
                         f"({len(os.fsencode(str(absolute)))} bytes)")
    if os.path.isdir(absolute):
        raise InputError(f"{what}: {path} is a directory, expected a file name")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"{what}: cannot write in {ancestor} (not writable: permissions or a read-only file system)")


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path


def _pathconf(path: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(path, name)
    except (OSError, ValueError):
        return default


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:20] + "..." + text[-12:])
