"""Atomic output: a reader never sees a half-written file, a crash never eats old results."""

from __future__ import annotations

import json
import errno
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_json", "atomic_write_bytes", "atomic_write_csv",
           "check_writable"]


#: errors of a disk that is full, and of a folder that may not be written (read-only, no permission)
NO_SPACE = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
NOT_WRITABLE = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def check_writable(path: str | os.PathLike, *, folder: bool = False) -> None:
    """Raise :class:`~escucha.errors.ConfigError` (one line) unless ``path`` can be written: the
    nearest part of it that exists must be a folder this process may write in, which is tried
    with an empty hidden file, removed at once (permission bits do not tell root, nor a file
    system such as /sys or /proc that refuses files), so a command can check its outputs before any
    work. ``folder``: ``path`` is a folder to write into (an existing one must itself be writable)."""
    from ..errors import ConfigError

    p = Path(path).absolute()
    place = p if folder and p.is_dir() else p.parent
    while not place.exists() and not place.is_symlink():
        place = place.parent
    if not place.is_dir():
        raise ConfigError(f"{path}: cannot be written: {place} is not a folder")
    if not os.access(place, os.W_OK | os.X_OK):
        raise ConfigError(f"{path}: cannot be written: no permission to write in {place}, or it is on a "
                          "read-only file system")
    try:
        fd, probe = tempfile.mkstemp(prefix=".escucha-write-check-", dir=place)
    except OSError as e:
        raise ConfigError(f"{path}: cannot be written: {place} refuses new files ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(probe)


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    except OSError as e:   # name the file asked for, not a parent or the hidden temporary one
        raise OSError(e.errno, f"cannot be written ({e.strerror or e})", str(path)) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp (and some writers that recreate the file) leave 0600; give the result the
        # permissions a plain open() would: 0666 & ~umask
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_csv(path: str | os.PathLike, rows: list[dict], *, fieldnames: list[str] | None = None) -> Path:
    """Write dict ``rows`` as CSV with a header (``fieldnames`` default: the first row's keys)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fieldnames or list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return atomic_write_text(path, buf.getvalue())


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def swap_folder(new: str | os.PathLike, out: str | os.PathLike, *, old: str | os.PathLike | None = None) -> None:
    """Put the finished folder ``new`` in place as ``out``.

    With ``old`` (replacing an existing ``out``), ``out`` is renamed to ``old`` first, put back if
    the second rename fails, and deleted only once ``new`` is in place; without it, ``out`` must
    be absent or an empty folder.
    """
    import shutil

    if old is not None:
        os.rename(out, old)
        try:
            os.rename(new, out)
        except BaseException:
            os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        if os.path.exists(out):
            os.rmdir(out)  # empty (the caller checked)
        os.rename(new, out)
