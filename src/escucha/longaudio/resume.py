"""What counts as done when a batch resumes: a result JSON that is strict JSON, complete, every
number finite, its ``.segments.csv`` beside it, made from the same content (BLAKE2b of the file's
bytes) with the same settings."""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path
from typing import Callable

from .inputs import content_digest

__all__ = ["is_complete", "strict_json", "is_done", "already_done"]


def _all_finite(obj) -> bool:
    if isinstance(obj, numbers.Real) and not isinstance(obj, numbers.Integral):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_all_finite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_all_finite(v) for v in obj)
    return True


def is_complete(d) -> bool:
    """A result JSON is complete: every part there, every number finite."""
    return (isinstance(d, dict) and {"file", "source", "settings", "segments", "summary", "channels"} <= set(d)
            and isinstance(d["summary"], dict) and "dominant" in d["summary"] and _all_finite(d))


def strict_json(text: str):
    def bad(const):
        raise ValueError(f"non-finite number {const} in JSON")

    return json.loads(text, parse_constant=bad)


def is_done(json_path: Path, size: int, digest: str | Callable[[], str], settings: dict, *, plot: bool) -> bool:
    """Whether ``json_path`` holds a complete result of this content with these settings.
    ``digest`` may be a callable, so that files of another size are not hashed at all."""
    try:
        d = strict_json(json_path.read_text())
    except (OSError, ValueError):
        return False
    if not is_complete(d) or d["source"].get("size") != size:
        return False
    have = dict(d.get("settings", {}))
    have.pop("channel_names", None)
    if have != settings:
        return False
    name = json_path.name[:-len(".json")]
    if not (json_path.parent / f"{name}.segments.csv").is_file():
        return False
    if plot and not (json_path.parent / f"{name}.timeline.png").is_file():
        return False
    want = digest() if callable(digest) else digest
    return d["source"].get("blake2b") == want


def already_done(json_path: Path, path: Path, settings: dict, *, plot: bool) -> bool:
    """:func:`is_done` for the input ``path``; an input that cannot be read is not done (its worker
    reports why)."""
    try:
        return is_done(json_path, path.stat().st_size, lambda: content_digest(path), settings, plot=plot)
    except OSError:
        return False
