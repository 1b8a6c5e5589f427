"""The torch-free runtime: numpy front ends equal torch's, the bundled model's export equals its
torch model on real clips, and predict/analyze run in a process where torch cannot be imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pathlib import Path

import numpy as np
import pytest
import torch

from escucha.audio.processing import frame_rms_db
from escucha.errors import ConfigError
from escucha.export import export_model
from escucha.export.onnx import PARITY_ATOL
from escucha.features import FeatureConfig, FeatureExtractor
from escucha.features.spectral import spectral_features, whisper_log_mel
from escucha.inference import bundled_model_dir, load_model
from escucha.runtime import load_export, read_export_config, set_num_threads, stale_files

from .conftest import REPO, synth_clip

DATA = REPO.parent / "shared" / "data"
RAVDESS_CLIPS = ["Actor_03/03-01-05-02-01-01-03.flac", "Actor_07/03-01-03-01-02-02-07.flac",
                 "Actor_12/03-01-04-02-02-01-12.flac", "Actor_18/03-01-06-01-01-02-18.flac"]
SAVEE_CLIPS = ["ALL/DC_a03.flac", "ALL/JE_sa05.flac", "ALL/JK_h10.flac", "ALL/KL_n20.flac"]


def real_clips() -> list[str]:
    clips = [DATA / "ravdess" / c for c in RAVDESS_CLIPS] + [DATA / "savee" / c for c in SAVEE_CLIPS]
    if not all(c.is_file() for c in clips):
        pytest.skip("real clips not available in ../shared/data")
    return [str(c) for c in clips]


# -- numpy front ends ------------------------------------------------------------------------
def _signals(sr=16000):
    rng = np.random.default_rng(0)
    return np.stack([synth_clip(e, 2, sr=sr, seconds=1.3) + 0.01 * rng.standard_normal(int(1.3 * sr))
                     for e in (1, 5)]).astype(np.float32)


@pytest.mark.parametrize("kw", [
    {"kind": "logmel"}, {"kind": "mfcc"}, {"kind": "logmel", "normalize": "utterance"},
    {"kind": "mfcc", "normalize": "clip", "n_fft": 400, "n_mels": 40, "n_mfcc": 20},
    {"kind": "logmel", "fmin": 50.0, "fmax": 7000.0, "top_db": None}, {"kind": "raw", "sample_rate": 8000},
])
def test_numpy_front_end_equals_torch(kw):
    c = FeatureConfig(**kw)
    y = _signals(c.sample_rate)
    ours = spectral_features(y, c)
    ref = FeatureExtractor(c)(torch.from_numpy(y)).numpy()
    assert ours.shape == ref.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=1e-4 * max(1.0, float(np.abs(ref).max())))


def test_numpy_whisper_log_mel_equals_torch():
    from escucha.features.whisper import whisper_log_mel as torch_log_mel

    y = _signals()
    ours = whisper_log_mel(y)
    ref = torch_log_mel(torch.from_numpy(y)).numpy()
    assert ours.shape == ref.shape == (2, 80, y.shape[1] // 160)
    np.testing.assert_allclose(ours, ref, atol=5e-5)  # log10 units; float32 FFTs


@pytest.mark.parametrize("n, frame, hop, scale", [
    (1, 512, 256, 0.1), (511, 512, 256, 0.1), (48000, 512, 256, 0.3), (48000, 2048, 512, 0.3),
    (5000, 400, 160, 0.3), (20000, 512, 256, 1e17),
])
def test_frame_power_by_hops_equals_the_framewise_mean(n, frame, hop, scale):
    rng = np.random.default_rng(n)
    y = (scale * rng.standard_normal(n)).astype(np.float32)
    y[n // 2:] = 0  # a silent half after a loud one stays at the -100 dB floor
    pad = frame // 2
    yp = np.pad(y, (pad, pad))
    m = 1 + max(0, (len(yp) - frame) // hop)
    idx = np.arange(frame)[None, :] + hop * np.arange(m)[:, None]
    ref = 10 * np.log10(np.maximum(np.mean(np.square(yp[idx], dtype=np.float64), axis=1), 1e-10))
    np.testing.assert_allclose(frame_rms_db(y, frame_length=frame, hop_length=hop), ref, atol=1e-3)


def music_chords(seed: int, sr: int = 16000, seconds: float = 3.0) -> np.ndarray:
    """Four struck major/minor chords (five harmonics a note, decaying): music, not speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    y = np.zeros_like(t)
    chords = [[261.6, 329.6, 392.0], [220.0, 261.6, 329.6], [174.6, 220.0, 261.6], [196.0, 246.9, 293.7]]
    n = len(t) // 4
    for k in range(4):
        tt = t[k * n:(k + 1) * n] - t[k * n]
        env = np.minimum(1, tt * 50) * np.exp(-tt * rng.uniform(0.5, 2))
        for f in chords[(k + seed) % 4]:
            for h in range(1, 6):
                y[k * n:(k + 1) * n] += env * (0.3 / h) * np.sin(2 * np.pi * f * h * tt + rng.uniform(0, 6))
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def test_the_gate_stops_listening_once_speech_is_certain_with_the_verdict_of_a_full_pass(monkeypatch):
    from escucha.audio import load_audio, resample
    from escucha.inference import gate
    from escucha.longaudio.vad import SileroVAD, SpeechSegmenter, VADConfig, VADStream

    heard = []
    real = VADStream.process
    monkeypatch.setattr(VADStream, "process", lambda self, y: heard.append(len(y)) or real(self, y))
    signals = [resample(*load_audio(c), 16000) for c in real_clips()[:2]]
    signals += [synth_clip(3, 1, seconds=2.0), np.zeros(16000, np.float32), music_chords(0),
                (0.1 * np.random.default_rng(0).standard_normal(40000)).astype(np.float32)]
    for y in signals:
        heard.clear()
        found, _ = gate.speech_found(y)
        stream, seg = VADStream(SileroVAD(), sample_rate=16000, channels=1), SpeechSegmenter(VADConfig())
        regions = seg.push(np.concatenate([real(stream, y).reshape(-1), stream.flush().reshape(-1)]))
        assert found == bool(regions + seg.finish(len(y)))
        if found and len(y) > 2 * gate._VAD_STEP:
            assert sum(heard) < len(y), "stopped at the first certain speech region"


