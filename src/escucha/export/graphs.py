"""Torch modules written for export: each is one graph of an export folder.

The torch front end computes its STFT with ``torch.stft`` (complex), which the ONNX exporter
cannot write; :class:`SpectrogramGraph` computes the same power spectrum as a convolution with
a windowed DFT basis, so that the spectral front ends can travel as graphs too. The other
modules wrap what inference runs (:class:`escucha.inference.Predictor`): the Whisper encoder
cut to the layers a model pools, a local wav2vec2-style encoder, and a checkpoint's weight sets
averaged after softmax.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..features.config import FeatureConfig
from ..features.whisper import pool_mean_std, speech_frames
from ..features.spectral import (WHISPER_HOP, WHISPER_N_FFT, WHISPER_N_MELS, WHISPER_SAMPLE_RATE, dct_matrix,
                                 hann_window, mel_filterbank)

__all__ = ["SpectrogramGraph", "WhisperPooledGraph", "EncoderGraph", "MeanSoftmax", "conv1d_as_matmul"]


class SpectrogramGraph(nn.Module):
    """Waveforms ``(B, T)`` -> the spectral features of ``config`` (``logmel``, ``mfcc``, with
    their ``normalize``), or Whisper's log-mel ``(B, 80, T // 160)`` with ``whisper=True``."""

    def __init__(self, config: FeatureConfig | None = None, *, whisper: bool = False):
        super().__init__()
        self.whisper = whisper
        self.config = config
        if whisper:
            n_fft, hop, win, n_mels, sr, fmin, fmax = (WHISPER_N_FFT, WHISPER_HOP, WHISPER_N_FFT, WHISPER_N_MELS,
                                                      WHISPER_SAMPLE_RATE, 0.0, None)
        else:
            c = config
            n_fft, hop, win, n_mels, sr, fmin, fmax = c.n_fft, c.hop_length, c.win_length, c.n_mels, c.sample_rate, \
                c.fmin, c.fmax
        self.n_fft, self.hop = n_fft, hop
        k = np.arange(n_fft)
        f = np.arange(n_fft // 2 + 1)[:, None]
        w = hann_window(win, n_fft).astype(np.float64)
        basis = np.concatenate([np.cos(2 * np.pi * f * k / n_fft) * w, -np.sin(2 * np.pi * f * k / n_fft) * w])
        self.register_buffer("basis", torch.from_numpy(basis.astype(np.float32))[:, None, :])
        self.register_buffer("mel_fb", torch.from_numpy(mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels,
                                                                       fmin=fmin, fmax=fmax)))
        if not whisper and config.kind == "mfcc":
            self.register_buffer("dct", torch.from_numpy(dct_matrix(config.n_mfcc, config.n_mels)))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        pad = self.n_fft // 2
        x = nn.functional.pad(wav.unsqueeze(1), (pad, pad), mode="reflect" if self.whisper else "constant")
        spec = nn.functional.conv1d(x, self.basis, stride=self.hop)     # (B, 2F, frames)
        n = self.n_fft // 2 + 1
        power = spec[:, :n].square() + spec[:, n:].square()
        if self.whisper:
            mel = torch.matmul(self.mel_fb, power[..., :-1])
            log = torch.log10(torch.clamp(mel, min=1e-10))
            log = torch.maximum(log, log.amax(dim=(-2, -1), keepdim=True) - 8.0)
            return (log + 4.0) / 4.0
        from ..features.core import power_to_db

        c = self.config
        x = power_to_db(torch.matmul(self.mel_fb, power), top_db=c.top_db)
        if c.kind == "mfcc":
            x = torch.matmul(self.dct, x)
        if c.normalize == "utterance":
            x = (x - x.mean(dim=-1, keepdim=True)) / (x.std(dim=-1, keepdim=True) + 1e-5)
        elif c.normalize == "clip":
            x = (x - x.mean(dim=(1, 2), keepdim=True)) / (x.std(dim=(1, 2), keepdim=True) + 1e-5)
        return x


