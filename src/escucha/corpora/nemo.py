"""nEMO: emotional speech in Polish (9 actors, 6 emotions, 4481 clips).

Each actor read phonetically rich Polish sentences in each emotional state. The clips are
``samples/SPK_emotion_n.wav`` (24 kHz mono; some copies are re-encoded, e.g. to Ogg Opus):
speaker ``SPK`` (``EB0 IC0 KD0 KS0 MK0 MP0 SM0 TP0 WR0``), an emotion word and a running
number, e.g. ``WR0_surprised_64.wav``. The name alone carries the label and the speaker. The
corpus's ``data.tsv`` (tab-separated ``file_id, emotion, raw_text, normalized_text, speaker_id,
gender, age``; ``file_id`` names the ``.wav``, ``speaker_id`` is padded with spaces) adds the
speaker's gender and the transcript: it is looked for in the folder, its parent and anywhere
below it; without it gender and text are ``""``. A clip that ``data.tsv`` gives another speaker
or emotion is skipped, not guessed.

Emotion words map onto escucha's vocabulary: anger -> angry, fear -> fearful, happiness ->
happy, neutral, sadness -> sad, surprised. nEMO has no calm and no disgust.

Iwona Christop (2024), "nEMO: Dataset of Emotional Speech in Polish", Proc. LREC-COLING 2024,
12111-12116. Licence CC BY-NC-SA 4.0.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from pathlib import Path

from ..errors import CorpusError
from .common import SkipLog, check_folder, finish, iter_audio_files, mostly, one_copy_each
from .manifest import CorpusWarning, Utterance

__all__ = ["parse_nemo_name", "scan_nemo", "looks_like_nemo", "read_nemo_metadata", "NEMO_EMOTIONS", "SPEAKERS",
           "LABELS"]

#: Emotion word in the file name -> escucha label.
NEMO_EMOTIONS: dict[str, str] = {"anger": "angry", "fear": "fearful", "happiness": "happy", "neutral": "neutral",
                                 "sadness": "sad", "surprised": "surprised"}
SPEAKERS = ("EB0", "IC0", "KD0", "KS0", "MK0", "MP0", "SM0", "TP0", "WR0")
#: The escucha labels nEMO has.
LABELS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "surprised")
LAYOUT = "samples/WR0_surprised_64.wav: speaker_emotion_n; gender and transcript from data.tsv"
METADATA = "data.tsv"
_NAME = re.compile(r"^([a-z]{2}\d)_(" + "|".join(NEMO_EMOTIONS) + r")_(\d+)$", re.IGNORECASE)
_GENDERS = {"m": "male", "male": "male", "f": "female", "female": "female"}


def parse_nemo_name(name: str | os.PathLike) -> dict:
    """Parse an nEMO file name.

    ``"WR0_surprised_64.ogg"`` -> ``{"speaker": "WR0", "word": "surprised", "emotion":
    "surprised", "number": 64}``.

    Raises
    ------
    CorpusError
        If the name is not ``SPK_emotion_n`` with an nEMO speaker and emotion word.
    """
    m = _NAME.match(Path(name).stem)
    if not m:
        raise CorpusError(f"{name}: not an nEMO name (expected e.g. WR0_surprised_64.wav with an emotion word "
                          f"{', '.join(NEMO_EMOTIONS)})")
    spk, word, num = m.group(1).upper(), m.group(2).lower(), int(m.group(3))
    if spk not in SPEAKERS:
        raise CorpusError(f"{name}: speaker {spk} is not an nEMO speaker ({' '.join(SPEAKERS)})")
    return {"speaker": spk, "word": word, "emotion": NEMO_EMOTIONS[word], "number": num}


def looks_like_nemo(root: str | os.PathLike) -> bool:
    """True if most of the first audio files under ``root`` have nEMO names."""
    def ok(p: Path) -> bool:
        try:
            parse_nemo_name(p.name)
        except CorpusError:
            return False
        return True

    return mostly(root, ok)


def read_nemo_metadata(path: str | os.PathLike) -> dict[str, dict]:
    """``{file stem: {"speaker", "word", "gender", "text"}}`` from nEMO's ``data.tsv``.

    The stem is ``file_id`` without its extension (``"WR0_surprised_64"``), so that a ``.wav``
    and its re-encoded ``.ogg`` find the same row. ``speaker`` is ``speaker_id`` without its
    padding; ``gender`` is ``"male"``, ``"female"`` or ``""``; ``text`` is ``raw_text`` (the
    sentence as written, with case and punctuation), or ``normalized_text`` where that is empty.

    Raises
    ------
    CorpusError
        If the file cannot be read or lacks the ``file_id`` column.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            cols = {c.strip().lower(): c for c in reader.fieldnames or []}
            if "file_id" not in cols:
                raise CorpusError(f"{path}: expected the nEMO columns file_id, emotion, raw_text, normalized_text, "
                                  f"speaker_id, gender, age; found {', '.join(reader.fieldnames or []) or 'none'}")

            def cell(row, name):
                return (row.get(cols[name]) or "").strip() if name in cols else ""

            out = {}
            for row in reader:
                stem = Path(cell(row, "file_id")).stem
                if stem:
                    out[stem] = {"speaker": cell(row, "speaker_id").upper(), "word": cell(row, "emotion").lower(),
                                 "gender": _GENDERS.get(cell(row, "gender").lower(), ""),
                                 "text": cell(row, "raw_text") or cell(row, "normalized_text")}
            return out
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CorpusError(f"{path}: cannot read nEMO's {METADATA} ({getattr(e, 'strerror', None) or e})") from None


