"""The streaming core, :class:`CallAnalyzer`: audio blocks in, finished speech segments out.

It serves files (:func:`escucha.longaudio.analyze_file`), folders
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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import AudioError, ConfigError
from .result import CallResult
from .segments import Segment, Window, settle
from .settings import (BASELINE_DEFAULT, analysis_settings, channel_names_for, check_timing, default_window,
                       has_baseline)
from .stream import SampleBuffer, StreamResampler
from .summary import summarize
from .vad import CrosstalkGate, SileroVAD, SpeechSegmenter, VADConfig, VADStream

if TYPE_CHECKING:
    from ..speakers.options import SpeakerOptions

__all__ = ["CallAnalyzer"]

_VAD_STEP_FRAMES = 8  # VAD frames scored per step (256 ms at either rate)


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
    channels : {"auto", "mono", "split"}
        ``"mono"`` mixes the input down; ``"split"`` analyses each channel as its own speaker (a
        one-channel input, which has none to split, as ``"mono"``: its speakers are found);
        ``"auto"`` (default) hears the first seconds of a multi-channel input and splits it when
        its channels carry different voices, else mixes it (:mod:`escucha.longaudio.stereo`).
    channel_names : sequence of str, optional
        One per analysed channel (see :func:`channel_names_for`).
    vad : VADConfig, optional
    vad_model : SileroVAD, optional
        A loaded VAD to share between analyzers.
    name : str
        Used in error messages (the file name).
    speakers : {"auto", "off"} or int or SpeakerOptions
        ``"auto"`` (default): on a mono channel, find who speaks when (the number of speakers
        estimated); a number: that many speakers; ``"off"``: one ``mono`` track
        (:mod:`escucha.longaudio.attribution`).
    agent_voice : path or np.ndarray, optional
        An enrolment clip (or its embedding): the closest speaker (channel) is the ``agent``.
    transcribe : bool, str or Transcriber, optional
        Words with timestamps per segment (needs ``escucha[asr]``; a str: the model folder).
    live : bool
        Give each segment a provisional speaker as it closes (streams).
    baseline : bool
        When the audio ends, hear each speaker (a split call's channel, a mono call's speaker
        found, else the whole recording) against their own neutral voice
        (:mod:`escucha.inference.baseline`; needs a model whose ``calibration.json`` has a
        ``"baseline"``, as the bundled default's). Segments returned by :meth:`feed` are as
        heard; those :meth:`finish` returns, and every segment of :meth:`result`, are re-weighted.

    Notes
    -----
    Latency: a segment is returned by the :meth:`feed` call that completes it, at most
    ``vad.max_segment + vad.min_silence`` seconds of audio after it began (plus one block).
    """

    def __init__(self, predictor, *, sample_rate: int, channels_in: int = 1, window: float | None = None,
                 hop: float | None = None, smooth: float = 3.0, channels: str = "auto",
                 channel_names: Sequence[str] | str | None = None, vad: VADConfig | None = None,
                 vad_model: SileroVAD | None = None, batch_size: int = 32, name: str = "audio",
                 speakers: "SpeakerOptions | str | int | None" = "auto", agent_voice=None, transcribe=None,
                 live: bool = False, baseline: bool = BASELINE_DEFAULT):
        from ..audio import check_sample_rate

        sample_rate = check_sample_rate(sample_rate, name=name)
        if int(channels_in) < 1:
            raise AudioError(f"{name}: need at least one channel, got {channels_in}")
        self.predictor = predictor
        self.labels = tuple(predictor.labels)
        self.name = name
        self.sample_rate = int(sample_rate)
        self.channels_in = int(channels_in)
        self.requested_mode = channels
        self.channel_choice: dict | None = None
        if channels in ("auto", "split") and self.channels_in == 1:
            if channels == "split":
                # one channel holds every voice: nothing to split, its speakers are found instead;
                # names given for a stereo call's channels (more than one) do not apply to it
                reason = "one channel: analysed as mono, its speakers found"
                given = channel_names.split(",") if isinstance(channel_names, str) else channel_names
                if given is not None and len(given) != 1:
                    reason += f" (the channel names {','.join(given)} are for a call of {len(given)} channels)"
                    channel_names = None
                self.channel_choice = {"mode": "mono", "reason": reason}
            channels = "mono"
        elif channels == "auto" and channel_names is not None:
            channel_names_for(self.channels_in, "split", channel_names)
        self._given_names = channel_names
        self.mode = channels
        self.names = channel_names_for(self.channels_in, channels if channels != "auto" else "split", channel_names)
        from ..speakers.options import speaker_options

        self.speaker_options = speaker_options(speakers, agent_voice=agent_voice)
        self.live = bool(live)
        self.baseline = bool(baseline)
        self.baseline_shifts: dict[str, dict] | None = None
        self.transcriber = None
        if transcribe:
            from ..asr import load_transcriber

            self.transcriber = transcribe if not isinstance(transcribe, (bool, str)) else load_transcriber(
                None if isinstance(transcribe, bool) else transcribe)
        from .transcript import TranscriptQueue

        self._words = TranscriptQueue(self.transcriber, immediate=self.live) if self.transcriber is not None else None
        self.speaker_names: list[str] | None = None
        self.window = float(window) if window is not None else default_window(predictor)
        self.hop = float(hop) if hop is not None else self.window / 2
        check_timing(self.window, self.hop, float(smooth))
        self.smooth = float(smooth)
        self.vad_config = vad or VADConfig()
        self.batch_size = batch_size
        self.model_rate = int(predictor.sample_rate)
        self.win_samples = int(round(self.window * self.model_rate))
        self.hop_samples = max(1, int(round(self.hop * self.model_rate)))
        self._vad_model = vad_model or SileroVAD()
        self.samples_in = 0
        self.peak_db = -np.inf    # the loudest 32-ms frame so far (dBFS), to say why a call has no speech
        self.segments: list[Segment] = []
        self.finished = False
        self._judge = None
        if self.mode == "auto":  # hear the first seconds, then choose split or mono
            from .stereo import ChannelJudge

            self._judge = ChannelJudge(self.sample_rate, self.channels_in)
        else:
            self._setup()

    def _setup(self) -> None:
        """Build the per-channel pipeline once the channel mode is known."""
        n = len(self.names)
        self.vad_rate = self.vad_config.sample_rate
        self._vad = VADStream(self._vad_model, sample_rate=self.vad_rate, channels=n)
        self._crosstalk = (CrosstalkGate(self._vad.frame, n, self.vad_config.crosstalk_db)
                           if n > 1 and self.vad_config.crosstalk_db > 0 else None)   # split channels only
        self._to_vad = StreamResampler(self.sample_rate, self.vad_rate, n)
        self._to_model = None if self.model_rate == self.vad_rate else StreamResampler(self.sample_rate, self.model_rate, n)
        self._ch = [_Channel(nm, self.vad_config, self.vad_rate) for nm in self.names]
        from .attribution import SpeakerTrack

        o = self.speaker_options
        mono = self.mode == "mono"
        # a mono channel: who speaks when; split channels: only to find an enrolled agent
        want = o.enabled and (mono or o.agent is not None)
        self._tracks = ([SpeakerTrack(o, channel=nm, cluster=mono, immediate=self.live) for nm in self.names]
                        if want else None)

    def _decide(self) -> None:
        mode, reason, stats = self._judge.decide()
        self.channel_choice = {"mode": mode, "reason": reason, **stats}
        self.mode = mode
        self.names = channel_names_for(self.channels_in, mode, self._given_names if mode == "split" else None)
        pending = self._judge.blocks
        self._judge = None
        self._setup()
        for x in pending:
            self.segments += self._process(self._mix(x), last=False)

    # -- settings -------------------------------------------------------------------------------
    @property
    def settings(self) -> dict:
        """What determines the result (stored in every JSON, compared when a batch resumes)."""
        return {**analysis_settings(self.predictor, window=self.window, hop=self.hop, smooth=self.smooth,
                                    channels=self.requested_mode, vad=self.vad_config, speakers=self.speaker_options,
                                    transcribe=self.transcriber, baseline=self.baseline),
                "channel_names": self._given_names_list()}

    def _given_names_list(self) -> list[str]:
        """The channels' names as asked for (the speakers found are the result's ``channels``)."""
        return ["mono"] if self.mode == "mono" else channel_names_for(self.channels_in, "split", self._given_names)

    @property
    def duration(self) -> float:
        """Seconds fed so far."""
        return self.samples_in / self.sample_rate

    @property
    def buffered_samples(self) -> int:
        """Largest number of model-rate samples any channel buffer has held (memory check)."""
        return max(c.buffer.peak for c in self._ch) if self._judge is None else 0

    def speaking(self) -> dict[str, tuple[float, bool]]:
        """Channels on which speech is being heard now: ``{name: (start seconds, continued)}``,
        ``continued`` when the open stretch goes on from a segment cut at ``max_segment``. A
        channel is listed once its speech is long enough to become a segment."""
        out = {}
        for c in (self._ch if self._judge is None else []):
            r = c.segmenter.open_region()
            if r is not None:
                out[c.name] = (r[0] / self.vad_rate, r[1])
        return out

    # -- streaming --------------------------------------------------------------------------------
    def feed(self, block: np.ndarray) -> list[Segment]:
        """Analyse the next audio: ``(n,)`` or ``(n, channels_in)`` float samples in [-1, 1]
        (integer PCM, e.g. ``int16``, is scaled to that range).

        Returns the segments that closed during this block (possibly none), in time order.
        """
        from ..audio import float_samples

        if self.finished:
            raise ConfigError(f"{self.name}: analyzer already finished; create a new one")
        x = float_samples(block)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.channels_in:
            raise AudioError(f"{self.name}: expected blocks of shape (n, {self.channels_in}), got {np.shape(block)}")
        finite = np.isfinite(x).all(axis=1)
        if not finite.all():
            from ..audio.io import nonfinite_error

            raise nonfinite_error(self.name, self.samples_in + int(np.argmax(~finite)), self.sample_rate)
        self.samples_in += len(x)
        self.peak_db = max(self.peak_db, _loudest_frame_db(x, self.sample_rate))
        if self._judge is not None:
            if not self._judge.push(x):
                return []
            before = len(self.segments)
            self._decide()
            return list(self.segments[before:])
        out = self._process(self._mix(x), last=False)
        self.segments += out
        return out

    def _mix(self, x: np.ndarray) -> np.ndarray:
        return x.mean(axis=1, keepdims=True) if self.mode == "mono" and x.shape[1] > 1 else x

    def finish(self) -> list[Segment]:
        """End of audio: flush resamplers and the VAD, close the open region; returns the last
        segments. Further :meth:`feed` calls are refused."""
        if self.finished:
            return []
        out = []
        if self._judge is not None:
            before = len(self.segments)
            self._decide()
            out = list(self.segments[before:])
            self.segments = self.segments[:before]
        out += self._process(np.zeros((0, len(self._ch)), np.float32), last=True)
        total = int(round(self.samples_in * self.vad_rate / self.sample_rate))
        probs = self._vad.flush()
        for k, c in enumerate(self._ch):
            regions = [(a, min(b, total)) for a, b in c.segmenter.push(probs[:, k]) + c.segmenter.finish(total)]
            out += [self._analyse(c, r) for r in regions if r[1] > r[0]]
        self.finished = True
        self.segments += out
        if self._words is not None:
            self._words.flush()
        if self._tracks is not None:
            self._attribute()
        if self.baseline:
            self._apply_baseline()
        out.sort(key=lambda s: (s.start, s.channel))
        return out

    def _apply_baseline(self) -> None:
        self.baseline_shifts = apply_baseline(self.segments, self.predictor)

    def _attribute(self) -> None:
        """Speakers: cluster a mono channel's voices; on split channels find the enrolled agent."""
        from .attribution import name_speakers

        if self.mode == "mono":
            segs, names = self._tracks[0].finish()
            if segs:
                self.segments = segs
                self.speaker_names = names
                if len(names) >= 2:
                    self.names = names
            return
        voices = [t.mean_embedding() for t in self._tracks]
        heard = [i for i, v in enumerate(voices) if v is not None]
        if self._given_names is not None or not heard:
            roles = list(self.names)
        else:  # name the channels by voice: the closest to the enrolled agent is the agent
            roles = list(self.names)
            named = name_speakers(np.stack([voices[i] for i in heard]), self.speaker_options.agent)
            for i, nm in zip(heard, named):
                roles[i] = nm if nm in ("agent", "customer") else self.names[i]
            if len(set(roles)) != len(roles):
                roles = list(self.names)
        rename = dict(zip(self.names, roles))
        for s in self.segments:
            s.channel = rename.get(s.channel, s.channel)
            s.speaker = s.channel
        self.names = roles
        self.speaker_names = roles

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
            if self._crosstalk is not None:   # the other party's echo on a channel is not its speech
                probs = self._crosstalk.apply(piece, probs)
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
        # the band picks the baseline's reference: an FFT of the segment, only when it is asked for
        band_of = getattr(self.predictor, "band_of", None) if self.baseline else None
        seg = settle(Segment(c.name, sv / self.vad_rate, ev / self.vad_rate, "", smoothed[0], self.labels, windows,
                             band=band_of(y) if band_of is not None and len(y) else None))
        seg.uncertain = bool(float(seg.probabilities.max()) < getattr(self.predictor, "uncertain_below", 0.0))
        if self._words is not None and len(y):
            self._words.add(seg, y, self.model_rate)
        if self._tracks is not None and len(y):
            self._tracks[self._ch.index(c)].add(seg, y, self.model_rate)
            if self.live and self.mode == "split":   # a live split call: its roles as soon as both voices are heard
                seg.speaker = c.name
                if self._given_names is None:
                    from .attribution import provisional_names

                    role = provisional_names([t.mean_embedding() for t in self._tracks],
                                             self.speaker_options.agent)[self._ch.index(c)]
                    seg.speaker = role if role in ("agent", "customer") else c.name   # as at the end
        elif self.mode == "split" and self.speaker_options.enabled:
            seg.speaker = c.name
        return seg

    # -- result ------------------------------------------------------------------------------------
    def result(self, *, file: str | None = None, format: str | None = None) -> CallResult:
        """The segments so far and their summary (call :meth:`finish` first for a complete call)."""
        segs = sorted(self.segments, key=lambda s: (s.start, s.channel))
        mode = self.mode if self.mode != "auto" else "mono"
        res = CallResult(file=file, duration=self.duration, sample_rate=self.sample_rate, channels=list(self.names),
                         channel_mode=mode, labels=list(self.labels), segments=segs,
                         summary=summarize(segs, duration=self.duration, labels=self.labels, channels=self.names),
                         settings=self.settings, format=format)
        res.channel_choice = self.channel_choice
        if self.speaker_names is not None:
            res.speakers = list(self.speaker_names)
        elif mode == "split" and self.speaker_options.enabled:   # each channel is one speaker
            res.speakers = list(self.names)
        res.baseline = self.baseline_shifts
        res.peak_db = self.peak_db
        return res


