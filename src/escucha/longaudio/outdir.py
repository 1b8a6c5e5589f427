"""A batch's output folder: the marker that says which batch it belongs to, refusing folders that
are not ours, clearing what a killed run left, the lock against two runs at once, and writing one
file's result into it (the rules are in :mod:`escucha.longaudio.batch`)."""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import ConfigError
from ..utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from .inputs import AUDIO_SUFFIXES
from .interrupts import interrupts_deferred
from .resume import strict_json

__all__ = ["MARKER_NAME", "make_marker", "refuse_foreign", "prepare_out_dir", "locked", "write_result",
           "differences_text"]

#: The file that marks a folder as one batch's output (input folder and settings).
MARKER_NAME = "batch.json"
_MARKER_FORMAT = "escucha-batch"
_TABLES = ("summary.csv", "errors.csv")
_LOCK_NAME = ".batch.lock"
_OUTPUT_RE = re.compile(r"(?:" + "|".join(re.escape(s) for s in AUDIO_SUFFIXES) + r")"
                        r"\.(?:json|segments\.csv|timeline\.png)$", re.IGNORECASE)


def _is_output(rel: Path) -> bool:
    """Whether ``rel`` (relative to the output folder) is a name this tool writes."""
    if len(rel.parts) == 1 and rel.name in _TABLES + (MARKER_NAME,):
        return True
    return bool(_OUTPUT_RE.search(rel.name))


def _is_our_temp(rel: Path) -> bool:
    """A temporary file left by an atomic write of one of our outputs (``.<name>.<random>.tmp``)."""
    n = rel.name
    if not (n.startswith(".") and n.endswith(".tmp")):
        return False
    stem = n[1:-len(".tmp")]
    inner = stem.rsplit(".", 1)[0] if "." in stem else ""
    return bool(inner) and _is_output(rel.with_name(inner))


def _visible_files(out: Path) -> Iterator[Path]:
    """Files under ``out`` (relative paths), leaving out hidden files and folders."""
    for root, dirs, files in os.walk(out):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if not f.startswith("."):
                yield Path(root, f).relative_to(out)


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def differences_text(have: dict, want: dict) -> str:
    """``"name old -> new"`` for up to four settings that differ (nested dicts flattened)."""
    a, b = _flat(have), _flat(want)
    diffs = [f"{k} {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return ", ".join(diffs[:4]) + (f" and {len(diffs) - 4} more" if len(diffs) > 4 else "")


def make_marker(folder: Path, settings: dict, channel_names) -> dict:
    if isinstance(channel_names, str):
        channel_names = [s.strip() for s in channel_names.split(",")]
    marker = {"format": _MARKER_FORMAT, "version": 1, "input": str(folder.resolve()),
              "channel_names": list(channel_names) if channel_names is not None else None, "settings": settings}
    return json.loads(json.dumps(marker))  # as it reads back from disk (tuples -> lists), for comparison


def refuse_foreign(out: Path) -> None:
    """Refuse (without writing anything) an output that is not a folder, or a folder holding files
    this tool did not make."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder; give a folder for the results")
    if out.is_dir():
        foreign = next((f for f in _visible_files(out) if not _is_output(f)), None)
        if foreign is not None:
            raise ConfigError(f"{out}: holds files that are not escucha batch results (e.g. {out / foreign}); "
                              "refusing to write there even with --force; choose a new or empty folder")


def prepare_out_dir(out: Path, marker: dict, *, force: bool) -> None:
    """Apply the output-folder rules of :mod:`escucha.longaudio.batch` (with the folder locked); on return
    ``out`` is ours to write and holds the batch marker."""
    refuse_foreign(out)
    files = list(_visible_files(out))
    mp = out / MARKER_NAME
    if files and not force:
        if not mp.is_file():
            raise ConfigError(f"{out}: holds escucha results not made by a batch run (no {MARKER_NAME}); "
                              "pass --force to replace them, or choose a new or empty folder")
        try:
            have = strict_json(mp.read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"{mp}: unreadable ({e}); pass --force to start this folder over") from None
        if not isinstance(have, dict) or have.get("format") != _MARKER_FORMAT:
            raise ConfigError(f"{mp}: not an escucha batch marker; pass --force to start this folder over")
        if have.get("input") != marker["input"]:
            raise ConfigError(f"{out}: holds results of another folder ({have.get('input')}); pass --force to "
                              "replace them, or choose another output folder")
        if have.get("channel_names") != marker["channel_names"] or have.get("settings") != marker["settings"]:
            diff = differences_text({"channel_names": have.get("channel_names"), **(have.get("settings") or {})},
                                {"channel_names": marker["channel_names"], **marker["settings"]})
            raise ConfigError(f"{out}: made with other settings ({diff}); pass --force to analyse everything "
                              "again into it, or choose another output folder")
    for root, dirs, names in os.walk(out):  # temporary files of writes that a killed run left behind
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for n in names:
            rel = Path(root, n).relative_to(out)
            if _is_our_temp(rel):
                (out / rel).unlink(missing_ok=True)
    if force and files:
        for f in files:
            (out / f).unlink(missing_ok=True)
        for root, dirs, names in sorted(os.walk(out), key=lambda t: -len(t[0])):
            if Path(root) != out and not os.listdir(root):
                os.rmdir(root)
    atomic_write_json(mp, marker)


@contextmanager
def locked(out: Path):
    """Hold an exclusive lock on ``out`` (refuse a second run into the same folder)."""
    try:
        import fcntl
    except ImportError:  # no advisory locks here (Windows): go on without
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(f"{out}: another escucha analyze is writing into this folder; wait for it "
                              "or choose another output folder") from None
        yield
    finally:
        os.close(fd)


def write_result(out_dir: Path, name: str, payload: dict) -> None:
    """``<name>.segments.csv`` (and ``.timeline.png``), then ``<name>.json``, each atomically,
    without being interrupted half-way."""
    base = out_dir / name
    with interrupts_deferred():
        atomic_write_text(base.with_name(base.name + ".segments.csv"), payload["csv"])
        if payload.get("png") is not None:
            atomic_write_bytes(base.with_name(base.name + ".timeline.png"), payload["png"])
        atomic_write_json(base.with_name(base.name + ".json"), payload["json"])
