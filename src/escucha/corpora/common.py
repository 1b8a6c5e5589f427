"""What every corpus reader shares: finding audio files, reading headers, reporting skipped files."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping
from pathlib import Path

from ..errors import CorpusError
from .manifest import AUDIO_EXTENSIONS, CorpusWarning

__all__ = ["iter_audio_files", "sample_audio_files", "mostly", "read_header", "check_folder", "SkipLog", "finish",
           "one_copy_each"]

_EXT_LIST = ", ".join(AUDIO_EXTENSIONS)


def iter_audio_files(root: str | os.PathLike) -> Iterator[Path]:
    """Audio files under ``root`` (extensions :data:`AUDIO_EXTENSIONS`), in sorted order;
    hidden files and folders are left out."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if not fn.startswith(".") and fn.lower().endswith(AUDIO_EXTENSIONS):
                yield Path(dirpath) / fn


def sample_audio_files(root: str | os.PathLike, n: int = 256, *, limit: int = 50_000) -> list[Path]:
    """Up to ``n`` audio files spread evenly over the sorted walk of ``root`` (of at most
    ``limit`` files), so that a sample reaches every part of the tree."""
    found = []
    for p in iter_audio_files(root):
        found.append(p)
        if len(found) >= limit:
            break
    if len(found) <= n:
        return found
    step = len(found) / n
    return [found[int(i * step)] for i in range(n)]


def mostly(root: str | os.PathLike, ok: Callable[[Path], bool], *, fraction: float = 0.9) -> bool:
    """True if ``root`` is a folder and at least ``fraction`` of a sample of its audio files pass
    ``ok`` (or all but one, when at least three do: one stray file in a small folder): a few stray
    files do not hide a corpus's layout, and a folder that holds several corpora is not taken for
    one of them."""
    if not Path(root).is_dir():
        return False
    sample = sample_audio_files(root)
    good = sum(1 for p in sample if ok(p))
    return bool(sample) and (good >= fraction * len(sample) or (good >= 3 and len(sample) - good <= 1))


def read_header(path: Path) -> tuple[int, int, int]:
    """``(sample_rate, frames, channels)`` from the file header, without decoding the audio.

    Raises
    ------
    CorpusError
        If the header cannot be read or the file holds no samples.
    """
    from ..audio import audio_info
    from ..errors import AudioError

    try:
        info = audio_info(path)  # the words predict and analyze use for the same problem
    except AudioError as e:
        raise CorpusError(str(e)) from None
    if info["frames"] <= 0 or info["sample_rate"] <= 0:
        raise CorpusError(f"{path}: audio is empty (0 samples)")
    return info["sample_rate"], info["frames"], info["channels"]


def check_folder(root: str | os.PathLike) -> Path:
    root = Path(root)
    if not root.exists():
        raise CorpusError(f"{root}: no such file or folder")
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder")
    return root


class SkipLog:
    """Files a reader leaves out, grouped by reason, reported as one :class:`CorpusWarning`.

    ``bad`` records a problem (a name that does not parse, an unreadable header) and raises it
    instead when ``strict``; ``note`` records a deliberate skip (EmoDB's boredom, a label the
    user's label map maps to null) that ``strict`` does not turn into an error.
    """

    def __init__(self, root: Path, *, strict: bool = False):
        self.root = root
        self.strict = strict
        self.counts: Counter[str] = Counter()
        self.first: dict[str, str] = {}
        self.problems: list[tuple[str, str]] = []  # (reason, message) of every bad file

    def bad(self, message: str, reason: str) -> None:
        if self.strict:
            raise CorpusError(message)
        self.counts[reason] += 1
        self.first.setdefault(reason, message)
        self.problems.append((reason, message))

    def note(self, reason: str, n: int = 1) -> None:
        self.counts[reason] += n

    def parse(self, parse_name: Callable, arg, what: str) -> dict | None:
        """``parse_name(arg)``, or ``None`` after recording a name that does not parse as ``what``."""
        try:
            return parse_name(arg)
        except CorpusError as e:
            self.bad(str(e), f"names that do not parse as {what}")
            return None

    def audio(self, path: Path) -> dict | None:
        """The :class:`Utterance` fields read from ``path``'s header (its resolved ``path``,
        ``duration``, ``sample_rate``, ``channels``, ``frames``), or ``None`` after recording an
        unreadable or empty file."""
        try:
            sr, frames, channels = read_header(path)
        except CorpusError as e:
            self.bad(str(e), "unreadable or empty files")
            return None
        return {"path": str(path.resolve()), "duration": frames / sr, "sample_rate": sr, "channels": channels,
                "frames": frames}

    def __len__(self) -> int:
        return sum(self.counts.values())

    def first_problem(self) -> str | None:
        return next(iter(self.first.values()), None)

    def summary(self) -> str:
        parts = []
        for reason, n in self.counts.most_common():
            first = self.first.get(reason)
            parts.append(f"{n} {reason}" + (f" (first: {first})" if first else ""))
        return "; ".join(parts)


def one_copy_each(found: Mapping[Hashable, list[tuple[Path, dict]]], log: SkipLog) -> Iterator[tuple[dict, dict]]:
    """One readable file per clip, for corpora that circulate in several formats.

    ``found`` maps a clip's identity (e.g. speaker, emotion, number) to every ``(path, fields)``
    that holds it: a ``.wav`` beside its ``.ogg``, or a second copy of the corpus nested inside
    the first. The copies are tried in the order of :data:`AUDIO_EXTENSIONS` (lossless ``.wav``
    and ``.flac`` before lossy ``.ogg`` and ``.mp3``), then by path; the first whose header reads
    is kept and the others are recorded as second copies (``log.bad``: an error with ``strict``,
    as in SAVEE and TESS), so no clip is counted twice.

    Yields
    ------
    (fields, audio)
        The ``fields`` parsed from the kept file's name and its :meth:`SkipLog.audio` fields.
    """
    for copies in found.values():
        copies = sorted(copies, key=lambda c: (_rank(c[0]), str(c[0])))
        kept = None
        for path, fields in copies:
            if kept is not None:
                log.bad(f"{path}: the same clip as {kept}", "second copies of a clip")
                continue
            audio = log.audio(path)
            if audio is not None:
                kept = path
                yield fields, audio


def _rank(path: Path) -> int:
    suffix = path.suffix.lower()
    return AUDIO_EXTENSIONS.index(suffix) if suffix in AUDIO_EXTENSIONS else len(AUDIO_EXTENSIONS)


def finish(records: list, log: SkipLog, n_audio: int, what: str) -> list:
    """Warn about skipped files, refuse an empty result, and sort the records by path."""
    root = log.root
    if n_audio == 0:
        raise CorpusError(f"{root}: no audio files ({_EXT_LIST}) found")
    if len(log):
        warnings.warn(CorpusWarning(f"{root}: skipped {len(log)} of {n_audio} audio files: {log.summary()}",
                                    log.problems), stacklevel=3)
    if not records:
        first = log.first_problem()
        raise CorpusError(f"{root}: none of the {n_audio} audio files is a usable {what} clip"
                          + (f" (first problem: {first})" if first else
                             f" ({log.summary()})" if len(log) else " after filtering"))
    records.sort(key=lambda r: r.path)
    return records
