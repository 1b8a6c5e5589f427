"""Ensembles of heterogeneous checkpoints behave like one model."""

import json

import numpy as np
import pytest

from escucha.corpora import scan_ravdess
from escucha.errors import ConfigError
from escucha.inference import EnsemblePredictor, load_model, make_ensemble
from escucha.train import TrainConfig
from escucha.train.loop import fit

from .conftest import synth_clip
from .test_train import SMOKE


@pytest.fixture(scope="module")
def two_models(fake_ravdess, tmp_path_factory):
    recs = scan_ravdess(fake_ravdess)
    root = tmp_path_factory.mktemp("ens")
    fit(recs, TrainConfig(**SMOKE, epochs=20, seed=0), root / "a", show_progress=False)
    fit(recs, TrainConfig(**{**SMOKE, "features": {"kind": "raw", "sample_rate": 16000}}, epochs=20, seed=1),
        root / "b", show_progress=False)
    return root / "a", root / "b"


def test_ensemble_averages_members(two_models, tmp_path):
    a, b = two_models
    ens = make_ensemble([a, b], tmp_path / "ens", weights=[3, 1])
    assert isinstance(load_model(tmp_path / "ens"), EnsemblePredictor)
    assert ens.sample_rate == 16000
    y = synth_clip(5, 1, sr=16000, seconds=2.0)
    pa, pb = load_model(a).predict(y, sample_rate=16000), load_model(b).predict(y, sample_rate=16000)
    pe = ens.predict(y, sample_rate=16000)
    for lab in pe.probabilities:
        expect = 0.75 * pa.probabilities[lab] + 0.25 * pb.probabilities[lab]
        assert pe.probabilities[lab] == pytest.approx(expect, abs=2e-3)
    assert sum(pe.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    cfg = json.loads((tmp_path / "ens" / "config.json").read_text())
    assert [m["weight"] for m in cfg["ensemble"]] == [3.0, 1.0]
    # windows API (used by long-audio analysis) works on the ensemble too
    w = np.stack([y[: ens.clip_samples // 2]] * 2)
    assert ens.predict_windows(w).shape == (2, 8)


def test_ensemble_refuses_to_overwrite_and_needs_two(two_models, tmp_path):
    a, b = two_models
    make_ensemble([a, b], tmp_path / "e")
    with pytest.raises(ConfigError, match="not empty"):
        make_ensemble([a, b], tmp_path / "e")
    with pytest.raises(ConfigError, match=">= 2 members"):
        make_ensemble([a], tmp_path / "f")


def test_band_routing_sends_telephone_audio_to_narrow_members(two_models, tmp_path):
    import soxr

    a, b = two_models
    ens = make_ensemble([a, b], tmp_path / "routed", bands=["wide", "narrow"])
    rng = np.random.default_rng(0)
    wide = (0.1 * rng.standard_normal(32000)).astype(np.float32)          # full-band noise
    narrow = soxr.resample(soxr.resample(wide, 16000, 8000), 8000, 16000)  # telephone band
    assert ens.band_of(wide) == "wide" and ens.band_of(narrow) == "narrow"
    pa, pb = load_model(a), load_model(b)
    got = ens.predict_proba_waveforms([wide, narrow])
    np.testing.assert_allclose(got[0], pa.predict(wide, sample_rate=16000).probabilities_array(pa.labels), atol=2e-3)
    np.testing.assert_allclose(got[1], pb.predict(narrow, sample_rate=16000).probabilities_array(pb.labels), atol=2e-3)
    with pytest.raises(ConfigError, match="bands"):
        make_ensemble([a, b], tmp_path / "bad", bands=["wide"])
