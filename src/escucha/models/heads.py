"""Light heads on top of a frozen pretrained encoder (bring your own wav2vec2 / HuBERT / WavLM)."""

from __future__ import annotations

import torch
from torch import nn

from . import register_model
from .cnn import AttentiveStatsPool


class EncoderHead(nn.Module):
    """``(B, D, frames)`` encoder states -> layer norm -> attentive statistics pooling -> linear."""

    def __init__(self, n_classes: int = 8, in_channels: int = 768, hidden: int = 128, dropout: float = 0.2):
        super().__init__()
        self.norm = nn.LayerNorm(in_channels)
        self.pool = AttentiveStatsPool(in_channels, hidden=hidden)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * in_channels, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.norm(x.transpose(1, 2))))


@register_model("encoder-head", features={"kind": "encoder", "sample_rate": 16000, "normalize": "none"},
                description="attentive pooling + linear on a frozen local wav2vec2/HuBERT/WavLM (needs encoder_path)",
                accepts=("encoder",))
def encoder_head(n_classes: int, in_channels: int = 768, **kw) -> nn.Module:
    return EncoderHead(n_classes=n_classes, in_channels=in_channels, **kw)