def test_one_speech_gate_for_predict_and_analyze(tmp_path):
    """Music chords are no speech for both commands (they were 'surprised 78 %' in predict); real
    and synthetic speech is speech for both."""
    import soundfile as sf

    from escucha.longaudio import analyze_file

    model = load_model("fast")
    cases = {f"chords-{k}.wav": music_chords(k) for k in range(3)}
    cases.update({"synthetic.wav": synth_clip(4, 2, seconds=2.0)})
    for name, y in cases.items():
        sf.write(tmp_path / name, y, 16000)
    files = [tmp_path / n for n in cases] + real_clips()[:3]
    for f in files:
        p = model.predict(f)
        segments = analyze_file(f, model).segments
        assert p.judged == bool(segments), f"{f}: predict {p.outcome or p.label}, analyze {len(segments)} segments"
        assert p.judged == (not Path(f).name.startswith("chords")), f


def test_threads_must_be_positive():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="threads must be an integer >= 1"):
            set_num_threads(bad)


# -- the bundled model's export ----------------------------------------------------------------
def test_the_bundled_model_carries_a_current_int8_export():
    d, cfg = read_export_config(bundled_model_dir() / "onnx")
    assert stale_files(cfg, bundled_model_dir()) == []
    assert {g: v["precision"] for g, v in cfg["graphs"].items()} == {
        "frontend-0-spectrogram.onnx": "fp32", "frontend-0-encoder.onnx": "int8-dynamic",
        "member-0.onnx": "fp32", "member-1.onnx": "fp32"}
    assert [(m["band"], m["frontend"]) for m in cfg["members"]] == [("wide", 0), ("narrow", 0)]
    model = load_model(calibrate=False)
    assert model.runtime == "onnx" and [m.runtime for m in model.members] == ["onnx", "onnx"]
    assert model.config == json.loads((bundled_model_dir() / "config.json").read_text())


