"""Writing files so that a crash never leaves a half-written one.

Every file is written to a temporary name in the same directory
(`.<name>.XXXXXXXX.tmp`), flushed, and renamed into place. A model's files are
renamed together through a journal (`.<stem>_saving.json`), which the next
command completes if a save was interrupted, so readers see the old set of
files or the new one, never a mix. Saves of one model are serialized by a file
lock (`.<stem>_saving.lock`, left in place: removing a lock file races with
its next user).

A journal is checked before it is replayed: it may only rename temporary files
xornet makes beside that model onto that model's own files.

Example:
    >>> atomic_write_text(Path("notes.txt"), "hello")
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Callable

from xornet.errors import InputError, XornetError
from xornet.files.names import history_path, journal_path, lock_path, record_path, stem_of

LOCK_TIMEOUT_SECONDS = 10.0  # how long a save waits for another save of the same model
JOURNAL_MAX_BYTES = 64 * 1024  # xornet's own journals are a few hundred bytes
_TEMP_RANDOM = r"[a-z0-9_]{8}"  # what tempfile.mkstemp puts between prefix and suffix


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(temp_path)`, flush it to disk, then rename it to `path`.

    A crash or error at any point leaves `path` as it was. An OSError becomes
    a one-line `XornetError` naming the file and the reason.
    """
    temp = _write_temp(path, write)
    try:
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise _os_failure(path, exc) from exc
    _fsync_dir(path.parent)


def temp_name_pattern(final_name: str) -> re.Pattern:
    """The names `_write_temp` gives a temporary file for `final_name`.

    Example:
        >>> bool(temp_name_pattern("basic_model.json").fullmatch(".basic_model.json.k2x_9aq0.tmp"))
        True
    """
    return re.compile(rf"\.{re.escape(final_name)}\.{_TEMP_RANDOM}\.tmp")


def _write_temp(path: Path, write: Callable[[Path], None]) -> Path:
    """A complete, flushed temporary file beside `path`, made by `write(temp_path)`."""
    temp_path = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(handle)
        temp_path = Path(temp)
        os.chmod(temp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        write(temp_path)
        with open(temp_path, "rb+") as written:
            os.fsync(written.fileno())
    except BaseException as exc:
        if temp_path is not None:
            temp_path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _os_failure(path, exc) from exc
        raise
    return temp_path


def _os_failure(path: Path, exc: OSError) -> XornetError:
    """One line for an OSError while writing `path`, e.g. 'No space left on device'."""
    found = re.search(r"errno = (\d+)", str(exc))  # h5py puts the OS error inside its own message
    if found:
        reason = os.strerror(int(found.group(1)))
    elif exc.errno:
        reason = os.strerror(exc.errno)
    else:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
    return XornetError(f"{path}: cannot write it: {reason}; the previous file, if any, is untouched")


def stage(files: dict[Path, Callable[[Path], None]]) -> list[tuple[Path, Path]]:
    """Write each file to a temporary name beside it; return [(temp, final)]. Finals are untouched."""
    staged: list[tuple[Path, Path]] = []
    try:
        for final, write in files.items():
            staged.append((_write_temp(final, write), final))
    except BaseException:
        discard(staged)
        raise
    return staged


def discard(staged: list[tuple[Path, Path]]) -> None:
    """Remove staged temporary files that will not be renamed into place."""
    for temp, _ in staged:
        temp.unlink(missing_ok=True)


def replace_together(journal: Path, staged: list[tuple[Path, Path]]) -> None:
    """Rename staged files onto their final names as one step that survives a crash.

    The renames are listed in `journal` first; if the process dies part way,
    `finish_interrupted_save` completes them, so readers see the old set of
    files or the new one, never a mix. If the journal cannot be written, the
    staged files are removed and the final files stay as they were.
    """
    try:
        atomic_write_text(journal, json.dumps([[temp.name, final.name] for temp, final in staged]))
    except BaseException:
        discard(staged)
        raise
    _replay(journal, [(temp.name, final.name) for temp, final in staged])


@contextlib.contextmanager
def save_lock(model_path: Path):
    """Hold the lock that serializes saves of one model; raise a "busy" XornetError after a bounded wait.

    Example:
        >>> with save_lock(Path("models/basic_model.json")):
        ...     pass
    """
    from filelock import FileLock, Timeout

    path = lock_path(model_path)
    lock = FileLock(path, timeout=LOCK_TIMEOUT_SECONDS)
    try:
        lock.acquire()
    except Timeout:
        raise XornetError(
            f"{model_path}: busy: another xornet process is saving this model (waited {LOCK_TIMEOUT_SECONDS:g} s "
            f"for {path.name}); nothing was written",
            hint="try again when it has finished, or write elsewhere with --output-dir DIR",
        ) from None
    except OSError as exc:
        raise XornetError(f"{path}: cannot take the save lock: {exc.strerror or exc}") from exc
    try:
        yield
    finally:
        lock.release()


def finish_interrupted_save(model_path: Path, weights_name: str | None = None) -> None:
    """Complete a save of this model's files that a crash interrupted, if there was one.

    The journal is checked first (see `read_journal`); a journal that renames
    anything but this model's own temporary files is refused with an
    `InputError` and nothing is changed. A save still running (holding the lock)
    is waited for, not replayed.
    """
    if not model_path.name or not os.path.lexists(journal_path(model_path)):
        return
    read_journal(model_path, weights_name)  # refuse a hostile journal before touching anything, even the lock
    with save_lock(model_path):
        finish_interrupted_save_locked(model_path, weights_name)


def finish_interrupted_save_locked(model_path: Path, weights_name: str | None = None) -> None:
    """`finish_interrupted_save` for a caller that already holds `save_lock(model_path)`."""
    journal = journal_path(model_path)
    if os.path.lexists(journal):
        _replay(journal, read_journal(model_path, weights_name))


def read_journal(model_path: Path, weights_name: str | None = None) -> list[tuple[str, str]]:
    """The renames a save journal lists, after checking every one of them.

    A journal is a JSON list of 1 to 4 [temporary, final] name pairs. Each
    final name must be one of this model's files (`<model file>`,
    `<stem>_history.csv`, `<stem>_run.json`, and its weights: `weights_name`,
    `<stem>_weights.h5`, or the weights name the run record being installed
    declares), each at most once; each temporary name must be exactly what
    `_write_temp` makes for that final name (`.<final>.XXXXXXXX.tmp`, so no
    directory, no `..`), and must be a regular file when present.

    Raises InputError naming the journal otherwise.
    """
    journal = journal_path(model_path)

    def refuse(problem: str) -> InputError:
        return InputError(
            f"{journal}: {problem}; refusing to replay this save journal, nothing was changed",
            hint=f"if no xornet save of {model_path.name} was interrupted, delete {journal}",
        )

    try:
        info = os.lstat(journal)
    except FileNotFoundError:
        return []  # a save finished it meanwhile
    try:
        if not stat.S_ISREG(info.st_mode):
            raise refuse("expected a regular file written by xornet, found a symlink or special file")
        if info.st_size > JOURNAL_MAX_BYTES:
            raise refuse(f"is {info.st_size} bytes, expected a journal of a few hundred bytes")
        data = json.loads(journal.read_bytes())
    except FileNotFoundError:
        return []
    except (ValueError, RecursionError) as exc:
        raise refuse(f"not valid JSON ({type(exc).__name__})") from None
    except OSError as exc:
        raise refuse(f"cannot read it: {exc.strerror or exc}") from None
    if not isinstance(data, list) or not 1 <= len(data) <= 4:
        raise refuse(f"expected a list of 1 to 4 [temporary, final] name pairs, received {_kind(data)}")
    renames = []
    for number, entry in enumerate(data):
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(n, str) for n in entry)):
            raise refuse(f"entry {number}: expected a [temporary, final] pair of file names, received {_kind(entry)}")
        renames.append((entry[0], entry[1]))
    allowed = _own_file_names(model_path, weights_name, renames)
    finals = [final for _, final in renames]
    for number, (temp, final) in enumerate(renames):
        if final not in allowed:
            raise refuse(f"entry {number}: renames onto {final!r}, expected one of this model's files "
                         f"({', '.join(sorted(allowed))})")
        if finals.count(final) > 1:
            raise refuse(f"entry {number}: renames onto {final!r} more than once")
        if not temp_name_pattern(final).fullmatch(temp):
            raise refuse(f"entry {number}: renames {temp!r}, expected a temporary file xornet made for {final} "
                         f"(.{final}.XXXXXXXX.tmp)")
        try:
            if not stat.S_ISREG(os.lstat(model_path.parent / temp).st_mode):
                raise refuse(f"entry {number}: {temp} is not a regular file")
        except FileNotFoundError:
            pass  # already renamed
    return renames


