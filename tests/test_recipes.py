"""Named recipes ship with the package, and the headline recipe (whisper-lr, fitted in closed
form: no epochs) trains, cross-validates and reports through the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from escucha.errors import ConfigError
from escucha.train.config import RECIPES_DIR, list_recipes, load_config, recipe_path

from .conftest import REPO, make_fake_ravdess

ENV = {**os.environ, "ESCUCHA_PROGRESS": "0"}


def escucha(*args, cwd):
    return subprocess.run([sys.executable, "-m", "escucha", *map(str, args)], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=600)


@pytest.mark.parametrize("given, expected", [
    ("whisper-lr", "whisper-lr.json"),
    ("whisper-lr.json", "whisper-lr.json"),
    ("configs/fast.json", "fast.json"),        # the old checkout path, from anywhere
    ("m5-aug-last", "m5-aug-last.json"),
])
def test_recipe_names_resolve_inside_the_package(given, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no checkout here: the names must come from the package
    p = recipe_path(given)
    assert p == RECIPES_DIR / expected and p.is_file()
    assert load_config(given).model == json.loads(p.read_text())["model"]


def test_a_file_wins_over_a_recipe_and_unknown_names_list_the_recipes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "whisper-lr").write_text(json.dumps({"model": "m5"}))
    assert load_config("whisper-lr").model == "m5"
    with pytest.raises(ConfigError, match=r"nosuch: config file not found, and not a shipped recipe \(recipes: .*whisper-lr"):
        load_config("nosuch")


def test_the_checkout_configs_folder_is_the_shipped_recipes():
    assert sorted(p.stem for p in (REPO / "configs").glob("*.json")) == list_recipes()
    assert {"whisper-lr", "whisper-lr-tel", "fast", "m5-aug-last"} <= set(list_recipes())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_fake_ravdess(tmp_path_factory.mktemp("recipe") / "fake", actors=(1, 2, 3, 4), emotions=(1, 3, 4, 5))


def test_cv_with_the_whisper_lr_recipe_prints_mean_and_std_and_reports(corpus, tmp_path):
    r = escucha("cv", "--data", corpus, "--config", "whisper-lr", "--folds", "2", "--out", "cv", "--quiet",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "2-fold speaker CV of whisper-lr on 32 clips" in r.stdout
    assert [ln.split()[0] for ln in r.stdout.splitlines() if "±" in ln] == ["accuracy", "uar", "macro_f1"]
    html = (tmp_path / "cv" / "report.html").read_text()
    assert "Fitted in one closed-form pass" in html and html.count('id="fold-') >= 2


def test_train_with_the_whisper_lr_recipe_and_its_report(corpus, tmp_path):
    r = escucha("train", "--data", corpus, "--config", "whisper-lr", "--folds", "4", "--out", "run", "--quiet",
                "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["model"] == "whisper-lr"
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Fitted in one closed-form pass" in html and "none (fitted in closed form)" in html
    r = escucha("report", "run", "-o", "again", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Fitted in one closed-form pass" in (tmp_path / "again" / "report.html").read_text()


def test_models_lists_bundled_models_and_recipes():
    r = subprocess.run([sys.executable, "-m", "escucha", "models"], capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.index("bundled trained models") < out.index("shipped training recipes") < out.index("architectures")
    assert "whisper-lr-tel" in out and "m5 " in out
    # what the bundled models are made of comes from their configs (it said 'layers 1-3' of a
    # model that reads Whisper base layers 1-4)
    from escucha.inference.predictor import bundled_model_dir

    member = json.loads((bundled_model_dir("default") / "member-0" / "config.json").read_text())["features"]
    layers = member["whisper_layers"]
    default = next(ln for ln in out.splitlines() if ln.strip().startswith("default "))
    assert f"layers {layers[0]}-{layers[-1]}" in default and "Whisper base" in default and "58 speakers" in default