def test_the_bundled_model_hears_each_band_with_one_member():
    """Full-band input is answered by the wide member alone, telephone-band input by the
    telephone member alone (averaging the two cost 4 points of UAR on unseen corpora)."""
    from escucha.audio import load_audio, resample

    model = load_model(calibrate=False)
    wide, tel = model.members
    for path in real_clips()[:2]:
        y, sr = load_audio(path)
        line = resample(resample(y, sr, 8000), 8000, sr)      # the same clip through an 8-kHz line
        for signal, member, other in ((y, wide, tel), (line, tel, wide)):
            got = model.predict(signal, sample_rate=sr).probabilities
            alone = member.predict(signal, sample_rate=sr).probabilities
            left_out = other.predict(signal, sample_rate=sr).probabilities
            assert got == pytest.approx(alone, abs=1e-5)
            # the member left out answers otherwise: compared on log-probabilities, since two members
            # that both hear a clip as angry with 0.999 differ little in probability
            log = lambda p: np.log(np.clip(np.array([p[k] for k in got]), 1e-12, 1.0))  # noqa: E731
            assert np.abs(log(got) - log(left_out)).max() > 0.1


@pytest.fixture(scope="module")
def bundled_fp32(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundled") / "onnx-fp32"
    export_model(bundled_model_dir(), out)
    return load_export(out)


@pytest.mark.integration
def test_fp32_export_of_the_bundled_model_equals_torch_on_real_clips(bundled_fp32):
    torch_model = load_model(runtime="torch", calibrate=False)  # the export folder alone carries no calibration
    for clip in real_clips():
        a, b = torch_model.predict(clip), bundled_fp32.predict(clip)
        assert a.label == b.label, clip
        labels = torch_model.labels
        np.testing.assert_allclose(b.probabilities_array(labels), a.probabilities_array(labels),
                                   atol=PARITY_ATOL, err_msg=clip)


@pytest.mark.integration
def test_shipped_int8_export_gives_the_torch_labels_on_real_clips():
    """int8 moves probabilities by a few hundredths: the label may differ only where torch's top two
    are that close (a near tie, e.g. SAVEE DC_a03: angry 0.274 vs sad 0.273), and rarely."""
    torch_model, onnx_model = load_model(runtime="torch"), load_model(runtime="onnx")
    diffs, flips = [], []
    for clip in real_clips():
        a, b = torch_model.predict(clip), onnx_model.predict(clip)
        pa = a.probabilities_array(torch_model.labels)
        if a.label != b.label:
            top2 = np.sort(pa)[-2:]
            assert top2[1] - top2[0] < 0.05, (clip, a.label, b.label, top2)
            flips.append(clip)
        diffs.append(np.abs(pa - b.probabilities_array(torch_model.labels)).max())
    assert len(flips) <= max(1, len(diffs) // 10), flips
    assert max(diffs) < 0.25


# -- without torch ------------------------------------------------------------------------------
NO_TORCH = """
import json, sys
sys.modules["torch"] = None          # import torch now fails, as where it is not installed
from escucha.cli import main
rc = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.startswith("torch.") or m in ("sklearn", "opensmile", "librosa"))
print(json.dumps({"rc": rc, "loaded": loaded}), file=sys.stderr)
sys.exit(rc)
"""


def run_without_torch(*args, env=None):
    """``escucha ARGS`` in a fresh process where ``import torch`` fails; returns the completed
    process and what it reported (exit status, torch submodules and heavy packages loaded)."""
    e = {k: v for k, v in os.environ.items() if k != "ESCUCHA_RUNTIME"}
    e.update({"ESCUCHA_PROGRESS": "0", **(env or {})})
    r = subprocess.run([sys.executable, "-c", NO_TORCH, *map(str, args)], capture_output=True, text=True,
                       timeout=120, env=e, cwd=REPO)
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    return r, json.loads(last) if last.startswith("{") else None


@pytest.mark.integration
def test_predict_and_analyze_run_where_torch_cannot_be_imported(tmp_path):
    clip = real_clips()[0]
    r, status = run_without_torch("predict", clip, "--json")
    assert r.returncode == 0, r.stderr
    assert status == {"rc": 0, "loaded": []}
    (pred,) = json.loads(r.stdout)
    assert pred["label"] == load_model(runtime="torch").predict(clip).label
    r, status = run_without_torch("analyze", clip, "--json", "--threads", "1")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["summary"]["dominant"] == pred["label"] and status["loaded"] == []


def test_torch_runtime_or_a_model_without_export_say_what_to_install(tmp_path):
    from escucha.checkpoint import save_checkpoint
    from escucha.models import create_model

    sample = REPO / "src" / "escucha" / "assets" / "samples" / "sample.wav"
    r, _ = run_without_torch("predict", sample, env={"ESCUCHA_RUNTIME": "torch"})
    assert r.returncode == 2 and "the torch runtime needs torch: pip install 'escucha[train]'" in r.stderr
    cfg = {"model": {"name": "m5", "args": {}, "in_channels": 1}, "labels": ["a", "b"],
           "features": {"kind": "raw", "sample_rate": 8000}, "clip_seconds": 1.0}
    m = save_checkpoint(tmp_path / "m", create_model("m5", n_classes=2, in_channels=1), cfg)
    r, _ = run_without_torch("predict", sample, "--model", m)
    assert r.returncode == 2
    assert f"{m}: has no ONNX export; make one with 'escucha export {m}'" in r.stderr
    assert "or install torch for the torch runtime: pip install 'escucha[train]'" in r.stderr
    r, _ = run_without_torch("models")  # lists what a plain install can use, and says what needs torch
    assert r.returncode == 0, r.stderr
    assert "default " in r.stdout and "fast " in r.stdout and "whisper-lr" in r.stdout
    assert "listed with escucha[train] installed" in r.stdout


def test_default_path_does_not_import_torch_even_where_it_is_installed():
    sample = REPO / "src" / "escucha" / "assets" / "samples" / "sample.wav"
    code = ("import sys, escucha; p = escucha.load_model().predict(sys.argv[1]); "
            "print(p.label, 'torch' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "ESCUCHA_RUNTIME"}
    r = subprocess.run([sys.executable, "-c", code, str(sample)], capture_output=True, text=True, timeout=120,
                       env=env, cwd=REPO)
    assert r.returncode == 0, r.stderr
    label, imported = r.stdout.split()
    assert imported == "False" and label == load_model(runtime="torch").predict(sample).label


def test_predict_and_analyze_on_the_command_line_agree_on_music(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "chords.wav", music_chords(1), 16000)
    env = {**os.environ, "ESCUCHA_PROGRESS": "0"}
    p = subprocess.run([sys.executable, "-m", "escucha", "predict", str(tmp_path / "chords.wav"), "--json"],
                       capture_output=True, text=True, env=env, timeout=300)
    a = subprocess.run([sys.executable, "-m", "escucha", "analyze", str(tmp_path / "chords.wav"), "--json"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0 and a.returncode == 0, p.stderr + a.stderr
    [pred] = json.loads(p.stdout)
    assert pred["label"] is None and pred["outcome"] == "no speech found"
    res = json.loads(a.stdout)
    assert res["segments"] == [] and res["summary"]["dominant"] is None


def test_a_long_recording_gives_shares_of_speech_time_named_so(tmp_path):
    """Over 30 s, predict's scores are the call summary's shares of speech time: 'speech_share'."""
    import soundfile as sf

    from escucha.audio import load_audio

    clips = [load_audio(c, sample_rate=16000)[0] for c in real_clips()[:3]]
    gap = np.zeros(16000 * 4, np.float32)
    y = np.concatenate([x for c in clips * 3 for x in (c, gap)])
    assert len(y) / 16000 > 30
    sf.write(tmp_path / "long.wav", y, 16000)
    r = subprocess.run([sys.executable, "-m", "escucha", "predict", str(tmp_path / "long.wav"), "--json",
                        "--model", "fast"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "ESCUCHA_PROGRESS": "0"})
    assert r.returncode == 0, r.stderr
    [d] = json.loads(r.stdout)
    assert d["long"] is True and "probabilities" not in d
    assert d["label"] == max(d["speech_share"], key=d["speech_share"].get)
    assert abs(sum(d["speech_share"].values()) - 1) < 1e-3


def test_cv_help_names_the_recipes_not_a_checkout_file():
    r = subprocess.run([sys.executable, "-m", "escucha", "cv", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "configs/" not in r.stdout and "whisper-lr" in r.stdout
