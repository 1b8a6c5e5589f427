"""Per-call summary: talk time, the share of speech time per emotion, and how the first third of
the call compares with the last (computed from the segments' tiles,
:func:`escucha.longaudio.segments.segment_tiles`)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .segments import Segment, segment_tiles

__all__ = ["summarize"]


def _shares(tiles: list[tuple[float, float, int]], labels: Sequence[str], lo: float, hi: float) -> dict:
    t = np.zeros(len(labels))
    for a, b, k in tiles:
        d = min(b, hi) - max(a, lo)
        if d > 0:
            t[k] += d
    total = float(t.sum())
    share = {lab: round(float(v / total), 4) if total > 0 else 0.0 for lab, v in zip(labels, t)}
    return {"speech_seconds": round(total, 3), "emotion_share": share,
            "dominant": labels[int(np.argmax(t))] if total > 0 else None}


def _summary_block(segments: list[Segment], labels: Sequence[str], duration: float) -> dict:
    tiles = [(a, b, int(np.argmax(p))) for s in segments for a, b, p in segment_tiles(s)]
    whole = _shares(tiles, labels, 0.0, max(duration, 0.0))
    first = _shares(tiles, labels, 0.0, duration / 3)
    last = _shares(tiles, labels, 2 * duration / 3, duration)
    both = first["speech_seconds"] > 0 and last["speech_seconds"] > 0
    change = {lab: round(last["emotion_share"][lab] - first["emotion_share"][lab], 4) if both else None
              for lab in labels}
    return {
        "speech_seconds": whole["speech_seconds"],
        "speech_ratio": round(whole["speech_seconds"] / duration, 4) if duration > 0 else 0.0,
        "segments": len(segments),
        "emotion_share": whole["emotion_share"],
        "dominant": whole["dominant"],
        "first_third": first,
        "last_third": last,
        "change": change,
    }


def summarize(segments: Sequence[Segment], *, duration: float, labels: Sequence[str],
              channels: Sequence[str]) -> dict:
    """Per-call summary of ``segments`` over a call of ``duration`` seconds.

    Returns a dict with ``speech_seconds`` (talk time summed over channels), ``speech_ratio``
    (talk time / duration), ``segments``, ``emotion_share`` (share of speech time per emotion,
    summing to 1 when there is speech), ``dominant`` (emotion with the largest share, ``None``
    without speech), ``first_third`` and ``last_third`` (the same shares over the first and last
    third of the call's duration), ``change`` (last-third share minus first-third share per
    emotion; ``None`` when either third has no speech), and ``channels`` (the same per channel).
    """
    segments = list(segments)
    out = {"duration": round(float(duration), 3), **_summary_block(segments, labels, duration)}
    if len(channels) > 1:
        out["channels"] = {ch: _summary_block([s for s in segments if s.channel == ch], labels, duration)
                           for ch in channels}
    return out
