"""Spectral front ends in numpy: the mel filterbank, log-mel, MFCC and Whisper's log-mel.

These are the computations of :class:`escucha.features.core.FeatureExtractor` (torch) and
:func:`escucha.features.whisper.whisper_log_mel`, written on numpy arrays so that inference
needs no torch (:mod:`escucha.runtime`). They match the torch front end to float32 precision
(``tests/test_spectral.py``): the same centred, Hann-windowed frames, the same slaney mel
filterbank, the same dB floors.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["loudest_window", "mel_filterbank", "dct_matrix", "hann_window", "stft_power", "power_to_db", "spectral_features",
           "whisper_log_mel", "WHISPER_SAMPLE_RATE", "WHISPER_N_FFT", "WHISPER_HOP", "WHISPER_N_MELS"]

#: Whisper's front end: 16 kHz, 400-point STFT (25 ms), hop 160 (10 ms), 80 mel bands
WHISPER_SAMPLE_RATE = 16000
WHISPER_N_FFT = 400
WHISPER_HOP = 160
WHISPER_N_MELS = 80


def _hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


def mel_filterbank(*, sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Slaney-style mel filterbank, shape ``(n_mels, n_fft // 2 + 1)``, area-normalised."""
    fmax = sr / 2 if fmax is None else fmax
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    return weights.astype(np.float32)


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II matrix ``(n_out, n_in)`` (scipy ``dct(type=2, norm='ortho')`` rows)."""
    n = np.arange(n_in)
    k = np.arange(n_out)[:, None]
    m = np.cos(np.pi / n_in * (n + 0.5) * k) * math.sqrt(2.0 / n_in)
    m[0] /= math.sqrt(2.0)
    return m.astype(np.float32)


def hann_window(win_length: int, n_fft: int) -> np.ndarray:
    """Periodic Hann window of ``win_length`` samples, zero-padded to ``n_fft`` at the centre (torch.stft)."""
    w = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)).astype(np.float32)
    left = (n_fft - win_length) // 2
    return np.pad(w, (left, n_fft - win_length - left))


def stft_power(wav: np.ndarray, *, n_fft: int, hop_length: int, win_length: int | None = None,
               pad_mode: str = "constant") -> np.ndarray:
    """Power spectrogram of centred frames: ``(B, T)`` -> ``(B, frames, n_fft // 2 + 1)``, float32.

    ``frames = 1 + T // hop_length``; the signal is padded by ``n_fft // 2`` on both sides with
    zeros (``pad_mode="constant"``) or its reflection (``"reflect"``), as ``torch.stft(center=True)``.
    """
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim == 1:
        wav = wav[None]
    pad = n_fft // 2
    x = np.pad(wav, ((0, 0), (pad, pad)), mode=pad_mode)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[:, ::hop_length]
    # in float64: numpy's float32 FFT is several times slower (numpy 2.x, 400 points: 0.42 vs
    # 0.08 ms for 150 frames) and no more exact
    spec = np.fft.rfft(frames * hann_window(win_length or n_fft, n_fft).astype(np.float64), axis=-1)
    return (spec.real ** 2 + spec.imag ** 2).astype(np.float32, copy=False)


def power_to_db(s: np.ndarray, *, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """``10 log10(max(s, amin))``, floored ``top_db`` below each example's maximum. ``s``: ``(B, F, T)``."""
    db = 10.0 * np.log10(np.maximum(s, np.float32(amin)))
    if top_db is not None:
        db = np.maximum(db, db.max(axis=(-2, -1), keepdims=True) - np.float32(top_db))
    return db.astype(np.float32, copy=False)


def spectral_features(wav: np.ndarray, config) -> np.ndarray:
    """The ``logmel`` / ``mfcc`` front end of :class:`~escucha.features.FeatureConfig` ``config``
    (with its ``normalize``): ``(B, T)`` at ``config.sample_rate`` -> ``(B, C, frames)``;
    ``raw`` gives ``(B, 1, T)``."""
    c = config
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim == 1:
        wav = wav[None]
    if c.kind == "raw":
        x = wav[:, None, :]
    elif c.kind in ("logmel", "mfcc"):
        power = stft_power(wav, n_fft=c.n_fft, hop_length=c.hop_length, win_length=c.win_length)
        fb = _cached_fb(c.sample_rate, c.n_fft, c.n_mels, c.fmin, c.fmax)
        x = power_to_db(np.matmul(fb, power.transpose(0, 2, 1)), top_db=c.top_db)
        if c.kind == "mfcc":
            x = np.matmul(dct_matrix(c.n_mfcc, c.n_mels), x)
    else:
        raise ValueError(f"spectral_features computes raw, logmel and mfcc features, not {c.kind!r}")
    if c.normalize == "utterance":
        x = (x - x.mean(axis=-1, keepdims=True)) / (x.std(axis=-1, ddof=1, keepdims=True) + 1e-5)
    elif c.normalize == "clip":
        dims = tuple(range(1, x.ndim))
        x = (x - x.mean(axis=dims, keepdims=True)) / (x.std(axis=dims, ddof=1, keepdims=True) + 1e-5)
    return x.astype(np.float32, copy=False)


_FB: dict = {}


def _cached_fb(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    key = (sr, n_fft, n_mels, fmin, fmax)
    if key not in _FB:
        _FB[key] = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    return _FB[key]


def whisper_log_mel(wav: np.ndarray) -> np.ndarray:
    """Whisper's front end: ``(B, T)`` 16 kHz waveforms -> ``(B, 80, T // 160)`` log-mel, float32.

    Hann-windowed 400-point STFT, hop 160, reflect padding, the last frame dropped; power through
    the slaney mel filterbank; ``log10`` floored 8 decades below each clip's maximum, then
    ``(x + 4) / 4``. Inputs must be longer than 200 samples (the reflection).
    """
    power = stft_power(wav, n_fft=WHISPER_N_FFT, hop_length=WHISPER_HOP, pad_mode="reflect")[:, :-1]
    fb = _cached_fb(WHISPER_SAMPLE_RATE, WHISPER_N_FFT, WHISPER_N_MELS)
    log = np.log10(np.maximum(np.matmul(fb, power.transpose(0, 2, 1)), np.float32(1e-10)))
    log = np.maximum(log, log.max(axis=(-2, -1), keepdims=True) - np.float32(8.0))
    return ((log + np.float32(4.0)) / np.float32(4.0)).astype(np.float32, copy=False)


def loudest_window(wav: np.ndarray, n: int, *, hop: int = 160) -> np.ndarray:
    """The ``n``-sample stretch of each row of ``wav`` ``(B, T)`` with the most energy, ``(B, min(T, n))``.

    Energy is summed over ``hop``-sample frames; the window starts on a frame boundary (the
    earliest of equally loud ones). Rows no longer than ``n`` are returned whole.
    """
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim == 1:
        wav = wav[None]
    T = wav.shape[-1]
    if T <= n:
        return wav
    k = max(1, n // hop)
    frames = T // hop
    e = np.square(wav[:, :frames * hop], dtype=np.float64).reshape(len(wav), frames, hop).sum(-1)
    c = np.concatenate([np.zeros((len(wav), 1)), np.cumsum(e, axis=1)], axis=1)
    sums = c[:, k:] - c[:, :-k]                                  # (B, frames - k + 1)
    starts = np.minimum(sums.argmax(1) * hop, T - n)
    return np.stack([row[s:s + n] for row, s in zip(wav, starts)])
