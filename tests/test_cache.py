"""The waveform / feature cache: hits when nothing changed, misses when the file or a setting did."""

import numpy as np
import soundfile as sf

from escucha.data import PreprocessConfig, WaveformCache, load_waveforms

from .conftest import synth_clip


def _count(cache):
    return len(list(cache.dir.rglob("*.npy")))


def test_cache_hits_and_invalidation(tmp_path, monkeypatch):
    import escucha.data.waveforms as wf

    p = tmp_path / "a.wav"
    sf.write(p, synth_clip(3, 1, sr=16000), 16000)
    cache = WaveformCache(tmp_path / "cache")
    cfg = PreprocessConfig(sample_rate=8000)
    calls = []
    real = wf.load_audio
    monkeypatch.setattr(wf, "load_audio", lambda *a, **k: calls.append(a) or real(*a, **k))

    [y1] = load_waveforms([str(p)], cfg, cache=cache)
    [y2] = load_waveforms([str(p)], cfg, cache=cache)
    assert len(calls) == 1 and _count(cache) == 1          # second read came from the cache
    np.testing.assert_array_equal(y1, y2)

    load_waveforms([str(p)], PreprocessConfig(sample_rate=8000, trim_db=30), cache=cache)
    assert len(calls) == 2 and _count(cache) == 2          # a setting changed: decoded again

    sf.write(p, synth_clip(7, 1, sr=16000), 16000)         # same name, new content
    [y3] = load_waveforms([str(p)], cfg, cache=cache)
    assert len(calls) == 3 and not np.array_equal(y1, y3)  # content changed: decoded again


def test_corrupt_cache_entry_is_recomputed(tmp_path):
    p = tmp_path / "a.wav"
    sf.write(p, synth_clip(3, 1, sr=16000), 16000)
    cache = WaveformCache(tmp_path / "cache")
    cfg = PreprocessConfig(sample_rate=16000)
    [y1] = load_waveforms([str(p)], cfg, cache=cache)
    [entry] = list(cache.dir.rglob("*.npy"))
    entry.write_bytes(b"garbage")
    [y2] = load_waveforms([str(p)], cfg, cache=cache)
    np.testing.assert_array_equal(y1, y2)


def test_no_cache_writes_nothing(tmp_path):
    p = tmp_path / "a.wav"
    sf.write(p, synth_clip(3, 1, sr=16000), 16000)
    load_waveforms([str(p)], PreprocessConfig(), cache=None)
    assert not any(tmp_path.glob("**/*.npy"))
