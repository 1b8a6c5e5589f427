"""EmoDB: the Berlin Database of Emotional Speech (German, 10 actors, 7 emotions).

File names ``SSTTTEV.wav``: speaker ``SS``, text ``TTT``, emotion letter ``E`` (German initial),
version ``V``. Burkhardt et al. (2005), Proc. Interspeech 2005, 1517-1520.

Emotions map onto escucha's vocabulary: Ärger (W) -> angry, Ekel (E) -> disgust, Angst (A) ->
fearful, Freude (F) -> happy, Trauer (T) -> sad, neutral (N) -> neutral. Langeweile (L, boredom)
has no escucha label: those clips are skipped and counted in the scan's :class:`CorpusWarning`,
never given another label. EmoDB has no calm and no surprised.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import CorpusError
from .common import SkipLog, check_folder, finish, iter_audio_files, mostly
from .manifest import Utterance

__all__ = ["parse_emodb_name", "scan_emodb", "EMODB_EMOTIONS", "looks_like_emodb", "LABELS"]

#: Emotion letter -> escucha label; ``None``: no escucha label (boredom), skipped.
EMODB_EMOTIONS: dict[str, str | None] = {"W": "angry", "L": None, "E": "disgust", "A": "fearful", "F": "happy",
                                          "T": "sad", "N": "neutral"}
#: The escucha labels EmoDB has.
LABELS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "disgust")
LAYOUT = "wav/03a01Fa.wav: speaker, text, emotion letter (German initial), version"
FEMALE = {"08", "09", "13", "14", "16"}
MALE = {"03", "10", "11", "12", "15"}
_NAME = re.compile(r"^(\d\d)([ab]\d\d)([WLEAFTN])([a-z])$")


def parse_emodb_name(name: str) -> dict:
    """Parse an EmoDB file name.

    ``"03a01Fa.wav"`` -> ``{"speaker": "03", "text": "a01", "code": "F", "emotion": "happy",
    "version": "a", "gender": "male"}``. For boredom (``L``) ``emotion`` is ``None``: escucha has
    no such label.

    Raises
    ------
    CorpusError
        For names that are not EmoDB names or name a speaker EmoDB does not have.
    """
    m = _NAME.match(Path(name).stem)
    if not m:
        raise CorpusError(f"{name}: not an EmoDB name (expected e.g. 03a01Fa.wav)")
    spk, text, emo, ver = m.groups()
    if spk not in FEMALE | MALE:
        raise CorpusError(f"{name}: speaker {spk} is not an EmoDB speaker")
    return {"speaker": spk, "text": text, "code": emo, "emotion": EMODB_EMOTIONS[emo], "version": ver,
            "gender": "female" if spk in FEMALE else "male"}


def looks_like_emodb(root: str | os.PathLike) -> bool:
    """True if most of the first audio files under ``root`` have EmoDB names."""
    return mostly(root, lambda p: bool(_NAME.match(p.stem)))


def scan_emodb(root: str | os.PathLike, *, strict: bool = False) -> list[Utterance]:
    """Label every EmoDB clip under ``root`` (the ``wav/`` folder or its parent).

    Boredom clips are left out (counted in the :class:`CorpusWarning`, also with ``strict``);
    ``strict`` makes a name that does not parse or an unreadable file an error.
    """
    root = check_folder(root)
    records, n = [], 0
    log = SkipLog(root, strict=strict)
    for path in iter_audio_files(root):
        n += 1
        f = log.parse(parse_emodb_name, path.name, "EmoDB")
        if f is None:
            continue
        if f["emotion"] is None:
            log.note("boredom (Langeweile) clips, which have no escucha label")
            continue
        audio = log.audio(path)
        if audio is None:
            continue
        records.append(Utterance(**audio, corpus="emodb", speaker=f["speaker"], gender=f["gender"],
                                 emotion=f["emotion"], statement=f["text"], repetition=0))
    return finish(records, log, n, "EmoDB")
