"""The words of a call's segments (``transcribe=``): :class:`TranscriptQueue` gathers closed
segments and transcribes them together, up to ~28 s at a time with half a second of silence
between them, because Whisper hears 30 s whatever it is given (one 3-s segment at a time would
cost ten times as much); each word goes back to the segment its middle falls in. A live stream
transcribes each segment as it closes."""

from __future__ import annotations

import numpy as np

from .segments import Segment

__all__ = ["TranscriptQueue"]

_CHUNK = 28.0   # seconds of audio per Whisper call
_GAP = 0.5      # seconds of silence between two segments in one call


class TranscriptQueue:
    """Collect segments' audio and fill their ``words`` (see :mod:`escucha.asr`)."""

    def __init__(self, transcriber, *, immediate: bool = False):
        from ..asr import SAMPLE_RATE

        self.transcriber = transcriber
        self.rate = SAMPLE_RATE
        self.immediate = immediate
        self._items: list[tuple[Segment, np.ndarray]] = []
        self._seconds = 0.0

    def add(self, seg: Segment, y: np.ndarray, rate: int) -> None:
        y = np.asarray(y, np.float32)
        if rate != self.rate:
            from ..audio import resample

            y = resample(y, rate, self.rate)
        if self._seconds + len(y) / self.rate + _GAP > _CHUNK:
            self.flush()
        self._items.append((seg, y))
        self._seconds += len(y) / self.rate + _GAP
        if self.immediate:
            self.flush()

    def flush(self) -> None:
        """Transcribe what is gathered."""
        if not self._items:
            return
        from ..asr import text_sentiment

        gap = np.zeros(int(_GAP * self.rate), np.float32)
        parts, starts, pos = [], [], 0
        for _seg, y in self._items:
            starts.append(pos / self.rate)
            parts += [y, gap]
            pos += len(y) + len(gap)
        words = self.transcriber.transcribe(np.concatenate(parts), self.rate)
        ends = [s + len(y) / self.rate for s, (_seg, y) in zip(starts, self._items)]
        per: list[list[dict]] = [[] for _ in self._items]
        for w in words:
            mid = 0.5 * (w["start"] + w["end"])
            k = min(range(len(starts)), key=lambda i: 0.0 if starts[i] <= mid <= ends[i]
                    else min(abs(mid - starts[i]), abs(mid - ends[i])))
            off = self._items[k][0].start - starts[k]
            per[k].append({**w, "start": round(max(w["start"], starts[k]) + off, 3),
                           "end": round(min(w["end"], ends[k]) + off, 3)})
        for (seg, _y), ws in zip(self._items, per):
            seg.words = ws
            seg.text_sentiment = text_sentiment(" ".join(w["word"] for w in ws)) if ws else None
        self._items, self._seconds = [], 0.0
