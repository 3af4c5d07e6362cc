"""Keras 3's one-file format, `.keras`: a zip archive of `config.json` (the architecture, as `model.to_json()`
writes it) and `model.weights.h5` (Keras 3's weights layout). xornet reads both members in place.

Example:
    >>> is_keras_archive(Path("model.keras"))
    True
    >>> json.loads(archive_member(Path("model.keras"), CONFIG_MEMBER))["class_name"]
    'Sequential'
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from xornet.errors import InputError

CONFIG_MEMBER = "config.json"
WEIGHTS_MEMBER = "model.weights.h5"
MAX_MEMBER_BYTES = 1 << 30  # larger than any small network's weights; a zip bomb stops here


def is_keras_archive(path: Path) -> bool:
    """Whether `path` is a zip archive (what `model.save("m.keras")` writes), whatever its name."""
    try:
        return path.is_file() and zipfile.is_zipfile(path)
    except OSError:
        return False


def archive_member(path: Path, member: str) -> bytes:
    """The bytes of `member` in the `.keras` archive at `path`; a missing, damaged or oversized member is an
    `InputError` naming the archive and the member."""
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo(member)
            except KeyError:
                raise InputError(f"{path}: a zip archive without {member}, expected a Keras 3 .keras file "
                                 f"(it holds {', '.join(archive.namelist()[:5]) or 'nothing'})") from None
            if info.file_size > MAX_MEMBER_BYTES:
                raise InputError(f"{path}: {member} unpacks to {info.file_size:,} bytes, more than xornet reads "
                                 f"({MAX_MEMBER_BYTES:,})")
            return archive.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError) as exc:
        raise InputError(f"{path}: damaged .keras archive ({exc})") from None
