"""What a model sees: :class:`FeatureConfig`, stored in every checkpoint so that inference
computes exactly what training saw.

Torch-free: the ONNX runtime (:mod:`escucha.runtime`) reads the same settings and computes the
spectral front ends in numpy (:mod:`escucha.features.spectral`); the torch front end is
:class:`escucha.features.core.FeatureExtractor`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

__all__ = ["FeatureConfig", "KINDS", "bundled_whisper_dir", "whisper_dir", "n_pooled"]

KINDS = ("raw", "logmel", "mfcc", "egemaps", "encoder", "whisper")


@dataclass
class FeatureConfig:
    """What the model sees.

    Attributes
    ----------
    kind : {"raw", "logmel", "mfcc", "egemaps"}
        ``egemaps``: the 88 eGeMAPS v02 functionals of openSMILE over the whole input, ``(B, 88, 1)``.
        ``encoder``: hidden states ``(B, D, frames)`` of a pretrained wav2vec2 / HuBERT / WavLM
        checkpoint read from the local folder ``encoder_path`` (``transformers``; never downloaded).
        ``whisper``: mean and standard deviation over time of Whisper encoder states
        (:mod:`escucha.features.whisper`), ``(B, len(whisper_layers) * 2 * D, 1)``; the bundled
        tiny.en encoder unless ``encoder_path`` names another bundled one (``"whisper-base"``) or
        another converted folder.
    sample_rate : int
        Hz; audio is resampled to this rate before features.
    n_fft, win_length, hop_length : int
        STFT size, Hann window length and hop, in samples.
    n_mels : int
        Mel bands (slaney scale and normalisation, as librosa's default).
    n_mfcc : int
        Cepstral coefficients kept (type-II orthonormal DCT of the dB mel spectrum).
    fmin, fmax : float
        Mel filterbank range in Hz (``fmax=None``: Nyquist).
    top_db : float or None
        Floor of the dB spectrum below each clip's maximum (librosa's ``power_to_db``).
    max_seconds : float or None
        ``whisper`` only: the encoder hears at most this many seconds of each input, the stretch
        with the most energy (:func:`escucha.features.spectral.loudest_window`); ``None``: all.
        The encoder's cost grows with its input, so this bounds the time per clip.
    pool_floor_db : float or None
        ``whisper`` only: pool the encoder's states over the frames within this many dB of the
        input's loudest frame (:func:`escucha.features.whisper.speech_frames`: silence, padding
        and a line's hiss between words are left out); ``None``: over every frame.
    normalize : {"none", "utterance", "clip"}
        ``"utterance"``: zero mean, unit variance per band over time, for each clip (removes the
        spectral envelope); ``"clip"``: one mean and variance over the whole clip (keeps it).
    """

    kind: str = "logmel"
    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 64
    n_mfcc: int = 40
    fmin: float = 0.0
    fmax: float | None = None
    top_db: float | None = 80.0
    normalize: str = "none"
    encoder_path: str | None = None
    encoder_layer: int = -1
    whisper_layers: tuple[int, ...] | None = None   # states pooled by "whisper" (None: all)
    max_seconds: float | None = None                 # "whisper": hear only the loudest this-many seconds
    pool_floor_db: float | None = None               # "whisper": pool frames within this many dB of the loudest

    def __post_init__(self):
        if self.kind == "encoder" and not self.encoder_path:
            raise ConfigError("encoder features need encoder_path: a local folder with a pretrained "
                              "wav2vec2 / HuBERT / WavLM checkpoint (config.json + weights)")
        if self.kind not in KINDS:
            raise ConfigError(f"feature kind {self.kind!r} is unknown; choose one of {', '.join(KINDS)}")
        if self.normalize not in ("none", "utterance", "clip"):
            raise ConfigError(f"feature normalize {self.normalize!r} is unknown; choose 'none', 'utterance' or 'clip'")
        if self.kind == "whisper":
            if self.sample_rate != 16000:
                raise ConfigError(f"whisper features need sample_rate 16000, got {self.sample_rate}")
            if self.whisper_layers is not None:
                self.whisper_layers = tuple(int(i) for i in self.whisper_layers)
        if self.max_seconds is not None:
            if self.kind != "whisper":
                raise ConfigError(f"max_seconds applies to whisper features only, not {self.kind!r}")
            if not 0.5 <= float(self.max_seconds) <= 3600:
                raise ConfigError(f"max_seconds must be between 0.5 and 3600 seconds, got {self.max_seconds}")
        if self.pool_floor_db is not None:
            if self.kind != "whisper":
                raise ConfigError(f"pool_floor_db applies to whisper features only, not {self.kind!r}")
            if not 1.0 <= float(self.pool_floor_db) <= 80.0:
                raise ConfigError(f"pool_floor_db must be between 1 and 80 dB, got {self.pool_floor_db}")
        if self.sample_rate < 1000:
            raise ConfigError(f"feature sample_rate {self.sample_rate} Hz is too low")
        if self.win_length > self.n_fft:
            raise ConfigError(f"win_length {self.win_length} exceeds n_fft {self.n_fft}")

    @property
    def n_channels(self) -> int:
        """Feature channels: 1 for raw, ``n_mels`` for log-mel, ``n_mfcc`` for MFCC."""
        if self.kind == "encoder":
            return int(_encoder_config(self.encoder_path).hidden_size)
        if self.kind == "whisper":
            return n_pooled(self.encoder_path, self.whisper_layers)
        return {"raw": 1, "logmel": self.n_mels, "mfcc": self.n_mfcc, "egemaps": 88}[self.kind]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if d.get("whisper_layers") is not None:
            d["whisper_layers"] = list(d["whisper_layers"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _encoder_config(path: str):
    try:
        from transformers import AutoConfig
    except ImportError:
        raise ConfigError("encoder features need the 'transformers' package: pip install 'escucha[encoders]'") from None
    # a folder that is not there: said so (transformers would take the path for a hub repo id)
    if not Path(path).exists():
        raise ConfigError(f"{path}: no such folder (encoder_path names a local folder with the encoder's "
                          "config.json and weights; nothing is downloaded)")
    if not (Path(path) / "config.json").is_file():
        raise ConfigError(f"{path}: not a pretrained encoder folder (no config.json in it)")
    try:
        return AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: not a pretrained encoder folder ({str(e).splitlines()[0]})") from None


def bundled_whisper_dir(name: str = "whisper-tiny.en") -> Path:
    """Folder of a Whisper encoder shipped inside the package (``whisper-tiny.en``, ``whisper-base``)."""
    return Path(__file__).resolve().parent.parent / "assets" / "encoders" / name


def whisper_dir(path: str | os.PathLike | None) -> Path:
    """The Whisper encoder folder a :class:`FeatureConfig` names: ``None``, the bundled tiny.en; the
    bare name of a bundled encoder (``"whisper-base"``), that one, wherever escucha is installed;
    anything else, that folder."""
    if not path:
        return bundled_whisper_dir()
    s = str(path)
    if "/" not in s and "\\" not in s and bundled_whisper_dir(s).is_dir():
        return bundled_whisper_dir(s)
    return Path(path)


def n_pooled(path: str | os.PathLike | None, layers: tuple[int, ...] | None) -> int:
    """Length of the pooled Whisper vectors (mean and std of each layer in ``layers``; ``None``:
    every layer) for the encoder in ``path`` (:func:`whisper_dir`; default: the bundled tiny.en)."""
    d = whisper_dir(path)
    cfg = json.loads((d / "config.json").read_text())
    n = len(layers) if layers is not None else int(cfg["n_layers"]) + 1
    return n * 2 * int(cfg["d_model"])
