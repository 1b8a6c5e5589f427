"""Whole-call analysis: speech segments, emotion windows over them, smoothing, a summary.

One streaming core, :class:`CallAnalyzer`, serves files (:func:`analyze_file`), folders
(:mod:`escucha.longaudio.batch`) and live audio (:mod:`escucha.longaudio.live`)::

    blocks (n, C) at the input rate
      -> mono mix, or each channel on its own (``channels="split"``)
      -> soxr streaming resampler to 16 kHz -> Silero VAD
      -> speech regions as they close
      -> soxr streaming resampler to the model's rate -> sliding buffer of recent samples
      -> windows over each closed region -> Predictor.predict_windows -> smoothing in time

Memory does not grow with the length of the call: the buffer holds at most one open speech
region (cut at ``VADConfig.max_segment``) plus a little padding; only the results (a few
hundred bytes per window) accumulate.

Time is attributed to emotions through *tiles*: each window owns the part of its segment
closer to its centre than to its neighbours' centres, and that time goes to the window's
smoothed label. Shares, thirds of the call and the timeline plot all use the tiles.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .. import __version__
from ..errors import AudioError, ConfigError
from .stream import BlockReader, SampleBuffer, StreamResampler
from .vad import SileroVAD, SpeechSegmenter, VADConfig, VADStream

__all__ = ["Window", "Segment", "CallResult", "CallAnalyzer", "analyze_file", "summarize", "segment_tiles",
           "channel_names_for", "analysis_settings", "CHANNEL_MODES"]

CHANNEL_MODES = ("mono", "split")
_VAD_STEP_FRAMES = 8  # VAD frames scored per step (256 ms at either rate)


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
    """

    channel: str
    start: float
    end: float
    label: str
    probabilities: np.ndarray
    labels: tuple[str, ...]
    windows: list[Window] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.labels.index(self.label)])

    def probability_dict(self) -> dict[str, float]:
        return {lab: round(float(p), 4) for lab, p in zip(self.labels, self.probabilities)}

    def to_dict(self) -> dict:
        return {"channel": self.channel, "start": round(self.start, 3), "end": round(self.end, 3),
                "label": self.label, "confidence": round(self.confidence, 4),
                "probabilities": self.probability_dict()}


def segment_tiles(seg: Segment) -> list[tuple[float, float, np.ndarray]]:
    """Split ``seg`` into ``(start, end, probabilities)`` tiles, one per window: each window
    owns the time closer to its centre than to its neighbours' (seconds)."""
    if not seg.windows:
        return [(seg.start, seg.end, seg.probabilities)]
    centers = [w.center for w in seg.windows]
    cuts = [seg.start] + [0.5 * (a + b) for a, b in zip(centers[:-1], centers[1:])] + [seg.end]
    return [(max(seg.start, cuts[i]), min(seg.end, cuts[i + 1]), w.probabilities)
            for i, w in enumerate(seg.windows) if cuts[i + 1] > cuts[i]]


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


