"""Per-call summary: talk time, the share of speech time per emotion, of high arousal and of
negative speech, and how the first third of the conversation compares with the last (computed
from the segments' tiles, :func:`escucha.longaudio.segments.segment_tiles`).

The thirds divide the conversation, from the first speech to the last, not the recording: a call
that opens with a minute on hold or in a phone menu, or ends in silence, still compares how its
people began with how they ended."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..labels import HIGH_AROUSAL, NEGATIVE
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


def _thirds(span: tuple[float, float]) -> tuple[tuple[float, float], tuple[float, float]]:
    """The first and last third of ``span`` (start, end in seconds)."""
    lo, hi = span
    third = (hi - lo) / 3
    return (lo, lo + third), (hi - third, hi)


def _dimension(tiles: list[tuple[float, float, bool]], duration: float, span: tuple[float, float]) -> dict:
    """Share of speech time where a yes/no dimension holds, over the call and its thirds."""
    def share(lo, hi):
        t = yes = 0.0
        for a, b, v in tiles:
            d = min(b, hi) - max(a, lo)
            if d > 0:
                t += d
                yes += d * v
        return round(yes / t, 4) if t > 0 else None

    (a1, b1), (a3, b3) = _thirds(span)
    whole, first, last = share(0.0, max(duration, 0.0)), share(a1, b1), share(a3, b3)
    return {"share": whole, "first_third": first, "last_third": last,
            "change": round(last - first, 4) if first is not None and last is not None else None}


def _summary_block(segments: list[Segment], labels: Sequence[str], duration: float,
                   span: tuple[float, float]) -> dict:
    raw = [(a, b, np.asarray(p)) for s in segments for a, b, p in segment_tiles(s)]
    tiles = [(a, b, int(np.argmax(p))) for a, b, p in raw]
    whole = _shares(tiles, labels, 0.0, max(duration, 0.0))
    (a1, b1), (a3, b3) = _thirds(span)
    first = _shares(tiles, labels, a1, b1)
    last = _shares(tiles, labels, a3, b3)
    both = first["speech_seconds"] > 0 and last["speech_seconds"] > 0
    change = {lab: round(last["emotion_share"][lab] - first["emotion_share"][lab], 4) if both else None
              for lab in labels}
    # the coarse dimensions: a tile is high-arousal / negative when those emotions' probabilities
    # sum to at least one half (escucha.labels.dimension_scores)
    high = [i for i, lab in enumerate(labels) if lab in HIGH_AROUSAL]
    neg = [i for i, lab in enumerate(labels) if lab in NEGATIVE]

    def holds(p, idx):
        return bool(p[idx].sum() >= 0.5 * p.sum()) if idx and p.sum() > 0 else False

    dims = {"high_arousal": _dimension([(a, b, holds(p, high)) for a, b, p in raw], duration, span),
            "negative": _dimension([(a, b, holds(p, neg)) for a, b, p in raw], duration, span)}
    unsure = sum(s.duration for s in segments if s.uncertain)
    talk = sum(s.duration for s in segments)
    return {
        "speech_seconds": whole["speech_seconds"],
        "speech_ratio": round(whole["speech_seconds"] / duration, 4) if duration > 0 else 0.0,
        "segments": len(segments),
        "emotion_share": whole["emotion_share"],
        "dominant": whole["dominant"],
        "first_third": first,
        "last_third": last,
        "change": change,
        **dims,
        "uncertain_share": round(unsure / talk, 4) if talk > 0 else None,
    }


def summarize(segments: Sequence[Segment], *, duration: float, labels: Sequence[str],
              channels: Sequence[str]) -> dict:
    """Per-call summary of ``segments`` over a call of ``duration`` seconds.

    Returns a dict with ``speech_seconds`` (talk time summed over channels), ``speech_ratio``
    (talk time / duration), ``segments``, ``emotion_share`` (share of speech time per emotion,
    summing to 1 when there is speech), ``dominant`` (emotion with the largest share, ``None``
    without speech), ``first_third`` and ``last_third`` (the same shares over the first and last
    third of the conversation: from the start of the first segment to the end of the last, of any
    channel, so that hold time or silence before and after does not empty a third; the whole
    recording when there is no speech), ``change`` (last-third share minus first-third share per
    emotion; ``None`` when either third has no speech), ``high_arousal`` and ``negative`` (the
    share of speech time whose probabilities put at least half on high-arousal / negative
    emotions, over the call and its first and last thirds, and the change; ``None`` where there
    is no speech, so that an average over calls is not pulled down by silent ones),
    ``uncertain_share`` (the share of speech time in segments the model calls uncertain; ``None``
    without speech), and ``channels`` (the same per channel, e.g. the customer's).
    """
    segments = list(segments)
    span = ((min(s.start for s in segments), max(s.end for s in segments)) if segments
            else (0.0, max(float(duration), 0.0)))
    out = {"duration": round(float(duration), 3), **_summary_block(segments, labels, duration, span)}
    if len(channels) > 1:
        out["channels"] = {ch: _summary_block([s for s in segments if s.channel == ch], labels, duration, span)
                           for ch in channels}
    return out
