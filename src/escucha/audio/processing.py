"""Signal-level processing on ``(y, sr)``: silence trimming, fixed length, loudness."""

from __future__ import annotations

import numpy as np

__all__ = ["trim_silence", "pad_or_crop", "normalize_loudness", "rms_db", "frame_rms_db"]


def frame_rms_db(y: np.ndarray, *, frame_length: int = 2048, hop_length: int = 512) -> np.ndarray:
    """RMS of centred frames in dB relative to full scale: ``(T,) -> (n_frames,)``, at least -100.

    Power is summed in float64, so that a loud float signal (|y| above about 1e17) does not
    overflow to infinity and make every frame look silent next to it.
    """
    y = np.asarray(y, dtype=np.float32)
    pad = frame_length // 2
    yp = np.pad(y, (pad, pad))
    n = 1 + max(0, (len(yp) - frame_length) // hop_length)
    k, rem = divmod(frame_length, hop_length)
    if rem == 0 and len(yp) >= frame_length:
        # a frame is k whole hops: sum the squares per hop once, then k shifted hop sums per
        # frame (no running sum, whose cancellation would wreck quiet frames after loud ones)
        hops = np.square(yp[:(n + k - 1) * hop_length], dtype=np.float64).reshape(-1, hop_length).sum(axis=1)
        power = hops[:n].copy()
        for j in range(1, k):
            power += hops[j:j + n]
        power /= frame_length
    else:
        idx = np.arange(frame_length)[None, :] + hop_length * np.arange(n)[:, None]
        power = np.mean(np.square(yp[idx], dtype=np.float64), axis=1)
    return (10.0 * np.log10(np.maximum(power, 1e-10))).astype(np.float32)


def trim_silence(
    y: np.ndarray, *, top_db: float = 40.0, frame_length: int = 2048, hop_length: int = 512
) -> tuple[np.ndarray, tuple[int, int]]:
    """Remove leading and trailing frames quieter than ``top_db`` below the loudest frame.

    Same rule as ``librosa.effects.trim`` (reference = max frame power).

    Returns
    -------
    y_trimmed : np.ndarray, shape ``(T',)``
    (start, end) : sample indices of the kept interval in ``y``
    """
    db = frame_rms_db(y, frame_length=frame_length, hop_length=hop_length)
    keep = np.flatnonzero(db > db.max() - top_db)
    if keep.size == 0:
        return y[:0], (0, 0)
    start = int(keep[0] * hop_length)
    end = int(min(len(y), (keep[-1] + 1) * hop_length))
    return y[start:end], (start, end)


def pad_or_crop(y: np.ndarray, length: int, *, mode: str = "center",
                rng: np.random.Generator | None = None) -> np.ndarray:
    """Return exactly ``length`` samples (last axis).

    ``mode="center"`` crops the middle and pads both sides equally (evaluation);
    ``mode="random"`` crops at, or pads to, a random offset drawn from ``rng`` (training);
    ``mode="start"`` keeps the beginning and pads at the end.
    """
    if mode not in ("center", "random", "start"):
        raise ValueError(f"mode must be 'center', 'random' or 'start', got {mode!r}")
    n = y.shape[-1]
    if n == length:
        return y
    diff = abs(n - length)
    if mode == "start":
        off = 0
    elif mode == "center":
        off = diff // 2
    else:
        off = int((rng or np.random.default_rng()).integers(0, diff + 1))
    if n > length:
        return y[..., off:off + length]
    widths = [(0, 0)] * (y.ndim - 1) + [(off, diff - off)]
    return np.pad(y, widths)


def rms_db(y: np.ndarray) -> float:
    """Overall RMS level in dBFS (-120 for silence and for an empty signal)."""
    if np.size(y) == 0:
        return -120.0
    return float(10.0 * np.log10(max(float(np.mean(np.square(y, dtype=np.float64))), 1e-12)))


def normalize_loudness(y: np.ndarray, *, target_db: float = -23.0, max_gain_db: float = 40.0,
                       use_active: bool = True) -> np.ndarray:
    """Scale ``y`` so its RMS level is ``target_db`` dBFS, without clipping.

    With ``use_active`` the level is measured over frames within 40 dB of the loudest one, so
    that long silences do not inflate the gain. Gain is capped at ``max_gain_db`` and reduced so
    that the peak stays below 1.0.
    """
    if use_active and y.shape[-1] >= 2048:
        db = frame_rms_db(y).astype(np.float64)  # 10 ** (db / 10) of a loud frame overflows float32
        active = db[db > db.max() - 40.0]
        level = float(10 * np.log10(np.mean(10 ** (active / 10)))) if active.size else rms_db(y)
    else:
        level = rms_db(y)
    gain_db = min(target_db - level, max_gain_db)
    out = y * np.float32(10 ** (gain_db / 20))
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0.999:
        out = out * np.float32(0.999 / peak)
    return out.astype(np.float32, copy=False)
