"""Data for training: speaker-independent splits, cached waveforms, augmentation."""

from .splits import Split, speaker_folds, speaker_split, random_split, all_split, corpus_split
from .waveforms import load_waveforms, WaveformCache, PreprocessConfig, preprocess

__all__ = [
    "Split", "speaker_folds", "speaker_split", "random_split", "all_split", "corpus_split",
    "load_waveforms", "WaveformCache", "PreprocessConfig", "preprocess",
]
