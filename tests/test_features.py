import numpy as np
import pytest
import torch

from escucha.errors import ConfigError
from escucha.features import FeatureConfig, FeatureExtractor, mel_filterbank

from .conftest import synth_clip

librosa = pytest.importorskip("librosa")

# Tolerances: the filterbank matches librosa to float32 precision; dB values to 0.05 dB
# (float32 STFT vs librosa's float32/complex64 STFT); MFCCs to 0.05 absolute.
DB_ATOL = 0.05


def _signal(sr=16000):
    rng = np.random.default_rng(0)
    return (synth_clip(5, 2, sr=sr, seconds=1.0) + 0.01 * rng.standard_normal(sr)).astype(np.float32)


def test_mel_filterbank_matches_librosa():
    ours = mel_filterbank(sr=16000, n_fft=512, n_mels=64, fmin=20, fmax=7600)
    ref = librosa.filters.mel(sr=16000, n_fft=512, n_mels=64, fmin=20, fmax=7600)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-7)


def test_logmel_matches_librosa():
    y = _signal()
    cfg = FeatureConfig(kind="logmel", n_fft=512, win_length=400, hop_length=160, n_mels=64)
    ours = FeatureExtractor(cfg)(torch.from_numpy(y)[None])[0].numpy()
    S = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=64,
                                       center=True, pad_mode="constant", power=2.0)
    ref = librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db=80.0)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=DB_ATOL)


def test_mfcc_matches_librosa():
    y = _signal()
    cfg = FeatureConfig(kind="mfcc", n_fft=512, win_length=512, hop_length=256, n_mels=40, n_mfcc=20)
    ours = FeatureExtractor(cfg)(torch.from_numpy(y)[None])[0].numpy()
    ref = librosa.feature.mfcc(y=y, sr=16000, n_mfcc=20, n_fft=512, hop_length=256, n_mels=40,
                               center=True, pad_mode="constant")
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=0.05)


def test_batch_equals_single_and_shapes():
    y = torch.from_numpy(np.stack([_signal(), 0.5 * _signal()]))
    fe = FeatureExtractor(FeatureConfig(kind="logmel", normalize="utterance"))
    out = fe(y)
    assert out.shape == (2, 64, 1 + 16000 // 160)
    torch.testing.assert_close(out[1], fe(y[1:])[0])
    # utterance normalisation: zero mean, unit std per band
    assert out.mean(-1).abs().max() < 1e-4
    # raw is (B, 1, T)
    assert FeatureExtractor(FeatureConfig(kind="raw", sample_rate=8000))(y).shape == (2, 1, 16000)


@pytest.mark.parametrize("kw, message", [
    ({"kind": "spectrogram"}, "feature kind"),
    ({"normalize": "global"}, "normalize"),
    ({"win_length": 1024, "n_fft": 512}, "exceeds n_fft"),
])
def test_bad_feature_config(kw, message):
    with pytest.raises(ConfigError, match=message):
        FeatureConfig(**kw)
