"""Log-mel CNNs.

``cnn``: four blocks of ``Conv2d(3x3) BN ReLU MaxPool(2)`` over the (mel, time) image, then
the frequency axis is averaged and time is pooled by mean and max, then a small classifier.

``crnn``: the same convolutional stem, then a bidirectional GRU over time and attentive
statistics pooling (a learned weight per frame; weighted mean and standard deviation), so the
model can attend to the few frames where emotion is most audible.
"""

from __future__ import annotations

import torch
from torch import nn

from . import register_model

_LOGMEL = {"kind": "logmel", "sample_rate": 16000, "n_fft": 512, "win_length": 400, "hop_length": 160,
           "n_mels": 64, "normalize": "utterance"}


def _stem(channels, dropout):
    layers, c_in = [], 1
    for c in channels:
        layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                   nn.MaxPool2d(2), nn.Dropout2d(dropout)]
        c_in = c
    return nn.Sequential(*layers)


class LogMelCNN(nn.Module):
    def __init__(self, n_classes: int = 8, in_channels: int = 64, channels=(32, 64, 128, 256),
                 dropout: float = 0.1, head_dropout: float = 0.3):
        super().__init__()
        self.stem = _stem(channels, dropout)
        c = channels[-1]
        self.head = nn.Sequential(nn.Dropout(head_dropout), nn.Linear(2 * c, 128), nn.ReLU(inplace=True),
                                  nn.Dropout(head_dropout), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x.unsqueeze(1))   # (B, C, F', T')
        x = x.mean(dim=2)               # (B, C, T')
        x = torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=1)
        return self.head(x)


class AttentiveStatsPool(nn.Module):
    """Weighted mean and std over time with learned frame weights: ``(B, T, D) -> (B, 2D)``."""

    def __init__(self, dim: int, hidden: int = 64):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.score(h), dim=1)            # (B, T, 1)
        mean = (w * h).sum(dim=1)
        var = (w * (h - mean.unsqueeze(1)).square()).sum(dim=1)
        return torch.cat([mean, torch.sqrt(var.clamp(min=1e-6))], dim=1)


class CRNN(nn.Module):
    def __init__(self, n_classes: int = 8, in_channels: int = 64, channels=(32, 64, 128, 128),
                 rnn_hidden: int = 96, dropout: float = 0.1, head_dropout: float = 0.3):
        super().__init__()
        self.stem = _stem(channels, dropout)
        c = channels[-1]
        self.rnn = nn.GRU(c, rnn_hidden, batch_first=True, bidirectional=True)
        self.pool = AttentiveStatsPool(2 * rnn_hidden)
        self.head = nn.Sequential(nn.Dropout(head_dropout), nn.Linear(4 * rnn_hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x.unsqueeze(1)).mean(dim=2)  # (B, C, T')
        h, _ = self.rnn(x.transpose(1, 2))          # (B, T', 2H)
        return self.head(self.pool(h))


class TDNN(nn.Module):
    """1-D convolutions over time with the mel bands as channels (x-vector style), dilated to
    widen the temporal context, then attentive statistics pooling."""

    def __init__(self, n_classes: int = 8, in_channels: int = 64, channels: int = 128,
                 dilations=(1, 2, 3), dropout: float = 0.1, head_dropout: float = 0.3):
        super().__init__()
        layers = [nn.Conv1d(in_channels, channels, 5, padding=2, bias=False), nn.BatchNorm1d(channels),
                  nn.ReLU(inplace=True)]
        for d in dilations:
            layers += [nn.Conv1d(channels, channels, 3, padding=d, dilation=d, bias=False), nn.BatchNorm1d(channels),
                       nn.ReLU(inplace=True), nn.Dropout(dropout)]
        layers += [nn.Conv1d(channels, 2 * channels, 1, bias=False), nn.BatchNorm1d(2 * channels), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.pool = AttentiveStatsPool(2 * channels, hidden=64)
        self.head = nn.Sequential(nn.Dropout(head_dropout), nn.Linear(4 * channels, 128), nn.ReLU(inplace=True),
                                  nn.Dropout(head_dropout), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)                       # (B, 2C, T)
        return self.head(self.pool(h.transpose(1, 2)))


@register_model("tdnn", features={**_LOGMEL, "normalize": "clip"},
                description="dilated 1-D CNN over log-mel frames + attentive statistics pooling",
                accepts=("logmel", "mfcc"))
def tdnn(n_classes: int, in_channels: int = 64, **kw) -> nn.Module:
    return TDNN(n_classes=n_classes, in_channels=in_channels, **kw)


@register_model("cnn", features=_LOGMEL, description="4-block log-mel CNN, mean+max pooling",
                accepts=("logmel", "mfcc"))
def cnn(n_classes: int, in_channels: int = 64, **kw) -> nn.Module:
    return LogMelCNN(n_classes=n_classes, in_channels=in_channels, **kw)


@register_model("crnn", features=_LOGMEL, description="log-mel CNN + BiGRU + attentive statistics pooling",
                accepts=("logmel", "mfcc"))
def crnn(n_classes: int, in_channels: int = 64, **kw) -> nn.Module:
    return CRNN(n_classes=n_classes, in_channels=in_channels, **kw)
