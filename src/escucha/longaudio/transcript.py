"""The words of a call's segments (``transcribe=``): :class:`TranscriptQueue` gathers closed
segments, up to ~28 s at a time with half a second of silence between them, and hands them to
Whisper in one call, each segment decoded in its own window (faster-whisper's
``clip_timestamps``), so that no word can land in the neighbouring segment; each word goes back to
the segment its middle falls in, its times kept inside it. A live stream transcribes each segment
as it closes."""

from __future__ import annotations

import numpy as np

from .segments import Segment

__all__ = ["TranscriptQueue"]

_CHUNK = 28.0   # seconds of audio per Whisper call
_GAP = 0.5      # seconds of silence between two segments in one call
#: each segment decoded in its own Whisper window (``False``: the gathered segments in one window,
#: as before December 2026: a third of the words landed in a neighbouring segment; see
#: docs/speakers.md, "Transcript accuracy")
PER_SEGMENT = True


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
        ends = [s + len(y) / self.rate for s, (_seg, y) in zip(starts, self._items)]
        clips = list(zip(starts, ends)) if PER_SEGMENT else None
        words = self.transcriber.transcribe(np.concatenate(parts), self.rate, clips=clips)
        per: list[list[dict]] = [[] for _ in self._items]
        for w in words:
            t = 0.5 * (w["start"] + w["end"])
            k = min(range(len(starts)), key=lambda i: 0.0 if starts[i] <= t <= ends[i]
                    else min(abs(t - starts[i]), abs(t - ends[i])))
            off = self._items[k][0].start - starts[k]
            # the word's times, kept inside its segment (Whisper's word times can run into the gap)
            a = min(max(w["start"], starts[k]), ends[k])
            b = min(max(w["end"], a), ends[k])
            per[k].append({**w, "start": round(a + off, 3), "end": round(b + off, 3)})
        for (seg, _y), ws in zip(self._items, per):
            seg.words = ws
            seg.text_sentiment = text_sentiment(" ".join(w["word"] for w in ws)) if ws else None
        self._items, self._seconds = [], 0.0
