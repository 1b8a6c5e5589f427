"""Features: what a model sees.

:class:`FeatureConfig` fully describes the front end and is stored in every checkpoint, so that
inference computes exactly what training saw; :class:`FeatureExtractor` computes it
(:mod:`escucha.features.core`). Whisper's encoder lives in :mod:`escucha.features.whisper`.
"""

from .core import FeatureConfig, FeatureExtractor, KINDS, dct_matrix, mel_filterbank, power_to_db

__all__ = ["FeatureConfig", "FeatureExtractor", "KINDS", "mel_filterbank", "dct_matrix", "power_to_db"]
