"""emotiontts open DB, emotional part: acted Korean speech (15 speakers, 4 emotions).

Conversational Korean sentences recorded in 2017-2018 for expressive speech synthesis (KAIST with
SELVAS AI). The layout, as distributed::

    plain-to-emotional/ema/wav/ema00203.wav       neutral scripts read with an emotion
    emotional-to-emotional/neo/wav/neo00305.wav   emotional scripts

Speakers ``ema emb emf emg emh`` (plain-to-emotional) and ``nea neb nec ned nee nek nel nem nen
neo`` (emotional-to-emotional); the speaker is the folder name, which is also the first three
letters of the file name (a clip whose folder names another speaker is skipped, not guessed). The
five-digit utterance number carries the label: 00001-00100 neutral, 00101-00200 happy,
00201-00300 sad, 00301-00400 angry. The originals are 22.05 kHz WAV; re-encoded copies (e.g. Ogg
Opus) read the same. The corpus gives no gender per speaker, so gender is ``""``; its scripts and
transcripts are not read.

Research use only, no commercial use: emotiontts_open_db, KAIST and SELVAS AI, supported by the
Korean Ministry of Trade, Industry and Energy (project 10080667).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import CorpusError
from .common import SkipLog, check_folder, finish, iter_audio_files, mostly, one_copy_each
from .manifest import Utterance

__all__ = ["parse_korean_name", "scan_korean", "looks_like_korean", "BLOCKS", "SPEAKERS", "LABELS"]

#: The label of each block of 100 utterance numbers, in order (00001-00100 first).
#: Careful: the corpus's own README lists the blocks as neutral, happy, angry, sad, but its
#: transcripts (00201 "hearing that from you really hurts", 00301 "they keep making forced
#: arguments, that's why they are like that") and a model trained on other corpora put sad
#: before angry; following the README swaps the two (see ../shared/data/korean/README.md).
BLOCKS: tuple[str, ...] = ("neutral", "happy", "sad", "angry")
SPEAKERS: dict[str, str] = {**{s: "plain-to-emotional" for s in ("ema", "emb", "emf", "emg", "emh")},
                            **{s: "emotional-to-emotional" for s in ("nea", "neb", "nec", "ned", "nee", "nek", "nel",
                                                                      "nem", "nen", "neo")}}
#: The escucha labels the corpus has.
LABELS: tuple[str, ...] = ("neutral", "happy", "sad", "angry")
LAYOUT = "plain-to-emotional/ema/wav/ema00203.wav: speaker, number (1- neutral, 101- happy, 201- sad, 301- angry)"
_NAME = re.compile(r"^([a-z]{3})(\d{5})$", re.IGNORECASE)


def parse_korean_name(path: str | os.PathLike) -> dict:
    """Parse an emotiontts open DB file path.

    ``"emotional-to-emotional/neo/wav/neo00203.wav"`` -> ``{"speaker": "neo", "set":
    "emotional-to-emotional", "number": 203, "emotion": "sad"}``.

    Raises
    ------
    CorpusError
        If the name is not a known speaker and a five-digit number in 00001-00400, or its
        speaker folder (``<speaker>/wav/``) names another speaker.
    """
    p = Path(path)
    m = _NAME.match(p.stem)
    if not m:
        raise CorpusError(f"{path}: not an emotiontts name (expected e.g. neo00203.wav: speaker, utterance number)")
    spk, num = m.group(1).lower(), int(m.group(2))
    if spk not in SPEAKERS:
        raise CorpusError(f"{path}: speaker {spk} is not an emotiontts speaker ({' '.join(SPEAKERS)})")
    if not 1 <= num <= 100 * len(BLOCKS):
        raise CorpusError(f"{path}: utterance {m.group(2)} is outside 00001-{100 * len(BLOCKS):05d}")
    folder = p.parent.parent.name if p.parent.name.lower() == "wav" else p.parent.name
    if folder.lower() in SPEAKERS and folder.lower() != spk:
        raise CorpusError(f"{path}: the folder {folder} names another speaker than the file name ({spk})")
    return {"speaker": spk, "set": SPEAKERS[spk], "number": num, "emotion": BLOCKS[(num - 1) // 100]}


def looks_like_korean(root: str | os.PathLike) -> bool:
    """True if most of the first audio files under ``root`` have emotiontts names."""
    def ok(p: Path) -> bool:
        try:
            parse_korean_name(p)
        except CorpusError:
            return False
        return True

    return mostly(root, ok)


def scan_korean(root: str | os.PathLike, *, strict: bool = False) -> list[Utterance]:
    """Label every emotiontts clip under ``root`` (the corpus folder, a set or a speaker folder).

    ``statement`` is the five-digit utterance number (``"00203"``). A clip found in several files
    (``X.wav`` beside ``X.ogg``, or a nested second copy) is kept once: the ``.wav`` first.
    """
    root = check_folder(root)
    found: dict[tuple, list] = {}
    n = 0
    log = SkipLog(root, strict=strict)
    for path in iter_audio_files(root):
        n += 1
        f = log.parse(parse_korean_name, path, "emotiontts")
        if f is None:
            continue
        found.setdefault((f["speaker"], f["number"]), []).append((path, f))
    records = [Utterance(**audio, corpus="korean", speaker=f["speaker"], gender="", emotion=f["emotion"],
                         statement=f"{f['number']:05d}")
               for f, audio in one_copy_each(found, log)]
    return finish(records, log, n, "emotiontts")
