"""The model, front end and optimisation state of one run, and its two override points.

Subclass :class:`Trainer` to change how a batch becomes logits (:meth:`Trainer.forward`:
waveforms -> logits, with augmentation and mixup in training) or what is minimised
(:meth:`Trainer.objective`: logits, soft targets -> loss). The loop (:mod:`escucha.train.loop`)
calls nothing else of it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..features import FeatureExtractor
from ..models import create_model
from .augment import augment_waveforms, spec_augment
from .config import TrainConfig
from .prepare import feature_config_for

__all__ = ["Trainer"]


class Trainer:
    """Holds the model, front end and optimisation state of one run."""

    def __init__(self, config: TrainConfig, labels: list[str]):
        self.config = config
        self.labels = labels
        self.fcfg = feature_config_for(config)
        self.frontend = FeatureExtractor(self.fcfg)
        self.model = create_model(config.model, n_classes=len(labels), in_channels=self.fcfg.n_channels,
                                  **config.model_args)
        self.gen = torch.Generator().manual_seed(config.seed)

    # override point 1
    def forward(self, wav: torch.Tensor, *, train: bool,
                mix: tuple[float, torch.Tensor] | None = None) -> torch.Tensor:
        """Waveforms ``(B, T)`` -> logits ``(B, K)``. In training, augmentation is applied and
        ``mix=(lam, perm)`` mixes each example's features with those of ``perm`` (mixup)."""
        cfg = self.config.augment
        if train:
            wav = augment_waveforms(wav, self.fcfg.sample_rate, cfg, self.gen)
        x = self.frontend(wav)
        if train:
            x = spec_augment(x, cfg, self.gen)
        if mix is not None:
            lam, perm = mix
            x = lam * x + (1 - lam) * x[perm]
        return self.model(x)

    # override point 2
    def objective(self, logits: torch.Tensor, targets: torch.Tensor, class_weights: torch.Tensor | None) -> torch.Tensor:
        """Cross-entropy against soft ``targets`` ``(B, K)``, weighted per class if given."""
        logp = F.log_softmax(logits, dim=-1)
        loss = -(targets * logp).sum(dim=-1)
        if class_weights is not None:
            w = targets @ class_weights
            return (loss * w).sum() / w.sum()
        return loss.mean()
