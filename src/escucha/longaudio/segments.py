"""What a call is made of: analysis windows, speech segments, and the time each window owns.

Time is attributed to emotions through *tiles* (:func:`segment_tiles`): each window owns the
part of its segment closer to its centre than to its neighbours' centres, and that time goes to
the window's smoothed label. Shares, thirds of the call (:mod:`escucha.longaudio.summary`) and
the timeline plot (:mod:`escucha.longaudio.plot`) all use the tiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Window", "Segment", "segment_tiles", "settle"]


@dataclass(eq=False)
class Window:
    """One analysis window over speech.

    Attributes
    ----------
    start, end : float
        Seconds from the start of the call: the audio the model heard (shorter than the
        window length only when the whole segment is shorter; it is then centre-padded).
    probabilities : np.ndarray, shape ``(K,)``
        Smoothed class probabilities (equal to ``raw`` when smoothing is off).
    raw : np.ndarray, shape ``(K,)``
        The model's probabilities for this window alone.
    """

    start: float
    end: float
    probabilities: np.ndarray
    raw: np.ndarray

    @property
    def center(self) -> float:
        return 0.5 * (self.start + self.end)


@dataclass(eq=False)
class Segment:
    """A stretch of speech on one channel, with its emotion.

    Attributes
    ----------
    channel : str
        Channel name (``"mono"``, ``"left"``/``"right"``, or the names given).
    start, end : float
        Seconds from the start of the call.
    label : str
        Most probable emotion of the segment.
    probabilities : np.ndarray, shape ``(K,)``
        Time-weighted mean of the smoothed window probabilities over the segment.
    labels : tuple of str
        Class names, in the order of ``probabilities``.
    windows : list of Window
    speaker : str or None
        Who speaks (:mod:`escucha.longaudio.attribution`): ``"speaker 1"``, ``"agent"``, a split
        call's channel name; ``None`` when speakers were not asked for.
    overlap : list of str or None
        Other voices heard in the segment (two at once, or too close to call), if any.
    words : list of dict or None
        The transcript (``--transcribe``): ``{"word", "start", "end", "probability"}``.
    uncertain : bool
        The segment's top probability is under the model's ``uncertain_below``
        (:mod:`escucha.inference.priors`): ``label`` is a best guess, not worth acting on.
    """

    channel: str
    start: float
    end: float
    label: str
    probabilities: np.ndarray
    labels: tuple[str, ...]
    windows: list[Window] = field(default_factory=list)
    uncertain: bool = False
    speaker: str | None = None
    overlap: list[str] | None = None
    words: list[dict] | None = None
    text_sentiment: dict | None = None
    band: str | None = None   # the input band its model heard ("wide", "narrow"; not written out)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.labels.index(self.label)])

    def probability_dict(self) -> dict[str, float]:
        return {lab: round(float(p), 4) for lab, p in zip(self.labels, self.probabilities)}

    def to_dict(self) -> dict:
        from ..labels import dimension_scores

        probs = self.probability_dict()
        d = {"channel": self.channel, "start": round(self.start, 3), "end": round(self.end, 3),
             "label": self.label, "confidence": round(self.confidence, 4),
             "probabilities": probs, **dimension_scores(probs), "uncertain": self.uncertain}
        if self.speaker is not None:
            d["speaker"] = self.speaker
        if self.overlap:
            d["overlap"] = list(self.overlap)
        if self.words is not None:
            d["text"] = " ".join(w["word"] for w in self.words)
            d["words"] = self.words
            if self.text_sentiment is not None:
                d["text_sentiment"] = self.text_sentiment
        return d


def segment_tiles(seg: Segment) -> list[tuple[float, float, np.ndarray]]:
    """Split ``seg`` into ``(start, end, probabilities)`` tiles, one per window: each window
    owns the time closer to its centre than to its neighbours' (seconds)."""
    if not seg.windows:
        return [(seg.start, seg.end, seg.probabilities)]
    centers = [w.center for w in seg.windows]
    cuts = [seg.start] + [0.5 * (a + b) for a, b in zip(centers[:-1], centers[1:])] + [seg.end]
    return [(max(seg.start, cuts[i]), min(seg.end, cuts[i + 1]), w.probabilities)
            for i, w in enumerate(seg.windows) if cuts[i + 1] > cuts[i]]


def settle(seg: Segment) -> Segment:
    """Set ``seg``'s probabilities to the time-weighted mean of its windows' (each over the time
    its tile owns) and its label to their top; returns ``seg``."""
    tiles = segment_tiles(seg)
    w = np.array([max(b - a, 0.0) for a, b, _ in tiles])
    probs = np.stack([t[2] for t in tiles])
    seg.probabilities = ((w @ probs) / w.sum() if w.sum() > 0 else probs.mean(axis=0)).astype(np.float32)
    seg.label = seg.labels[int(np.argmax(seg.probabilities))]
    return seg
