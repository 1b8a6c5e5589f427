"""Acoustic cues of a clip (durations, level, pitch) and their measurement over a corpus.

:func:`clip_cues` measures one clip; :func:`compute_cues` measures every clip of a corpus in a
pool of worker processes. Pitch is estimated with ``librosa.pyin`` (probabilistic YIN), which
costs about 0.03 s of CPU per RAVDESS clip (at 16 kHz, quarter-tone resolution), so
``pitch_clips`` can limit it to a subsample stratified by emotion. pYIN is numba code: its
compiled-code cache is escucha's own, warmed before workers start
(:mod:`escucha.utils.numba_cache`), and a worker's death clears it and reads the clips again in
this process. :func:`write_cues_csv` writes the measurements, one row per clip.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from ..audio import load_audio, rms_db, trim_silence
from ..corpora import Utterance
from ..errors import ConfigError, EscuchaError
from ..utils.io import atomic_write_text
from ..utils.progress import progress

__all__ = ["clip_cues", "compute_cues", "write_cues_csv", "CUE_FIELDS", "CUE_SAMPLE_RATE", "PITCH_FMIN",
           "PITCH_FMAX", "PITCH_FRAME", "PITCH_HOP", "PITCH_RESOLUTION"]

#: Hz; every clip is resampled to this rate before trimming, level and pitch.
CUE_SAMPLE_RATE = 16000
#: pYIN search range in Hz (covers low male to high female voices, shouted speech included).
PITCH_FMIN, PITCH_FMAX = 65.0, 600.0
#: pYIN frame and hop in samples at 16 kHz (64 ms frames, 20 ms hop).
PITCH_FRAME, PITCH_HOP = 1024, 320
#: pYIN pitch-bin width in semitones: a quarter tone makes its Viterbi decoding about 5 times
#: faster than librosa's 0.1 default while medians stay within about 1.5 %.
PITCH_RESOLUTION = 0.25
#: The per-clip measurements of :func:`clip_cues`, in the order of ``cues.csv``'s columns.
CUE_FIELDS = ["duration", "trimmed_duration", "level_db", "f0_median", "f0_range_st", "voiced_fraction"]


def clip_cues(path: str, *, trim_db: float = 40.0, pitch: bool = True) -> dict:
    """Durations, level and pitch of one clip.

    Parameters
    ----------
    path : str
        Audio file; decoded, mixed to mono and resampled to :data:`CUE_SAMPLE_RATE`.
    trim_db : float
        Leading and trailing frames quieter than this many dB below the loudest frame are
        trimmed (:func:`escucha.audio.trim_silence`, the rule of ``escucha train --trim-db``).
    pitch : bool
        Estimate F0 with pYIN on the trimmed signal (the slow part).

    Returns
    -------
    dict
        ``duration`` and ``trimmed_duration`` (s), ``level_db`` (RMS of the trimmed signal, dBFS),
        ``f0_median`` (Hz, over voiced frames), ``f0_range_st`` (semitones between the 10th and
        90th percentile of F0), ``voiced_fraction`` (0-1); NaN where not measured. On a file
        that cannot be decoded: ``{"error": message}``.
    """
    try:
        y, sr = load_audio(path, sample_rate=CUE_SAMPLE_RATE)
    except EscuchaError as e:
        return {"error": str(e)}
    yt, _ = trim_silence(y, top_db=trim_db)
    out = {"duration": len(y) / sr, "trimmed_duration": len(yt) / sr,
           "level_db": rms_db(yt) if yt.size else math.nan,
           "f0_median": math.nan, "f0_range_st": math.nan, "voiced_fraction": math.nan}
    if pitch and yt.size >= PITCH_FRAME:
        import librosa

        try:
            f0, voiced, _ = librosa.pyin(yt, fmin=PITCH_FMIN, fmax=PITCH_FMAX, sr=sr,
                                         frame_length=PITCH_FRAME, hop_length=PITCH_HOP,
                                         resolution=PITCH_RESOLUTION)
        except Exception as e:  # pragma: no cover - librosa failure on odd audio
            return {**out, "error": f"{path}: pitch estimation failed ({type(e).__name__}: {e})"}
        v = f0[voiced & np.isfinite(f0)]
        out["voiced_fraction"] = float(np.mean(voiced)) if voiced.size else math.nan
        if v.size:
            out["f0_median"] = float(np.median(v))
        if v.size >= 5:
            lo, hi = np.percentile(v, [10, 90])
            out["f0_range_st"] = float(12 * np.log2(hi / lo))
    return out


def _pitch_subset(records: Sequence[Utterance], n: int | None, *, seed: int = 0) -> set[int]:
    """Indices of at most ``n`` records for pitch, stratified by emotion (all if ``n`` is None)."""
    if n is None or n >= len(records):
        return set(range(len(records)))
    if n <= 0:
        return set()
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        groups.setdefault(r.emotion, []).append(i)
    out: set[int] = set()
    for _, idx in sorted(groups.items()):
        k = max(1, round(n * len(idx) / len(records)))
        out.update(int(i) for i in rng.permutation(idx)[:k])
    return out


def compute_cues(records: Sequence[Utterance], *, trim_db: float = 40.0, pitch_clips: int | None = None,
                 jobs: int | None = None, show_progress: bool = True) -> tuple[list[dict], dict]:
    """Run :func:`clip_cues` on every record, in ``jobs`` worker processes.

    Parameters
    ----------
    pitch_clips : int or None
        Estimate pitch on at most this many clips (stratified by emotion); ``None``: all.
    jobs : int or None
        Worker processes; 1 runs in this process; ``None``: one for fewer than 32 clips (starting
        workers costs seconds), else up to 4, at most the CPU count.

    Returns
    -------
    cues : list of dict, aligned with ``records`` (see :func:`clip_cues`)
    info : dict
        ``seconds`` (wall time), ``jobs``, ``pitch_clips`` (how many got pitch).
    """
    n = len(records)
    with_pitch = _pitch_subset(records, pitch_clips)
    if jobs is None:
        jobs = 1 if n < 32 else min(4, os.cpu_count() or 1)
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    jobs = max(1, min(jobs, n))
    from ..utils import numba_cache

    t0 = time.perf_counter()
    bar = dict(desc="reading audio", total=n, unit="clip", disable=not show_progress or None)
    args = [(r.path, i in with_pitch) for i, r in enumerate(records)]
    # pYIN is numba code: its on-disk cache is escucha's own, warmed once before workers read it
    cache = numba_cache.warm_pitch_cache() if with_pitch and jobs > 1 else numba_cache.use_private_cache()
    cues = None
    if jobs > 1:
        from concurrent.futures.process import BrokenProcessPool

        # spawn, not fork: the caller may hold torch threads, which do not survive a fork.
        ctx = multiprocessing.get_context("spawn")
        try:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as ex:
                chunk = max(1, min(8, n // (jobs * 8)))
                cues = list(progress(ex.map(functools.partial(_cues_star, trim_db=trim_db), args, chunksize=chunk),
                                     **bar))
        except BrokenProcessPool:
            import warnings

            numba_cache.clear_cache(cache)
            warnings.warn(f"a worker process died while reading the clips; the compiled-code cache {cache} was "
                          "cleared and the clips are read again in this process (slower; --jobs 1 does so "
                          "from the start)")
            jobs = 1
    if cues is None:
        cues = [clip_cues(p, trim_db=trim_db, pitch=w) for p, w in progress(args, **bar)]
    info = {"seconds": time.perf_counter() - t0, "jobs": jobs, "pitch_clips": len(with_pitch)}
    return cues, info


def _cues_star(arg: tuple[str, bool], *, trim_db: float) -> dict:
    path, pitch = arg
    return clip_cues(path, trim_db=trim_db, pitch=pitch)


def write_cues_csv(path: Path, records: Sequence[Utterance], cues: Sequence[dict]) -> None:
    """Write ``cues`` (aligned with ``records``) to ``path`` as CSV: path, speaker, gender, emotion,
    :data:`CUE_FIELDS` (4 decimals, empty where not measured) and the error, if any."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "speaker", "gender", "emotion", *CUE_FIELDS, "error"])
    for r, c in zip(records, cues):
        vals = ["" if not np.isfinite(c.get(k, math.nan)) else f"{c[k]:.4f}" for k in CUE_FIELDS]
        w.writerow([r.path, r.speaker, r.gender, r.emotion, *vals, c.get("error", "")])
    atomic_write_text(path, buf.getvalue())
