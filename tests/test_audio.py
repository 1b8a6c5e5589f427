import numpy as np
import pytest
import soundfile as sf

from escucha.audio import (audio_info, load_audio, normalize_loudness, pad_or_crop, rms_db, trim_silence,
                           valid_audio)
from escucha.errors import AudioError

from .conftest import synth_clip


def _write_bytes(path, data):
    path.write_bytes(data)
    return path


def _write(path, y, sr, **kw):
    sf.write(path, y, sr, **kw)
    return path


def test_load_resample_and_mono(tmp_path):
    y = synth_clip(3, 1, sr=48000, seconds=1.0)
    stereo = np.stack([y, 0.5 * y], axis=1)
    p = _write(tmp_path / "s.flac", stereo, 48000)
    out, sr = load_audio(p, sample_rate=16000)
    assert sr == 16000 and out.shape == (16000,) and out.dtype == np.float32
    multi, sr = load_audio(p, mono=False)
    assert multi.shape == (2, 48000)
    # mono mix is the channel mean (before resampling)
    np.testing.assert_allclose(load_audio(p)[0], stereo.mean(axis=1), atol=1e-4)


def test_resampled_tone_keeps_its_pitch(tmp_path):
    sr = 44100
    t = np.arange(sr) / sr
    p = _write(tmp_path / "tone.wav", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    y, _ = load_audio(p, sample_rate=8000)
    spec = np.abs(np.fft.rfft(y))
    assert np.argmax(spec) * 8000 / len(y) == pytest.approx(440, abs=2)


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "nope.wav", "file not found"),
    (lambda p: _write_bytes(p / "empty.wav", b""), "cannot decode"),
    (lambda p: _write_bytes(p / "text.wav", b"hello, I am not audio"), "cannot decode"),
    (lambda p: _write(p / "zero.wav", np.zeros(0, dtype=np.float32), 16000), "empty"),
    (lambda p: _write(p / "nan.wav", np.array([0.1, np.nan, 0.2] * 100, dtype=np.float32), 16000,
                      subtype="FLOAT"), "NaN or infinite"),
    (lambda p: p, "is a folder"),
])
def test_bad_audio_raises_one_error_naming_the_file(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(AudioError, match=message) as e:
        load_audio(path)
    assert str(path) in str(e.value)
    assert "\n" not in str(e.value)


def test_too_short(tmp_path):
    p = _write(tmp_path / "short.wav", np.zeros(100, dtype=np.float32) + 0.1, 16000)
    with pytest.raises(AudioError, match="too short"):
        load_audio(p, min_duration=0.5)


def test_audio_info_reads_header_only(tmp_path):
    p = _write(tmp_path / "a.wav", synth_clip(1, 1, sr=8000, seconds=2.0), 8000, subtype="ULAW")
    info = audio_info(p)
    assert info["sample_rate"] == 8000 and info["frames"] == 16000 and info["subtype"] == "ULAW"


@pytest.mark.parametrize("y, message", [
    (np.zeros((2, 2, 2), dtype=np.float32), "expected shape"),
    (np.zeros(10, dtype=np.int16), "floating-point"),
    (np.array([1.0, np.inf], dtype=np.float32), "NaN or infinite"),
    (np.zeros(0, dtype=np.float32), "empty"),
])
def test_valid_audio(y, message):
    with pytest.raises(AudioError, match=message):
        valid_audio(y, name="x")


def test_trim_silence_matches_librosa():
    librosa = pytest.importorskip("librosa")
    sr = 16000
    y = np.concatenate([np.zeros(sr // 2), synth_clip(4, 1, sr=sr, seconds=1.0), np.zeros(sr // 3)]).astype(np.float32)
    y += 1e-4 * np.random.default_rng(0).standard_normal(len(y)).astype(np.float32)
    ours, (s, e) = trim_silence(y, top_db=40)
    ref, idx = librosa.effects.trim(y, top_db=40)
    assert abs(s - idx[0]) <= 512 and abs(e - idx[1]) <= 512
    assert len(ours) < len(y) * 0.75


def test_pad_or_crop_modes():
    y = np.arange(10, dtype=np.float32)
    assert pad_or_crop(y, 4, mode="center").tolist() == [3, 4, 5, 6]
    assert pad_or_crop(y, 14, mode="center").tolist() == [0, 0] + list(range(10)) + [0, 0]
    assert pad_or_crop(y, 4, mode="start").tolist() == [0, 1, 2, 3]
    rng = np.random.default_rng(0)
    crops = {tuple(pad_or_crop(y, 4, mode="random", rng=rng)) for _ in range(50)}
    assert len(crops) > 3 and all(len(c) == 4 for c in crops)
    with pytest.raises(ValueError):
        pad_or_crop(y, 4, mode="middle")


def test_normalize_loudness_hits_target_without_clipping():
    y = 0.01 * synth_clip(5, 1)
    out = normalize_loudness(y, target_db=-23, use_active=False)
    assert rms_db(out) == pytest.approx(-23, abs=0.1)
    loud = normalize_loudness(np.concatenate([y, [0.9]]).astype(np.float32), target_db=-3, use_active=False)
    assert np.max(np.abs(loud)) < 1.0
