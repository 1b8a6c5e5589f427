"""TESS: the Toronto Emotional Speech Set (Canadian English, 2 female speakers, 7 emotions).

Two actresses, aged 64 (``OAF``) and 26 (``YAF``), say "Say the word ..." for 200 target words
in seven emotions: 2800 clips, one folder per speaker and emotion::

    OAF_angry/OAF_back_angry.wav
    YAF_pleasant_surprised/YAF_back_ps.wav

File names are ``SPK_word_emotion``. Circulating copies differ in case and spelling of folders
and files (``OAF_Fear``, ``OAF_Pleasant_surprise``, ``YAF_pleasant_surprised``); emotion names
go through :func:`escucha.labels.normalize_label` (``ps`` / "pleasant surprise" -> surprised,
``fear`` -> fearful). The file name is authoritative; a clip whose folder names another speaker
or emotion is skipped, not guessed. TESS has no calm.

Dupuis & Pichora-Fuller (2010), Toronto emotional speech set (TESS), University of Toronto;
licence CC BY-NC-ND 4.0.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..errors import CorpusError
from ..labels import as_label_map, normalize_label
from .common import SkipLog, check_folder, finish, iter_audio_files, mostly
from .manifest import Utterance

__all__ = ["parse_tess_name", "scan_tess", "looks_like_tess", "SPEAKERS", "LABELS"]

SPEAKERS = {"OAF": "older adult female (64)", "YAF": "younger adult female (26)"}
#: The escucha labels TESS has.
LABELS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")
LAYOUT = "OAF_angry/OAF_back_angry.wav, YAF_pleasant_surprised/YAF_back_ps.wav (speaker_word_emotion)"
_FILE = re.compile(r"^(oaf|yaf)_([^_\s]+)[_\s]+(.+)$", re.IGNORECASE)
_FOLDER = re.compile(r"^(oaf|yaf)[_\s]+(.+)$", re.IGNORECASE)


def parse_tess_name(path: str | os.PathLike, *, label_map: Mapping | None = None) -> dict:
    """Parse a TESS file path.

    ``"YAF_pleasant_surprised/YAF_back_ps.wav"`` -> ``{"speaker": "YAF", "word": "back",
    "emotion": "surprised", "gender": "female"}``.

    Raises
    ------
    CorpusError
        If the name is not ``OAF|YAF_word_emotion`` with an emotion escucha knows, or its
        folder (when it is a TESS folder) names another speaker or emotion.
    """
    p = Path(path)
    m = _FILE.match(p.stem)
    if not m:
        raise CorpusError(f"{path}: not a TESS name (expected e.g. OAF_back_angry.wav)")
    spk, word, emo = m.group(1).upper(), m.group(2).lower(), m.group(3)
    try:
        label = normalize_label(emo, label_map)
    except CorpusError:
        raise CorpusError(f"{path}: {emo!r} is not a TESS emotion escucha knows "
                          "(angry, disgust, fear, happy, neutral, ps, sad)") from None
    fm = _FOLDER.match(p.parent.name)
    if fm:
        fspk = fm.group(1).upper()
        try:
            flabel = normalize_label(fm.group(2), label_map)
        except CorpusError:
            flabel = None
        if fspk != spk or (flabel is not None and flabel != label):
            raise CorpusError(f"{path}: the folder {p.parent.name} disagrees with the file name "
                              f"({spk}, {label or emo})")
    return {"speaker": spk, "word": word, "emotion": label, "gender": "female"}


def looks_like_tess(root: str | os.PathLike, *, label_map=None) -> bool:
    """True if most of the first audio files under ``root`` have TESS names."""
    label_map = as_label_map(label_map)

    def ok(p: Path) -> bool:
        try:
            parse_tess_name(p, label_map=label_map)
        except CorpusError:
            return False
        return True

    return mostly(root, ok)


def scan_tess(root: str | os.PathLike, *, strict: bool = False, label_map=None) -> list[Utterance]:
    """Label every TESS clip under ``root``.

    Parameters
    ----------
    root : path
        The folder holding the ``OAF_*`` / ``YAF_*`` folders (or the clips themselves).
    strict : bool
        Raise on the first name that does not parse or file that cannot be read.
    label_map : mapping or path, optional
        Extra emotion names (see :func:`escucha.labels.normalize_label`); ``null`` skips a name.

    A clip found twice (some copies hold the corpus twice, nested) is kept once.
    """
    root = check_folder(root)
    label_map = as_label_map(label_map)
    records, seen, n = [], {}, 0
    log = SkipLog(root, strict=strict)
    for path in iter_audio_files(root):
        n += 1
        f = log.parse(lambda p: parse_tess_name(p, label_map=label_map), path, "TESS")
        if f is None:
            continue
        if not f["emotion"]:
            log.note("clips whose emotion the label map skips")
            continue
        key = (f["speaker"], f["word"], f["emotion"])
        if key in seen:
            log.bad(f"{path}: the same clip as {seen[key]}", "second copies of a clip")
            continue
        audio = log.audio(path)
        if audio is None:
            continue
        seen[key] = path
        records.append(Utterance(**audio, corpus="tess", speaker=f["speaker"], gender="female", emotion=f["emotion"],
                                 statement=f["word"]))
    return finish(records, log, n, "TESS")
