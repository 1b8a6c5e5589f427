"""The classical reference: eGeMAPS functionals (openSMILE) + a linear SVM.

eGeMAPS v02 (Eyben et al. 2016) summarises a whole utterance in 88 functionals of pitch,
loudness, spectral balance, formants, jitter/shimmer and timing. A linear SVM on standardised
functionals is the usual baseline every neural model must beat.

The fitted SVM is stored as an ordinary torch module (standardisation buffers + a linear layer
+ a temperature fitted on the training data so that softmax outputs are probabilities), so it
is saved, loaded and served exactly like the neural models — no pickle.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import register_model

N_FUNCTIONALS = 88


class StandardizedLinear(nn.Module):
    """``(B, D, 1)`` functionals -> logits ``(B, K)`` = ``((x - mean) / scale) @ W.T + b`` / T."""

    closed_form = True

    def __init__(self, n_classes: int = 8, in_channels: int = N_FUNCTIONALS, C: float | None = None):
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_channels))
        self.register_buffer("scale", torch.ones(in_channels))
        self.register_buffer("temperature", torch.ones(()))
        self.linear = nn.Linear(in_channels, n_classes)
        self.C = C

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        return self.linear((x - self.mean) / self.scale) / self.temperature

    def fit(self, X: np.ndarray, y: np.ndarray, *, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
            class_weight: str | None = "balanced", seed: int = 0) -> dict:
        """Fit a one-vs-rest linear SVM (liblinear). ``C`` is chosen by validation UAR from a
        grid when validation data are given and ``self.C`` is unset. Returns fit facts."""
        from sklearn.svm import LinearSVC

        from ..evaluate.metrics import confusion_matrix, uar

        X = X.reshape(len(X), -1)
        if X_val is not None:
            X_val = X_val.reshape(len(X_val), -1)
        mean, scale = X.mean(0), X.std(0) + 1e-8
        Z = (X - mean) / scale
        grid = [self.C] if self.C is not None else [0.001, 0.003, 0.01, 0.03, 0.1]
        best = None
        k = int(self.linear.out_features)
        for C in grid:
            svm = LinearSVC(C=C, class_weight=class_weight, max_iter=20000, random_state=seed).fit(Z, y)
            score = None
            if X_val is not None and len(X_val) and len(grid) > 1:
                pred = svm.predict((X_val - mean) / scale)
                score = uar(confusion_matrix(y_val, pred, k))
            if best is None or (score is not None and score > best[0]):
                best = (score, C, svm)
        score, C, svm = best
        W = np.zeros((k, Z.shape[1]))
        b = np.zeros(k)
        W[svm.classes_] = svm.coef_
        b[svm.classes_] = svm.intercept_
        missing = np.setdiff1d(np.arange(k), svm.classes_)
        b[missing] = -1e4  # classes absent from training are never predicted
        with torch.no_grad():
            self.mean.copy_(torch.from_numpy(mean).float())
            self.scale.copy_(torch.from_numpy(scale).float())
            self.linear.weight.copy_(torch.from_numpy(W).float())
            self.linear.bias.copy_(torch.from_numpy(b).float())
            # temperature: minimise training NLL of softmax(decision / T) over a log grid
            logits = torch.from_numpy(Z @ W.T + b).float()
            yt = torch.from_numpy(y).long()
            temps = torch.logspace(-2, 1, 61)
            nll = torch.stack([nn.functional.cross_entropy(logits / t, yt) for t in temps])
            self.temperature.fill_(float(temps[int(nll.argmin())]))
        self.C = C
        return {"C": C, "val_uar": score, "temperature": float(self.temperature)}


@register_model("egemaps-svm", features={"kind": "egemaps", "sample_rate": 16000, "normalize": "none"},
                description="eGeMAPS v02 functionals (openSMILE) + linear SVM: the classical reference",
                accepts=("egemaps",))
def egemaps_svm(n_classes: int, in_channels: int = N_FUNCTIONALS, **kw) -> nn.Module:
    return StandardizedLinear(n_classes=n_classes, in_channels=in_channels, **kw)
