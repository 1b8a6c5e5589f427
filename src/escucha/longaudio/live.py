"""Live audio: chunks in as they arrive, segment results out with bounded latency and memory.

>>> live = LiveAnalyzer(model, sample_rate=8000, sample_format="s16le")
>>> for chunk in microphone_chunks():          # bytes or arrays, any length
...     for seg in live.feed(chunk):
...         print(seg.channel, seg.start, seg.end, seg.label)
>>> live.flush()                               # end of stream: the last open segment
>>> live.result().summary

``escucha analyze -`` reads raw PCM from standard input with :func:`analyze_stream`, so that
``arecord -q -t raw -f S16_LE -r 16000 -c 1 | escucha analyze - --rate 16000`` works.
"""

from __future__ import annotations

from typing import BinaryIO, Callable, Sequence

import numpy as np

from ..errors import AudioError, ConfigError
from .analyzer import CallAnalyzer
from .result import CallResult
from .segments import Segment
from .settings import BASELINE_DEFAULT
from .stream import PCM_FORMATS, decode_pcm
from .vad import SileroVAD, VADConfig

__all__ = ["LiveAnalyzer", "analyze_stream"]


class LiveAnalyzer:
    """Analyse audio that arrives in chunks; the same core as :func:`escucha.longaudio.analyze_file`,
    so a file fed in chunks gives the same segments.

    Parameters
    ----------
    predictor : escucha.inference.Predictor
    sample_rate : int
        Hz of the incoming audio.
    channels_in : int
        Interleaved channels in the incoming audio.
    sample_format : {"float32", "s16le", "s32le", "f32le"}
        ``"float32"``: chunks are arrays ``(n,)``/``(n, channels_in)`` in [-1, 1] (integer arrays
        are scaled by their type's range); the others: chunks are raw little-endian bytes.
    **options
        ``window``, ``hop``, ``smooth``, ``channels``, ``channel_names``, ``vad``, ``vad_model``,
        ``speakers``, ``agent_voice``, ``transcribe``, ``baseline`` as for
        :class:`escucha.longaudio.CallAnalyzer` (each segment's speaker, and with ``baseline`` its
        answer, is provisional until :meth:`result`, which clusters and weighs the whole stream).

    Notes
    -----
    Latency: a segment is returned at most ``vad.max_segment + vad.min_silence`` seconds of
    audio after it began (defaults 10 + 0.4 s), plus the time to score it. Memory: the open
    segment's samples plus the results so far (about 100 bytes per second of speech).
    """

    def __init__(self, predictor, *, sample_rate: int, channels_in: int = 1, sample_format: str = "float32",
                 window: float | None = None, hop: float | None = None, smooth: float = 3.0,
                 channels: str = "auto", channel_names: Sequence[str] | str | None = None,
                 vad: VADConfig | None = None, vad_model: SileroVAD | None = None, name: str = "live",
                 speakers="auto", agent_voice=None, transcribe=None, baseline: bool = BASELINE_DEFAULT):
        if sample_format != "float32" and sample_format not in PCM_FORMATS:
            raise ConfigError(f"sample format {sample_format!r} is unknown; choose float32 or one of "
                              f"{', '.join(PCM_FORMATS)}")
        self.sample_format = sample_format
        self.core = CallAnalyzer(predictor, sample_rate=sample_rate, channels_in=channels_in, window=window, hop=hop,
                                 smooth=smooth, channels=channels, channel_names=channel_names, vad=vad,
                                 vad_model=vad_model, name=name, speakers=speakers, agent_voice=agent_voice,
                                 transcribe=transcribe, live=True, baseline=baseline)
        self._leftover = b""
        self._open: set[str] = set()      # channels with a speech_start not yet ended

    @property
    def duration(self) -> float:
        """Seconds of audio received."""
        return self.core.duration

    def feed(self, chunk: bytes | bytearray | memoryview | np.ndarray) -> list[Segment]:
        """Take the next chunk; return the segments that closed (in time order, maybe none)."""
        if isinstance(chunk, (bytes, bytearray, memoryview)):
            if self.sample_format == "float32":
                raise AudioError(f"{self.core.name}: got bytes; pass sample_format='s16le' (or s32le, f32le) "
                                 "to feed raw PCM")
            x, self._leftover = decode_pcm(self._leftover + bytes(chunk), self.sample_format, self.core.channels_in)
        else:
            x = np.asarray(chunk)
            if np.issubdtype(x.dtype, np.integer):
                x = x.astype(np.float32) / float(-np.iinfo(x.dtype).min)
        if len(x) == 0:
            return []
        return self.core.feed(x)

    def flush(self) -> list[Segment]:
        """End of the stream: close the open segment and return what is left."""
        return self.core.finish()

    # -- utterance events ------------------------------------------------------------------------
    def feed_events(self, chunk) -> list[dict]:
        """:meth:`feed`, as events: ``{"event": "speech_start", "channel", "start"}`` when a
        channel starts speaking, ``{"event": "segment", **Segment.to_dict()}`` for each scored
        segment (a long utterance is cut into several), ``{"event": "speech_end", "channel",
        "end"}`` when it stops. Every start is followed by at least one segment and an end."""
        return self._events(self.feed(chunk), final=False)

    def flush_events(self) -> list[dict]:
        """:meth:`flush`, as events (the last segments and the end of every open utterance)."""
        return self._events(self.flush(), final=True)

    def _events(self, segs: list[Segment], *, final: bool) -> list[dict]:
        now = {} if final else self.core.speaking()
        heard_on = [c.name for c in self.core._ch]

        def channel(s: Segment) -> str:
            # utterances are the analysed channel's (what the voice activity detection hears); the
            # end of a mono stream names its segments by speaker, which are not channels
            return s.channel if s.channel in heard_on or len(heard_on) != 1 else heard_on[0]

        last = {channel(s): k for k, s in enumerate(segs)}
        out = []
        for k, s in enumerate(segs):
            ch = channel(s)
            if ch not in self._open:
                out.append({"event": "speech_start", "channel": ch, "start": round(s.start, 3)})
                self._open.add(ch)
            out.append({"event": "segment", **s.to_dict()})
            heard = now.get(ch)
            if last[ch] == k and (heard is None or not heard[1]):   # not a cut: the utterance ended
                out.append({"event": "speech_end", "channel": ch, "end": round(s.end, 3)})
                self._open.discard(ch)
        for ch, (start, _) in now.items():
            if ch not in self._open:
                out.append({"event": "speech_start", "channel": ch, "start": round(start, 3)})
                self._open.add(ch)
        return out

    def result(self, *, name: str | None = None) -> CallResult:
        """Segments and summary of everything received so far."""
        return self.core.result(file=name)


