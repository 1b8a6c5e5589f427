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
    # each input is answered by its band's member alone: the ensemble's scores are that member's
    # scores on the same audio (noise is "no speech" to predict(), so compare raw scores)
    ma, mb = ens.members
    got = ens.predict_proba_waveforms([wide, narrow])
    np.testing.assert_allclose(got[0], ma.predict_proba_waveforms(ens._for_member(ma, [wide]))[0], atol=2e-3)
    np.testing.assert_allclose(got[1], mb.predict_proba_waveforms(ens._for_member(mb, [narrow]))[0], atol=2e-3)
    assert not np.allclose(got[0], mb.predict_proba_waveforms(ens._for_member(mb, [wide]))[0], atol=2e-3)
    with pytest.raises(ConfigError, match="bands"):
        make_ensemble([a, b], tmp_path / "bad", bands=["wide"])


def _tree(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_force_swaps_in_a_new_ensemble_and_leaves_nothing_beside(two_models, tmp_path):
    a, b = two_models
    out = tmp_path / "ens"
    make_ensemble([a, b], out, weights=[1, 1])
    make_ensemble([b, a, b], out, weights=[1, 2, 3], force=True)
    cfg = json.loads((out / "config.json").read_text())
    assert [m["weight"] for m in cfg["ensemble"]] == [1.0, 2.0, 3.0]
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "member-0", "member-1", "member-2"]
    assert [p.name for p in tmp_path.iterdir()] == ["ens"]  # no .ens.new-*/.ens.old-* left
    assert len(load_model(out).members) == 3


def test_force_never_replaces_a_folder_holding_other_files(two_models, tmp_path):
    a, b = two_models
    mine = tmp_path / "mine"
    (mine / "member-0").mkdir(parents=True)
    (mine / "member-0" / "notes.txt").write_text("precious")
    (mine / "results.csv").write_text("x\n")
    before = _tree(mine)
    for force in (False, True):
        with pytest.raises(ConfigError, match=r"mine"):
            make_ensemble([a, b], mine, force=force)
    assert _tree(mine) == before and (mine / "member-0" / "notes.txt").read_text() == "precious"
    # an ensemble folder the user added a file to is not ours to delete any more
    ens = tmp_path / "ens"
    make_ensemble([a, b], ens)
    (ens / "README.md").write_text("my notes on this ensemble")
    with pytest.raises(ConfigError, match=r"README\.md.*even with --force"):
        make_ensemble([a, b], ens, force=True)
    assert (ens / "README.md").is_file() and (ens / "member-1" / "config.json").is_file()
    # a run folder (one of the members) is never a target
    with pytest.raises(ConfigError, match=r"member"):
        make_ensemble([a, b], a, force=True)
    assert (a / "checkpoint" / "config.json").is_file()


def test_output_inside_or_holding_a_member_is_refused(two_models, tmp_path):
    import shutil

    a, b = two_models
    ens = tmp_path / "ens"
    make_ensemble([a, b], ens)
    c = tmp_path / "c"
    shutil.copytree(a, c)
    before = _tree(ens)
    with pytest.raises(ConfigError, match=r"is, holds or lies inside the member"):  # OUT holds a member
        make_ensemble([ens / "member-0", b], ens, force=True)
    with pytest.raises(ConfigError, match=r"is, holds or lies inside the member"):  # OUT inside a member
        make_ensemble([c, b], c / "ens2")
    assert _tree(ens) == before and not (c / "ens2").exists()


@pytest.mark.parametrize("weights", [[0, 1], [-1, 2], [float("nan"), 1], [float("inf"), 1]])
def test_bad_weights_are_refused_before_anything_is_written(two_models, tmp_path, weights):
    a, b = two_models
    with pytest.raises(ConfigError, match="finite numbers > 0"):
        make_ensemble([a, b], tmp_path / "e", weights=weights)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_build_leaves_the_old_ensemble_as_it_was(two_models, tmp_path, monkeypatch):
    import shutil

    a, b = two_models
    out = tmp_path / "ens"
    make_ensemble([a, b], out, weights=[3, 1])
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real, calls = shutil.copytree, []

    def fail_second(src, dst, *args, **kw):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C half-way through copying
        return real(src, dst, *args, **kw)

    monkeypatch.setattr(shutil, "copytree", fail_second)
    with pytest.raises(KeyboardInterrupt):
        make_ensemble([b, a], out, force=True)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["ens"]


def test_cli_ensemble_refusal_is_one_line(two_models, tmp_path, capsys):
    from escucha.cli import main

    a, b = two_models
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("x")
    assert main(["ensemble", str(a), str(b), "-o", str(mine), "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("escucha: error: ") and "\n" not in err and "keep.txt" in err
    assert main(["ensemble", str(a), str(b), "-o", str(tmp_path / "ok")]) == 0


def test_members_that_answer_or_hear_differently_are_named_by_the_folders_given(two_models, fake_ravdess, tmp_path):
    """The refusal named the hidden copy being built (runs/.ab.new-x7/config.json), never the
    member at fault, and listed the labels the wrong way round."""
    a, _ = two_models
    recs = scan_ravdess(fake_ravdess)
    fit(recs, TrainConfig(**SMOKE, epochs=1, trim_db=30.0), tmp_path / "trimmed", show_progress=False)
    four = sorted({r.emotion for r in recs})[:4]
    fit(recs, TrainConfig(**SMOKE, epochs=1, labels=four), tmp_path / "four", show_progress=False)
    with pytest.raises(ConfigError, match=rf"^{tmp_path / 'trimmed'}: prepares audio with trim_db 30.0 .* but {a} with "
                                          r"None .*same --trim-db"):
        make_ensemble([a, tmp_path / "trimmed"], tmp_path / "e1")
    with pytest.raises(ConfigError, match=rf"^{tmp_path / 'four'}: answers (\w+, ){{3}}\w+, but {a} answers neutral, calm, "):
        make_ensemble([a, tmp_path / "four"], tmp_path / "e2")
    assert not list(tmp_path.glob(".e*"))      # nothing left beside
