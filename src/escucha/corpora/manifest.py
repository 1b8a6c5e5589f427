"""The manifest: typed utterance records, written to and read from CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterable

from ..errors import CorpusError
from ..utils.io import atomic_write_text

__all__ = ["Utterance", "CorpusWarning", "write_manifest", "read_manifest", "AUDIO_EXTENSIONS"]

#: File extensions the corpus readers accept (libsndfile decodes all four).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


class CorpusWarning(UserWarning):
    """Files were skipped while reading a corpus (the message says how many and why).

    ``problems`` holds ``(reason, message)`` for every file skipped for a problem (a name that
    does not parse, a file that cannot be read), so that a caller can name each one.
    """

    def __init__(self, message: str = "", problems=()):
        super().__init__(message)
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Utterance:
    """One labelled recording.

    Attributes
    ----------
    path : str
        Absolute path of the audio file.
    corpus : str
        Corpus name, e.g. ``"ravdess"``.
    speaker : str
        Speaker id within the corpus (RAVDESS: the two-digit actor number); ids are only unique
        inside one corpus, see :attr:`speaker_key`. ``""`` when the corpus does not say.
    gender : str
        ``"male"``, ``"female"``, or ``""`` when unknown.
    emotion : str
        Emotion label (see :data:`escucha.labels.EMOTIONS`).
    duration : float
        Seconds, read from the file header.
    sample_rate : int
        Hz, read from the file header.
    channels, frames : int
        From the file header.
    intensity, statement, repetition, modality, vocal_channel
        RAVDESS fields, also used where another corpus has the same notion (CREMA-D's intensity
        level and sentence, EmoDB's text code, SAVEE's sentence, TESS's word); empty / 0 otherwise.
    text : str
        What is said, where the corpus gives a transcript per clip (nEMO's ``data.tsv``), for
        measuring word error rates; ``""`` otherwise. Manifests written before this column
        existed read with ``""``.
    """

    path: str
    corpus: str
    speaker: str
    gender: str
    emotion: str
    duration: float
    sample_rate: int
    channels: int = 1
    frames: int = 0
    intensity: str = ""
    statement: str = ""
    repetition: int = 0
    modality: str = ""
    vocal_channel: str = ""
    text: str = ""

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def speaker_key(self) -> str:
        """``"corpus:speaker"``: unique across corpora (RAVDESS and EmoDB both have a speaker ``"03"``)."""
        return f"{self.corpus}:{self.speaker}"


_FIELDS = [f.name for f in fields(Utterance)]
_TYPES = {f.name: f.type for f in fields(Utterance)}


def write_manifest(records: Iterable[Utterance], path: str | os.PathLike) -> Path:
    """Write ``records`` as CSV (one row per utterance, header = field names), atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in records:
        row = dataclasses.asdict(r)
        row["duration"] = f"{r.duration:.4f}"
        writer.writerow(row)
    return atomic_write_text(path, buf.getvalue())


def _convert(name: str, value: str, path: Path, line: int):
    t = _TYPES[name]
    try:
        if t in ("int", int):
            return int(value) if value != "" else 0
        if t in ("float", float):
            return float(value)
    except ValueError:
        raise CorpusError(f"{path}:{line}: column {name!r} has {value!r}, expected a number") from None
    return value


def read_manifest(path: str | os.PathLike) -> list[Utterance]:
    """Read a manifest CSV written by :func:`write_manifest`.

    Relative audio paths are resolved against the manifest's folder.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: manifest not found")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        required = {"path", "speaker", "emotion"}
        missing = required - set(header)
        if missing:
            raise CorpusError(f"{path}: not an escucha manifest (missing columns: {', '.join(sorted(missing))})")
        out = []
        for i, row in enumerate(reader, start=2):
            kw = {k: _convert(k, v, path, i) for k, v in row.items() if k in _TYPES and v is not None}
            kw.setdefault("corpus", "")
            kw.setdefault("gender", "")
            kw.setdefault("duration", 0.0)
            kw.setdefault("sample_rate", 0)
            p = Path(kw["path"])
            if not p.is_absolute():
                kw["path"] = str((path.parent / p).resolve())
            out.append(Utterance(**kw))
    if not out:
        raise CorpusError(f"{path}: manifest has no rows")
    return out
