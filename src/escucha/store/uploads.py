"""The audio of queued jobs, kept in ``<data folder>/uploads/`` until its job is done or has
failed (so that a job survives a restart of the server), then deleted unless the job asked to
keep it. This is the only audio the store ever holds.

A job stores its upload's path relative to the data folder (``uploads/<job id>.wav``), so that
servers which mount a shared data folder at different paths each find it under their own
``--data``. The folder is made ``0700`` and the files ``0600``: recordings are readable by the
server's own user only.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from pathlib import Path

from ..errors import StoreError
from ..utils.io import NO_SPACE, NOT_WRITABLE

__all__ = ["UPLOADS", "DataFolderError", "keep_upload", "remove_upload", "upload_path", "prune_orphans"]

UPLOADS = "uploads"


class DataFolderError(StoreError):
    """The data folder cannot take an upload now: full (``no_space``) or not writable. Worth
    retrying once an operator has made room; the service answers 507 or 503."""

    def __init__(self, message: str, *, no_space: bool):
        super().__init__(message)
        self.no_space = no_space


def _folder_error(e: OSError, folder: Path) -> StoreError:
    if e.errno in NO_SPACE:
        return DataFolderError(f"no space left in the data folder {folder}; free some space (or prune: escucha "
                               "db prune) and retry", no_space=True)
    if e.errno in NOT_WRITABLE:
        return DataFolderError(f"the data folder {folder} is not writable ({os.strerror(e.errno)}); the server "
                               "cannot keep uploads there", no_space=False)
    return DataFolderError(f"cannot keep an upload in the data folder {folder} ({os.strerror(e.errno or 0)})",
                           no_space=False)


def uploads_folder(data: str | os.PathLike) -> Path:
    """``<data>/uploads``, made ``0700`` (and tightened to it, if an older escucha made it open)."""
    folder = Path(data) / UPLOADS
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        try:
            folder.chmod(0o700)
        except OSError:  # not ours to change: leave it as it is
            pass
    return folder


def keep_upload(src: str | os.PathLike, data: str | os.PathLike, job_id: str, name: str) -> str:
    """Move an upload into the data folder as ``uploads/<job id><suffix of name>``, readable by
    this user only; its path relative to ``data`` (what a job stores: :func:`upload_path` finds
    it again). The file is complete under its final name or not there at all (moved, or copied
    then renamed; a partial copy is removed).

    Raises
    ------
    DataFolderError
        The data folder is full or not writable (naming the folder).
    """
    suffix = "".join(c for c in Path(name).suffix.lower()[:8] if c.isalnum() or c == ".")
    folder = Path(data) / UPLOADS
    tmp = folder / f".{job_id}.part"
    try:
        folder = uploads_folder(data)
        dest = folder / f"{job_id}{suffix}"
        os.chmod(src, 0o600)
        try:
            os.replace(src, dest)
        except OSError as e:
            if e.errno != errno.EXDEV:
                raise
            # another file system: copy beside it (0600 from its first byte), then rename
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(fd, "wb") as out, open(src, "rb") as inp:
                shutil.copyfileobj(inp, out, 1 << 20)
            os.replace(tmp, dest)
    except OSError as e:
        remove_upload(tmp)
        raise _folder_error(e, folder.resolve()) from None
    return f"{UPLOADS}/{dest.name}"


def upload_path(stored: str | None, data: str | os.PathLike) -> Path | None:
    """Where this server finds a job's upload: a stored relative path under its own data folder
    ``data``; an absolute one (jobs queued by escucha before 2027) as it is, or, when missing there
    (another server's mount of the shared folder), the same name in ``data/uploads``."""
    if not stored:
        return None
    p = Path(stored)
    if not p.is_absolute():
        return Path(data) / p
    if p.exists():
        return p
    return Path(data) / UPLOADS / p.name


def remove_upload(path: str | os.PathLike | None) -> None:
    if path:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError:
            pass


def prune_orphans(store, data: str | os.PathLike, *, older_than: float = 3600.0) -> int:
    """Delete the uploads no job needs; how many were deleted.

    An upload is named for its job (``<job id>.<suffix>``). It is needed while its job is queued
    or running, and after that when the job asked to keep its audio (``--keep-audio``); the upload
    of a job done or failed without that is deleted at once. An upload no job names (a server
    killed between keeping it and queueing its job, a partial copy, a job pruned since) is deleted
    once older than ``older_than`` seconds (younger ones may be a job being queued now).
    """
    folder = Path(data) / UPLOADS
    if not folder.is_dir():
        return 0
    files = [p for p in folder.iterdir() if p.is_file()]
    jobs = store.upload_jobs([p.name.split(".", 1)[0] for p in files if not p.name.startswith(".")])
    waiting = {Path(p).name for p in store.job_audio_paths()}   # by its stored name too, whatever the mount
    cut, n = time.time() - older_than, 0
    for p in files:
        job = jobs.get(p.name.split(".", 1)[0]) if not p.name.startswith(".") else None
        try:
            if p.name in waiting:
                gone = False
            elif job is not None:
                status, keep = job
                gone = status in ("done", "failed") and not keep
            else:
                gone = p.stat().st_mtime < cut
            if gone:
                p.unlink()
                n += 1
        except OSError:
            pass
    return n
