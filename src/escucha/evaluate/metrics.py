"""Metric functions on label indices (numpy only)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["confusion_matrix", "accuracy", "uar", "macro_f1", "per_class", "classification_report",
           "mean_std_table"]


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """Counts ``(n_classes, n_classes)``, rows = true class, columns = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)), 1)
    return cm


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class (0 where undefined)."""
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1).astype(float)
    predicted = cm.sum(axis=0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(int)}


def accuracy(cm: np.ndarray) -> float:
    n = cm.sum()
    return float(np.trace(cm) / n) if n else 0.0


def uar(cm: np.ndarray) -> float:
    """Unweighted average recall (balanced accuracy) over classes that occur in the truth."""
    pc = per_class(cm)
    present = pc["support"] > 0
    return float(pc["recall"][present].mean()) if present.any() else 0.0


def macro_f1(cm: np.ndarray) -> float:
    """Mean F1 over classes that occur in the truth or in the predictions."""
    pc = per_class(cm)
    present = (cm.sum(axis=1) + cm.sum(axis=0)) > 0
    return float(pc["f1"][present].mean()) if present.any() else 0.0


def classification_report(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]) -> dict:
    """Everything ``escucha evaluate --json`` prints: n, accuracy, uar, macro_f1, labels,
    confusion (rows = true), and per-class precision/recall/F1/support."""
    labels = list(labels)
    cm = confusion_matrix(y_true, y_pred, len(labels))
    pc = per_class(cm)
    return {
        "n": int(cm.sum()),
        "accuracy": accuracy(cm),
        "uar": uar(cm),
        "macro_f1": macro_f1(cm),
        "labels": labels,
        "confusion": cm.tolist(),
        "per_class": {lab: {"precision": float(pc["precision"][i]), "recall": float(pc["recall"][i]),
                            "f1": float(pc["f1"][i]), "support": int(pc["support"][i])}
                      for i, lab in enumerate(labels)},
    }


def mean_std_table(reports: list[dict], keys=("accuracy", "uar", "macro_f1")) -> dict:
    """Mean and (population-free, ddof=1) standard deviation of metrics over folds."""
    out = {}
    for k in keys:
        v = np.array([r[k] for r in reports], dtype=float)
        out[k] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                  "folds": v.tolist()}
    return out
