"""openSMILE's eGeMAPS v02 functionals, for the torch front end and the ONNX runtime alike."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["make_smile", "egemaps_functionals"]


def make_smile():
    """An openSMILE extractor of the eGeMAPS v02 functionals (``opensmile`` imported here)."""
    try:
        import opensmile
    except ImportError:
        raise ConfigError("eGeMAPS features need the 'opensmile' package: pip install opensmile") from None
    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals)


def egemaps_functionals(smile, wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """Waveforms ``(B, T)`` -> ``(B, 88, 1)`` float32, one clip at a time (openSMILE is C++)."""
    rows = [smile.process_signal(np.asarray(w, dtype=np.float32), sample_rate).to_numpy()[0] for w in wav]
    return np.stack(rows).astype(np.float32)[..., None]
