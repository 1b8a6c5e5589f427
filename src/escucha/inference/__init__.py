"""Inference: one :class:`Predictor` for a signal, a file, a list of files or a folder."""

from .predictor import (BUNDLED_MODELS, Predictor, EnsemblePredictor, Prediction, load_model, bundled_model_dir,
                        clip_windows, make_ensemble, resolve_model)

__all__ = ["Predictor", "EnsemblePredictor", "Prediction", "load_model", "bundled_model_dir", "clip_windows",
           "make_ensemble", "BUNDLED_MODELS", "resolve_model"]
