"""Decoded, resampled, normalised waveforms for a list of records, cached on disk.

The cache key is a hash of the file's bytes and of every setting that changes the samples
(sample rate, trimming, loudness target), so editing a file or a setting invalidates it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..audio import load_audio, normalize_loudness, trim_silence
from ..errors import AudioError
from ..utils.progress import progress

__all__ = ["PreprocessConfig", "preprocess", "WaveformCache", "load_waveforms", "default_cache_dir"]

CACHE_VERSION = 1


@dataclass
class PreprocessConfig:
    """Signal preparation applied before features, identical in training and inference.

    Attributes
    ----------
    sample_rate : int
        Hz (must equal the feature config's).
    trim_db : float or None
        Trim leading/trailing silence quieter than this many dB below the peak frame
        (``None``: keep silence; the class project found trimming hurt).
    loudness_db : float or None
        Normalise active-speech RMS to this dBFS (``None``: leave levels as recorded).
    """

    sample_rate: int = 16000
    trim_db: float | None = None
    loudness_db: float | None = -23.0

    @classmethod
    def from_dict(cls, d: dict) -> "PreprocessConfig":
        return cls(**{k: d[k] for k in ("sample_rate", "trim_db", "loudness_db") if k in d})


def preprocess(y: np.ndarray, sr: int, config: PreprocessConfig, *, name: str = "audio") -> np.ndarray:
    """Apply trimming and loudness normalisation to a mono signal already at ``config.sample_rate``."""
    if config.trim_db is not None:
        y, _ = trim_silence(y, top_db=config.trim_db)
        if y.size == 0:
            raise AudioError(f"{name}: nothing left after trimming silence at {config.trim_db} dB")
    if config.loudness_db is not None:
        y = normalize_loudness(y, target_db=config.loudness_db)
    return y.astype(np.float32, copy=False)


def default_cache_dir() -> Path:
    env = os.environ.get("ESCUCHA_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "escucha"


def _file_digest(path: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class WaveformCache:
    """``.npy`` files under ``root/waveforms`` keyed by file content + preprocessing settings."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.dir = self.root / "waveforms"

    def key(self, path: str, config: PreprocessConfig) -> str:
        settings = json.dumps({"v": CACHE_VERSION, **asdict(config)}, sort_keys=True)
        return hashlib.blake2b((_file_digest(path) + settings).encode(), digest_size=20).hexdigest()

    def get(self, key: str) -> np.ndarray | None:
        p = self.dir / key[:2] / f"{key}.npy"
        if p.is_file():
            try:
                return np.load(p)
            except Exception:
                p.unlink(missing_ok=True)  # corrupt entry: recompute
        return None

    def put(self, key: str, y: np.ndarray) -> None:
        from ..utils.io import atomic_path

        p = self.dir / key[:2] / f"{key}.npy"
        with atomic_path(p, suffix=".npy") as tmp:
            np.save(tmp, y)


def load_waveforms(paths: list[str], config: PreprocessConfig, *, cache: WaveformCache | None | bool = True,
                   desc: str | None = "loading audio", errors: list | None = None) -> list[np.ndarray | None]:
    """Decode, resample and preprocess every file (mono float32 at ``config.sample_rate``).

    ``cache=True`` uses the default cache folder (``$ESCUCHA_CACHE`` or ``~/.cache/escucha``),
    ``False``/``None`` disables caching. Raises :class:`AudioError` on the first bad file, or,
    given an ``errors`` list, appends ``(path, message)`` to it and puts ``None`` in that file's place.
    ``desc``: the progress bar's title (``None``: no bar).
    """
    if cache is True:
        cache = WaveformCache()
    elif cache is False:
        cache = None
    out = []
    for path in progress(paths, desc=desc or "", unit="clip", disable=True if desc is None else None):
        try:
            key = cache.key(path, config) if cache else None
            y = cache.get(key) if cache else None
            if y is None:
                y, _ = load_audio(path, sample_rate=config.sample_rate)
                y = preprocess(y, config.sample_rate, config, name=path)
                if cache:
                    cache.put(key, y)
        except (AudioError, OSError) as e:
            if errors is None:
                raise
            msg = str(e) if isinstance(e, AudioError) else f"{path}: cannot read ({e.strerror or e})"
            errors.append((path, msg))
            y = None
        out.append(y)
    return out
