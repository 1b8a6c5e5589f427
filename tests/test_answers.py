"""``--labels``: every way of asking (Python, predict, analyze, evaluate, the service) answers
among the chosen emotions only, with the model's probabilities renormalised over them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import escucha
from escucha.errors import ConfigError
from escucha.inference.answers import LabelSubset, parse_labels

from .conftest import SHARED_RAVDESS

ENV = {**os.environ, "ESCUCHA_PROGRESS": "0"}
FOUR = ["neutral", "happy", "sad", "angry"]
CLIPS = [SHARED_RAVDESS / p for p in ("Actor_01/03-01-07-02-01-01-01.flac", "Actor_02/03-01-02-01-01-01-02.flac",
                                      "Actor_03/03-01-05-02-01-01-03.flac")]
needs_real = pytest.mark.skipif(not all(p.is_file() for p in CLIPS), reason="real RAVDESS clips not found")


def escucha_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "escucha", *map(str, args)], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=300)


@pytest.mark.parametrize("value, expected", [
    ("neutral,happy,sad,angry", FOUR),
    (" Anger , neutral", ["angry", "neutral"]),
    (["happy", "sad,fear"], ["happy", "sad", "fearful"]),
    ("", None),
    (None, None),
])
def test_parse_labels(value, expected):
    assert parse_labels(value) == expected


@pytest.mark.parametrize("value, message", [
    # the Python API's and the service's error too: no command-line flag, no --label-map advice
    # (which does not apply to labels asked for)
    ("neutral,bored", r"^labels: 'bored' is not an emotion label escucha knows; accepted: .*\(anger, fear, joy, \.\.\.\)$"),
    ("sad,sad", "^labels: 'sad' is given twice$"),
])
def test_parse_labels_rejects(value, message):
    with pytest.raises(ConfigError, match=message):
        parse_labels(value)


@pytest.fixture(scope="module")
def model():
    return escucha.load_model("fast")


@needs_real
def test_restricted_probabilities_are_the_renormalised_originals(model):
    sub = LabelSubset(model, FOUR)
    assert sub.labels == FOUR and sub.sample_rate == model.sample_rate
    for clip in CLIPS:
        full, part = model.predict(clip), sub.predict(clip)
        keep = np.array([full.probabilities[k] for k in FOUR])
        assert list(part.probabilities) == FOUR
        assert np.allclose([part.probabilities[k] for k in FOUR], keep / keep.sum(), atol=1e-5)
        assert part.label == FOUR[int(np.argmax(keep))]


def test_unknown_or_too_few_labels(model):
    with pytest.raises(ConfigError, match="give at least two labels"):
        LabelSubset(model, ["sad"])
    nemo_only = escucha.load_model("fast", labels="neutral,sad")
    with pytest.raises(ConfigError, match="the model does not answer 'happy'"):
        LabelSubset(nemo_only, ["happy", "sad"])


@needs_real
def test_predict_and_analyze_answer_among_the_labels(tmp_path):
    r = escucha_cli("predict", *CLIPS, "--json", "--labels", "neutral,happy,sad,angry", "--model", "fast")
    assert r.returncode == 0, r.stderr
    for d in json.loads(r.stdout):
        assert list(d["probabilities"]) == FOUR and d["label"] in FOUR
        assert abs(sum(d["probabilities"].values()) - 1) < 1e-4
    from .test_service import make_call

    call = make_call(tmp_path / "call.wav")
    r = escucha_cli("analyze", call, "--json", "--labels", "neutral,sad", "--model", "fast")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["labels"] == ["neutral", "sad"] and res["segments"]
    assert {s["label"] for s in res["segments"]} <= {"neutral", "sad"}
    r = escucha_cli("predict", CLIPS[0], "--labels", "neutral,boredom")
    assert r.returncode == 2 and "escucha: error: labels: 'boredom' is not an emotion label" in r.stderr and "boredom" in r.stderr


@needs_real
def test_evaluate_with_labels_and_a_label_map(tmp_path):
    # a folder-per-label corpus with its own label names, mapped by --label-map
    import shutil

    for clip, name in zip(CLIPS, ("disgusto", "tranquilo", "enfado")):
        (tmp_path / "data" / name).mkdir(parents=True)
        shutil.copy(clip, tmp_path / "data" / name / clip.name)
    (tmp_path / "map.json").write_text(json.dumps({"disgusto": "disgust", "tranquilo": "calm", "enfado": "angry"}))
    r = escucha_cli("evaluate", tmp_path / "data", "--corpus", "folders", "--label-map", tmp_path / "map.json", "--json", "--model", "fast")
    assert r.returncode == 0, r.stderr
    assert "--labels calm,angry,disgust answers among them only" in r.stderr
    full = json.loads(r.stdout)
    r = escucha_cli("evaluate", tmp_path / "data", "--corpus", "folders", "--label-map", tmp_path / "map.json", "--json", "--model", "fast",
                    "--labels", "calm,angry,disgust")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["labels"] == ["calm", "angry", "disgust"] and rep["n"] == full["n"] == 3
    assert "answers among them only" not in r.stderr


@needs_real
def test_the_service_answers_among_the_labels(model):
    from fastapi.testclient import TestClient

    from escucha.service import ServiceConfig, create_app

    with TestClient(create_app(model, ServiceConfig(workers=1, queue=4))) as c:
        with open(CLIPS[0], "rb") as f:
            r = c.post("/v1/predict?labels=neutral,happy,sad,angry", files={"file": (CLIPS[0].name, f)})
        assert r.status_code == 200, r.text
        assert list(r.json()["probabilities"]) == FOUR
        with open(CLIPS[0], "rb") as f:
            r = c.post("/v1/predict?labels=neutral,nope", files={"file": (CLIPS[0].name, f)})
        assert r.status_code == 400 and "nope" in r.json()["error"]
