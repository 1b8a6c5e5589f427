"""SAVEE: Surrey Audio-Visual Expressed Emotion (British English, 4 male speakers, 7 emotions).

480 clips: each of DC, JE, JK and KL reads 15 sentences per emotion and 30 neutral ones. Two
layouts circulate, both read here, at any sample rate and in any audio format escucha reads:

- flat, ``ALL/DC_a01.wav``: ``SP_EEnn`` with speaker ``SP``, emotion code ``EE`` and sentence ``nn``;
- Surrey's own, ``AudioData/DC/a01.wav``: the speaker is the folder.

Emotion codes: ``a`` angry, ``d`` disgust, ``f`` fearful, ``h`` happy, ``n`` neutral, ``sa`` sad,
``su`` surprised. SAVEE has no calm. Sentence numbers run 01-15 (neutral 01-30).

Research use only: S. Haq and P.J.B. Jackson (2009), "Speaker-Dependent Audio-Visual Emotion
Recognition", Proc. AVSP 2009, 53-58.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import CorpusError
from .common import SkipLog, check_folder, finish, iter_audio_files, mostly
from .manifest import Utterance

__all__ = ["parse_savee_name", "scan_savee", "looks_like_savee", "SAVEE_EMOTIONS", "SPEAKERS", "LABELS"]

SAVEE_EMOTIONS: dict[str, str] = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral",
                                  "sa": "sad", "su": "surprised"}
SPEAKERS = ("DC", "JE", "JK", "KL")
#: The escucha labels SAVEE has.
LABELS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")
LAYOUT = "ALL/DC_a01.wav (flat) or AudioData/DC/a01.wav (Surrey); codes a d f h n sa su"
_FLAT = re.compile(r"^(dc|je|jk|kl)_(sa|su|a|d|f|h|n)(\d\d)$", re.IGNORECASE)
_SURREY = re.compile(r"^(sa|su|a|d|f|h|n)(\d\d)$", re.IGNORECASE)


def parse_savee_name(path: str | os.PathLike) -> dict:
    """Parse a SAVEE file path in either layout.

    ``"ALL/DC_sa07.wav"`` or ``"AudioData/DC/sa07.wav"`` -> ``{"speaker": "DC", "code": "sa",
    "emotion": "sad", "sentence": 7, "gender": "male"}``.

    Raises
    ------
    CorpusError
        If the name is neither ``SP_EEnn`` nor ``EEnn`` inside a speaker folder, or the sentence
        number is outside 01-15 (neutral 01-30).
    """
    p = Path(path)
    m = _FLAT.match(p.stem)
    if m:
        spk, code, num = m.groups()
    else:
        m = _SURREY.match(p.stem)
        if not m or p.parent.name.upper() not in SPEAKERS:
            raise CorpusError(f"{path}: not a SAVEE name (expected DC_a01.wav, or a01.wav in a folder "
                              f"{'/'.join(SPEAKERS)})")
        spk, (code, num) = p.parent.name, m.groups()
    code, n = code.lower(), int(num)
    top = 30 if code == "n" else 15
    if not 1 <= n <= top:
        raise CorpusError(f"{path}: sentence {num} is outside 01-{top} for SAVEE emotion {code!r}")
    return {"speaker": spk.upper(), "code": code, "emotion": SAVEE_EMOTIONS[code], "sentence": n, "gender": "male"}


def looks_like_savee(root: str | os.PathLike) -> bool:
    """True if most of the first audio files under ``root`` have SAVEE names (either layout)."""
    def ok(p: Path) -> bool:
        try:
            parse_savee_name(p)
        except CorpusError:
            return False
        return True

    return mostly(root, ok)


def scan_savee(root: str | os.PathLike, *, strict: bool = False) -> list[Utterance]:
    """Label every SAVEE clip under ``root`` (flat ``ALL/`` or Surrey ``AudioData/<SP>/``).

    A clip found twice (both layouts under one root) is kept once and the copy reported.
    """
    root = check_folder(root)
    records, seen, n = [], {}, 0
    log = SkipLog(root, strict=strict)
    for path in iter_audio_files(root):
        n += 1
        f = log.parse(parse_savee_name, path, "SAVEE")
        if f is None:
            continue
        key = (f["speaker"], f["code"], f["sentence"])
        if key in seen:
            log.bad(f"{path}: the same clip as {seen[key]}", "second copies of a clip")
            continue
        audio = log.audio(path)
        if audio is None:
            continue
        seen[key] = path
        records.append(Utterance(**audio, corpus="savee", speaker=f["speaker"], gender="male", emotion=f["emotion"],
                                 statement=f"{f['code']}{f['sentence']:02d}"))
    return finish(records, log, n, "SAVEE")
