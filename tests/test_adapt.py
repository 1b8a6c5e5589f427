"""escucha adapt: normalisation statistics from unlabelled recordings, in a copy of the model."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import escucha
from escucha.audio import load_audio, resample
from escucha.checkpoint import save_checkpoint
from escucha.cli import main
from escucha.corpora.registry import scan_corpus
from escucha.data.waveforms import preprocess
from escucha.errors import ConfigError, CorpusError, ModelError
from escucha.inference import load_model, make_ensemble
from escucha.inference.adapt import AdaptWarning, adapt, adapted_statistics
from escucha.models import create_model
from escucha.train.config import TrainConfig
from escucha.train.loop import fit

from .conftest import make_fake_ravdess, synth_clip


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Two cores shared by many: one torch thread is ~10x faster than two fighting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """whisper-lr trained on 2 synthetic actors x 8 emotions x 2 repetitions (~2 s)."""
    root = tmp_path_factory.mktemp("adapt_model")
    recs = scan_corpus(make_fake_ravdess(root / "train", actors=(1, 2)))
    fit(recs, TrainConfig(model="whisper-lr", clip_seconds=None, split="all", val_speakers=0), root / "run",
        show_progress=False, cache=False)
    return root / "run" / "checkpoint"


@pytest.fixture(scope="module")
def mixed_dir(tmp_path_factory) -> Path:
    """24 unlabelled recordings of other voices, every emotion (flat folder, nested one level)."""
    root = tmp_path_factory.mktemp("adapt_mixed") / "calls"
    make_fake_ravdess(root, actors=(3, 4, 5), reps=(1,))
    return root


def folder_hash(d: Path) -> dict:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*"))
            if p.is_file()}


def member_features(predictor, files) -> np.ndarray:
    """Features as prediction computes them, done by hand: decode, resample, preprocess, front end."""
    rows = []
    for f in files:
        y, sr = load_audio(f)
        y = preprocess(resample(y, sr, predictor.sample_rate), predictor.sample_rate, predictor.preprocess_config)
        with torch.inference_mode():
            rows.append(predictor.frontend(torch.from_numpy(y)[None]).flatten(1)[0].double().numpy())
    return np.stack(rows)


def test_statistics_move_as_the_formula_says_and_nothing_else_changes(model_dir, mixed_dir, tmp_path):
    before = folder_hash(model_dir)
    out = escucha.adapt_model(model_dir, [mixed_dir], tmp_path / "adapted", strength=50)
    assert out == tmp_path / "adapted"
    assert folder_hash(model_dir) == before  # the source model is untouched

    src, new = load_model(model_dir), load_model(out)
    files = sorted(mixed_dir.rglob("*.wav"))
    X = member_features(src, files)
    lam = len(files) / (len(files) + 50)
    m, s = src.models[0], new.models[0]
    mean = lam * X.mean(0) + (1 - lam) * m.mean.double().numpy()
    scale = np.sqrt(lam * X.var(0) + (1 - lam) * m.scale.double().numpy() ** 2)
    np.testing.assert_allclose(s.mean.double().numpy(), mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s.scale.double().numpy(), scale, rtol=1e-4, atol=1e-6)
    assert float((s.mean - m.mean).abs().max()) > 1e-3  # it did move
    for name in ("linear.weight", "linear.bias", "temperature"):
        assert torch.equal(m.state_dict()[name], s.state_dict()[name])
    assert new.labels == src.labels

    cfg = json.loads((out / "config.json").read_text())
    rec = cfg.pop("adapted")
    assert rec["files"] == len(files) and rec["strength"] == 50 and rec["lambda"] == pytest.approx(lam, abs=1e-6)
    assert rec["source"] == [str(mixed_dir.resolve())] and rec["escucha_version"] == escucha.__version__
    assert cfg == json.loads((model_dir / "config.json").read_text())  # otherwise the same config
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in model_dir.iterdir())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left
    p = new.predict(files[0])
    assert p.label in new.labels and sum(p.probabilities.values()) == pytest.approx(1, abs=1e-5)


def test_shrinkage_formula():
    mean, scale, lam = adapted_statistics(np.array([0.0, 1.0]), np.array([1.0, 2.0]), np.array([2.0, 1.0]),
                                          np.array([4.0, 0.0]), n=100, strength=300)
    assert lam == 0.25
    np.testing.assert_allclose(mean, [0.5, 1.0])
    np.testing.assert_allclose(scale, [np.sqrt(0.25 * 4 + 0.75), np.sqrt(0.75 * 4)])
    _, scale, lam = adapted_statistics(np.zeros(1), np.array([3.0]), np.zeros(1), np.zeros(1), n=10, strength=0)
    assert lam == 1.0 and scale[0] == 3.0  # a constant feature keeps its trained scale instead of 0


def test_out_rules(model_dir, mixed_dir, tmp_path):
    out = tmp_path / "adapted"
    adapt(model_dir, [mixed_dir], out)
    first = json.loads((out / "config.json").read_text())["adapted"]
    with pytest.raises(ConfigError, match="pass --force"):
        adapt(model_dir, [mixed_dir], out)
    res = adapt(model_dir, [mixed_dir], out, force=True, strength=10)
    assert json.loads((out / "config.json").read_text())["adapted"]["strength"] == 10 != first["strength"]
    assert res.out == out and load_model(out).labels

    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="refusing to replace it even with --force"):
        adapt(model_dir, [mixed_dir], user, force=True)
    assert (user / "notes.txt").read_text() == "keep me"
    trained = tmp_path / "trained"
    shutil.copytree(model_dir, trained)  # a model, but not one adapt made: refused even with --force
    with pytest.raises(ConfigError, match="did not make"):
        adapt(model_dir, [mixed_dir], trained, force=True)
    run = tmp_path / "run"   # a training run folder: named as one, not "not a valid model folder"
    (run / "checkpoint").mkdir(parents=True)
    (run / "config.json").write_text('{"train": {}}')
    with pytest.raises(ConfigError, match="a training run or cross-validation, not a model 'escucha adapt' made"):
        adapt(model_dir, [mixed_dir], run, force=True)

    for bad in (model_dir, model_dir / "sub", model_dir.parent):
        with pytest.raises(ConfigError, match="inside the model being adapted"):
            adapt(model_dir, [mixed_dir], bad, force=True)
    (tmp_path / "empty").mkdir()
    adapt(model_dir, [mixed_dir], tmp_path / "empty")  # an empty folder is fine without --force
    assert (tmp_path / "empty" / "config.json").is_file()


@pytest.mark.parametrize("kw, match", [
    ({"strength": -1}, "strength must be a finite number >= 0"),
    ({"strength": float("nan")}, "strength must be a finite number >= 0"),
    ({"min_files": 0}, "min_files must be an integer >= 1"),
])
def test_bad_settings_are_refused_before_anything_is_read(model_dir, mixed_dir, tmp_path, kw, match):
    with pytest.raises(ConfigError, match=match):
        adapt(model_dir, [mixed_dir], tmp_path / "out", **kw)
    assert not (tmp_path / "out").exists()


def test_too_few_recordings_is_an_error_and_writes_nothing(model_dir, tmp_path):
    few = make_fake_ravdess(tmp_path / "few", actors=(3,), emotions=(1, 2, 3, 4, 5), reps=(1,), layout="flat")
    (few / "silence.wav").parent.mkdir(exist_ok=True)
    sf.write(few / "silence.wav", np.zeros(16000, np.float32), 16000)
    with pytest.raises(CorpusError, match=r"only 5 usable recordings of the 6 found \(1 too short or without "
                                          r"speech\); adaptation needs at least 20"):
        adapt(model_dir, [few], tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few"]
    with pytest.raises(CorpusError, match="no audio files found"):
        (tmp_path / "none").mkdir()
        adapt(model_dir, [tmp_path / "none"], tmp_path / "out")
    with pytest.raises(CorpusError, match="no such folder"):
        adapt(model_dir, [tmp_path / "missing"], tmp_path / "out")


def test_bad_file_is_reported_and_skipped(model_dir, mixed_dir, tmp_path):
    calls = tmp_path / "calls"
    shutil.copytree(mixed_dir, calls)
    (calls / "broken.wav").write_bytes(b"RIFF....WAVEfmt not really")
    res = adapt(model_dir, [calls], tmp_path / "a")
    assert [Path(f).name for f, _ in res.errors] == ["broken.wav"] and "broken.wav" in res.errors[0][1]
    assert res.files == 25 and res.usable == 24 and res.members[0].files == 24
    with pytest.warns(AdaptWarning, match=r"skipped .*broken\.wav"):
        escucha.adapt_model(model_dir, [calls], tmp_path / "b")
    assert json.loads((tmp_path / "b" / "config.json").read_text())["adapted"]["files"] == 24


def test_one_sided_folder_warns_and_a_mixed_one_does_not(model_dir, mixed_dir, tmp_path):
    angry = make_fake_ravdess(tmp_path / "angry", actors=tuple(range(3, 13)), emotions=(5,), reps=(1, 2))
    with pytest.warns(AdaptWarning, match=r"read as 'angry' before adaptation; adaptation assumes a mix of "
                                          r"emotions and may weaken 'angry'"):
        res = adapt(model_dir, [angry], tmp_path / "a")
    assert max(res.labels.values()) > 0.6 * res.usable and max(res.labels, key=res.labels.get) == "angry"
    with warnings.catch_warnings():
        warnings.simplefilter("error", AdaptWarning)
        adapt(model_dir, [mixed_dir], tmp_path / "b")


def _noisy(y: np.ndarray, seed: int) -> np.ndarray:
    """Full-band: white noise puts energy above 4.2 kHz (the ensemble routes it to 'wide')."""
    return (y + 0.02 * np.random.default_rng(seed).standard_normal(len(y))).astype(np.float32)


def test_ensemble_members_adapt_on_their_own_band(model_dir, tmp_path):
    ens = tmp_path / "ens"
    make_ensemble([model_dir, model_dir], ens, bands=["wide", "narrow"])
    calls = tmp_path / "calls"
    calls.mkdir()
    for i in range(22):  # full band, 16 kHz
        e, a = 1 + i % 8, 3 + i // 8
        sf.write(calls / f"wide-{i}.wav", _noisy(synth_clip(e, a, seed=i), i), 16000)
    for i in range(4):   # telephone band, 8 kHz
        sf.write(calls / f"phone-{i}.wav", synth_clip(1 + i, 7, sr=8000, seed=i), 8000)
    ensemble = load_model(ens)
    assert [ensemble.band_of(ensemble.load(f)) for f in sorted(calls.iterdir())] == ["narrow"] * 4 + ["wide"] * 22
    before = folder_hash(ens)
    with pytest.warns(AdaptWarning, match=r"member-1 \(whisper-lr, band narrow\): heard only 4 telephone-band "
                                          r"recordings \(needs 20\); its statistics are kept"):
        res = adapt(ens, [calls], tmp_path / "out")
    assert [(m.path, m.files, m.adapted) for m in res.members] == [("member-0", 22, True), ("member-1", 4, False)]
    after = folder_hash(tmp_path / "out")
    assert {k for k in after if after[k] != before[k]} == {"config.json", "member-0/config.json",
                                                           "member-0/model.safetensors"}
    cfg = json.loads((tmp_path / "out" / "config.json").read_text())
    assert cfg["adapted"]["files"] == 26
    assert [(m["path"], m["files"], m["adapted"]) for m in cfg["adapted"]["members"]] == [
        ("member-0", 22, True), ("member-1", 4, False)]
    m0 = json.loads((tmp_path / "out" / "member-0" / "config.json").read_text())["adapted"]
    assert m0["files"] == 22 and m0["lambda"] == pytest.approx(22 / 222, abs=1e-6)
    new = load_model(tmp_path / "out")
    assert not torch.equal(new.members[0].models[0].mean, ensemble.members[0].models[0].mean)
    assert torch.equal(new.members[1].models[0].mean, ensemble.members[1].models[0].mean)


def test_a_model_without_statistics_is_refused(tmp_path, mixed_dir):
    torch.manual_seed(0)
    cfg = {"model": {"name": "m5", "args": {}, "in_channels": 1}, "labels": ["angry", "calm"],
           "features": {"kind": "raw", "sample_rate": 8000}, "clip_seconds": 1.0}
    m5 = save_checkpoint(tmp_path / "m5", create_model("m5", n_classes=2, in_channels=1), cfg)
    with pytest.raises(ModelError, match="nothing to adapt: m5 has no normalisation statistics"):
        adapt(m5, [mixed_dir], tmp_path / "out")


def test_cli(model_dir, mixed_dir, tmp_path, capsys):
    out = tmp_path / "adapted"
    assert main(["adapt", str(mixed_dir), "-o", str(out), "--model", str(model_dir), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "read 24 of 24 recordings" in text and "adapted on 24 recordings (lambda 0.11)" in text
    assert main(["adapt", str(mixed_dir), "-o", str(out), "--model", str(model_dir), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"escucha: error: {out}: folder exists and is not empty; pass --force to replace it"]

    wav = sorted(mixed_dir.rglob("*.wav"))[0]
    assert main(["predict", str(wav), "--model", str(model_dir), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["predict", str(wav), "--model", str(out), "--json"]) == 0
    adapted = json.loads(capsys.readouterr().out)
    assert [sorted(d) for d in adapted] == [sorted(d) for d in plain]
    assert adapted[0]["probabilities"] != plain[0]["probabilities"]

    (tmp_path / "few").mkdir()
    shutil.copy(wav, tmp_path / "few")
    (tmp_path / "few" / "bad.flac").write_bytes(b"fLaC garbage")
    assert main(["adapt", str(tmp_path / "few"), "-o", str(tmp_path / "o2"), "--model", str(model_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("escucha: error: ") and "bad.flac" in err[0]
    assert "only 1 usable recordings of the 2 found (1 could not be read)" in err[1]


def test_predict_adapt_fits_the_files_first_and_the_default_says_it_did_not(model_dir, mixed_dir, capsys):
    """``predict DIR`` scores as trained and says so; ``--adapt`` predicts with a copy adapted to
    those very files (the same answers as ``escucha adapt`` then ``predict --model``)."""
    assert main(["predict", str(mixed_dir), "--model", str(model_dir), "--json"]) == 0
    got = capsys.readouterr()
    plain = json.loads(got.out)
    assert "24 recordings scored as the model was trained, not adapted to them" in got.err
    assert main(["predict", str(mixed_dir), "--model", str(model_dir), "--json", "--adapt", "--quiet"]) == 0
    got = capsys.readouterr()
    adapted = json.loads(got.out)
    assert "adapted to 24 of 24 recordings: " in got.err and "lambda 0.11" in got.err
    assert "not adapted" not in got.err
    assert [d["file"] for d in adapted] == [d["file"] for d in plain]
    assert adapted[0]["probabilities"] != plain[0]["probabilities"]
    by_hand = adapt(model_dir, [mixed_dir], mixed_dir.parent / "by-hand").out
    expected = load_model(by_hand).predict(adapted[0]["file"]).probabilities
    assert adapted[0]["probabilities"] == pytest.approx(expected, abs=1e-5)
    # too few recordings to adapt to: one clear line, nothing predicted
    one = sorted(mixed_dir.rglob("*.wav"))[0]
    assert main(["predict", str(one), "--model", str(model_dir), "--adapt"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("escucha: error: ") and "usable recordings" in err[0]


def test_cli_defaults_are_the_library_defaults():
    from escucha.cli import adapt as cli_adapt
    from escucha.inference import adapt as lib

    assert (cli_adapt.DEFAULT_STRENGTH, cli_adapt.MIN_FILES) == (lib.DEFAULT_STRENGTH, lib.MIN_FILES)


@pytest.mark.integration
@pytest.mark.slow
def test_a_call_angry_throughout_stays_angry(real_ravdess, tmp_path):
    """Adaptation uses a folder's statistics, not the call's own: a customer angry for the whole
    call is read as angry before and after adapting on a mixed folder that holds the call."""
    recs = [r for r in scan_corpus(real_ravdess) if int(r.speaker) <= 8]
    fit(recs, TrainConfig(model="whisper-lr", clip_seconds=None, split="all", val_speakers=0), tmp_path / "run",
        show_progress=False, cache=False)
    calls = tmp_path / "calls"
    calls.mkdir()
    for a in range(9, 17):  # other voices, every emotion
        for e in range(1, 9):
            clips = sorted((real_ravdess / f"Actor_{a:02d}").glob(f"03-01-{e:02d}-*.flac"))
            shutil.copy(clips[a % len(clips)], calls)
    pieces = []
    for f in sorted((real_ravdess / "Actor_19").glob("03-01-05-*.flac")):  # actor 19, angry, unheard
        y, _ = load_audio(f, sample_rate=16000)
        pieces += [y, np.zeros(8000, np.float32)]
    call = calls / "angry-call.wav"
    sf.write(call, np.concatenate(pieces), 16000)
    assert sf.info(call).duration > 30

    before = load_model(tmp_path / "run").predict(call)
    assert before.long and before.label == "angry"
    for strength in (200, 0):  # default shrinkage, and all the way to the folder's statistics
        out = tmp_path / f"adapted-{strength}"
        res = adapt(tmp_path / "run", [calls], out, strength=strength)
        assert res.usable == 65 and res.members[0].adapted
        after = load_model(out).predict(call)
        assert after.long and after.label == "angry", (strength, after.probabilities)


# -- adaptation without torch: the ONNX export follows -------------------------------------------
def test_adaptable_models_are_the_standardised_heads_of_the_registry():
    from escucha.inference.adapt import ADAPTABLE_MODELS
    from escucha.models import list_models, model_spec
    from escucha.models.egemaps import StandardizedLinear

    heads = {n for n in list_models() if model_spec(n).features.get("kind") != "encoder"
             and isinstance(create_model(n, n_classes=4, in_channels=8), StandardizedLinear)}
    assert set(ADAPTABLE_MODELS) == heads


@pytest.fixture(scope="module")
def savee_clips(tmp_path_factory):
    root = Path(__file__).resolve().parents[2] / "shared" / "data" / "savee" / "ALL"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    d = tmp_path_factory.mktemp("savee-clips")
    for f in sorted(root.glob("*.flac"))[::8][:40]:
        (d / f.name).symlink_to(f)
    return d


def test_the_adapted_bundled_model_keeps_a_current_export_equal_to_its_weights(savee_clips, tmp_path):
    from escucha.runtime.format import read_export_config, stale_files

    # full-band clips adapt the wide member; the telephone member (band narrow) hears only the
    # few SAVEE clips with no energy above 4.2 kHz, says so, and keeps its statistics
    narrow_kept = r"member-1 \(whisper-lr, band narrow\): heard only \d+ telephone-band recordings"
    with pytest.warns(AdaptWarning, match=narrow_kept):
        out = adapt(None, savee_clips, tmp_path / "a1", strength=50).out
    d, cfg = read_export_config(out / "onnx")
    assert stale_files(cfg, out) == [], "the export describes the adapted weights"
    assert [bool(m.get("input_affine")) for m in cfg["members"]] == [True, False]
    # adapted twice: the affines compose (the graph still has the original statistics)
    with pytest.warns(AdaptWarning, match=narrow_kept):
        out2 = adapt(out, savee_clips, tmp_path / "a2", strength=0).out
    onnx, tch = load_model(out2), load_model(out2, runtime="torch")
    assert onnx.runtime == "onnx" and tch.runtime == "torch"
    width = tch.members[0].feature_config.n_channels   # 4096: Whisper base, 4 layers, mean + std
    x = np.random.default_rng(0).standard_normal((6, width, 1)).astype(np.float32)
    for a, b in zip(onnx.members, tch.members):
        np.testing.assert_allclose(a._head(x), b.proba_from_features([torch.from_numpy(x)]), atol=1e-5)
    first = load_model(out, runtime="torch")
    assert not np.allclose(first.members[0].proba_from_features([torch.from_numpy(x)]),
                           tch.members[0].proba_from_features([torch.from_numpy(x)]), atol=1e-3)


def test_adapting_on_either_runtime_writes_the_same_statistics(savee_clips, tmp_path, monkeypatch):
    from safetensors.numpy import load_file

    a = adapt(None, savee_clips, tmp_path / "onnx-side").out
    monkeypatch.setenv("ESCUCHA_RUNTIME", "torch")
    b = adapt(None, savee_clips, tmp_path / "torch-side").out
    for member in ("member-0", "member-1"):
        ta, tb = (load_file(str(x / member / "model.safetensors")) for x in (a, b))
        # the features differ only by the int8 encoder of the export: statistics within 2 %
        np.testing.assert_allclose(ta["mean"], tb["mean"], atol=0.02 * float(np.abs(tb["mean"]).max()))
        np.testing.assert_array_equal(ta["linear.weight"], tb["linear.weight"])


def test_predicts_note_on_adaptation_starts_where_adaptation_can():
    from escucha.cli.predict import ADAPT_NOTE_FILES
    from escucha.inference.adapt import MIN_FILES

    assert ADAPT_NOTE_FILES == MIN_FILES
