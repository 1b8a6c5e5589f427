"""The fast bundled model (``--model fast``) and what it is made of: Whisper features over the
loudest ``max_seconds`` of each input, named bundled models, and its shipped ONNX export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from escucha.errors import ConfigError, ModelError
from escucha.features import FeatureConfig, FeatureExtractor
from escucha.features.spectral import loudest_window
from escucha.inference import BUNDLED_MODELS, bundled_model_dir, load_model
from escucha.runtime import read_export_config, stale_files

from .conftest import REPO, synth_clip
from .test_cli import escucha
from .test_runtime import real_clips

FAST = bundled_model_dir("fast")


# -- the loudest window ------------------------------------------------------------------------
def test_loudest_window_finds_the_loud_stretch_and_keeps_short_rows_whole():
    rng = np.random.default_rng(0)
    y = (1e-3 * rng.standard_normal((2, 16000 * 5))).astype(np.float32)
    y[0, 3 * 16000:4 * 16000] += 0.5                     # a loud second in row 0 at 3-4 s
    y[1, 16000 // 2:16000 + 16000 // 2] += 0.5           # and in row 1 at 0.5-1.5 s
    w = loudest_window(y, 16000)
    assert w.shape == (2, 16000)
    np.testing.assert_array_equal(w[0], y[0, 3 * 16000:4 * 16000])
    np.testing.assert_array_equal(w[1], y[1, 8000:24000])
    short = y[:, :12000]
    assert loudest_window(short, 16000) is not None and loudest_window(short, 16000).shape == (2, 12000)
    # a window reaching the end stays inside the signal
    z = np.zeros((1, 16000 * 3), np.float32)
    z[0, -100:] = 1.0
    out = loudest_window(z, 16000)
    assert out.shape == (1, 16000) and out[0, -1] == 1.0


def test_max_seconds_is_whisper_only_and_bounded():
    assert FeatureConfig(kind="whisper", max_seconds=1.5).max_seconds == 1.5
    with pytest.raises(ConfigError, match="whisper features only"):
        FeatureConfig(kind="logmel", max_seconds=1.5)
    for bad in (0.1, 1e6):
        with pytest.raises(ConfigError, match="max_seconds must be between"):
            FeatureConfig(kind="whisper", max_seconds=bad)


def test_whisper_features_hear_only_the_loudest_window():
    """Torch features with max_seconds equal the features of the loudest window alone, and differ
    from the whole input's."""
    y = np.concatenate([0.01 * synth_clip(0, 1, seconds=2.0), synth_clip(4, 2, seconds=1.5),
                        0.01 * synth_clip(1, 3, seconds=2.0)]).astype(np.float32)
    crop = FeatureExtractor(FeatureConfig(kind="whisper", whisper_layers=(2,), max_seconds=1.5))
    whole = FeatureExtractor(FeatureConfig(kind="whisper", whisper_layers=(2,)))
    with torch.inference_mode():
        a = crop(torch.from_numpy(y)[None])
        b = whole(torch.from_numpy(loudest_window(y, 24000)))
        c = whole(torch.from_numpy(y)[None])
    torch.testing.assert_close(a, b)
    assert (a - c).abs().max() > 1e-2


# -- names ----------------------------------------------------------------------------------------
def test_bundled_models_by_name(tmp_path, monkeypatch):
    assert set(BUNDLED_MODELS) == {"default", "fast"}
    assert load_model("fast", calibrate=False).config == json.loads((FAST / "config.json").read_text())
    with pytest.raises(ModelError, match="not a bundled model"):
        bundled_model_dir("tiny")
    # a folder of that name where the user stands wins over the bundled name
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fast").mkdir()
    with pytest.raises(ModelError, match="fast"):
        load_model("fast")


def test_fast_model_is_whisper_layer_2_over_1_5_s_with_a_current_int8_export():
    cfg = json.loads((FAST / "config.json").read_text())
    assert cfg["model"]["name"] == "whisper-lr"
    assert cfg["features"]["whisper_layers"] == [2] and cfg["features"]["max_seconds"] == 1.5
    assert set(cfg["trained_on"]["corpora"]) == {"ravdess", "emodb", "savee", "nemo", "korean"}
    d, exp = read_export_config(FAST / "onnx")
    assert stale_files(exp, FAST) == []
    assert exp["graphs"]["frontend-0-encoder.onnx"]["precision"] == "int8-dynamic"
    m = load_model("fast")
    assert m.runtime == "onnx"


@pytest.mark.integration
def test_fast_model_on_real_clips_matches_its_torch_model_and_knows_anger():
    onnx_m, torch_m = load_model("fast"), load_model("fast", runtime="torch")
    labels = torch_m.labels
    agree, diffs = 0, []
    for clip in real_clips():
        a, b = torch_m.predict(clip), onnx_m.predict(clip)
        agree += a.label == b.label
        diffs.append(np.abs(a.probabilities_array(labels) - b.probabilities_array(labels)).max())
    assert agree >= len(real_clips()) - 1 and max(diffs) < 0.3
    # the strong-intensity angry clip and the SAVEE angry clip are heard as angry
    clips = real_clips()
    assert onnx_m.predict(clips[0]).label == "angry"
    assert onnx_m.predict(clips[4]).label == "angry"


def test_cli_predict_with_the_fast_model_json(tmp_path):
    clip = REPO / "src" / "escucha" / "assets" / "samples" / "sample.wav"
    r = escucha("predict", clip, "--model", "fast", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    row = out[0] if isinstance(out, list) else out
    assert row["label"] in json.loads((FAST / "config.json").read_text())["labels"]
    assert abs(sum(row["probabilities"].values()) - 1) < 1e-3
    r = escucha("predict", clip, "--model", "tiny")
    assert r.returncode == 2 and "tiny" in r.stderr and "Traceback" not in r.stderr


def test_models_command_lists_the_bundled_models():
    r = escucha("models")
    assert r.returncode == 0, r.stderr
    tail = r.stdout.split("bundled trained models")[1]
    assert "default" in tail and "fast" in tail and "not in this installation" not in tail
