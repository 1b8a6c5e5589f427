"""Voice activity with Silero VAD, streaming: 32 ms frames in, speech regions out.

escucha ships Silero's ONNX models (``assets/vad``, from the ``silero-vad`` package); they run
through onnxruntime (one thread by default), nothing is downloaded. At 16 kHz the *sequence*
export (``silero_vad_16k_sequence.onnx``) scores up to 16 s of frames in one call and gives the same
per-frame probabilities as the stock frame-by-frame model. At 8 kHz (Silero's narrow-band
mode, on request) and with packages that lack the sequence export, the stock
``silero_vad.onnx`` runs one frame of every channel per call. Either way the recurrent state and
the context samples are carried between calls, so audio can arrive in blocks of any length.

:class:`SpeechSegmenter` turns per-frame probabilities into speech regions with the rules of
``silero_vad.get_speech_timestamps`` (threshold with hysteresis, minimum speech and silence,
padding), applied incrementally so that a region is reported as soon as it has closed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError, ModelError

__all__ = ["VADConfig", "SileroVAD", "VADStream", "SpeechSegmenter", "VAD_SAMPLE_RATE", "silero_model_path"]

#: Silero runs at 16 kHz on frames of 512 samples (32 ms) preceded by 64 samples of context,
#: or at 8 kHz on 256 + 32 samples.
VAD_SAMPLE_RATE = 16000
_MAX_FRAMES_PER_CALL = 512  # 16.4 s per onnxruntime call


@dataclass
class VADConfig:
    """How speech regions are cut from Silero's per-frame speech probabilities.

    Attributes
    ----------
    threshold : float
        A frame with probability >= ``threshold`` is speech (Silero's default 0.5).
    neg_threshold : float or None
        A region ends only after frames below this (hysteresis); ``None``: ``threshold - 0.15``.
    min_speech : float
        Seconds; shorter regions are dropped.
    min_silence : float
        Seconds of non-speech needed to close a region; shorter pauses stay inside it.
    speech_pad : float
        Seconds added before and after each region (not beyond the neighbours).
    max_segment : float
        Seconds; a longer region is cut at its least speech-like frame near this length, so
        that live results arrive with bounded latency and memory stays bounded.
    crosstalk_db : float
        Channels analysed apart (``channels="split"``): a channel's frame is not speech where
        another channel is louder by more than this many dB at the same moment: the other party
        heard through echo or crosstalk, which Silero hears as speech down to about -40 dB. Both
        parties talking at once stay speech on both channels. ``0`` turns it off.
    sample_rate : {16000, 8000}
        Rate the VAD runs at. 16 kHz (default) uses the fast sequence model for any input,
        telephone audio included (upsampled); 8000 runs Silero's narrow-band mode frame by frame
        (about twice the VAD time; no better on the synthetic telephone calls of
        ``benchmarks/long_audio.py``).
    """

    threshold: float = 0.5
    neg_threshold: float | None = None
    min_speech: float = 0.25
    min_silence: float = 0.4
    speech_pad: float = 0.1
    max_segment: float = 10.0
    sample_rate: int = 16000
    crosstalk_db: float = 15.0

    def __post_init__(self):
        if self.sample_rate not in (8000, 16000):
            raise ConfigError(f"VAD sample_rate must be 16000 or 8000 Hz, got {self.sample_rate}")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"VAD threshold must be in (0, 1), got {self.threshold}")
        if self.neg_threshold is not None and not 0.0 <= self.neg_threshold <= self.threshold:
            raise ConfigError(f"VAD neg_threshold must be in [0, threshold], got {self.neg_threshold}")
        for name in ("min_speech", "min_silence", "speech_pad"):
            if not 0 <= getattr(self, name) < float("inf"):   # NaN too
                raise ConfigError(f"VAD {name} must be a finite number >= 0 seconds, got {getattr(self, name)}")
        if self.speech_pad > self.min_silence:
            raise ConfigError(f"VAD speech_pad ({self.speech_pad} s) must not exceed min_silence "
                              f"({self.min_silence} s)")
        if not 0.0 <= self.crosstalk_db < float("inf"):   # NaN too
            raise ConfigError(f"VAD crosstalk_db must be a finite number >= 0 dB (0: off), got {self.crosstalk_db}")
        if not 1.0 <= self.max_segment <= 3600.0:   # NaN and inf too
            raise ConfigError(f"VAD max_segment must be between 1 and 3600 seconds, got {self.max_segment}")

    def to_dict(self) -> dict:
        return asdict(self)


def silero_model_path(kind: str = "sequence") -> Path:
    """Path of a Silero VAD ONNX model shipped with escucha (``assets/vad``: copied from the
    ``silero-vad`` 6.2.3 wheel, MIT licence; that package itself needs torch).

    ``kind``: ``"sequence"`` (block export) or ``"stream"`` (stock frame-by-frame model).
    """
    name = {"sequence": "silero_vad_16k_sequence.onnx", "stream": "silero_vad.onnx"}[kind]
    return Path(__file__).resolve().parent.parent / "assets" / "vad" / name


@lru_cache(maxsize=4)
def _session(path: str, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        raise ModelError(f"{path}: cannot load the Silero VAD model ({str(e).splitlines()[0]})") from None


class SileroVAD:
    """The Silero VAD networks (shared, stateless); per-stream state lives in :class:`VADStream`.

    Parameters
    ----------
    path : path or None
        A stock (frame-by-frame) Silero ONNX export; ``None``: the shipped ``silero_vad.onnx``
        (:func:`silero_model_path`), whose block-wise 16 kHz twin ``silero_vad_16k_sequence.onnx``
        is used for 16 kHz streams (same probabilities, far fewer calls).
    threads : int
        onnxruntime intra-op threads (1 keeps a batch job on one core).
    """

    def __init__(self, path: str | Path | None = None, *, threads: int = 1):
        seq = None
        shipped = path is None
        if shipped:
            path = silero_model_path("stream")
            seq = silero_model_path("sequence")
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{path}: Silero VAD model file not found")
        self.path = path
        self._threads = int(threads)
        self._session = None
        if not shipped:
            self.session  # a file of the user's: checked now
        # the stock model of the shipped pair loads on first use: 16 kHz streams need only the
        # sequence model (a third of the start-up time)
        self.sequence = _session(str(seq), int(threads)) if seq is not None and seq.is_file() else None

    @property
    def session(self):
        """The stock (frame-by-frame) model's onnxruntime session."""
        if self._session is None:
            s = _session(str(self.path), self._threads)
            names = {i.name for i in s.get_inputs()}
            if not {"input", "state", "sr"} <= names:
                raise ModelError(f"{self.path}: not a Silero VAD export (inputs {sorted(names)}; expected input, "
                                 "state, sr)")
            self._session = s
        return self._session

    def run_frames(self, frames: np.ndarray, state: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """Stock model, one frame per channel: ``frames (C, context + frame)``, ``state (2, C, 128)``
        -> probabilities ``(C,)`` and the new state."""
        p, state = self.session.run(None, {"input": frames, "state": state,
                                           "sr": np.array(sample_rate, dtype=np.int64)})
        return p.reshape(-1), state

    def run_sequence(self, frames: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sequence model (16 kHz, one channel): ``frames (N, 64 + 512)`` -> probabilities ``(N,)``."""
        p, h, c = self.sequence.run(["speech_probs", "hn", "cn"], {"input": frames, "h": h, "c": c})
        return np.asarray(p, np.float32).reshape(-1), h, c


#: frame and context lengths (samples) per VAD sample rate
_FRAMING = {16000: (512, 64), 8000: (256, 32)}


class CrosstalkGate:
    """Per VAD frame, silence a channel that another channel drowns out by more than ``db`` dB.

    Fed the same pieces as :class:`VADStream` (it keeps the same partial frame), so its frames are
    the probabilities' frames: :meth:`apply` zeroes ``probs[i, k]`` where channel ``k``'s frame
    ``i`` is more than ``db`` below the loudest channel's. In a stereo call recording the other
    party's echo or crosstalk is 25-45 dB down; both parties talking at once are within a few dB.
    """

    def __init__(self, frame: int, channels: int, db: float):
        self.frame, self.db = frame, float(db)
        self.pending = np.zeros((0, channels), np.float32)

    def apply(self, y: np.ndarray, probs: np.ndarray) -> np.ndarray:
        y = np.concatenate([self.pending, np.asarray(y, np.float32)])
        n = len(y) // self.frame
        self.pending = y[n * self.frame:].copy()
        if n != len(probs) or n == 0:   # not aligned (cannot happen when fed as the VAD): leave as is
            return probs
        frames = y[:n * self.frame].reshape(n, self.frame, -1)
        level = 10.0 * np.log10(np.mean(np.square(frames, dtype=np.float64), axis=1) + 1e-12)   # (n, C) dB
        drowned = level.max(axis=1, keepdims=True) - level > self.db
        return np.where(drowned, 0.0, probs).astype(probs.dtype)


class VADStream:
    """Per-frame speech probabilities of ``channels`` parallel streams at 8 or 16 kHz, fed in
    pieces of any length.

    Keeps the network state, the context samples and less than one frame pending per channel.
    16 kHz streams use the sequence model (one call per 16 s block and channel) when available;
    otherwise the stock model scores one frame of all channels per call.
    """

    def __init__(self, vad: SileroVAD, *, sample_rate: int = VAD_SAMPLE_RATE, channels: int = 1):
        if sample_rate not in _FRAMING:
            raise ConfigError(f"Silero VAD runs at 8000 or 16000 Hz, not {sample_rate}")
        self.vad = vad
        self.sample_rate = sample_rate
        self.frame, self.ctx_len = _FRAMING[sample_rate]
        self.channels = channels
        self.use_sequence = sample_rate == 16000 and vad.sequence is not None
        if self.use_sequence:
            self.hc = [(np.zeros((1, 1, 128), np.float32), np.zeros((1, 1, 128), np.float32)) for _ in range(channels)]
        else:
            self.state = np.zeros((2, channels, 128), np.float32)
        self.context = np.zeros((channels, self.ctx_len), np.float32)
        self.pending = np.zeros((0, channels), np.float32)
        self.frames_done = 0

    def process(self, y: np.ndarray) -> np.ndarray:
        """Feed ``y`` ``(T, channels)`` (or ``(T,)`` for one channel) float32 at :attr:`sample_rate`;
        return the probabilities ``(frames, channels)`` of the frames completed."""
        y = np.asarray(y, np.float32)
        if y.ndim == 1:
            y = y[:, None]
        if self.pending.size:
            y = np.concatenate([self.pending, y])
        f = self.frame
        n = len(y) // f
        self.pending = y[n * f:].copy()
        if n == 0:
            return np.zeros((0, self.channels), np.float32)
        out = np.empty((n, self.channels), np.float32)
        frames = np.ascontiguousarray(y[:n * f].T).reshape(self.channels, n, f)   # (C, n, f)
        for a in range(0, n, _MAX_FRAMES_PER_CALL):
            b = min(n, a + _MAX_FRAMES_PER_CALL)
            blk = frames[:, a:b]                                                  # (C, m, f)
            ctx = np.empty((self.channels, b - a, self.ctx_len), np.float32)
            ctx[:, 0] = self.context
            ctx[:, 1:] = blk[:, :-1, -self.ctx_len:]
            self.context = blk[:, -1, -self.ctx_len:].copy()
            x = np.concatenate([ctx, blk], axis=2)                                # (C, m, ctx + f)
            if self.use_sequence:
                for k in range(self.channels):
                    h, c = self.hc[k]
                    out[a:b, k], h, c = self.vad.run_sequence(x[k], h, c)
                    self.hc[k] = (h, c)
            else:
                for i in range(b - a):
                    out[a + i], self.state = self.vad.run_frames(np.ascontiguousarray(x[:, i]), self.state,
                                                                 self.sample_rate)
        self.frames_done += n
        return out

    def samples_until(self, frame_index: int) -> int:
        """Samples still needed to complete frame ``frame_index - 1`` (0 if already done)."""
        return max(0, frame_index * self.frame - self.frames_done * self.frame - len(self.pending))

    def reset(self, channel: int) -> None:
        """Forget one channel's recurrent state (its context samples are kept).

        Silero's state drifts over long streams and can bias it against the next utterance
        (e.g. after a loud turn followed by near-digital silence); the analyzer resets a channel
        after each closed speech region and after long stretches without speech.
        """
        if self.use_sequence:
            self.hc[channel] = (np.zeros((1, 1, 128), np.float32), np.zeros((1, 1, 128), np.float32))
        else:
            self.state[:, channel] = 0.0

    def flush(self) -> np.ndarray:
        """Score the last partial frame (zero-padded), if any."""
        if not len(self.pending):
            return np.zeros((0, self.channels), np.float32)
        return self.process(np.zeros((self.frame - len(self.pending), self.channels), np.float32))


class SpeechSegmenter:
    """Speech regions from a stream of per-frame probabilities, reported as soon as they close.

    Regions are ``(start, end)`` in samples at the VAD rate, end exclusive, non-overlapping, in order.
    """

    def __init__(self, config: VADConfig | None = None, *, sample_rate: int = VAD_SAMPLE_RATE):
        self.config = config = config or VADConfig()
        self.frame = frame = _FRAMING[sample_rate][0]
        self.neg = config.neg_threshold if config.neg_threshold is not None else max(0.0, config.threshold - 0.15)
        self.pad = int(round(config.speech_pad * sample_rate))
        self.min_speech = int(round(config.min_speech * sample_rate))
        self.min_silence_frames = max(1, int(np.ceil(config.min_silence * sample_rate / frame)))
        self.max_frames = int(config.max_segment * sample_rate // frame)
        self.i = 0                  # frames seen
        self.triggered = False
        self.start = 0              # first speech frame of the open region
        self.temp_end: int | None = None
        self.cut_open = False       # the open region continues one cut at max_segment (no start pad)
        self.last_end = 0           # sample where the previous region ended (pads never cross it)
        self.probs: list[float] = []  # probabilities of the open region's frames
        self.idle_reset_frames = int(30.0 * sample_rate / frame)
        self.since_reset = 0        # frames since the VAD state was last reset
        self.closed = False         # a region closed since the last reset

    @property
    def needs_reset(self) -> bool:
        """Whether the VAD state should be reset now: a region has closed, or 30 s passed
        without speech since the last reset. Call :meth:`was_reset` after resetting."""
        return not self.triggered and (self.closed or self.since_reset >= self.idle_reset_frames)

    def was_reset(self) -> None:
        self.closed, self.since_reset = False, 0

    # -- helpers -----------------------------------------------------------------------------
    def _region(self, start_frame: int, end_frame: int, *, pad_start: bool, pad_end: bool) -> tuple[int, int]:
        s = start_frame * self.frame - (self.pad if pad_start else 0)
        e = end_frame * self.frame + (self.pad if pad_end else 0)
        s = max(s, self.last_end, 0)
        self.last_end = e
        return s, e

    def earliest_needed(self) -> int:
        """First sample (VAD rate) a future region can still start at (audio before it can go)."""
        if self.triggered:
            return max(self.last_end, self.start * self.frame - (0 if self.cut_open else self.pad))
        return max(self.last_end, self.i * self.frame - self.pad - self.frame)

    def open_region(self) -> tuple[int, bool] | None:
        """The region being heard now, once it is sure to be reported: ``(start sample, continued)``
        (``continued``: it goes on from a region cut at ``max_segment``), else ``None``. A region
        is sure once its speech spans ``min_speech`` (a shorter one is dropped when it closes)."""
        if not self.triggered:
            return None
        extent = (self.temp_end if self.temp_end is not None else self.i) - self.start
        if not self.cut_open and extent * self.frame < self.min_speech:
            return None
        s = self.start * self.frame - (0 if self.cut_open else self.pad)
        return max(s, self.last_end, 0), self.cut_open

    # -- streaming -----------------------------------------------------------------------------
    def push(self, probs: np.ndarray) -> list[tuple[int, int]]:
        """Consume the next frames' probabilities; return the regions that closed."""
        out = []
        thr, neg = self.config.threshold, self.neg
        for p in np.asarray(probs, dtype=np.float32).tolist():
            i = self.i
            self.i += 1
            self.since_reset += 1
            if self.triggered:
                self.probs.append(p)
            if p >= thr:
                self.temp_end = None
                if not self.triggered:
                    self.triggered, self.start, self.cut_open, self.probs = True, i, False, [p]
            elif self.triggered and p < neg:
                if self.temp_end is None:
                    self.temp_end = i
                if self.i - self.temp_end >= self.min_silence_frames:
                    r = self._close(self.temp_end)
                    if r:
                        out.append(r)
                    continue
            if self.triggered and self.i - self.start >= self.max_frames:
                r = self._cut()
                if r:
                    out.append(r)
        return out

    def _close(self, end_frame: int) -> tuple[int, int] | None:
        self.triggered, self.temp_end, self.closed = False, None, True
        self.probs = []
        if (end_frame - self.start) * self.frame < self.min_speech and not self.cut_open:
            return None
        return self._region(self.start, end_frame, pad_start=not self.cut_open, pad_end=True)

    def _cut(self) -> tuple[int, int] | None:
        """Split an over-long open region at its least speech-like frame in the last quarter
        (or close it where a pause has already begun)."""
        if self.temp_end is not None:
            return self._close(self.temp_end)
        n = len(self.probs)
        lo = max(1, n - max(1, n // 4))
        k = lo + int(np.argmin(self.probs[lo:]))
        cut = self.start + k
        r = self._region(self.start, cut, pad_start=not self.cut_open, pad_end=False)
        self.start, self.cut_open = cut, True
        self.probs = self.probs[k:]
        return r

    def finish(self, total_samples: int) -> list[tuple[int, int]]:
        """End of stream: close the open region at ``total_samples`` (samples at the VAD rate)."""
        if not self.triggered:
            return []
        end_frame = self.temp_end if self.temp_end is not None else self.i
        r = self._close(end_frame)
        if r is None:
            return []
        return [(r[0], min(r[1], total_samples))] if min(r[1], total_samples) > r[0] else []
