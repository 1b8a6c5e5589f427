"""Decoding with soundfile (libsndfile) and resampling with soxr."""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

import numpy as np

from ..errors import AudioError

__all__ = ["load_audio", "audio_info", "resample", "to_mono", "valid_audio", "check_audio_path", "check_sample_rate",
           "float_samples", "RATES"]


def _first_line(e: BaseException) -> str:
    """libsndfile's message without its "Error opening 'file': " prefix (we name the file)."""
    s = str(e).strip()
    s = s.splitlines()[0] if s else type(e).__name__
    s = re.sub(r"^Error opening .*?: ", "", s)
    return s.rstrip(".")


def check_audio_path(path: str | os.PathLike) -> Path:
    """Refuse a path that cannot be an audio file, before any decoder sees it.

    Raises :class:`AudioError` naming ``path`` when it does not exist (a dangling symbolic link
    says so), is a symbolic-link loop, is a folder, or is an empty file (0 bytes). These
    messages are the ones every command prints for the same problem. Returns ``Path(path)``.
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise AudioError(f"{path}: file not found (a symbolic link to {os.readlink(path)}, "
                             "which does not exist)") from None
        raise AudioError(f"{path}: file not found") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise AudioError(f"{path}: cannot open (symbolic link loop)") from None
        raise AudioError(f"{path}: cannot open ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(f"{path}: is a folder, not an audio file")
    if stat.S_ISREG(st.st_mode) and st.st_size == 0:
        raise AudioError(f"{path}: cannot decode audio (empty file, 0 bytes)")
    return path


def decode_error(path: str | os.PathLike, e: BaseException) -> AudioError:
    """The one message for a file libsndfile cannot open: ``<path>: cannot decode audio (<why>)``."""
    why = _first_line(e)
    if why == "System error":  # libsndfile hides the OS error (e.g. permission denied): find it
        try:
            with open(path, "rb"):
                pass
        except OSError as oe:
            return AudioError(f"{path}: cannot open ({oe.strerror or oe})")
    return AudioError(f"{path}: cannot decode audio ({why})")


def nonfinite_error(name: str, first: int, sample_rate: int | None = None) -> AudioError:
    """The one message for NaN/Inf samples; ``first`` is the index (in frames) of the first one."""
    where = f"{first / sample_rate:.3f} s" if sample_rate else f"sample {first}"
    return AudioError(f"{name}: audio contains NaN or infinite samples (the first at {where})")


def valid_audio(y: np.ndarray, *, name: str = "audio", min_samples: int = 1,
                sample_rate: int | None = None) -> np.ndarray:
    """Check that ``y`` is a usable float signal of shape ``(T,)`` or ``(C, T)``.

    Raises :class:`AudioError` naming ``name`` when it is empty, shorter than ``min_samples``,
    not floating point, of more than two dimensions, or contains NaN/Inf (located in seconds
    when ``sample_rate`` is given). Returns ``y`` unchanged.
    """
    if not isinstance(y, np.ndarray):
        raise AudioError(f"{name}: expected a numpy array, got {type(y).__name__}")
    if y.ndim not in (1, 2):
        raise AudioError(f"{name}: expected shape (samples,) or (channels, samples), got {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise AudioError(f"{name}: expected floating-point samples, got dtype {y.dtype}")
    n = y.shape[-1]
    if n == 0:
        raise AudioError(f"{name}: audio is empty (0 samples)")
    if n < min_samples:
        raise AudioError(f"{name}: audio is too short ({n} samples, need at least {min_samples})")
    finite = np.isfinite(y)
    if not finite.all():
        bad = ~finite if y.ndim == 1 else ~finite.all(axis=0)
        raise nonfinite_error(name, int(np.argmax(bad)), sample_rate)
    return y


def audio_info(path: str | os.PathLike) -> dict:
    """Header facts without decoding: ``sample_rate, frames, channels, duration, format, subtype``."""
    import soundfile as sf

    path = check_audio_path(path)
    try:
        info = sf.info(str(path))
    except Exception as e:
        raise decode_error(path, e) from None
    return {
        "sample_rate": int(info.samplerate), "frames": int(info.frames), "channels": int(info.channels),
        "duration": info.frames / info.samplerate if info.samplerate else 0.0,
        "format": info.format, "subtype": info.subtype,
    }


def to_mono(y: np.ndarray) -> np.ndarray:
    """Average channels: ``(C, T) -> (T,)``; ``(T,)`` is returned as is.

    Summed in float64: two channels near float32's maximum would overflow to inf."""
    if y.ndim != 2:
        return y
    if y.shape[0] == 1:  # one channel: nothing to average (a view, no copy)
        return y[0]
    return y.mean(axis=0, dtype=np.float64).astype(y.dtype, copy=False)


