"""RAVDESS: The Ryerson Audio-Visual Database of Emotional Speech and Song.

File names hold every label: ``MM-VV-EE-II-SS-RR-AA.ext`` with modality, vocal channel,
emotion, intensity, statement, repetition and actor (odd = male, even = female).
Livingstone & Russo (2018), PLoS ONE 13(5): e0196391. Licence CC BY-NC-SA 4.0.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Iterable

from ..errors import CorpusError
from ..labels import EMOTIONS
from .common import SkipLog, check_folder, finish, iter_audio_files, mostly
from .manifest import Utterance, write_manifest

__all__ = ["parse_ravdess_name", "scan_ravdess", "looks_like_ravdess", "prepare_ravdess", "MODALITIES",
           "VOCAL_CHANNELS", "LABELS"]

MODALITIES = {1: "audio-video", 2: "video-only", 3: "audio-only"}
VOCAL_CHANNELS = {1: "speech", 2: "song"}
INTENSITIES = {1: "normal", 2: "strong"}
STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}


def parse_ravdess_name(name: str) -> dict:
    """Parse a RAVDESS file name into readable label fields.

    Parameters
    ----------
    name : str
        File name or path, e.g. ``"03-01-05-02-01-01-12.wav"``.

    Returns
    -------
    dict
        Keys ``modality, vocal_channel, emotion, intensity, statement, repetition, actor, gender``.

    Raises
    ------
    CorpusError
        If the stem is not seven two-digit fields with valid codes.
    """
    stem = Path(name).stem
    parts = stem.split("-")
    if len(parts) != 7 or not all(len(p) == 2 and p.isdigit() for p in parts):
        raise CorpusError(f"{name}: not a RAVDESS name (expected 7 two-digit fields like 03-01-05-02-01-01-12)")
    mo, vc, em, it, st, rp, ac = (int(p) for p in parts)
    checks = [
        ("modality", mo, MODALITIES), ("vocal channel", vc, VOCAL_CHANNELS),
        ("emotion", em, dict(enumerate(EMOTIONS, start=1))), ("intensity", it, INTENSITIES),
        ("statement", st, STATEMENTS), ("repetition", rp, {1: 1, 2: 2}),
    ]
    for field, value, table in checks:
        if value not in table:
            raise CorpusError(f"{name}: {field} code {value:02d} is not one of {sorted(table)}")
    if not 1 <= ac <= 24:
        raise CorpusError(f"{name}: actor {ac:02d} is outside 01-24")
    if em == 1 and it == 2:
        raise CorpusError(f"{name}: neutral has no strong intensity in RAVDESS")
    return {
        "modality": MODALITIES[mo],
        "vocal_channel": VOCAL_CHANNELS[vc],
        "emotion": EMOTIONS[em - 1],
        "intensity": INTENSITIES[it],
        "statement": STATEMENTS[st],
        "repetition": rp,
        "actor": ac,
        "gender": "male" if ac % 2 else "female",
    }


#: The escucha labels RAVDESS has: all eight.
LABELS: tuple[str, ...] = EMOTIONS

LAYOUT = "Actor_01/03-01-05-02-01-01-01.wav or flat; all labels from the seven two-digit codes"


def looks_like_ravdess(root: str | os.PathLike) -> bool:
    """True if most of the first audio files under ``root`` have RAVDESS names."""
    def ok(p: Path) -> bool:
        try:
            parse_ravdess_name(p.name)
        except CorpusError:
            return False
        return True

    return mostly(root, ok)


def scan_ravdess(
    root: str | os.PathLike,
    *,
    strict: bool = False,
    vocal_channels: Iterable[str] | None = ("speech",),
    modalities: Iterable[str] | None = None,
    read_headers: bool = True,
) -> list[Utterance]:
    """Find and label the RAVDESS clips under ``root`` (``Actor_XX/`` folders or flat).

    Parameters
    ----------
    root : path
        Folder to walk recursively; ``.wav``, ``.flac``, ``.ogg`` and ``.mp3`` files are considered.
    strict : bool
        Raise on the first file whose name does not parse or whose header is unreadable,
        instead of skipping it with one summary :class:`CorpusWarning`.
    vocal_channels : iterable of {"speech", "song"} or None
        Keep only these vocal channels (default speech; ``None`` keeps all).
    modalities : iterable of {"audio-only", "audio-video", "video-only"} or None
        Keep only these modalities (``None`` keeps all).
    read_headers : bool
        Read duration and sample rate from each file header (fast: no decoding).

    Returns
    -------
    list of Utterance, sorted by path.
    """
    root = check_folder(root)
    keep_vc = set(vocal_channels) if vocal_channels is not None else None
    keep_mo = set(modalities) if modalities is not None else None
    records: list[Utterance] = []
    log = SkipLog(root, strict=strict)
    n_audio = 0
    for path in iter_audio_files(root):
        n_audio += 1
        f = log.parse(parse_ravdess_name, path.name, "RAVDESS")
        if f is None:
            continue
        if keep_vc is not None and f["vocal_channel"] not in keep_vc:
            continue
        if keep_mo is not None and f["modality"] not in keep_mo:
            continue
        audio = log.audio(path) if read_headers else {"path": str(path.resolve()), "duration": 0.0,
                                                          "sample_rate": 0, "channels": 1, "frames": 0}
        if audio is None:
            continue
        records.append(Utterance(
            **audio, corpus="ravdess", speaker=f"{f['actor']:02d}", gender=f["gender"], emotion=f["emotion"],
            intensity=f["intensity"], statement=f["statement"], repetition=f["repetition"],
            modality=f["modality"], vocal_channel=f["vocal_channel"],
        ))
    return finish(records, log, n_audio, "RAVDESS")


def prepare_ravdess(corpus_dir: str | os.PathLike, output_dir: str | os.PathLike, **kwargs) -> Path:
    """Write ``output_dir/ravdess_manifest.csv`` for ``corpus_dir`` (idempotent) and return its path."""
    records = scan_ravdess(corpus_dir, **kwargs)
    return write_manifest(records, Path(output_dir) / "ravdess_manifest.csv")


def summarize(records: list[Utterance]) -> dict:
    """Counts per emotion, speaker and gender (used by the CLI and reports)."""
    return {
        "clips": len(records),
        "speakers": len({r.speaker for r in records}),
        "emotions": dict(sorted(Counter(r.emotion for r in records).items(), key=lambda kv: EMOTIONS.index(kv[0]) if kv[0] in EMOTIONS else 99)),
        "hours": sum(r.duration for r in records) / 3600,
    }
