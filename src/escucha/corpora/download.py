"""Download a corpus archive with checksum verification and safe extraction.

Nothing here runs unless asked: training and tests never download. The archive is streamed to
``<name>.part`` with a progress bar, its checksum checked, then renamed into place; a mismatch
deletes the partial file and raises :class:`~escucha.errors.CorpusError`.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError
from ..utils.progress import progress

__all__ = ["Resource", "RESOURCES", "download_file", "extract_zip", "download_corpus"]


@dataclass(frozen=True)
class Resource:
    name: str
    url: str
    md5: str
    size: int | None = None
    licence: str = ""


RESOURCES = {
    "ravdess": Resource(
        name="Audio_Speech_Actors_01-24.zip",
        url="https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1",
        md5="bc696df654c87fed845eb13823edef8a",
        licence="CC BY-NC-SA 4.0 (Livingstone & Russo 2018, PLoS ONE 13(5): e0196391)",
    ),
}


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_file(url: str, dest: str | os.PathLike, *, md5: str | None = None, timeout: float = 60.0,
                  show_progress: bool = True) -> Path:
    """Fetch ``url`` to ``dest`` (skipped if ``dest`` exists with the right checksum)."""
    dest = Path(dest)
    if dest.is_file() and md5 and _digest(dest, "md5") == md5:
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CorpusError(f"{dest.parent}: cannot create the download folder ({e.strerror})") from None
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(part, "wb") as out:
            total = int(r.headers.get("Content-Length") or 0) or None
            bar = progress(desc=f"downloading {dest.name}", total=total, unit="B", disable=not show_progress or None,
                           unit_scale=True, unit_divisor=1024)
            for chunk in iter(lambda: r.read(1 << 16), b""):
                out.write(chunk)
                bar.update(len(chunk))
            bar.close()
    except (urllib.error.URLError, OSError, ValueError) as e:
        part.unlink(missing_ok=True)
        raise CorpusError(f"{url}: download failed ({getattr(e, 'reason', e)})") from None
    if md5:
        got = _digest(part, "md5")
        if got != md5:
            part.unlink(missing_ok=True)
            raise CorpusError(f"{url}: checksum mismatch (md5 {got}, expected {md5}); the partial file was removed")
    os.replace(part, dest)
    return dest


def extract_zip(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Extract ``archive`` into ``target``, refusing members that would land outside it."""
    target = Path(target).resolve()
    try:
        with zipfile.ZipFile(archive) as z:
            for m in z.infolist():
                dest = (target / m.filename).resolve()
                if target not in dest.parents and dest != target:
                    raise CorpusError(f"{archive}: member {m.filename!r} would be written outside {target}")
            z.extractall(target)
    except zipfile.BadZipFile as e:
        raise CorpusError(f"{archive}: not a valid zip archive ({e})") from None
    except OSError as e:
        raise CorpusError(f"{target}: cannot extract {archive} there ({e.strerror})") from None
    return target


def download_corpus(name: str, target: str | os.PathLike, *, resource: Resource | None = None,
                    show_progress: bool = True) -> Path:
    """Download and extract a known corpus (``"ravdess"``) into ``target``; returns ``target``."""
    res = resource or RESOURCES.get(name)
    if res is None:
        raise CorpusError(f"unknown corpus {name!r}; known: {', '.join(sorted(RESOURCES))}")
    target = Path(target)
    archive = download_file(res.url, target / res.name, md5=res.md5, show_progress=show_progress)
    extract_zip(archive, target)
    return target
