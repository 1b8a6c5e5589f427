"""Each speaker heard against their own neutral voice (escucha.inference.baseline)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from escucha.errors import ConfigError
from escucha.inference.answers import Calibrated, answer_among
from escucha.inference.baseline import neutral_reference, reweight, speaker_shift
from escucha.inference.priors import Calibration
from escucha.longaudio.analyzer import apply_baseline
from escucha.longaudio.segments import Segment, Window

LABELS = ["neutral", "sad", "angry", "happy"]
REF = np.log([0.6, 0.2, 0.1, 0.1])


def test_a_speaker_whose_neutral_sounds_sad_is_moved_to_neutral():
    # six turns the model hears as a little sad (this speaker's calm voice), two clearly angry
    p = np.array([[0.35, 0.45, 0.1, 0.1]] * 6 + [[0.1, 0.1, 0.7, 0.1]] * 2)
    shift = speaker_shift(p, REF, neutral=0)
    q = reweight(p, shift)
    assert list(p.argmax(1)) == [1] * 6 + [2] * 2
    assert list(q.argmax(1)) == [0] * 6 + [2] * 2          # neutral now, and the angry turns stay angry
    assert np.allclose(q.sum(1), 1, atol=1e-6)


def test_an_angry_speaker_stays_angry_and_a_speaker_heard_little_moves_little():
    angry = np.array([[0.05, 0.05, 0.85, 0.05]] * 8)
    assert (reweight(angry, speaker_shift(angry, REF, neutral=0)).argmax(1) == 2).all()
    p = np.array([[0.35, 0.45, 0.1, 0.1]])
    one = speaker_shift(p, REF, neutral=0)
    many = speaker_shift(np.repeat(p, 12, axis=0), REF, neutral=0)
    assert 0 < np.abs(one).max() < 0.5 * np.abs(many).max()   # strength: n / (n + 4) of the way
    assert np.abs(speaker_shift(np.repeat(p, 12, axis=0), REF, neutral=0, strength=1e6)).max() < 1e-3


def test_labels_outside_the_answers_stay_at_zero():
    p = np.array([[0.4, 0.6, 0.0, 0.0]] * 5)
    shift = speaker_shift(p, REF, neutral=0)
    assert shift[2] == shift[3] == 0
    q = reweight(p, shift)
    assert (q[:, 2:] == 0).all() and (q.argmax(1) == 0).all()
    assert (speaker_shift(np.zeros((0, 4)), REF, neutral=0) == 0).all()


def test_the_reference_is_where_the_model_puts_unseen_neutral_speech():
    p = np.array([[0.5, 0.3, 0.1, 0.1], [0.7, 0.1, 0.1, 0.1]])
    ref = neutral_reference(p, 1.0)
    assert abs(ref.mean()) < 1e-9 and ref.argmax() == 0
    assert np.allclose(ref - np.log(p).mean(0), (ref - np.log(p).mean(0))[0])


def _cal(**kw):
    return Calibration.from_dict({"temperature": 1.0, "prior": {"neutral": 0.25}, **kw,
                                  "baseline": {"strength": 4, "reference": {
                                      "wide": dict(zip(LABELS, REF.tolist())),
                                      "narrow": dict(zip(LABELS, (REF + [0, 1, 0, 0]).tolist()))}}})


def test_baseline_settings_are_checked_and_travel_as_json():
    c = _cal()
    assert Calibration.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert c.baseline["iterations"] == 3 and not Calibration.from_dict({"baseline": c.baseline}).identity
    for bad in ({"strength": 0, "reference": {}}, {"strength": 4, "reference": {"wide": {"neutral": "x"}}},
                {"strength": 4}):
        with pytest.raises(ConfigError):
            Calibration.from_dict({"baseline": bad})


class _Model:
    """Answers nothing itself: the segments below carry its answers."""
    labels = LABELS
    config: dict = {}
    runtime = "none"
    uncertain_below = 0.0


def _segment(who, p, t, band="wide"):
    p = np.asarray(p, dtype=np.float32)
    return Segment(who, t, t + 2.0, LABELS[int(p.argmax())], p, tuple(LABELS),
                   [Window(t, t + 2.0, p, p)], speaker=who, band=band)


def test_each_speaker_of_a_call_gets_their_own_shift_and_a_model_without_a_reference_none():
    model = Calibrated(_Model(), _cal())
    segs = ([_segment("agent", [0.35, 0.45, 0.1, 0.1], t) for t in range(0, 12, 2)]
            + [_segment("customer", [0.1, 0.1, 0.7, 0.1], t) for t in range(1, 13, 2)])
    shifts = apply_baseline(segs, model)
    assert set(shifts) == {"agent", "customer"} and shifts["agent"] != shifts["customer"]
    assert [s.label for s in segs if s.speaker == "agent"] == ["neutral"] * 6
    assert [s.label for s in segs if s.speaker == "customer"] == ["angry"] * 6
    assert all(np.allclose(s.windows[0].probabilities, s.probabilities) for s in segs)
    # the telephone band has its own reference (here: more sad), so the same answers move less
    tel = [_segment("agent", [0.35, 0.45, 0.1, 0.1], t, band="narrow") for t in range(0, 12, 2)]
    apply_baseline(tel, model)
    assert tel[0].probabilities[0] < segs[0].probabilities[0]
    plain = [_segment("agent", [0.35, 0.45, 0.1, 0.1], t) for t in range(0, 12, 2)]
    assert apply_baseline(plain, Calibrated(_Model(), Calibration.from_dict({"temperature": 2.0}))) == {}
    assert plain[0].label == "sad"
    # answering among fewer labels (--labels): the reference follows them
    sub = answer_among(model, "neutral,sad")
    two = [Segment("a", t, t + 2.0, "sad", np.array([0.4, 0.6], np.float32), ("neutral", "sad"), [], speaker="a")
           for t in range(0, 12, 2)]
    apply_baseline(two, sub)
    assert [s.label for s in two] == ["neutral"] * 6


# -- through analyze, on real speech ----------------------------------------------------------------
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from .test_service import make_call, needs_real  # noqa: E402


def _analyze(*args):
    r = subprocess.run([sys.executable, "-m", "escucha", "analyze", *map(str, args), "--json"], capture_output=True,
                       text=True, timeout=600, env={**__import__("os").environ, "ESCUCHA_PROGRESS": "0"})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@needs_real
def test_analyze_baseline_hears_each_channel_against_its_own_neutral_voice(tmp_path: Path):
    call = make_call(tmp_path / "stereo.wav", stereo=True)
    on = _analyze(call, "--channels", "split", "--channel-names", "agent,customer", "--baseline")
    off = _analyze(call, "--channels", "split", "--channel-names", "agent,customer")
    assert set(on["baseline"]) == {"agent", "customer"} and on["settings"]["baseline"] is True
    assert "baseline" not in off and "baseline" not in off["settings"]
    assert [(s["start"], s["end"]) for s in on["segments"]] == [(s["start"], s["end"]) for s in off["segments"]]
    # every window of a channel is the window as heard, re-weighted by that channel's shift
    labels = on["labels"]
    for w_on, w_off in zip(on["windows"], off["windows"]):
        shift = np.array([on["baseline"][w_on["channel"]][lab] for lab in labels])
        want = reweight(np.array([w_off["probabilities"][lab] for lab in labels]), shift)
        assert np.allclose([w_on["probabilities"][lab] for lab in labels], want, atol=2e-4)
    assert on["windows"] != off["windows"]
    # the text output says it
    r = subprocess.run([sys.executable, "-m", "escucha", "analyze", str(call), "--channels", "split", "--baseline"],
                       capture_output=True, text=True, timeout=600)
    assert "baseline: each speaker heard against their own neutral voice (left, right)" in r.stdout
