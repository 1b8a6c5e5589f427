"""The classical baseline: eGeMAPS functionals + linear SVM, trained and served like any model."""

import json

import numpy as np
import pytest
import torch

pytest.importorskip("opensmile")

from escucha.corpora import scan_ravdess  # noqa: E402
from escucha.features import FeatureConfig, FeatureExtractor  # noqa: E402
from escucha.inference import load_model  # noqa: E402
from escucha.train import TrainConfig  # noqa: E402
from escucha.train.loop import fit  # noqa: E402

from .conftest import synth_clip  # noqa: E402


def test_egemaps_features_shape_and_finite():
    fe = FeatureExtractor(FeatureConfig(kind="egemaps", sample_rate=16000, normalize="none"))
    x = fe(torch.from_numpy(np.stack([synth_clip(1, 1), synth_clip(8, 1)])))
    assert x.shape == (2, 88, 1) and torch.isfinite(x).all()
    # pitch differs between the two clips, so the functionals must too
    assert not torch.allclose(x[0], x[1])


def test_egemaps_svm_trains_saves_and_reloads(fake_ravdess, tmp_path):
    recs = scan_ravdess(fake_ravdess)
    cfg = TrainConfig(model="egemaps-svm", clip_seconds=None, folds=3, val_speakers=1)
    s = fit(recs, cfg, tmp_path / "svm", show_progress=False)
    assert s["test"]["uar"] > 0.6  # synthetic emotions differ in pitch: easy for eGeMAPS
    ck = json.loads((tmp_path / "svm" / "checkpoint" / "config.json").read_text())
    assert ck["model"]["name"] == "egemaps-svm" and ck["selected"]["C"] in (0.001, 0.003, 0.01, 0.03, 0.1)
    assert ck["clip_seconds"] is None
    pred = load_model(tmp_path / "svm")
    rows = (tmp_path / "svm" / "predictions.csv").read_text().splitlines()[1:4]
    for row in rows:
        file, _, _, predicted, conf = row.split(",")[:5]
        p = pred.predict(file)
        assert p.label == predicted and p.confidence == pytest.approx(float(conf), abs=1e-4)