@dataclass
class CallResult:
    """Everything :func:`analyze_file` found in one call (JSON-ready through :meth:`to_dict`)."""

    file: str | None
    duration: float
    sample_rate: int
    channels: list[str]
    channel_mode: str
    labels: list[str]
    segments: list[Segment]
    summary: dict
    settings: dict
    format: str | None = None
    source: dict = field(default_factory=dict)

    @property
    def windows(self) -> list[tuple[str, Window]]:
        return [(s.channel, w) for s in self.segments for w in s.windows]

    @property
    def outcome(self) -> tuple[str | None, str]:
        """``(None, "")`` when speech was found; else ``("too short" | "no speech found", reason)``,
        the outcomes of ``escucha predict`` (:mod:`escucha.inference.gate`)."""
        from ..inference.gate import MIN_SECONDS, NO_SPEECH, TOO_SHORT, too_short_reason

        if self.segments:
            return None, ""
        if self.duration < MIN_SECONDS:
            return TOO_SHORT, too_short_reason(self.duration)
        return NO_SPEECH, f"voice activity detection found no speech in {self.duration:.1f} s"

    def to_dict(self, *, windows: bool = True) -> dict:
        """JSON-ready result; a call without speech also gets ``outcome`` and ``reason``."""
        d = {"file": self.file, "duration": round(self.duration, 3), "sample_rate": self.sample_rate,
             "format": self.format, "source": self.source, "channels": self.channels, "channel_mode": self.channel_mode,
             "labels": self.labels, "settings": self.settings,
             "segments": [s.to_dict() for s in self.segments]}
        if windows:
            d["windows"] = [{"channel": s.channel, "segment": i, "start": round(w.start, 3),
                             "end": round(w.end, 3), "label": self.labels[int(np.argmax(w.probabilities))],
                             "probabilities": {lab: round(float(p), 4) for lab, p in zip(self.labels, w.probabilities)}}
                            for i, s in enumerate(self.segments) for w in s.windows]
        d["summary"] = self.summary
        outcome, reason = self.outcome
        if outcome is not None:
            d["outcome"], d["reason"] = outcome, reason
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(**kw), indent=None)

    def segments_csv(self) -> str:
        """One row per segment: channel, start, end, duration (s), label, confidence, p_<label>."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["channel", "start", "end", "duration", "label", "confidence"] + [f"p_{lab}" for lab in self.labels])
        for s in self.segments:
            w.writerow([s.channel, f"{s.start:.3f}", f"{s.end:.3f}", f"{s.duration:.3f}", s.label,
                        f"{s.confidence:.4f}"] + [f"{p:.4f}" for p in s.probabilities])
        return buf.getvalue()

    def write(self, out_dir: str | os.PathLike, *, name: str | None = None, plot: bool = False) -> dict[str, Path]:
        """Write ``<name>.json`` and ``<name>.segments.csv`` (and ``<name>.timeline.png`` with
        ``plot``) into ``out_dir``, each atomically. ``name`` defaults to the file's name.

        The JSON is written last, so its presence means the file is complete (batch resume).
        """
        from ..utils.io import atomic_write_json, atomic_write_text

        out_dir = Path(out_dir)
        name = name or (Path(self.file).name if self.file else "stdin")
        paths = {"csv": out_dir / f"{name}.segments.csv", "json": out_dir / f"{name}.json"}
        atomic_write_text(paths["csv"], self.segments_csv())
        if plot:
            from .plot import plot_timeline

            paths["plot"] = plot_timeline(self, out_dir / f"{name}.timeline.png")
        atomic_write_json(paths["json"], self.to_dict())
        return paths


def channel_names_for(n_in: int, mode: str, names: Sequence[str] | str | None) -> list[str]:
    """Names of the analysed channels: ``["mono"]`` in mono mode, ``["left", "right"]`` for a
    split stereo call, ``["ch1", ...]`` otherwise, unless ``names`` are given (one per channel;
    a comma-separated string is accepted)."""
    if mode not in CHANNEL_MODES:
        raise ConfigError(f"channels mode {mode!r} is unknown; choose one of {', '.join(CHANNEL_MODES)}")
    n = 1 if mode == "mono" else n_in
    if names is not None:
        if isinstance(names, str):
            names = [s.strip() for s in names.split(",")]
        names = list(names)
        if len(names) != n or any(not s for s in names) or len(set(names)) != len(names):
            raise ConfigError(f"channel names {','.join(names)!r}: need {n} distinct non-empty name(s) for "
                              f"{n} analysed channel(s) ({mode} mode, {n_in} input channel(s))")
        return names
    if n == 1:
        return ["mono"]
    if n == 2:
        return ["left", "right"]
    return [f"ch{i + 1}" for i in range(n)]


def _model_id(predictor) -> str:
    blob = json.dumps(predictor.config, sort_keys=True, default=str).encode()
    return hashlib.blake2b(blob, digest_size=6).hexdigest()


def _model_window(predictor) -> float:
    """Default analysis window in seconds: the model's clip, or 3 s for whole-input models."""
    if predictor.clip_samples is None:
        return DEFAULT_WHOLE_INPUT_WINDOW
    return predictor.clip_samples / predictor.sample_rate


