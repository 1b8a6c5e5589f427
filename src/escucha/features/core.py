"""The torch front end: :class:`FeatureExtractor` (raw waveform, log-mel, MFCC computed with
torch on batches; eGeMAPS, pretrained encoders and Whisper states).

A :class:`~escucha.features.config.FeatureConfig` fully describes the front end; it is stored in
every checkpoint so that inference computes exactly what training saw. The same spectral front
ends in numpy, for the torch-free runtime, are in :mod:`escucha.features.spectral`.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import KINDS, FeatureConfig, _encoder_config
from .spectral import dct_matrix, mel_filterbank

__all__ = ["FeatureConfig", "FeatureExtractor", "KINDS", "mel_filterbank", "dct_matrix", "power_to_db"]


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
        from .smile import egemaps_functionals, make_smile

        if self._smile is None:
            self._smile = make_smile()
        return torch.from_numpy(egemaps_functionals(self._smile, wav.detach().cpu().numpy(), self.config.sample_rate))

    @torch.no_grad()
    def whisper(self, wav: torch.Tensor) -> torch.Tensor:
        """Pooled Whisper encoder states ``(B, D, 1)`` (see :func:`escucha.features.whisper.pooled_states`)."""
        from .whisper import load_whisper_encoder, pooled_states

        enc = load_whisper_encoder(self.config.encoder_path)
        if self.config.max_seconds:
            from .spectral import loudest_window

            n = int(round(self.config.max_seconds * self.config.sample_rate))
            wav = torch.from_numpy(loudest_window(wav.detach().cpu().numpy(), n))
        return pooled_states(enc, wav.float(), layers=self.config.whisper_layers,
                             floor_db=self.config.pool_floor_db).unsqueeze(-1)

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
