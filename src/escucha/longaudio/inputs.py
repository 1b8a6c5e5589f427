"""The input side of a batch: which files under a folder are audio, and what identifies a file's
content (a BLAKE2b hash of its bytes, so that resuming keys on content, not on names or times)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["AUDIO_SUFFIXES", "find_audio_files", "content_digest"]

#: Suffixes searched for in a folder (any format libsndfile decodes).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".au", ".snd", ".aif", ".aiff", ".caf",
                  ".w64", ".rf64")


def find_audio_files(folder: str | os.PathLike, *, exclude: str | os.PathLike | None = None) -> list[Path]:
    """Audio files under ``folder`` (recursive, sorted; symbolic links to folders are not
    followed), leaving out anything under ``exclude``. A dangling or looping symbolic link with
    an audio name is listed, so that the batch reports it instead of passing over it."""
    folder = Path(folder)
    ex = Path(exclude).resolve() if exclude is not None else None
    out = []
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".") and (
                p.is_file() or (p.is_symlink() and not p.exists())):
            real = Path(os.path.realpath(p))  # never raises on a link loop (Path.resolve may)
            if ex is not None and (real == ex or ex in real.parents):
                continue
            out.append(p)
    return out


def content_digest(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """BLAKE2b (128-bit, hex) of a file's bytes, read in ``chunk``-byte pieces (bounded memory)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
