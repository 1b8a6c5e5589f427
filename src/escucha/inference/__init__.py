"""Inference: one :class:`Predictor` for a signal, a file, a list of files or a folder."""

from .predictor import Predictor, Prediction, load_model, bundled_model_dir, clip_windows

__all__ = ["Predictor", "Prediction", "load_model", "bundled_model_dir", "clip_windows"]