def analyze_stream(stream: BinaryIO, predictor, *, sample_rate: int, sample_format: str = "s16le",
                   channels_in: int = 1, chunk_seconds: float = 0.25,
                   on_segment: Callable[[Segment], None] | None = None, name: str = "stdin",
                   stop_on_interrupt: bool = False, **options) -> CallResult:
    """Analyse raw interleaved PCM read from a binary ``stream`` (e.g. ``sys.stdin.buffer``)
    until end of file; ``on_segment`` is called with each segment as soon as it closes.

    With ``stop_on_interrupt``, Ctrl-C (KeyboardInterrupt) ends the stream like end of file, so
    that a live session still gets its last segment and summary.

    Returns the :class:`CallResult` of the whole stream.
    """
    if sample_format not in PCM_FORMATS:
        raise ConfigError(f"raw sample format {sample_format!r} is not supported; use one of {', '.join(PCM_FORMATS)}")
    live = LiveAnalyzer(predictor, sample_rate=sample_rate, channels_in=channels_in, sample_format=sample_format,
                        name=name, **options)
    width = np.dtype(PCM_FORMATS[sample_format][0]).itemsize * channels_in
    nbytes = max(width, int(chunk_seconds * sample_rate) * width)
    read = getattr(stream, "read1", stream.read)
    try:
        while True:
            data = read(nbytes)
            if not data:
                break
            for seg in live.feed(data):
                if on_segment is not None:
                    on_segment(seg)
    except KeyboardInterrupt:
        if not stop_on_interrupt:
            raise
    if live.duration == 0:
        raise AudioError(f"{name}: no audio received")
    for seg in live.flush():
        if on_segment is not None:
            on_segment(seg)
    return live.result(name=name)