def resample(y: np.ndarray, orig_sr: int, target_sr: int, *, quality: str = "HQ") -> np.ndarray:
    """Resample ``(T,)`` or ``(C, T)`` float audio with soxr (anti-aliased) to float32.

    Finite input gives finite output: samples near the float32 maximum (a float file may hold
    them) are resampled at unit scale, scaled back in float64 and clipped into range.
    """
    if orig_sr <= 0 or target_sr <= 0:
        raise AudioError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    if orig_sr == target_sr:
        return y
    import soxr

    def run(x):
        if x.ndim == 2:
            return soxr.resample(x.T, orig_sr, target_sr, quality=quality).T
        return soxr.resample(x, orig_sr, target_sr, quality=quality)

    out = run(y)
    if not np.isfinite(out).all() and np.isfinite(y).all():
        big, peak = float(np.finfo(np.float32).max), float(np.max(np.abs(y)))
        out = np.clip(run((np.asarray(y, dtype=np.float64) / peak).astype(np.float32)) * np.float64(peak), -big, big)
    return np.ascontiguousarray(out, dtype=np.float32)


def load_audio(
    path: str | os.PathLike,
    *,
    sample_rate: int | None = None,
    mono: bool = True,
    min_duration: float = 0.0,
    offset: float = 0.0,
    duration: float | None = None,
) -> tuple[np.ndarray, int]:
    """Decode an audio file to float32.

    Parameters
    ----------
    path : path
        Any format libsndfile decodes (WAV incl. mu-law/A-law, FLAC, OGG, MP3 ...).
    sample_rate : int or None
        Resample to this rate (Hz); ``None`` keeps the file's rate.
    mono : bool
        Mix channels down to ``(T,)``; otherwise return ``(C, T)``.
    min_duration : float
        Seconds; shorter audio raises :class:`AudioError`.
    offset, duration : float
        Seconds to skip and to read (``None``: to the end).

    Returns
    -------
    y : np.ndarray, float32, shape ``(T,)`` or ``(C, T)``
    sr : int
    """
    import soundfile as sf

    path = check_audio_path(path)
    try:
        with sf.SoundFile(str(path)) as f:
            sr = int(f.samplerate)
            start = int(round(offset * sr))
            if start:
                f.seek(min(start, f.frames))
            frames = -1 if duration is None else int(round(duration * sr))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as e:
        raise decode_error(path, e) from None
    y = data.T  # (C, T)
    valid_audio(y, name=str(path), sample_rate=sr)
    if mono:
        y = to_mono(y)
    if sample_rate is not None and sample_rate != sr:
        y = resample(y, sr, sample_rate)
        sr = sample_rate
    y = np.ascontiguousarray(y, dtype=np.float32)
    if min_duration and y.shape[-1] < min_duration * sr:
        raise AudioError(f"{path}: audio is too short ({y.shape[-1] / sr:.3f} s, need at least {min_duration:g} s)")
    return y, sr


#: sample rates an array may be given at (Hz), as the live stream takes them
RATES = (1000, 384000)


def check_sample_rate(sample_rate, *, name: str = "audio") -> int:
    """``sample_rate`` as an int, or :class:`AudioError`: a whole number of Hz in :data:`RATES`
    (a bool, a string, 16000.5 or 1 Hz are mistakes; 1 Hz would make a 4-s clip 17 GB)."""
    ok = isinstance(sample_rate, (int, np.integer, float, np.floating)) and not isinstance(sample_rate, (bool, np.bool_))
    if ok and float(sample_rate).is_integer() and RATES[0] <= float(sample_rate) <= RATES[1]:
        return int(sample_rate)
    raise AudioError(f"{name}: sample rate must be a whole number of Hz from {RATES[0]} to {RATES[1]}, "
                     f"got {sample_rate!r}")


def float_samples(x) -> np.ndarray:
    """Samples as float32 in [-1, 1]: integer PCM is scaled (``int16`` by 32768, unsigned 8-bit
    around its middle), floats are kept; anything else (complex, strings) is an :class:`AudioError`."""
    y = np.asarray(x)
    if y.dtype.kind not in "fiu":
        raise AudioError(f"audio samples must be real numbers, got an array of {y.dtype}")
    if np.issubdtype(y.dtype, np.unsignedinteger):   # offset PCM (8-bit WAV): silence is the middle
        mid = float(np.iinfo(y.dtype).max // 2 + 1)
        return ((y.astype(np.float32) - mid) / mid).astype(np.float32)
    if np.issubdtype(y.dtype, np.integer):
        return (y.astype(np.float32) / float(-np.iinfo(y.dtype).min)).astype(np.float32)
    return y.astype(np.float32, copy=False)
