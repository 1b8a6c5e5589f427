"""Listening conditions the recipes train under (escucha.train.conditions): telephone lines,
codecs, rooms and the VAD cut, and a closed-form training run that hears its clips through them."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from escucha.errors import ConfigError
from escucha.train.conditions import CONDITIONS, codec_round_trip, cut_to_speech, listen, telephone_line
from escucha.train.config import TrainConfig

from .conftest import make_fake_ravdess, synth_clip

SR = 16000


def _band_db(y, lo, hi):
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    return 10 * np.log10(spec[(f >= lo) & (f < hi)].mean() + 1e-20)


def test_a_telephone_line_keeps_300_to_3400_hz_and_companding_differs_by_law():
    y = (0.1 * np.random.default_rng(0).standard_normal(2 * SR)).astype(np.float32)
    mu, a = telephone_line(y, SR, law="mu"), telephone_line(y, SR, law="a")
    assert mu.shape == y.shape and mu.dtype == np.float32
    inband = _band_db(mu, 500, 3000)
    assert inband - _band_db(mu, 4500, 7500) > 40  # nothing above the 8-kHz line's Nyquist
    assert inband - _band_db(mu, 20, 120) > 15     # the line's low cut
    assert not np.allclose(mu, a) and abs(_band_db(a, 500, 3000) - inband) < 1
    with pytest.raises(ValueError, match="law"):
        telephone_line(y, SR, law="b")


def test_codecs_round_trip_at_the_same_length():
    y = synth_clip(3, 1, seconds=1.5)
    for codec in ("opus", "mp3"):
        z = codec_round_trip(y, SR, codec=codec)
        assert z.shape == y.shape and np.isfinite(z).all()
        assert np.corrcoef(y, z)[0, 1] > 0.5, codec  # still the same signal, time-aligned


def test_the_cut_removes_silent_margins_as_analyze_segments_do():
    speech = synth_clip(4, 2, seconds=1.5)
    padded = np.concatenate([np.zeros(SR, np.float32), speech, np.zeros(SR, np.float32)])
    cut = cut_to_speech(padded)
    assert 1.0 * SR < len(cut) < len(speech) + 0.3 * SR  # at most the VAD's 0.1-s pads beyond the speech
    silent = np.zeros(SR, np.float32)
    assert len(cut_to_speech(silent)) == SR  # nothing found: left as it is


def test_listen_names_every_condition_and_refuses_others():
    y = synth_clip(2, 3, seconds=1.5)
    for name in CONDITIONS:
        z = listen(y, name, rng=np.random.default_rng(0))
        assert z.dtype == np.float32 and 0 < len(z) <= len(y) and np.abs(z).max() <= 1.0
    with pytest.raises(ValueError, match="unknown listening condition 'radio'"):
        listen(y, "radio")
    with pytest.raises(ConfigError, match="conditions"):
        TrainConfig(model="whisper-lr", conditions=["clip", "radio"])
    with pytest.raises(ConfigError, match="conditions"):
        TrainConfig(model="whisper-lr", conditions=["clip", "clip"])


def test_the_mild_room_keeps_the_direct_sound_the_room_buries():
    from escucha.train.conditions import ROOMS, room

    y = synth_clip(2, 3, seconds=1.5)

    def likeness(name, seed):
        rt60, snr, drr = ROOMS[name]
        z = room(y, SR, rng=np.random.default_rng(seed), rt60=rt60, snr_db=snr, drr_db=drr)
        assert z.shape == y.shape and np.abs(z).max() <= 1.0
        return float(np.corrcoef(y, z)[0, 1])

    harsh = [likeness("room", s) for s in range(6)]
    mild = [likeness("room-mild", s) for s in range(6)]
    assert min(mild) > 0.7 and np.mean(np.abs(harsh)) < np.mean(mild) - 0.3   # the room: mostly its tail


def test_a_speakerphone_on_a_line_is_the_room_then_the_line():
    from escucha.train.conditions import ROOMS, room

    y = synth_clip(2, 3, seconds=1.5)
    rt60, snr, drr = ROOMS["room-mild"]
    roomed = room(y, SR, rng=np.random.default_rng(4), rt60=rt60, snr_db=snr, drr_db=drr)
    z = listen(y, "room-mild-telephone-mu", rng=np.random.default_rng(4))
    # the same room (same seed), then the line: nothing above the 8-kHz line's Nyquist
    assert np.allclose(z, cut_to_speech(np.clip(telephone_line(roomed, SR, law="mu"), -1, 1)), atol=1e-6)
    assert _band_db(z, 500, 3000) - _band_db(z, 4500, 7500) > 40
    plain = listen(y, "telephone-mu")   # the line alone is another signal
    n = min(len(z), len(plain))
    assert n > SR // 2 and not np.allclose(z[:n], plain[:n], atol=1e-2)


def test_a_closed_form_run_learns_from_every_condition(tmp_path):
    data = make_fake_ravdess(tmp_path / "fake", actors=(1, 2, 3), emotions=(1, 5), reps=(1,))
    cfg = tmp_path / "recipe.json"
    cfg.write_text(json.dumps({"model": "whisper-lr", "features": {"whisper_layers": [1]},
                               "conditions": ["clip", "cut", "telephone-a"], "val_speakers": 0}))
    r = subprocess.run([sys.executable, "-m", "escucha", "train", "--data", str(data), "--config", str(cfg),
                        "--split", "all", "--out", str(tmp_path / "run"), "--quiet", "--no-report", "--threads", "1"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert int(rows[0]["train_clips"]) == 3 * 6  # 6 clips, each heard three ways
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["train"]["conditions"] == ["clip", "cut", "telephone-a"]
