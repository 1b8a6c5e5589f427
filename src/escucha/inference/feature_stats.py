"""What adaptation measures: the moments of the features a standardised head hears on a user's
recordings, and the shrunk statistics they give (:mod:`escucha.inference.adapt`).

Torch-free: the trained statistics are read from the member's safetensors with numpy, and the
features are observed on whichever runtime runs the model
(:meth:`~escucha.inference.base.BasePredictor.add_feature_observer`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["adapted_statistics", "FeatureMoments", "ADAPTABLE_MODELS", "head_stats"]


def adapted_statistics(mean_train: np.ndarray, scale_train: np.ndarray, mean_target: np.ndarray,
                       var_target: np.ndarray, *, n: int, strength: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Shrink the target statistics towards the trained ones.

    Parameters
    ----------
    mean_train, scale_train : ndarray, shape ``(D,)``
        The head's trained ``mean`` and ``scale`` buffers.
    mean_target, var_target : ndarray, shape ``(D,)``
        Mean and (population) variance of the features on the user's recordings.
    n : int
        Recordings behind the target statistics.
    strength : float
        ``N0`` >= 0: how many recordings the trained statistics are worth.

    Returns
    -------
    mean, scale : ndarray, shape ``(D,)``
        ``lam * mean_target + (1 - lam) * mean_train`` and
        ``sqrt(lam * var_target + (1 - lam) * scale_train ** 2)`` (the trained scale where that
        is 0, which only a constant feature with ``strength`` 0 can give).
    lam : float
        ``n / (n + strength)``.
    """
    lam = float(n) / (float(n) + float(strength)) if n + strength > 0 else 0.0
    mean_train, scale_train = np.asarray(mean_train, np.float64), np.asarray(scale_train, np.float64)
    mean = lam * np.asarray(mean_target, np.float64) + (1.0 - lam) * mean_train
    var = lam * np.maximum(np.asarray(var_target, np.float64), 0.0) + (1.0 - lam) * scale_train ** 2
    scale = np.where(var > 0, np.sqrt(var), scale_train)
    return mean, scale, lam


#: models whose classifier standardises its input with ``mean`` / ``scale`` buffers
#: (:class:`~escucha.models.egemaps.StandardizedLinear` and its whisper-lr subclass); known here by
#: name so that adaptation needs no torch (tests check it against the registry)
ADAPTABLE_MODELS = ("egemaps-svm", "whisper-lr")


def head_stats(member_dir: Path, cfg: dict) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The trained ``(mean, scale)`` of each weight file of a member, read from its safetensors
    (no torch), or ``None`` when the member has no standardised head."""
    from safetensors.numpy import load_file

    if cfg.get("model", {}).get("name") not in ADAPTABLE_MODELS:
        return None
    out = []
    for wf in cfg.get("weights", ["model.safetensors"]):
        t = load_file(str(member_dir / wf))
        if "mean" not in t or "scale" not in t:
            return None
        out.append((t["mean"].astype(np.float64), t["scale"].astype(np.float64)))
    return out


class FeatureMoments:
    """Weighted first and second moments of one head's input features, one weight per file.

    Moments are kept relative to the trained mean (numerically safer than raw sums of squares).
    It observes the member's features (:meth:`BasePredictor.add_feature_observer`), so it works
    on either runtime.
    """

    def __init__(self, member, ref: np.ndarray):
        self.member = member
        self.ref = np.asarray(ref, dtype=np.float64).copy()
        self.s1 = np.zeros_like(self.ref)
        self.s2 = np.zeros_like(self.ref)
        self.files = 0
        self._pending: list[np.ndarray] = []
        member.add_feature_observer(self._hook)

    def _hook(self, x: np.ndarray):
        self._pending.append(np.asarray(x, dtype=np.float64).reshape(len(x), -1) - self.ref)

    def end_file(self, keep: bool) -> bool:
        """Fold the windows seen since the last call into the moments as one recording."""
        heard = bool(self._pending)
        if heard and keep:
            d = np.concatenate(self._pending)
            self.s1 += d.mean(axis=0)
            self.s2 += (d * d).mean(axis=0)
            self.files += 1
        self._pending = []
        return heard and keep

    def target(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and population variance ``(D,)`` over the recordings (each weighing the same)."""
        m1, m2 = self.s1 / self.files, self.s2 / self.files
        return self.ref + m1, np.maximum(m2 - m1 * m1, 0.0)

    def close(self):
        self.member.remove_feature_observer(self._hook)
