"""One short training smoke test on synthetic clips, checkpoint round trip, CV bookkeeping."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from escucha.corpora import scan_ravdess
from escucha.errors import ConfigError
from escucha.inference import load_model
from escucha.train import TrainConfig, load_config
from escucha.train.cv import cross_validate
from escucha.train.loop import TrainingError, fit

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

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


GOOD = dict(SMOKE, epochs=1)


@pytest.mark.parametrize("change, message", [
    ({}, None),
    ({"lr": 1e-4, "weight_decay": 0.0, "label_smoothing": 0.0, "threads": 0, "fold": 2}, None),
    ({"augment": {"noise_prob": 1.0, "snr_db": [5, 5], "speed_range": [0.8, 1.2]}}, None),
    ({"lr": -1}, "lr must be a finite number > 0, got -1"),
    ({"lr": 0}, "lr must be"),
    ({"lr": float("nan")}, "lr must be .* got nan"),
    ({"lr": float("inf")}, "lr must be"),
    ({"lr": "0.01"}, "lr must be"),
    ({"weight_decay": -0.1}, "weight_decay must be .* >= 0"),
    ({"epochs": 0}, "epochs must be"),
    ({"epochs": 2.5}, "epochs must be a whole number"),
    ({"epochs": True}, "epochs must be a whole number"),
    ({"batch_size": 1}, "batch_size must be"),
    ({"clip_seconds": 0}, "clip_seconds must be"),
    ({"clip_seconds": 1e9}, "clip_seconds must be .* <= 600"),
    ({"folds": 1}, "folds must be"),
    ({"fold": 3}, r"fold must be from 0 to 2 \(folds=3\), got 3"),
    ({"fold": -1}, "fold must be"),
    ({"val_speakers": -1}, "val_speakers must be"),
    ({"threads": -2}, "threads must be"),
    ({"seed": -1}, "seed must be"),
    ({"label_smoothing": 1.0}, "label_smoothing must be .* < 1"),
    ({"label_smoothing": -0.1}, "label_smoothing must be"),
    ({"augment": {"noise_prob": 1.5}}, "augment.noise_prob must be .* <= 1, got 1.5"),
    ({"augment": {"speed_prob": -0.1}}, "augment.speed_prob"),
    ({"augment": {"snr_db": [40, 10]}}, "augment.snr_db must be .* low <= high"),
    ({"augment": {"speed_range": [0, 1.1]}}, "augment.speed_range must be two finite numbers > 0"),
    ({"augment": {"rt60_range": [0.5]}}, "augment.rt60_range"),
    ({"augment": {"time_masks": -1}}, "augment.time_masks"),
    ({"augment": {"mixup_alpha": -1}}, "augment.mixup_alpha"),
    ({"augment": {"gain_db": float("inf")}}, "augment.gain_db"),
    ({"select": "best"}, "select 'best' is not one of"),
    ({"model": 5}, "model must be a model name"),
    ({"features": "raw"}, "features must be an object"),
])
def test_settings_are_checked_when_made(change, message):
    if message is None:
        assert TrainConfig(**{**GOOD, **change}).epochs == 1
    else:
        with pytest.raises(ConfigError, match=message):
            TrainConfig(**{**GOOD, **change})


@pytest.mark.parametrize("flags, message", [
    (["--lr", "-1"], "lr must be a finite number > 0, got -1.0"),
    (["--lr", "nan"], "lr must be"),
    (["--epochs", "0"], "epochs must be"),
    (["--batch-size", "1"], "batch_size must be"),
    (["--clip-seconds", "0"], "clip_seconds must be"),
    (["--folds", "1"], "folds must be"),
    (["--fold", "5", "--folds", "3"], "fold must be from 0 to 2"),
    (["--val-speakers", "-1"], "val_speakers must be"),
    (["--threads", "-1"], "threads must be"),
    (["--config", "{bad_config}"], r"bad\.json: augment\.noise_prob must be"),
])
def test_bad_training_flags_are_one_line_and_leave_nothing(flags, message, fake_ravdess, tmp_path, capsys):
    from escucha.cli import main

    (tmp_path / "bad.json").write_text(json.dumps({"model": "m5", "augment": {"noise_prob": 2}}))
    flags = [f.replace("{bad_config}", str(tmp_path / "bad.json")) for f in flags]
    out = tmp_path / "run"
    assert main(["train", "--data", str(fake_ravdess), "--out", str(out), "--quiet", *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("escucha: error: ")
    assert __import__("re").search(message, err[0]), err[0]
    assert not out.exists()


def test_bad_flag_then_rerun_needs_no_force(fake_ravdess, tmp_path, capsys):
    from escucha.cli import main

    args = ["train", "--data", str(fake_ravdess), "--epochs", "1", "--batch-size", "8", "--clip-seconds", "1",
            "--folds", "3", "--threads", "1", "--out", str(tmp_path / "run"), "--no-report", "--quiet", "--json"]
    assert main([*args, "--lr", "-1"]) == 2
    assert main([*args, "--lr", "0.01"]) == 0
    assert json.loads(capsys.readouterr().out)["test"]["n"] == 32


def test_split_all_trains_on_every_speaker(recs):
    from escucha.train.loop import make_split

    cfg = TrainConfig(**{k: v for k, v in SMOKE.items() if k != "val_speakers"}, split="all")
    assert cfg.val_speakers == 0 and cfg.select == "last"
    sp = make_split(recs, cfg)
    assert sorted(sp.train) == list(range(len(recs))) and not sp.val and not sp.test
    # a config made for test-on-unseen-speakers and switched to "all" derives its defaults again
    switched = TrainConfig(**{k: v for k, v in SMOKE.items() if k != "val_speakers"}).replace(split="all")
    assert (switched.val_speakers, switched.select) == (0, "last")
    # asking for validation speakers explicitly still works, and then selects on them
    held = TrainConfig(**SMOKE, split="all")
    assert held.val_speakers == 1 and held.select == "val_uar"
    sp = make_split(recs, held)
    assert len({recs[i].speaker for i in sp.val}) == 1 and len(sp.train) + len(sp.val) == len(recs)
    assert TrainConfig().val_speakers == 2 and TrainConfig().select == "val_uar"


def test_train_and_cv_default_to_the_shipped_recipe(fake_ravdess):
    from escucha.cli import build_parser
    from escucha.cli.train import _load
    from escucha.train.config import DEFAULT_RECIPE, default_config
    from escucha.train.loop import feature_config_for

    shipped = load_config(REPO / "configs" / "m5-aug-last.json")
    recipe = default_config()
    assert {k: v for k, v in recipe.to_dict().items() if k != "features"} == \
        {k: v for k, v in shipped.to_dict().items() if k != "features"}
    assert feature_config_for(recipe) == feature_config_for(shipped)   # m5's preset: 8 kHz raw
    for command in ("train", "cv"):
        cfg, _, _ = _load(build_parser().parse_args([command, "--data", str(fake_ravdess)]))
        assert cfg == recipe and cfg.model == "m5" and cfg.augment.noise_prob == 0.3
    # explicit flags still win, and another model keeps its own features
    cfg, _, _ = _load(build_parser().parse_args(["train", "--data", str(fake_ravdess), "--model", "cnn",
                                                 "--epochs", "3", "--val-speakers", "2"]))
    assert cfg.model == "cnn" and cfg.epochs == 3 and cfg.select == "val_uar"
    assert feature_config_for(cfg).kind == "logmel"
    assert DEFAULT_RECIPE["model"] == "m5"


def _copy_with_a_truncated_flac(src: Path, dst: Path) -> Path:
    """``src`` copied to ``dst`` plus one clip a corpus scan accepts but that cannot be decoded: a
    FLAC cut to a third of its length (its header intact), as a broken download leaves it."""
    import shutil

    import soundfile as sf

    from .conftest import ravdess_name, synth_clip

    shutil.copytree(src, dst)
    bad = dst / "Actor_01" / (ravdess_name(3, 1, statement=2) + ".flac")
    sf.write(bad, synth_clip(3, 1, seconds=3.0), 16000, format="FLAC")
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 3])
    return bad


SMALL_RUN = ["--epochs", "1", "--batch-size", "8", "--clip-seconds", "1", "--folds", "3", "--threads", "1",
             "--no-report", "--quiet"]


@pytest.mark.parametrize("command", ["train", "cv"])
def test_an_undecodable_clip_is_left_out_and_the_job_finishes(command, fake_ravdess, tmp_path, capsys):
    """A truncated FLAC used to stop train and cv half way with nothing written (exit 1); it is
    named, left out, and the job finishes on the other clips, with exit status 1."""
    from escucha.cli import main

    data = tmp_path / "data"
    bad = _copy_with_a_truncated_flac(fake_ravdess, data)
    out = tmp_path / "out"
    quiet = ["--quiet"] if command == "train" else []   # cv: with its progress, which says where it is
    assert main([command, "--data", str(data), "--out", str(out), *SMALL_RUN[:-1], *quiet]) == 1
    err = capsys.readouterr().err
    named = [ln for ln in err.splitlines() if ln.startswith("escucha: error: ")]
    assert len(named) == 1 and named[0].startswith(f"escucha: error: {bad}: cannot decode audio"), err
    assert named[0].endswith("; left out") and "1 file could not be decoded and was left out" in err
    assert "Traceback" not in err
    if command == "train":
        sizes = json.loads((out / "config.json").read_text())["split"]["sizes"]
        assert sum(sizes.values()) == 96   # every good clip, not the bad one
        assert (out / "summary.json").is_file()
    else:
        assert "escucha: fold 1 of 3\n" in err and "escucha: fold 3 of 3: 2 trained in " in err
        scored = {Path(r["file"]).name for r in csv.DictReader(open(out / "cv_predictions.csv"))}
        assert len(scored) == 96 and bad.name not in scored


@pytest.mark.parametrize("command", ["train", "cv"])
def test_one_label_is_refused_before_anything_is_written(command, fake_ravdess, tmp_path, capsys):
    """Data with a single emotion used to end in an internal error (the regression's solver) or
    fail after training; it is now a one-line usage error, and no run folder is left."""
    import shutil

    from escucha.cli import main

    data = tmp_path / "angry"
    for f in fake_ravdess.glob("Actor_*/*-05-*.wav"):   # emotion 05: angry
        (data / f.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(f, data / f.parent.name / f.name)
    out = tmp_path / "out"
    assert main([command, "--data", str(data), "--out", str(out), *SMALL_RUN]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["escucha: error: the data have one label (angry); training needs clips of at least two"]
    assert not out.exists()


def test_cross_validation_says_which_fold_and_how_long_is_left():
    from escucha.train.cv import _fold_line

    assert _fold_line(0, 5, None, 0, 0.0, 5) == "escucha: fold 1 of 5"
    assert _fold_line(1, 5, "emodb", 1, 126.0, 4) == \
        "escucha: fold 2 of 5 (test corpus emodb): 1 trained in 2.1 min, about 8.4 min left (4 folds to go)"
    assert _fold_line(4, 5, None, 4, 40.0, 1).endswith("4 trained in 40 s, about 10 s left (1 fold to go)")


def test_predictions_name_each_clips_corpus(smoke_run):
    """Speaker ids repeat across corpora (RAVDESS and EmoDB both have a 03): the corpus is a column."""
    out, _ = smoke_run
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    assert rows and list(rows[0])[-1] == "corpus" and {r["corpus"] for r in rows} == {"ravdess"}
    assert list(rows[0])[:5] == ["file", "speaker", "true", "predicted", "confidence"]   # as before
