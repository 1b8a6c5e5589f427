"""One short training smoke test on synthetic clips, checkpoint round trip, CV bookkeeping."""

import csv
import json

import numpy as np
import pytest

from escucha.corpora import scan_ravdess
from escucha.errors import ConfigError
from escucha.inference import load_model
from escucha.train import TrainConfig, load_config
from escucha.train.cv import cross_validate
from escucha.train.loop import TrainingError, fit

pytestmark = pytest.mark.slow

SMOKE = dict(model="m5", features={"kind": "raw", "sample_rate": 8000}, clip_seconds=1.0, batch_size=8,
             lr=0.01, weight_decay=1e-4, folds=3, val_speakers=1, threads=1)


@pytest.fixture(scope="module")
def recs(fake_ravdess):
    return scan_ravdess(fake_ravdess)


@pytest.fixture(scope="module")
def smoke_run(recs, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "smoke"
    summary = fit(recs, TrainConfig(**SMOKE, epochs=20, seed=0), out, show_progress=False)
    return out, summary


def test_loss_falls_and_run_folder_is_complete(smoke_run):
    out, summary = smoke_run
    for name in ("config.json", "metrics.csv", "checkpoint/config.json", "checkpoint/model.safetensors",
                 "test_metrics.json", "predictions.csv", "summary.json"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert len(rows) == 20
    first, last = float(rows[0]["train_loss"]), float(rows[-1]["train_loss"])
    assert last < 0.7 * first
    # synthetic emotions are separable tones: the unseen speakers are mostly right
    assert summary["test"]["uar"] > 0.5
    cfg = json.loads((out / "config.json").read_text())
    train_spk, test_spk = set(cfg["split"]["speakers"]["train"]), set(cfg["split"]["speakers"]["test"])
    assert train_spk and test_spk and not train_spk & test_spk


def test_reloaded_checkpoint_predicts_exactly_what_training_scored(smoke_run, recs):
    out, _ = smoke_run
    pred = load_model(out)
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    by_path = {r.path: r for r in recs}
    for row in rows:
        p = pred.predict(row["file"])
        assert p.label == row["predicted"]
        assert p.probabilities[p.label] == pytest.approx(float(row["confidence"]), abs=1e-4)
    ck = json.loads((out / "checkpoint" / "config.json").read_text())
    assert ck["model"]["name"] == "m5" and ck["labels"][0] == "neutral" and ck["features"]["sample_rate"] == 8000
    assert by_path  # the predictions refer to the corpus files


def test_same_seed_same_result(recs, tmp_path):
    a = fit(recs, TrainConfig(**SMOKE, epochs=2, seed=3), tmp_path / "a", show_progress=False)
    b = fit(recs, TrainConfig(**SMOKE, epochs=2, seed=3), tmp_path / "b", show_progress=False)
    assert a["test"] == b["test"]
    assert (tmp_path / "a/metrics.csv").read_text().split("seconds")[0] == (tmp_path / "b/metrics.csv").read_text().split("seconds")[0]


def test_existing_run_folder_is_not_overwritten(recs, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "precious.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not empty"):
        fit(recs, TrainConfig(**SMOKE, epochs=1), tmp_path / "run", show_progress=False)
    assert (tmp_path / "run" / "precious.txt").read_text() == "keep me"


def test_non_finite_loss_stops_with_clear_error(recs, tmp_path, monkeypatch):
    import torch

    from escucha.train import loop

    monkeypatch.setattr(loop.Trainer, "objective", lambda self, logits, t, w: logits.sum() * torch.tensor(float("nan")))
    with pytest.raises(TrainingError, match="not finite"):
        fit(recs, TrainConfig(**SMOKE, epochs=3), tmp_path / "nan", show_progress=False)


def test_cross_validation_tests_every_clip_once(recs, tmp_path):
    s = cross_validate(recs, TrainConfig(**SMOKE, epochs=2), tmp_path / "cv", show_progress=False)
    assert s["n"] == len(recs) and s["folds"] == 3
    rows = list(csv.DictReader(open(tmp_path / "cv" / "cv_predictions.csv")))
    assert sorted(r["file"] for r in rows) == sorted(r.path for r in recs)
    ms = s["mean_std"]["uar"]
    assert ms["mean"] == pytest.approx(np.mean(ms["folds"])) and len(ms["folds"]) == 3


def test_config_file_and_overrides(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"model": "cnn", "epochs": 7, "augment": {"noise_prob": 0.5}}))
    cfg = load_config(p, epochs=3, lr=None)
    assert cfg.model == "cnn" and cfg.epochs == 3 and cfg.augment.noise_prob == 0.5
    p.write_text(json.dumps({"epoch": 7}))
    with pytest.raises(ConfigError, match="unknown option"):
        load_config(p)
    with pytest.raises(ConfigError, match="split"):
        TrainConfig(split="by-clip")


def test_training_seed_does_not_move_speakers_between_folds(recs, tmp_path):
    from escucha.train.loop import make_split

    a = make_split(recs, TrainConfig(**SMOKE, seed=1))
    b = make_split(recs, TrainConfig(**SMOKE, seed=2))
    c = make_split(recs, TrainConfig(**SMOKE, seed=1, split_seed=5))
    assert a.speakers == b.speakers
    assert a.speakers != c.speakers or a.test != c.test
