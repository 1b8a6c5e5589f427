"""The audio of queued jobs, kept in ``<data folder>/uploads/`` until its job is done (so that a
job survives a restart of the server), then deleted unless the job asked to keep it. This is the
only audio the store ever holds."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

__all__ = ["UPLOADS", "keep_upload", "remove_upload", "prune_orphans"]

UPLOADS = "uploads"


def keep_upload(src: str | os.PathLike, data: str | os.PathLike, job_id: str, name: str) -> Path:
    """Move an upload into the data folder as ``uploads/<job id><suffix of name>``; its new path.
    The file is complete under its final name or not there at all (moved, or copied then renamed)."""
    folder = Path(data) / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    suffix = "".join(c for c in Path(name).suffix.lower()[:8] if c.isalnum() or c == ".")
    dest = folder / f"{job_id}{suffix}"
    try:
        os.replace(src, dest)
    except OSError:  # another file system: copy beside it, then rename
        tmp = folder / f".{job_id}.part"
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    return dest


def remove_upload(path: str | os.PathLike | None) -> None:
    if path:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError:
            pass


def prune_orphans(store, data: str | os.PathLike, *, older_than: float = 3600.0) -> int:
    """Delete uploads no queued or running job needs (left by a server killed between keeping an
    upload and queueing its job, or by jobs that failed), older than ``older_than`` seconds; how
    many were deleted."""
    folder = Path(data) / UPLOADS
    if not folder.is_dir():
        return 0
    needed = {os.path.realpath(p) for p in store.job_audio_paths()}
    cut, n = time.time() - older_than, 0
    for p in folder.iterdir():
        try:
            if p.is_file() and os.path.realpath(p) not in needed and p.stat().st_mtime < cut:
                p.unlink()
                n += 1
        except OSError:
            pass
    return n