def conv1d_as_matmul(conv: nn.Conv1d, x: torch.Tensor, *, stride: int) -> torch.Tensor:
    """``conv(x)`` for a 1-D convolution with padding ``(K - 1) // 2``, written as one matrix
    product over stacked shifted inputs: dynamic int8 quantisation reaches matrix products, and
    int8 convolutions are slow on CPU. ``x``: ``(B, C, F)`` -> ``(B, O, (F - 1) // stride + 1)``."""
    w = conv.weight                                            # (O, C, K)
    o, c, k = w.shape
    pad = (k - 1) // 2
    n = (x.shape[-1] - 1) // stride + 1
    xp = nn.functional.pad(x, (pad, pad))
    cols = torch.cat([xp[..., j: j + stride * (n - 1) + 1: stride] for j in range(k)], dim=1)  # (B, K*C, n)
    y = torch.matmul(cols.transpose(1, 2), w.permute(0, 2, 1).reshape(o, k * c).t())
    return (y + conv.bias).transpose(1, 2)


class WhisperPooledGraph(nn.Module):
    """Whisper log-mel ``(B, 80, F)`` -> mean and std over time of the chosen hidden states,
    ``(B, len(layers) * 2 * D, 1)`` (:func:`escucha.features.whisper.pooled_states`), running
    only the blocks those layers need, over the frames :func:`~escucha.features.whisper.speech_frames`
    keeps when ``floor_db`` is set; its two convolutions are matrix products
    (:func:`conv1d_as_matmul`)."""

    def __init__(self, encoder, layers: tuple[int, ...] | None, floor_db: float | None = None):
        super().__init__()
        self.floor_db = floor_db
        n_states = len(encoder.blocks) + 1
        self.layers = tuple(range(n_states)) if layers is None else tuple(int(i) for i in layers)
        self.encoder = encoder
        self.depth = max(self.layers)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        e = self.encoder
        x = nn.functional.gelu(conv1d_as_matmul(e.conv1, mel, stride=1))
        x = nn.functional.gelu(conv1d_as_matmul(e.conv2, x, stride=2)).transpose(1, 2)
        x = x + e.positions[: x.shape[1]]
        states = [x]
        last = len(e.blocks) - 1
        for i, blk in enumerate(e.blocks[:self.depth]):
            x = blk(x)
            states.append(e.ln_post(x) if i == last else x)
        weights = None if self.floor_db is None else speech_frames(mel, self.floor_db)
        parts = []
        for i in self.layers:
            parts += pool_mean_std(states[i], weights)
        return torch.cat(parts, dim=-1).unsqueeze(-1)


class EncoderGraph(nn.Module):
    """Waveforms ``(B, T)`` -> a local pretrained encoder's states ``(B, D, frames)``, as
    :meth:`escucha.features.FeatureExtractor.encode` gives them."""

    def __init__(self, frontend):
        super().__init__()
        frontend.encode(torch.zeros(1, 1600))  # loads the encoder
        self.encoder = frontend._encoder
        self.layer = frontend.config.encoder_layer

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        x = (wav - wav.mean(dim=-1, keepdim=True)) / (wav.std(dim=-1, keepdim=True) + 1e-7)
        out = self.encoder(x, output_hidden_states=True)
        return out.hidden_states[self.layer].transpose(1, 2).contiguous()


class MeanSoftmax(nn.Module):
    """Features ``(B, C, frames)`` -> the mean of the softmax of each weight set's logits, as
    :meth:`escucha.inference.Predictor.predict_windows` averages them."""

    def __init__(self, models):
        super().__init__()
        self.models = nn.ModuleList(models)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = torch.softmax(self.models[0](x), dim=-1)
        for m in self.models[1:]:
            p = p + torch.softmax(m(x), dim=-1)
        return p / len(self.models)
