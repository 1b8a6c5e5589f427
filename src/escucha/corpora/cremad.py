"""CREMA-D: Crowd-sourced Emotional Multimodal Actors Dataset (US English, 91 actors, 6 emotions).

7442 clips in ``AudioWAV/``, named ``AAAA_SSS_EEE_LL.wav``: actor ``1001``-``1091``, sentence
code (12 sentences), emotion ``ANG DIS FEA HAP NEU SAD`` and intensity level ``LO MD HI`` or
``XX`` (unspecified). The actors' sex is not in the file name: it comes from the
``VideoDemographics.csv`` the corpus ships (``ActorID,Age,Sex,Race,Ethnicity``), looked for in the
folder, its parent and anywhere below it; without it gender is ``""``. CREMA-D has no calm and
no surprised.

Cao, Cooper, Keutmann, Gur, Nenkova & Verma (2014), IEEE Trans. Affective Computing 5(4),
377-390. Licence: Open Database License (ODbL) v1.0, contents under the Database Contents License.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from pathlib import Path

from ..errors import CorpusError
from .common import SkipLog, check_folder, finish, iter_audio_files, mostly
from .manifest import CorpusWarning, Utterance

__all__ = ["parse_cremad_name", "scan_cremad", "looks_like_cremad", "read_demographics", "CREMAD_EMOTIONS",
           "SENTENCES", "LEVELS", "LABELS"]

CREMAD_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened", "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about", "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold", "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment", "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before", "TSI": "The surface is slick", "WSI": "We'll stop in a couple of minutes",
}
#: The escucha labels CREMA-D has.
LABELS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "disgust")
LAYOUT = "AudioWAV/1001_DFA_ANG_XX.wav: actor_sentence_emotion_level; gender from VideoDemographics.csv"
DEMOGRAPHICS = "VideoDemographics.csv"
_NAME = re.compile(r"^(\d{4})_([A-Za-z]{3})_([A-Za-z]{3})_([A-Za-z]{2})$")


def parse_cremad_name(name: str) -> dict:
    """``"1001_DFA_ANG_XX.wav"`` -> ``{"actor": "1001", "sentence": "Don't forget a jacket",
    "emotion": "angry", "level": "unspecified"}``.

    Raises
    ------
    CorpusError
        If the name is not four fields with a known actor, sentence, emotion and level.
    """
    m = _NAME.match(Path(name).stem)
    if not m:
        raise CorpusError(f"{name}: not a CREMA-D name (expected e.g. 1001_DFA_ANG_XX.wav)")
    actor, sent, emo, lvl = m.group(1), m.group(2).upper(), m.group(3).upper(), m.group(4).upper()
    for what, value, table in (("sentence", sent, SENTENCES), ("emotion", emo, CREMAD_EMOTIONS),
                               ("level", lvl, LEVELS)):
        if value not in table:
            raise CorpusError(f"{name}: {what} code {value} is not one of {' '.join(table)}")
    if not 1001 <= int(actor) <= 1091:
        raise CorpusError(f"{name}: actor {actor} is outside 1001-1091")
    return {"actor": actor, "sentence": SENTENCES[sent], "emotion": CREMAD_EMOTIONS[emo], "level": LEVELS[lvl]}


def looks_like_cremad(root: str | os.PathLike) -> bool:
    """True if most of the first audio files under ``root`` have CREMA-D names."""
    return mostly(root, lambda p: bool(_NAME.match(p.stem)))


def read_demographics(path: str | os.PathLike) -> dict[str, str]:
    """``{actor id: "male" | "female"}`` from CREMA-D's ``VideoDemographics.csv``.

    Raises
    ------
    CorpusError
        If the file cannot be read or lacks the ``ActorID`` and ``Sex`` columns.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            cols = {c.strip().lower(): c for c in reader.fieldnames or []}
            if "actorid" not in cols or "sex" not in cols:
                raise CorpusError(f"{path}: expected columns ActorID and Sex, found {', '.join(reader.fieldnames or [])}")
            out = {}
            for row in reader:
                actor = (row.get(cols["actorid"]) or "").strip()
                sex = (row.get(cols["sex"]) or "").strip().lower()
                if actor:
                    out[actor] = sex if sex in ("male", "female") else ""
            return out
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CorpusError(f"{path}: cannot read the demographics ({getattr(e, 'strerror', None) or e})") from None


def _find_demographics(root: Path) -> Path | None:
    for d in (root, root.parent):
        if (d / DEMOGRAPHICS).is_file():
            return d / DEMOGRAPHICS
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if DEMOGRAPHICS in filenames:
            return Path(dirpath) / DEMOGRAPHICS
    return None


def scan_cremad(root: str | os.PathLike, *, strict: bool = False,
                demographics: str | os.PathLike | None = None) -> list[Utterance]:
    """Label every CREMA-D clip under ``root`` (the corpus folder or its ``AudioWAV/``).

    Parameters
    ----------
    root : path
        Folder to walk recursively.
    strict : bool
        Raise on the first name that does not parse or file that cannot be read (CREMA-D has
        an empty clip in some copies).
    demographics : path, optional
        ``VideoDemographics.csv``; by default looked for next to the clips. Without it, or for
        an actor it does not list, gender is ``""``.
    """
    root = check_folder(root)
    demo_path = Path(demographics) if demographics is not None else _find_demographics(root)
    sexes: dict[str, str] = {}
    if demo_path is not None:
        try:
            sexes = read_demographics(demo_path)
        except CorpusError as e:
            if demographics is not None or strict:
                raise
            warnings.warn(f"{e}; genders left empty", CorpusWarning, stacklevel=2)
    records, n = [], 0
    log = SkipLog(root, strict=strict)
    for path in iter_audio_files(root):
        n += 1
        f = log.parse(parse_cremad_name, path.name, "CREMA-D")
        if f is None:
            continue
        audio = log.audio(path)
        if audio is None:
            continue
        records.append(Utterance(**audio, corpus="crema-d", speaker=f["actor"], gender=sexes.get(f["actor"], ""),
                                 emotion=f["emotion"], intensity=f["level"], statement=f["sentence"]))
    return finish(records, log, n, "CREMA-D")
