"""Writing files so that a crash never leaves a half-written one.

Every file is written to a temporary name in the same directory, flushed, and
renamed into place. A model's files are renamed together through a journal
(`.<stem>_saving.json`), which the next command completes if a save was
interrupted, so readers see the old set of files or the new one, never a mix.

Example:
    >>> atomic_write_text(Path("notes.txt"), "hello")
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

from xornet.files.names import journal_path

def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(temp_path)`, flush it to disk, then rename it to `path`.

    A crash or error at any point leaves `path` as it was.
    """
    temp = _write_temp(path, write)
    os.replace(temp, path)
    _fsync_dir(path.parent)


def _write_temp(path: Path, write: Callable[[Path], None]) -> Path:
    """A complete, flushed temporary file beside `path`, made by `write(temp_path)`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp_path = Path(temp)
    try:
        os.chmod(temp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        write(temp_path)
        with open(temp_path, "rb+") as written:
            os.fsync(written.fileno())
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return temp_path


def stage(files: dict[Path, Callable[[Path], None]]) -> list[tuple[Path, Path]]:
    """Write each file to a temporary name beside it; return [(temp, final)]. Finals are untouched."""
    staged: list[tuple[Path, Path]] = []
    try:
        for final, write in files.items():
            staged.append((_write_temp(final, write), final))
    except BaseException:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
        raise
    return staged


def replace_together(journal: Path, staged: list[tuple[Path, Path]]) -> None:
    """Rename staged files onto their final names as one step that survives a crash.

    The renames are listed in `journal` first; if the process dies part way,
    `finish_interrupted_save` completes them, so readers see the old set of
    files or the new one, never a mix.
    """
    atomic_write_text(journal, json.dumps([[temp.name, final.name] for temp, final in staged]))
    _finish(journal)


def finish_interrupted_save(model_path: Path) -> None:
    """Complete a save of this model's files that a crash interrupted, if there was one."""
    journal = journal_path(model_path)
    if journal.exists():
        _finish(journal)


def _finish(journal: Path) -> None:
    for temp, final in json.loads(journal.read_text(encoding="utf-8")):
        try:
            os.replace(journal.parent / temp, journal.parent / final)
        except FileNotFoundError:
            pass  # renamed before the interruption
    _fsync_dir(journal.parent)
    journal.unlink(missing_ok=True)
    _fsync_dir(journal.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (UTF-8)."""
    atomic_write(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
