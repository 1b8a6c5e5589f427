"""Download a corpus archive with checksum verification and safe extraction.

Nothing here runs unless asked: training and tests never download. The archive is streamed to
``<name>.part`` with a progress bar, its checksum checked, then renamed into place; a mismatch
deletes the partial file and raises :class:`~escucha.errors.CorpusError`. A checksum is always
required: an empty or missing md5 is an error, never "skip verification".

An archive is untrusted input. :func:`extract_archive` (zip, tar, tar.gz/bz2/xz) checks every
member before writing anything: paths must stay inside the target folder (no absolute paths, no
``..``, no pre-existing link leading out), only regular files and folders are accepted (symbolic
and hard links, devices, FIFOs and sockets are refused), and the total size, the number of
members and the compression ratio are bounded. The sizes are enforced again while writing, so a
header that lies is caught too; on any failure the files this call created are removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..errors import CorpusError
from ..utils.progress import progress

__all__ = ["Resource", "RESOURCES", "download_file", "extract_archive", "extract_zip", "download_corpus",
           "MAX_EXTRACTED_BYTES", "MAX_RATIO", "MAX_MEMBERS"]

GiB = 1 << 30
#: Default limits of :func:`extract_archive`.
MAX_EXTRACTED_BYTES = 10 * GiB
MAX_RATIO = 100.0
MAX_MEMBERS = 100_000
#: Members smaller than this are not ratio-checked one by one (a small text file of repeated
#: lines can legitimately deflate 100x); they still count towards the whole-archive ratio.
RATIO_MIN_BYTES = 1 << 20

_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")

try:  # errors of a corrupt compressed stream (bz2 raises OSError)
    import lzma

    _DECODE_ERRORS: tuple[type[Exception], ...] = (zlib.error, lzma.LZMAError)
except ImportError:  # pragma: no cover - Python built without lzma
    _DECODE_ERRORS = (zlib.error,)


@dataclass(frozen=True)
class Resource:
    """A downloadable corpus archive.

    Attributes
    ----------
    name : str
        File name of the archive in the target folder.
    url : str
        Where to fetch it.
    md5 : str
        Expected md5 (32 hex digits); required.
    size : int or None
        Expected archive size in bytes, if known; a download that grows beyond it is stopped.
    licence : str
        Shown to the user after the download.
    max_extracted : int
        Most bytes the archive may unpack to (about ten times what the corpus needs).
    """

    name: str
    url: str
    md5: str
    size: int | None = None
    licence: str = ""
    max_extracted: int = MAX_EXTRACTED_BYTES


RESOURCES = {
    "ravdess": Resource(
        name="Audio_Speech_Actors_01-24.zip",
        url="https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1",
        md5="bc696df654c87fed845eb13823edef8a",
        licence="CC BY-NC-SA 4.0 (Livingstone & Russo 2018, PLoS ONE 13(5): e0196391)",
        # 1440 WAV clips in a 208 MB zip unpack to well under 1 GB
        max_extracted=5 * GiB,
    ),
}


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _checked_md5(md5: str | None, url: str) -> str:
    if not isinstance(md5, str) or not _MD5.match(md5.strip()):
        raise CorpusError(f"{url}: a checksum is required to download (md5 is {md5!r}; "
                          "expected 32 hexadecimal digits)")
    return md5.strip().lower()


def download_file(url: str, dest: str | os.PathLike, *, md5: str | None = None, timeout: float = 60.0,
                  show_progress: bool = True, max_bytes: int | None = None) -> Path:
    """Fetch ``url`` to ``dest`` and verify its ``md5`` (skipped if ``dest`` exists with the right one).

    Parameters
    ----------
    md5 : str
        Expected md5 of the file, 32 hex digits. Required: ``None`` or ``""`` is an error.
    max_bytes : int, optional
        Stop (and remove the partial file) once the download grows beyond this many bytes.

    Raises
    ------
    CorpusError
        No valid md5, the folder cannot be created, the download fails or is too large, or the
        checksum does not match (the partial file is removed).
    """
    md5 = _checked_md5(md5, url)
    dest = Path(dest)
    if dest.is_file() and _digest(dest, "md5") == md5:
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
            got = 0
            for chunk in iter(lambda: r.read(1 << 16), b""):
                got += len(chunk)
                if max_bytes is not None and got > max_bytes:
                    raise CorpusError(f"{url}: download is larger than the expected {max_bytes} bytes; stopped")
                out.write(chunk)
                bar.update(len(chunk))
            bar.close()
    except CorpusError:
        part.unlink(missing_ok=True)
        raise
    except (urllib.error.URLError, OSError, ValueError) as e:
        part.unlink(missing_ok=True)
        raise CorpusError(f"{url}: download failed ({getattr(e, 'reason', e)})") from None
    got = _digest(part, "md5")
    if got != md5:
        part.unlink(missing_ok=True)
        raise CorpusError(f"{url}: checksum mismatch (md5 {got}, expected {md5}); the partial file was removed")
    os.replace(part, dest)
    return dest


@dataclass(frozen=True)
class _Member:
    """One archive entry: ``kind`` is ``file``, ``dir`` or the name of a refused kind."""

    name: str
    kind: str
    size: int
    packed: int | None  # compressed size (zip); None where the format does not say (tar)
    ref: object


_MODE_KINDS = {stat.S_IFLNK: "symbolic link", stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
               stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket"}


def _zip_members(z: zipfile.ZipFile) -> list[_Member]:
    out = []
    for info in z.infolist():
        fmt = stat.S_IFMT(info.external_attr >> 16)  # Unix mode, 0 when made elsewhere
        if info.flag_bits & 0x1:
            kind = "encrypted file"
        elif info.is_dir() or fmt == stat.S_IFDIR:
            kind = "dir"
        elif fmt in (0, stat.S_IFREG):
            kind = "file"
        else:
            kind = _MODE_KINDS.get(fmt, "special file")
        out.append(_Member(info.filename, kind, info.file_size, info.compress_size, info))
    return out


def _tar_members(t: tarfile.TarFile, limit: int, archive) -> list[_Member]:
    out = []
    for m in t:
        if len(out) >= limit:
            raise CorpusError(f"{archive}: more than {limit} members; refusing to extract")
        if m.isreg():
            kind = "file"
        elif m.isdir():
            kind = "dir"
        elif m.issym():
            kind = "symbolic link"
        elif m.islnk():
            kind = "hard link"
        elif m.ischr() or m.isblk():
            kind = "device"
        elif m.isfifo():
            kind = "FIFO"
        else:
            kind = "special file"
        out.append(_Member(m.name, kind, m.size if m.isreg() else 0, None, m))
    return out


def _check_name(name: str, archive) -> None:
    bad = (not name or "\x00" in name or PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute()
           or bool(PureWindowsPath(name).drive) or name.startswith("\\")
           or ".." in re.split(r"[/\\]", name))
    if bad:
        raise CorpusError(f"{archive}: member {name!r} would be written outside the target folder "
                          "(absolute path or '..'); refusing to extract")


def _plan(members: list[_Member], archive: Path, target: Path, *, max_bytes: int, max_ratio: float,
          max_members: int) -> list[tuple[_Member, Path]]:
    """Check every member before anything is written; returns ``[(member, destination)]``."""
    if len(members) > max_members:
        raise CorpusError(f"{archive}: {len(members)} members, more than the {max_members} accepted")
    total = 0
    plan = []
    real_archive = archive.resolve()
    for m in members:
        _check_name(m.name, archive)
        if m.kind not in ("file", "dir"):
            raise CorpusError(f"{archive}: member {m.name!r} is a {m.kind}; only regular files and folders "
                              "are extracted")
        dest = (target / m.name).resolve()
        if dest != target and target not in dest.parents:
            raise CorpusError(f"{archive}: member {m.name!r} would be written outside {target}")
        if dest == real_archive:
            raise CorpusError(f"{archive}: member {m.name!r} would overwrite the archive itself")
        if m.kind == "file":
            total += m.size
            if total > max_bytes:
                raise CorpusError(f"{archive}: unpacks to more than {max_bytes} bytes (the limit); "
                                  "refusing to extract")
            if m.packed is not None and m.size > RATIO_MIN_BYTES and m.size > max_ratio * max(m.packed, 1):
                raise CorpusError(f"{archive}: member {m.name!r} expands {m.size / max(m.packed, 1):.0f}x "
                                  f"({m.packed} -> {m.size} bytes), more than the {max_ratio:g}x accepted")
        plan.append((m, dest))
    packed = archive.stat().st_size
    if total > RATIO_MIN_BYTES and total > max_ratio * max(packed, 1):
        raise CorpusError(f"{archive}: expands {total / max(packed, 1):.0f}x ({packed} -> {total} bytes), "
                          f"more than the {max_ratio:g}x accepted")
    return plan


def _write(plan, open_member, archive: Path, *, max_bytes: int) -> None:
    """Write the planned members; sizes are enforced on the bytes actually produced."""
    created_files, created_dirs = [], []

    def mkdirs(d: Path):
        missing = []
        while not d.exists():
            missing.append(d)
            d = d.parent
        for p in reversed(missing):
            p.mkdir()
            created_dirs.append(p)

    total = 0
    try:
        for m, dest in plan:
            if m.kind == "dir":
                mkdirs(dest)
                continue
            mkdirs(dest.parent)
            tmp = dest.with_name(f".{dest.name}.part")
            created_files.append(tmp)
            with open_member(m) as src, open(tmp, "wb") as out:
                n = 0
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    n += len(chunk)
                    total += len(chunk)
                    if n > m.size:
                        raise CorpusError(f"{archive}: member {m.name!r} unpacks to more than the {m.size} "
                                          "bytes its header declares; the archive is corrupt or forged")
                    if total > max_bytes:
                        raise CorpusError(f"{archive}: unpacks to more than {max_bytes} bytes (the limit)")
                    out.write(chunk)
            existed = dest.exists()
            os.replace(tmp, dest)
            created_files[-1] = None if existed else dest
    except BaseException:
        for p in created_files:
            if p is not None:
                Path(p).unlink(missing_ok=True)
        for d in reversed(created_dirs):
            try:
                d.rmdir()
            except OSError:
                pass
        raise


def extract_archive(archive: str | os.PathLike, target: str | os.PathLike, *,
                    max_bytes: int = MAX_EXTRACTED_BYTES, max_ratio: float = MAX_RATIO,
                    max_members: int = MAX_MEMBERS) -> Path:
    """Extract a zip or tar archive (``.tar``, ``.tar.gz``, ``.tar.bz2``, ``.tar.xz``) into ``target``.

    Parameters
    ----------
    archive, target : path
        The archive and the folder to extract into (created if needed).
    max_bytes : int
        Most bytes all members together may unpack to.
    max_ratio : float
        Most a member (zip, if over 1 MiB) or the whole archive may expand relative to its
        compressed size.
    max_members : int
        Most entries the archive may hold.

    Returns
    -------
    Path
        ``target``, resolved.

    Raises
    ------
    CorpusError
        A member outside ``target``, a link, device or other special entry, a limit exceeded, a
        corrupt archive, or a target that cannot be written. Nothing this call created is left.
    """
    archive, target = Path(archive), Path(target)
    try:
        target.mkdir(parents=True, exist_ok=True)
        target = target.resolve()
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                members = _zip_members(z)
                plan = _plan(members, archive, target, max_bytes=max_bytes, max_ratio=max_ratio,
                             max_members=max_members)
                _write(plan, lambda m: z.open(m.ref), archive, max_bytes=max_bytes)
        elif archive.is_file() and tarfile.is_tarfile(archive):
            with tarfile.open(archive, "r:*") as t:
                members = _tar_members(t, max_members, archive)
                plan = _plan(members, archive, target, max_bytes=max_bytes, max_ratio=max_ratio,
                             max_members=max_members)
                _write(plan, lambda m: t.extractfile(m.ref), archive, max_bytes=max_bytes)
        elif not archive.is_file():
            raise CorpusError(f"{archive}: archive not found")
        else:
            raise CorpusError(f"{archive}: not a zip or tar archive")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, NotImplementedError, *_DECODE_ERRORS) as e:
        raise CorpusError(f"{archive}: not a valid archive ({e})") from None
    except OSError as e:
        raise CorpusError(f"{target}: cannot extract {archive} there ({e.strerror or e})") from None
    return target


def extract_zip(archive: str | os.PathLike, target: str | os.PathLike, **limits) -> Path:
    """Extract a zip archive safely; see :func:`extract_archive` for the checks and ``limits``."""
    if not zipfile.is_zipfile(archive):
        if not Path(archive).is_file():
            raise CorpusError(f"{archive}: archive not found")
        raise CorpusError(f"{archive}: not a valid zip archive")
    return extract_archive(archive, target, **limits)


def download_corpus(name: str, target: str | os.PathLike, *, resource: Resource | None = None,
                    show_progress: bool = True) -> Path:
    """Download and extract a known corpus (``"ravdess"``) into ``target``; returns ``target``.

    The archive's md5 is always verified and extraction is bounded by ``resource.max_extracted``.
    """
    res = resource or RESOURCES.get(name)
    if res is None:
        raise CorpusError(f"unknown corpus {name!r}; known: {', '.join(sorted(RESOURCES))}")
    target = Path(target)
    archive = download_file(res.url, target / res.name, md5=res.md5, show_progress=show_progress,
                            max_bytes=res.size)
    extract_archive(archive, target, max_bytes=res.max_extracted)
    return target
