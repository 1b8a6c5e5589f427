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


def survey_folder(root: Path) -> dict:
    """Audio files under ``root`` whose names do not parse as RAVDESS, and the filtered-out ones."""
    found, unparsed, other_channel = 0, [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if fn.startswith(".") or not fn.lower().endswith(AUDIO_EXTENSIONS):
                continue
            found += 1
            try:
                f = parse_ravdess_name(fn)
            except CorpusError as e:
                unparsed.append((os.path.relpath(os.path.join(dirpath, fn), root), str(e).split(": ", 1)[-1]))
                continue
            if f["vocal_channel"] != "speech":
                other_channel += 1
    return {"found": found, "unparsed": unparsed, "song": other_channel}


def read_corpus(source: Path) -> tuple[list[Utterance], dict]:
    """The records of ``source`` (folder or manifest), and ``{"warnings": reader warnings, "survey":
    :func:`survey_folder` of a folder, None for a manifest}``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CorpusWarning)
        records = scan_corpus(source)
    notes = [str(w.message) for w in caught if issubclass(w.category, CorpusWarning)]
    survey = survey_folder(source) if source.is_dir() else None
    return records, {"warnings": notes, "survey": survey}


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
