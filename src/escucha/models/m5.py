"""M5: the raw-waveform CNN of the 2021 class project.

From Dai et al. (2017), "Very deep convolutional neural networks for raw waveforms", in the
form of the PyTorch speech-command tutorial that the class project used::

    Conv1d(1, 32, k=80, stride=16) BN ReLU MaxPool(4)
    Conv1d(32, 32, k=3)            BN ReLU MaxPool(4)
    Conv1d(32, 64, k=3)            BN ReLU MaxPool(4)
    Conv1d(64, 64, k=3)            BN ReLU MaxPool(4)
    global average pool over time -> Linear(64, n_classes)

With 8 classes that is 25,160 parameters. Input: raw waveform at 8 kHz ``(B, 1, T)``.
"""

from __future__ import annotations

import torch
from torch import nn

from . import register_model


class M5(nn.Module):
    def __init__(self, n_classes: int = 8, in_channels: int = 1, n_channel: int = 32, stride: int = 16):
        super().__init__()
        c = n_channel
        self.features = nn.Sequential(
            nn.Conv1d(in_channels, c, kernel_size=80, stride=stride), nn.BatchNorm1d(c), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(c, c, kernel_size=3), nn.BatchNorm1d(c), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(c, 2 * c, kernel_size=3), nn.BatchNorm1d(2 * c), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(2 * c, 2 * c, kernel_size=3), nn.BatchNorm1d(2 * c), nn.ReLU(), nn.MaxPool1d(4),
        )
        self.fc = nn.Linear(2 * c, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)          # (B, 64, T')
        return self.fc(x.mean(dim=-1))  # (B, n_classes)


@register_model("m5", features={"kind": "raw", "sample_rate": 8000},
                description="class-project raw-waveform CNN (Dai et al. 2017), 25k parameters")
def m5(n_classes: int, in_channels: int = 1, **kw) -> nn.Module:
    return M5(n_classes=n_classes, in_channels=in_channels, **kw)