DEFAULT_WHOLE_INPUT_WINDOW = 3.0


def analysis_settings(predictor, *, window: float | None = None, hop: float | None = None, smooth: float = 3.0,
                      channels: str = "mono", vad: VADConfig | None = None) -> dict:
    """The settings that determine a result, as stored in its JSON (without channel names):
    window/hop/smooth in seconds after defaults, channel mode, VAD settings, model identity."""
    clip = _model_window(predictor)
    window = float(window) if window is not None else clip
    return {"window": window, "hop": float(hop) if hop is not None else window / 2, "smooth": float(smooth),
            "channels": channels, "vad": (vad or VADConfig()).to_dict(),
            "model": {"id": _model_id(predictor), "name": predictor.config.get("model", {}).get("name"),
                      "sample_rate": int(predictor.sample_rate), "clip_seconds": clip},
            "escucha_version": __version__}


class _Channel:
    """Per-channel streaming state: segmenter and recent samples at the model's rate."""

    def __init__(self, name: str, config: VADConfig, vad_rate: int):
        self.name = name
        self.segmenter = SpeechSegmenter(config, sample_rate=vad_rate)
        self.buffer = SampleBuffer()


class CallAnalyzer:
    """The streaming core: audio blocks in, finished :class:`Segment` objects out.

    Parameters
    ----------
    predictor : escucha.inference.Predictor
        Any checkpoint: its sample rate, clip length and labels are read from it.
    sample_rate : int
        Hz of the audio that will be fed.
    channels_in : int
        Channels of the audio that will be fed.
    window : float or None
        Seconds per analysis window; ``None``: the model's clip length.
    hop : float or None
        Seconds between window starts (``<= window``); ``None``: half a window.
    smooth : float
        Seconds; each window's probabilities are averaged with those of the windows of the same
        segment whose centres lie within ``smooth / 2`` of its own. ``0`` turns smoothing off.
    channels : {"mono", "split"}
        ``"mono"`` mixes the input down; ``"split"`` analyses each channel as its own speaker.
    channel_names : sequence of str, optional
        One per analysed channel (see :func:`channel_names_for`).
    vad : VADConfig, optional
    vad_model : SileroVAD, optional
        A loaded VAD to share between analyzers.
    name : str
        Used in error messages (the file name).

    Notes
    -----
    Latency: a segment is returned by the :meth:`feed` call that completes it, at most
    ``vad.max_segment + vad.min_silence`` seconds of audio after it began (plus one block).
    """

    def __init__(self, predictor, *, sample_rate: int, channels_in: int = 1, window: float | None = None,
                 hop: float | None = None, smooth: float = 3.0, channels: str = "mono",
                 channel_names: Sequence[str] | str | None = None, vad: VADConfig | None = None,
                 vad_model: SileroVAD | None = None, batch_size: int = 32, name: str = "audio"):
        if int(sample_rate) <= 0:
            raise AudioError(f"{name}: sample rate must be positive, got {sample_rate} Hz")
        if int(channels_in) < 1:
            raise AudioError(f"{name}: need at least one channel, got {channels_in}")
        self.predictor = predictor
        self.labels = tuple(predictor.labels)
        self.name = name
        self.sample_rate = int(sample_rate)
        self.channels_in = int(channels_in)
        self.mode = channels
        self.names = channel_names_for(self.channels_in, channels, channel_names)
        self.window = float(window) if window is not None else _model_window(predictor)
        self.hop = float(hop) if hop is not None else self.window / 2
        if not 0.1 <= self.window <= 60:
            raise ConfigError(f"window must be between 0.1 and 60 seconds, got {self.window}")
        if not 0 < self.hop <= self.window:
            raise ConfigError(f"hop must be > 0 and <= window ({self.window} s), got {self.hop}")
        if smooth < 0:
            raise ConfigError(f"smooth must be >= 0 seconds, got {smooth}")
        self.smooth = float(smooth)
        self.vad_config = vad or VADConfig()
        self.batch_size = batch_size
        self.model_rate = int(predictor.sample_rate)
        self.win_samples = int(round(self.window * self.model_rate))
        self.hop_samples = max(1, int(round(self.hop * self.model_rate)))
        self._vad_model = vad_model or SileroVAD()
        n = len(self.names)
        self.vad_rate = self.vad_config.sample_rate
        self._vad = VADStream(self._vad_model, sample_rate=self.vad_rate, channels=n)
        self._to_vad = StreamResampler(self.sample_rate, self.vad_rate, n)
        self._to_model = None if self.model_rate == self.vad_rate else StreamResampler(self.sample_rate, self.model_rate, n)
        self._ch = [_Channel(nm, self.vad_config, self.vad_rate) for nm in self.names]
        self.samples_in = 0
        self.segments: list[Segment] = []
        self.finished = False

    # -- settings -------------------------------------------------------------------------------
    @property
    def settings(self) -> dict:
        """What determines the result (stored in every JSON, compared when a batch resumes)."""
        return {**analysis_settings(self.predictor, window=self.window, hop=self.hop, smooth=self.smooth,
                                    channels=self.mode, vad=self.vad_config), "channel_names": self.names}

    @property
    def duration(self) -> float:
        """Seconds fed so far."""
        return self.samples_in / self.sample_rate

    @property
    def buffered_samples(self) -> int:
        """Largest number of model-rate samples any channel buffer has held (memory check)."""
        return max(c.buffer.peak for c in self._ch)

    def speaking(self) -> dict[str, tuple[float, bool]]:
        """Channels on which speech is being heard now: ``{name: (start seconds, continued)}``,
        ``continued`` when the open stretch goes on from a segment cut at ``max_segment``. A
        channel is listed once its speech is long enough to become a segment."""
        out = {}
        for c in self._ch:
            r = c.segmenter.open_region()
            if r is not None:
                out[c.name] = (r[0] / self.vad_rate, r[1])
        return out

    # -- streaming --------------------------------------------------------------------------------
    def feed(self, block: np.ndarray) -> list[Segment]:
        """Analyse the next audio: ``(n,)`` or ``(n, channels_in)`` float samples in [-1, 1].

        Returns the segments that closed during this block (possibly none), in time order.
        """
        if self.finished:
            raise ConfigError(f"{self.name}: analyzer already finished; create a new one")
        x = np.asarray(block, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.channels_in:
            raise AudioError(f"{self.name}: expected blocks of shape (n, {self.channels_in}), got {np.shape(block)}")
        finite = np.isfinite(x).all(axis=1)
        if not finite.all():
            from ..audio.io import nonfinite_error

            raise nonfinite_error(self.name, self.samples_in + int(np.argmax(~finite)), self.sample_rate)
        self.samples_in += len(x)
        if self.mode == "mono" and self.channels_in > 1:
            x = x.mean(axis=1, keepdims=True)
        out = self._process(x, last=False)
        self.segments += out
        return out

    def finish(self) -> list[Segment]:
        """End of audio: flush resamplers and the VAD, close the open region; returns the last
        segments. Further :meth:`feed` calls are refused."""
        if self.finished:
            return []
        out = self._process(np.zeros((0, len(self._ch)), np.float32), last=True)
        total = int(round(self.samples_in * self.vad_rate / self.sample_rate))
        probs = self._vad.flush()
        for k, c in enumerate(self._ch):
            regions = [(a, min(b, total)) for a, b in c.segmenter.push(probs[:, k]) + c.segmenter.finish(total)]
            out += [self._analyse(c, r) for r in regions if r[1] > r[0]]
        self.finished = True
        out.sort(key=lambda s: (s.start, s.channel))
        self.segments += out
        return out

    def _process(self, x: np.ndarray, *, last: bool) -> list[Segment]:
        xv = self._to_vad.process(x, last=last)
        xm = xv if self._to_model is None else self._to_model.process(x, last=last)
        # a float file may hold samples far beyond full scale: the VAD hears them clipped (clipped
        # speech is still speech), the model windows are loudness-normalised as they are
        xv = np.clip(xv, -1.0, 1.0)
        for k, c in enumerate(self._ch):
            c.buffer.append(xm[:, k])
        out = []
        # VAD in steps of a few frames, at fixed positions in the stream (so that any chunking of
        # the input gives the same result), resetting a channel's state soon after a region closes
        pos = 0
        while pos < len(xv):
            target = (self._vad.frames_done // _VAD_STEP_FRAMES + 1) * _VAD_STEP_FRAMES
            piece = xv[pos:pos + self._vad.samples_until(target)]
            pos += len(piece)
            probs = self._vad.process(piece)
            for k, c in enumerate(self._ch):
                for r in c.segmenter.push(probs[:, k]):
                    out.append(self._analyse(c, r))
                if c.segmenter.needs_reset:
                    self._vad.reset(k)
                    c.segmenter.was_reset()
        for c in self._ch:
            keep = int(c.segmenter.earliest_needed() * self.model_rate // self.vad_rate) - 1
            c.buffer.discard_before(keep)
        out.sort(key=lambda s: (s.start, s.channel))
        return out

    # -- emotion ------------------------------------------------------------------------------------
    def _spans(self, n: int) -> list[tuple[int, int]]:
        if n <= self.win_samples:
            return [(0, n)]
        starts = list(range(0, n - self.win_samples + 1, self.hop_samples))
        if starts[-1] != n - self.win_samples:
            starts.append(n - self.win_samples)
        return [(s, s + self.win_samples) for s in starts]

    def _prepare(self, y: np.ndarray) -> np.ndarray:
        from ..data.waveforms import preprocess

        try:
            y = preprocess(y, self.model_rate, self.predictor.preprocess_config, name=self.name)
        except AudioError:
            pass  # e.g. trimming left nothing: keep the window as heard
        clip = self.predictor.clip_samples
        if clip is None:  # whole-input model (e.g. eGeMAPS functionals): give it the window as heard
            return y
        if len(y) == clip:
            return y
        out = np.zeros(clip, np.float32)
        if len(y) < clip:
            off = (clip - len(y)) // 2
            out[off:off + len(y)] = y
        else:  # window longer than the model's clip: centre crop
            off = (len(y) - clip) // 2
            out[:] = y[off:off + clip]
        return out

    def _analyse(self, c: _Channel, region: tuple[int, int]) -> Segment:
        sv, ev = region
        a = int(round(sv * self.model_rate / self.vad_rate))
        b = int(round(ev * self.model_rate / self.vad_rate))
        y = c.buffer.get(a, b)
        a = max(a, c.buffer.start)
        spans = self._spans(len(y))
        if len(y):
            wins = [self._prepare(y[p:q]) for p, q in spans]
            if self.predictor.clip_samples is None:
                raw = self.predictor.predict_proba_waveforms(wins, batch_size=self.batch_size)
            else:
                raw = self.predictor.predict_windows(np.stack(wins), batch_size=self.batch_size)
        else:
            raw = np.full((1, len(self.labels)), 1.0 / len(self.labels), np.float32)
            spans = [(0, 0)]
        sr = self.model_rate
        starts = np.array([(a + p) / sr for p, _ in spans])
        ends = np.array([(a + q) / sr for _, q in spans])
        centers = 0.5 * (starts + ends)
        if self.smooth > 0 and len(spans) > 1:
            near = np.abs(centers[:, None] - centers[None, :]) <= self.smooth / 2 + 1e-9
            smoothed = (near @ raw) / near.sum(axis=1, keepdims=True)
        else:
            smoothed = raw
        windows = [Window(float(starts[i]), float(ends[i]), smoothed[i].astype(np.float32), raw[i].astype(np.float32))
                   for i in range(len(spans))]
        seg = Segment(c.name, sv / self.vad_rate, ev / self.vad_rate, "", smoothed[0], self.labels, windows)
        tiles = segment_tiles(seg)
        w = np.array([max(q - p, 0.0) for p, q, _ in tiles])
        probs = np.stack([t[2] for t in tiles])
        seg.probabilities = ((w @ probs) / w.sum() if w.sum() > 0 else probs.mean(axis=0)).astype(np.float32)
        seg.label = self.labels[int(np.argmax(seg.probabilities))]
        return seg

    # -- result ------------------------------------------------------------------------------------
    def result(self, *, file: str | None = None, format: str | None = None) -> CallResult:
        """The segments so far and their summary (call :meth:`finish` first for a complete call)."""
        segs = sorted(self.segments, key=lambda s: (s.start, s.channel))
        return CallResult(file=file, duration=self.duration, sample_rate=self.sample_rate, channels=list(self.names),
                          channel_mode=self.mode, labels=list(self.labels), segments=segs,
                          summary=summarize(segs, duration=self.duration, labels=self.labels, channels=self.names),
                          settings=self.settings, format=format)


def analyze_file(path: str | os.PathLike, predictor, *, window: float | None = None, hop: float | None = None,
                 smooth: float = 3.0, channels: str = "mono", channel_names: Sequence[str] | str | None = None,
                 vad: VADConfig | None = None, vad_model: SileroVAD | None = None, block_seconds: float = 10.0,
                 on_progress: Callable[[float], None] | None = None) -> CallResult:
    """Analyse one recording of any length in bounded memory.

    Parameters
    ----------
    path : path
        Any format libsndfile decodes: WAV (PCM, mu-law, A-law), FLAC, OGG, MP3, ...; any rate
        (8 kHz telephone audio included), mono or multi-channel.
    predictor : escucha.inference.Predictor
        From :func:`escucha.load_model`.
    window, hop, smooth, channels, channel_names, vad, vad_model
        See :class:`CallAnalyzer`.
    block_seconds : float
        Seconds decoded per read (memory is proportional to this, not to the call's length).
    on_progress : callable, optional
        Called with the seconds of audio decoded after each block.

    Returns
    -------
    CallResult
        Segments (``start``/``end`` in seconds, ``channel``, ``label``, ``probabilities``),
        windows and the summary (see :func:`summarize`).

    Raises
    ------
    AudioError
        The file is missing, not decodable, empty or contains non-finite samples.
    ConfigError
        An option is out of range (the message names it).
    """
    path = Path(path)
    if block_seconds <= 0:
        raise ConfigError(f"block_seconds must be > 0, got {block_seconds}")
    with BlockReader(path) as reader:
        sr, fmt = reader.sample_rate, reader.format
        if sr <= 0:
            raise AudioError(f"{path}: header gives a sample rate of {sr} Hz")
        reader.block_frames = max(1, int(block_seconds * sr))
        analyzer = CallAnalyzer(predictor, sample_rate=sr, channels_in=reader.channels, window=window, hop=hop,
                                smooth=smooth, channels=channels, channel_names=channel_names, vad=vad,
                                vad_model=vad_model, name=str(path))
        for block in reader:
            analyzer.feed(block)
            if on_progress is not None:
                on_progress(analyzer.duration)
    if analyzer.samples_in == 0:
        raise AudioError(f"{path}: audio is empty (0 samples)")
    analyzer.finish()
    res = analyzer.result(file=str(path), format=fmt)
    res.source = {"size": path.stat().st_size, "frames": analyzer.samples_in}
    return res