def _own_file_names(model_path: Path, weights_name: str | None, renames: list[tuple[str, str]]) -> set[str]:
    """The file names a journal of this model may rename onto."""
    stem = stem_of(model_path.name)
    names = {model_path.name, history_path(model_path).name, record_path(model_path).name, f"{stem}_weights.h5"}
    if weights_name:
        names.add(weights_name)
    declared = _declared_weights_name(model_path, renames)
    if declared:
        names.add(declared)
    return names


def _declared_weights_name(model_path: Path, renames: list[tuple[str, str]]) -> str | None:
    """The weights name in the run record this journal installs (still staged, or already renamed)."""
    record_name = record_path(model_path).name
    candidates = [temp for temp, final in renames
                  if final == record_name and temp_name_pattern(final).fullmatch(temp)] + [record_name]
    for name in candidates:
        path = model_path.parent / name
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode) or os.lstat(path).st_size > 16 << 20:
                continue
            record = json.loads(path.read_bytes())
        except (OSError, ValueError, RecursionError):
            continue
        files = record.get("files") if isinstance(record, dict) else None
        weights = files.get("weights") if isinstance(files, dict) else None
        name = weights.get("name") if isinstance(weights, dict) else None
        if isinstance(name, str) and re.fullmatch(r"[^/\\\0]+\.(h5|hdf5)", name) and name not in ("..", "."):
            return name
        return None
    return None


def _kind(value) -> str:
    if isinstance(value, (list, dict)):
        return f"a {'list' if isinstance(value, list) else 'mapping'} of {len(value)} items"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _replay(journal: Path, renames: list[tuple[str, str]]) -> None:
    directory = journal.parent
    for temp, final in renames:
        try:
            os.replace(directory / temp, directory / final)
        except FileNotFoundError:
            pass  # renamed before the interruption
        except OSError as exc:
            raise XornetError(f"{directory / final}: cannot move the new file into place: {exc.strerror}; "
                              f"{journal} keeps the save to complete it later") from exc
    _fsync_dir(directory)
    journal.unlink(missing_ok=True)
    _fsync_dir(directory)


def remove_orphan_temps(model_path: Path, file_names: list[str]) -> list[Path]:
    """Delete temporary files a save killed before writing its journal left beside this model.

    Only names `_write_temp` makes for `file_names` or the journal are removed.
    Call it holding `save_lock(model_path)` with no journal pending. Returns what was removed.
    """
    patterns = [temp_name_pattern(name) for name in [*file_names, journal_path(model_path).name]]
    removed = []
    try:
        entries = list(os.scandir(model_path.parent))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if any(p.fullmatch(entry.name) for p in patterns) and entry.is_file(follow_symlinks=False):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    return removed


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
