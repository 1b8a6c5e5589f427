"""Audio front end: decode, mix to mono, resample, validate, trim, pad/crop, normalise."""

from .io import load_audio, audio_info, resample, to_mono, valid_audio, check_sample_rate, float_samples
from .processing import trim_silence, pad_or_crop, normalize_loudness, rms_db

__all__ = [
    "load_audio", "audio_info", "resample", "to_mono", "valid_audio", "check_sample_rate", "float_samples",
    "trim_silence", "pad_or_crop", "normalize_loudness", "rms_db",
]
