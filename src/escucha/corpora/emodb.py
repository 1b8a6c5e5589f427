"""EmoDB: the Berlin Database of Emotional Speech (German, 10 actors, 7 emotions).

File names ``SSTTTEV.wav``: speaker ``SS``, text ``TTT``, emotion letter ``E`` (German initial),
version ``V``. Burkhardt et al. (2005), Proc. Interspeech 2005, 1517-1520.

Emotions map onto escucha's vocabulary: Ärger -> angry, Ekel -> disgust, Angst -> fearful,
Freude -> happy, Trauer -> sad, neutral -> neutral; Langeweile (boredom) has no RAVDESS
counterpart and keeps the label ``boredom``. RAVDESS calm and surprised do not occur in EmoDB.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from ..errors import CorpusError
from .manifest import CorpusWarning, Utterance

__all__ = ["parse_emodb_name", "scan_emodb", "EMODB_EMOTIONS", "looks_like_emodb"]

EMODB_EMOTIONS = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad",
                  "N": "neutral"}
FEMALE = {"08", "09", "13", "14", "16"}
MALE = {"03", "10", "11", "12", "15"}
_NAME = re.compile(r"^(\d\d)([ab]\d\d)([WLEAFTN])([a-z])$")


def parse_emodb_name(name: str) -> dict:
    """``"03a01Fa.wav"`` -> ``{"speaker": "03", "text": "a01", "emotion": "happy", "version": "a",
    "gender": "male"}``. Raises :class:`CorpusError` for other names."""
    m = _NAME.match(Path(name).stem)
    if not m:
        raise CorpusError(f"{name}: not an EmoDB name (expected e.g. 03a01Fa.wav)")
    spk, text, emo, ver = m.groups()
    if spk not in FEMALE | MALE:
        raise CorpusError(f"{name}: speaker {spk} is not an EmoDB speaker")
    return {"speaker": spk, "text": text, "emotion": EMODB_EMOTIONS[emo], "version": ver,
            "gender": "female" if spk in FEMALE else "male"}


def looks_like_emodb(root: str | os.PathLike) -> bool:
    """True if the folder holds EmoDB-named WAV files (checks the first few found)."""
    n = 0
    for _, _, files in os.walk(root):
        for fn in files:
            if fn.lower().endswith(".wav"):
                if not _NAME.match(Path(fn).stem):
                    return False
                n += 1
                if n >= 5:
                    return True
    return n > 0


def scan_emodb(root: str | os.PathLike, *, strict: bool = False) -> list[Utterance]:
    """Label every EmoDB clip under ``root`` (the ``wav/`` folder or its parent)."""
    import soundfile as sf

    root = Path(root)
    if not root.exists():
        raise CorpusError(f"{root}: no such file or folder")
    records, skipped, n = [], [], 0
    for path in sorted(root.rglob("*.wav")):
        n += 1
        try:
            f = parse_emodb_name(path.name)
            info = sf.info(str(path))
        except CorpusError as e:
            if strict:
                raise
            skipped.append(str(e))
            continue
        except Exception as e:
            msg = f"{path}: unreadable audio header ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
            if strict:
                raise CorpusError(msg) from None
            skipped.append(msg)
            continue
        records.append(Utterance(path=str(path.resolve()), corpus="emodb", speaker=f["speaker"], gender=f["gender"],
                                 emotion=f["emotion"], duration=info.frames / info.samplerate,
                                 sample_rate=int(info.samplerate), channels=int(info.channels), frames=int(info.frames),
                                 statement=f["text"], repetition=0))
    if n == 0:
        raise CorpusError(f"{root}: no .wav files found")
    if skipped:
        warnings.warn(f"{root}: skipped {len(skipped)} of {n} files (first: {skipped[0]})", CorpusWarning, stacklevel=2)
    if not records:
        raise CorpusError(f"{root}: none of the {n} files is an EmoDB clip")
    return records
