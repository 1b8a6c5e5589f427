"""Metrics for emotion classification: accuracy, UAR, macro-F1, confusion, per class."""

from .metrics import classification_report, confusion_matrix, uar, macro_f1, accuracy

__all__ = ["classification_report", "confusion_matrix", "uar", "macro_f1", "accuracy"]
