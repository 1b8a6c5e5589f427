"""Features: what a model sees.

:class:`FeatureConfig` fully describes the front end and is stored in every checkpoint, so that
inference computes exactly what training saw (:mod:`escucha.features.config`, torch-free);
:class:`FeatureExtractor` computes it with torch (:mod:`escucha.features.core`), and
:mod:`escucha.features.spectral` computes the spectral front ends in numpy for the torch-free
runtime. Whisper's encoder lives in :mod:`escucha.features.whisper`.

The torch names (:class:`FeatureExtractor`, :func:`power_to_db`) are imported on first use, so
that ``from escucha.features import FeatureConfig`` does not import torch.
"""

from .config import KINDS, FeatureConfig
from .spectral import dct_matrix, mel_filterbank

__all__ = ["FeatureConfig", "FeatureExtractor", "KINDS", "mel_filterbank", "dct_matrix", "power_to_db"]

_TORCH_NAMES = ("FeatureExtractor", "power_to_db")


def __getattr__(name):
    if name in _TORCH_NAMES:
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
