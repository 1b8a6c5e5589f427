"""The front end: :class:`FeatureConfig` and :class:`FeatureExtractor` (raw waveform, log-mel,
MFCC computed with torch on batches; eGeMAPS, pretrained encoders and Whisper states).

A :class:`FeatureConfig` fully describes the front end; it is stored in every checkpoint so that
inference computes exactly what training saw.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError

__all__ = ["FeatureConfig", "FeatureExtractor", "mel_filterbank", "dct_matrix", "power_to_db"]

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
        tiny.en encoder unless ``encoder_path`` names another converted folder.
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
            from .whisper import n_pooled

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
    try:
        return AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: not a pretrained encoder folder ({str(e).splitlines()[0]})") from None


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


def power_to_db(s: torch.Tensor, *, amin: float = 1e-10, top_db: float | None = 80.0) -> torch.Tensor:
    """``10 log10(max(s, amin))``, floored ``top_db`` below each example's maximum. ``s``: ``(B, F, T)``."""
    db = 10.0 * torch.log10(torch.clamp(s, min=amin))
    if top_db is not None:
        peak = db.amax(dim=(-2, -1), keepdim=True)
        db = torch.maximum(db, peak - top_db)
    return db


class FeatureExtractor(nn.Module):
    """Waveforms ``(B, T)`` at ``config.sample_rate`` -> features ``(B, C, frames)``.

    ``raw`` returns ``(B, 1, T)``. Buffers (window, filterbank, DCT) are not trained and are not
    saved in checkpoints: they are rebuilt from the config.
    """

    def __init__(self, config: FeatureConfig):
        super().__init__()
        self.config = config
        c = config
        self._smile = None
        self._encoder = None
        if c.kind in ("logmel", "mfcc"):
            self.register_buffer("window", torch.hann_window(c.win_length, periodic=True), persistent=False)
            fb = mel_filterbank(sr=c.sample_rate, n_fft=c.n_fft, n_mels=c.n_mels, fmin=c.fmin, fmax=c.fmax)
            self.register_buffer("mel_fb", torch.from_numpy(fb), persistent=False)
        if c.kind == "mfcc":
            self.register_buffer("dct", torch.from_numpy(dct_matrix(c.n_mfcc, c.n_mels)), persistent=False)

    def mel_power(self, wav: torch.Tensor) -> torch.Tensor:
        """Mel power spectrogram ``(B, n_mels, frames)`` (centred frames, zero padding)."""
        c = self.config
        spec = torch.stft(wav, n_fft=c.n_fft, hop_length=c.hop_length, win_length=c.win_length,
                          window=self.window, center=True, pad_mode="constant", return_complex=True)
        power = spec.real.square() + spec.imag.square()
        return torch.matmul(self.mel_fb, power)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() == 1:
            wav = wav.unsqueeze(0)
        c = self.config
        if c.kind == "raw":
            x = wav.unsqueeze(1)
        elif c.kind == "egemaps":
            x = self.egemaps(wav)
        elif c.kind == "encoder":
            x = self.encode(wav)
        elif c.kind == "whisper":
            x = self.whisper(wav)
        else:
            x = power_to_db(self.mel_power(wav), top_db=c.top_db)
            if c.kind == "mfcc":
                x = torch.matmul(self.dct, x)
        if c.normalize == "utterance":
            mean = x.mean(dim=-1, keepdim=True)
            std = x.std(dim=-1, keepdim=True)
            x = (x - mean) / (std + 1e-5)
        elif c.normalize == "clip":
            dims = tuple(range(1, x.dim()))
            mean = x.mean(dim=dims, keepdim=True)
            std = x.std(dim=dims, keepdim=True)
            x = (x - mean) / (std + 1e-5)
        return x

    def egemaps(self, wav: torch.Tensor) -> torch.Tensor:
        """eGeMAPS v02 functionals ``(B, 88, 1)`` computed by openSMILE (C++), one clip at a time."""
        if self._smile is None:
            try:
                import opensmile
            except ImportError:
                raise ConfigError("eGeMAPS features need the 'opensmile' package: pip install opensmile") from None
            self._smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                          feature_level=opensmile.FeatureLevel.Functionals)
        rows = [self._smile.process_signal(w.detach().cpu().numpy(), self.config.sample_rate).to_numpy()[0]
                for w in wav]
        return torch.from_numpy(np.stack(rows).astype(np.float32)).unsqueeze(-1)

    @torch.no_grad()
    def whisper(self, wav: torch.Tensor) -> torch.Tensor:
        """Pooled Whisper encoder states ``(B, D, 1)`` (see :func:`escucha.features.whisper.pooled_states`)."""
        from .whisper import load_whisper_encoder, pooled_states

        enc = load_whisper_encoder(self.config.encoder_path)
        return pooled_states(enc, wav.float(), layers=self.config.whisper_layers).unsqueeze(-1)

    @torch.no_grad()
    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """Frozen pretrained encoder: hidden states of layer ``encoder_layer``, ``(B, D, frames)``."""
        if self._encoder is None:
            _encoder_config(self.config.encoder_path)  # clear errors for a bad folder / no transformers
            from transformers import AutoModel

            self._encoder = AutoModel.from_pretrained(self.config.encoder_path, local_files_only=True).eval()
        x = (wav - wav.mean(dim=-1, keepdim=True)) / (wav.std(dim=-1, keepdim=True) + 1e-7)
        out = self._encoder(x, output_hidden_states=True)
        return out.hidden_states[self.config.encoder_layer].transpose(1, 2).contiguous()
