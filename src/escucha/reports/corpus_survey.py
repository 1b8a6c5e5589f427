"""The corpus as the explore report reads it: its records and reader warnings, what else the
folder holds (files whose names do not parse, song clips left out), and the clips it shows."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from ..corpora import Utterance, scan_corpus
from ..corpora.manifest import AUDIO_EXTENSIONS, CorpusWarning
from ..corpora.ravdess import parse_ravdess_name
from ..errors import ConfigError, CorpusError
from ..labels import EMOTIONS

__all__ = ["read_corpus", "survey_folder", "resolve_clip", "emotion_examples"]


def survey_folder(root: Path, records: list[Utterance], problems=()) -> dict:
    """The audio files under ``root`` and those the corpus reader left out, whatever the corpus.

    ``{"found": n, "left_out": [(file relative to root, why)], "song": n}``. Why comes from the
    reader's own skip messages (``problems``: :attr:`CorpusWarning.problems`); RAVDESS song clips
    (left out by design: escucha hears speech) are counted in ``song`` instead of listed.
    """
    used = {os.path.realpath(r.path) for r in records}
    why: dict[str, str] = {}   # file name -> the reader's words
    for _reason, message in problems:
        file, _, problem = message.partition(": ")
        why.setdefault(os.path.basename(file), problem or message)
    found, left_out, song = 0, [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if fn.startswith(".") or not fn.lower().endswith(AUDIO_EXTENSIONS):
                continue
            found += 1
            path = os.path.join(dirpath, fn)
            if os.path.realpath(path) in used:
                continue
            try:
                if parse_ravdess_name(fn)["vocal_channel"] != "speech":
                    song += 1
                    continue
            except CorpusError:
                pass
            left_out.append((os.path.relpath(path, root), why.get(fn, "left out by the corpus reader (its warning says why)")))
    return {"found": found, "left_out": left_out, "song": song}


def read_corpus(source: Path) -> tuple[list[Utterance], dict]:
    """The records of ``source`` (folder or manifest), and ``{"warnings": reader warnings, "survey":
    :func:`survey_folder` of a folder, None for a manifest}``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CorpusWarning)
        records = scan_corpus(source)
    found = [w.message for w in caught if issubclass(w.category, CorpusWarning)]
    problems = [pr for m in found for pr in getattr(m, "problems", ())]
    survey = survey_folder(source, records, problems) if source.is_dir() else None
    return records, {"warnings": [str(m) for m in found], "survey": survey}


def resolve_clip(clip: str | os.PathLike | None, records: list[Utterance]) -> Utterance:
    """The clip asked for by ``--clip``: a file path (inside the corpus or not), or the file name or
    stem of one of ``records``; ``None``: the first record."""
    if clip is None:
        return records[0]
    c = str(clip)
    p = Path(c)
    if p.is_file():
        rp = str(p.resolve())
        for r in records:
            if r.path == rp:
                return r
        try:
            f = parse_ravdess_name(p.name)
            emotion, speaker, gender = f["emotion"], f"{f['actor']:02d}", f["gender"]
        except CorpusError:
            emotion, speaker, gender = "", "", ""
        return Utterance(path=rp, corpus="", speaker=speaker, gender=gender, emotion=emotion, duration=0.0,
                         sample_rate=0)
    matches = [r for r in records if r.name == c or Path(r.name).stem == c or r.path.endswith(os.sep + c)]
    if not matches:
        raise ConfigError(f"--clip {c}: no such file, and no clip of the corpus has that name "
                          f"(give a path or a name like {records[0].name})")
    return matches[0]


def emotion_examples(records: list[Utterance]) -> tuple[str, list[Utterance]]:
    """One clip per emotion, all from the speaker who covers the most emotions (first by path)."""
    by_speaker: dict[str, dict[str, Utterance]] = {}
    for r in sorted(records, key=lambda r: r.path):
        by_speaker.setdefault(r.speaker, {}).setdefault(r.emotion, r)
    speaker = max(sorted(by_speaker), key=lambda s: len(by_speaker[s]))
    chosen = by_speaker[speaker]
    order = [e for e in EMOTIONS if e in chosen] + sorted(set(chosen) - set(EMOTIONS))
    return speaker, [chosen[e] for e in order]