def _find_metadata(root: Path) -> Path | None:
    for d in (root, root.parent):
        if (d / METADATA).is_file():
            return d / METADATA
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if METADATA in filenames:
            return Path(dirpath) / METADATA
    return None


def _disagreement(path: Path, f: dict, row: dict | None) -> str | None:
    if row is None:
        return None
    if row["speaker"] and row["speaker"] != f["speaker"]:
        return f"{path}: {METADATA} gives speaker {row['speaker']}, the file name {f['speaker']}"
    if row["word"] and row["word"] != f["word"]:
        return f"{path}: {METADATA} gives emotion {row['word']}, the file name {f['word']}"
    return None


def scan_nemo(root: str | os.PathLike, *, strict: bool = False,
              metadata: str | os.PathLike | None = None) -> list[Utterance]:
    """Label every nEMO clip under ``root`` (the corpus folder or its ``samples/``).

    Parameters
    ----------
    root : path
        Folder to walk recursively.
    strict : bool
        Raise on the first name that does not parse, file that cannot be read, second copy of a
        clip or clip that ``data.tsv`` describes differently.
    metadata : path, optional
        nEMO's ``data.tsv``; by default looked for next to the clips. Without it, or for a clip it
        does not list, gender and text are ``""``.

    A clip found in several files (``X.wav`` beside ``X.ogg``, or a nested second copy of the
    corpus) is kept once: the ``.wav`` (lossless) before the ``.ogg``, the others reported.
    """
    root = check_folder(root)
    meta_path = Path(metadata) if metadata is not None else _find_metadata(root)
    rows: dict[str, dict] = {}
    if meta_path is not None:
        try:
            rows = read_nemo_metadata(meta_path)
        except CorpusError as e:
            if metadata is not None or strict:
                raise
            warnings.warn(f"{e}; genders and transcripts left empty", CorpusWarning, stacklevel=2)
    found: dict[tuple, list] = {}
    n = 0
    log = SkipLog(root, strict=strict)
    for path in iter_audio_files(root):
        n += 1
        f = log.parse(parse_nemo_name, path.name, "nEMO")
        if f is None:
            continue
        row = rows.get(path.stem)
        problem = _disagreement(path, f, row)
        if problem:
            log.bad(problem, f"clips whose name {METADATA} contradicts")
            continue
        f["row"] = row or {}
        found.setdefault((f["speaker"], f["word"], f["number"]), []).append((path, f))
    records = []
    for f, audio in one_copy_each(found, log):
        records.append(Utterance(**audio, corpus="nemo", speaker=f["speaker"], gender=f["row"].get("gender", ""),
                                 emotion=f["emotion"], text=f["row"].get("text", "")))
    return finish(records, log, n, "nEMO")