def _loudest_frame_db(x: np.ndarray, rate: int) -> float:
    """Level (dBFS) of the loudest 32-ms frame of ``x`` ``(n, channels)`` (frames within the
    block), measured as :func:`escucha.inference.gate.judge` measures silence."""
    from ..audio.processing import frame_rms_db

    if not len(x):
        return -np.inf
    n = max(1, int(round(0.032 * rate)))
    return max(float(frame_rms_db(x[:, c], frame_length=n, hop_length=n).max()) for c in range(x.shape[1]))


def apply_baseline(segments: list[Segment], predictor) -> dict[str, dict[str, float]]:
    """Re-weight ``segments`` (in place) so that each speaker (``speaker``, else ``channel``) is
    heard against their own neutral voice (:mod:`escucha.inference.baseline`); returns each
    speaker's shift (log-weights by label). Nothing changes for a model without a baseline
    reference (its ``calibration.json`` has no ``"baseline"``) or without a neutral label."""
    from collections import Counter

    from ..inference.baseline import reweight, speaker_shift

    shifts: dict[str, dict[str, float]] = {}
    if not has_baseline(predictor):
        return shifts
    reference, settings = predictor.baseline_reference, predictor.calibration.baseline
    labels = list(predictor.labels)
    below = getattr(predictor, "uncertain_below", 0.0)
    groups: dict[str, list[Segment]] = {}
    for s in segments:
        groups.setdefault(s.speaker or s.channel, []).append(s)
    for who, segs in groups.items():
        ref = reference(labels, Counter(s.band for s in segs).most_common(1)[0][0])
        if ref is None:
            continue
        shift = speaker_shift(np.stack([s.probabilities for s in segs]), ref, neutral=labels.index("neutral"),
                              strength=settings["strength"], iterations=settings["iterations"])
        for s in segs:
            for w in s.windows:
                w.raw = reweight(w.raw, shift)
                w.probabilities = reweight(w.probabilities, shift)
            if s.windows:
                settle(s)
            else:
                s.probabilities = reweight(s.probabilities, shift)
                s.label = labels[int(np.argmax(s.probabilities))]
            s.uncertain = bool(float(s.probabilities.max()) < below)
        shifts[who] = {lab: round(float(v), 3) for lab, v in zip(labels, shift)}
    return shifts
