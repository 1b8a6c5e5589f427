"""Whisper encoder states + a linear classifier: the model that travels across corpora.

The frozen Whisper tiny.en encoder (:mod:`escucha.features.whisper`) summarises an utterance by
the mean and standard deviation over time of its hidden states; a multinomial logistic
regression on standardised summaries gives calibrated probabilities. Layers 1-3 (the outputs
of the first three transformer blocks) are the default: the convolutional front (layer 0) keeps
more of the recording chain and the last block more of the words, and both cost accuracy
across corpora (``docs/results.md``, "Multi-corpus").

Like :class:`~escucha.models.egemaps.StandardizedLinear` it is a closed-form torch module: the
standardisation statistics are buffers, so ``escucha adapt`` can replace them with a target
domain's own (unlabelled) statistics.
"""

from __future__ import annotations

import numpy as np
import torch

from . import register_model
from .egemaps import StandardizedLinear

__all__ = ["WhisperLinear", "DEFAULT_LAYERS"]

DEFAULT_LAYERS = [1, 2, 3]


class WhisperLinear(StandardizedLinear):
    """``(B, D, 1)`` pooled states -> logits: ``((x - mean) / scale) @ W.T + b``.

    Parameters
    ----------
    C : float
        Inverse L2 regularisation strength of the logistic regression (default 0.1).
    pca : int or None
        Fit the regression on this many whitened principal components of the standardised
        summaries instead of the summaries themselves (``None``: no projection). Whitening puts
        every direction on the same scale, so the L2 penalty no longer favours the few
        high-variance directions (across corpora, largely those of corpus, speaker and recording
        chain). The projection is folded into the one linear layer, so the module, its
        checkpoint, its export and ``escucha adapt`` are the same with or without it. Measured
        and not in the shipped recipe: it helps on unseen corpora and costs more on unseen
        speakers of known ones (``docs/results.md``).
    """

    closed_form = True
    adaptable = True

    def __init__(self, n_classes: int = 8, in_channels: int = 2304, C: float | None = 0.1, pca: int | None = None):
        super().__init__(n_classes=n_classes, in_channels=in_channels, C=C)
        if pca is not None and not 1 <= int(pca) <= in_channels:
            raise ValueError(f"whisper-lr pca must be between 1 and {in_channels} components, got {pca}")
        self.pca = None if pca is None else int(pca)

    def fit(self, X: np.ndarray, y: np.ndarray, *, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
            class_weight: str | None = "balanced", seed: int = 0, sample_weight: np.ndarray | None = None) -> dict:
        """Multinomial logistic regression (lbfgs) on standardised ``X`` ``(N, D[, 1])``."""
        from sklearn.linear_model import LogisticRegression

        from ..evaluate.metrics import confusion_matrix, uar

        X = X.reshape(len(X), -1).astype(np.float64)
        mean, scale = X.mean(0), X.std(0) + 1e-6
        Z = (X - mean) / scale
        C = 0.1 if self.C is None else float(self.C)
        # optional whitened PCA: Zp = (Z - mu) @ P.T with P = components / sqrt(variance)
        proj, shift = None, None
        if self.pca is not None:
            from sklearn.decomposition import PCA

            n = min(self.pca, len(Z) - 1, Z.shape[1])
            pca = PCA(n, whiten=True, random_state=seed).fit(Z)
            proj = pca.components_ / np.sqrt(pca.explained_variance_)[:, None]   # (n, D)
            shift = pca.mean_
        Zfit = Z if proj is None else (Z - shift) @ proj.T
        clf = LogisticRegression(C=C, max_iter=3000, class_weight=class_weight, random_state=seed)
        clf.fit(Zfit, y, sample_weight=sample_weight)
        coef, intercept = clf.coef_, clf.intercept_
        if proj is not None:   # folded into one linear layer on the standardised summaries
            coef, intercept = coef @ proj, intercept - coef @ (proj @ shift)
        k = int(self.linear.out_features)
        W = np.zeros((k, Z.shape[1]))
        b = np.full(k, -1e4)  # classes absent from training are never predicted
        if len(clf.classes_) == 2:  # sklearn's binary case: one row
            W[clf.classes_[1]], b[clf.classes_[1]] = coef[0], intercept[0]
            b[clf.classes_[0]] = 0.0
        else:
            W[clf.classes_], b[clf.classes_] = coef, intercept
        with torch.no_grad():
            self.mean.copy_(torch.from_numpy(mean).float())
            self.scale.copy_(torch.from_numpy(scale).float())
            self.linear.weight.copy_(torch.from_numpy(W).float())
            self.linear.bias.copy_(torch.from_numpy(b).float())
            self.temperature.fill_(1.0)
        score = None
        if X_val is not None and len(X_val):
            Zv = (X_val.reshape(len(X_val), -1) - mean) / scale
            pred = clf.predict(Zv if proj is None else (Zv - shift) @ proj.T)
            score = uar(confusion_matrix(y_val, pred, k))
        self.C = C
        return {"C": C, "val_uar": score, "temperature": 1.0,
                **({} if proj is None else {"pca": int(proj.shape[0])})}


@register_model("whisper-lr", features={"kind": "whisper", "sample_rate": 16000, "normalize": "none",
                                        "whisper_layers": DEFAULT_LAYERS},
                description="frozen Whisper tiny.en encoder (layers 1-3, mean+std) + logistic regression: "
                            "the cross-corpus model", accepts=("whisper",))
def whisper_lr(n_classes: int, in_channels: int = 2304, **kw) -> torch.nn.Module:
    return WhisperLinear(n_classes=n_classes, in_channels=in_channels, **kw)
