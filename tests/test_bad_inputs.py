"""A corpus of bad and good inputs, run through every command that takes audio.

One table (:data:`ROWS`) says what each input is and what every command must make of it:

``error``
    a file that cannot be used (empty, truncated to its header, not audio, NaN/Inf samples, a
    folder, a link loop, missing): exit status 1 and exactly one stderr line
    ``escucha: error: <file>: <problem>``, the same problem in the same words everywhere;
``too short`` / ``no speech found``
    a result with ``"label": null`` and that ``"outcome"``, exit status 0;
``label``
    real speech in any format: a label among the eight emotions, probabilities summing to 1.

The whole table goes through ``predict``, ``predict --json``, ``evaluate`` and ``analyze DIR`` as
one batch each (so the good files are seen to get their results next to the bad ones), through
``explore`` as a RAVDESS-named folder whose first clip is bad, and each row alone through the
cheap commands (``predict``, ``predict --json``, ``analyze FILE --json``, in this process with the
model loaded once). Nothing here depends on which label the (bundled, replaceable) model gives:
only on the kind of outcome. Real speech comes from a few RAVDESS clips converted to the row
formats; without the shared data those rows fall back to a tone (``no speech found``).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from escucha.labels import EMOTIONS

from .conftest import SHARED_RAVDESS

ENV = {**os.environ, "ESCUCHA_PROGRESS": "0"}
TOO_SHORT, NO_SPEECH, LABEL, ERROR = "too short", "no speech found", "label", "error"

#: real clips (path under the RAVDESS folder, true emotion): the first is converted to every format
REAL_CLIPS = [("Actor_01/03-01-05-02-01-01-01.flac", "angry"), ("Actor_02/03-01-04-01-01-01-02.flac", "sad")]
HAVE_REAL = all((SHARED_RAVDESS / p).is_file() for p, _ in REAL_CLIPS)


# -- the rows ----------------------------------------------------------------------------------------------
def _tone(seconds: float, sr: int = 16000, f: float = 440.0) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def _speech(sr: int) -> np.ndarray:
    """The first real clip at ``sr`` Hz (mono float32), or a 2-s tone without the shared data."""
    if not HAVE_REAL:
        return _tone(2.0, sr)
    from escucha.audio import load_audio

    return load_audio(SHARED_RAVDESS / REAL_CLIPS[0][0], sample_rate=sr)[0]


def _wav(y, sr, **kw):
    def make(path: Path) -> Path:
        sf.write(path, y() if callable(y) else y, sr, **kw)
        return path
    return make


def _bytes(data: bytes | Callable[[], bytes]):
    def make(path: Path) -> Path:
        path.write_bytes(data() if callable(data) else data)
        return path
    return make


def _pcm16(y: np.ndarray, sr: int = 16000) -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _with(value: float):
    def y():
        x = _tone(1.0)
        x[100] = value
        return x
    return y


def _cut_mid_data() -> bytes:
    data = _pcm16(_speech(16000))
    return data[:44 + (len(data) - 44) * 3 // 5 + 1]  # three fifths of the samples, and half a sample


def _copy_real(k: int):
    def make(path: Path) -> Path:
        path.write_bytes((SHARED_RAVDESS / REAL_CLIPS[k][0]).read_bytes())
        return path
    return make


def _symlink(target: str):
    def make(path: Path) -> Path:
        path.symlink_to(target)
        return path
    return make


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


@dataclass
class Row:
    """One input: its file name, how to make it, and what every command must make of it."""

    id: str
    name: str
    make: Callable[[Path], Path]
    expect: str
    problem: str = ""        # for errors: the words after "<file>: "
    in_folder: bool = True   # also one of the files of the batch folder (analyze DIR, predict DIR)
    evaluate: bool = True    # listed in evaluate's label CSV


GOOD = LABEL if HAVE_REAL else NO_SPEECH   # format rows: real speech, or a tone without the data

ROWS = [
    # -- cannot be used: one error line naming the file ------------------------------------------------
    Row("empty", "empty.wav", _bytes(b""), ERROR, "cannot decode audio (empty file, 0 bytes)"),
    Row("header-only", "header-only.wav", _bytes(lambda: _pcm16(_tone(1.0))[:44]), ERROR,
        "audio is empty (0 samples)"),
    Row("text", "text.wav", _bytes(b"hello, this is not audio\n" * 20), ERROR, "cannot decode audio"),
    Row("png", "picture.wav", _bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(300)), ERROR,
        "cannot decode audio"),
    Row("nan", "float-notanumber.wav", _wav(_with(np.nan), 16000, subtype="FLOAT"), ERROR,
        "audio contains NaN or infinite samples (the first at 0.006 s)"),
    Row("inf", "float-infinite.wav", _wav(_with(-np.inf), 16000, subtype="FLOAT"), ERROR,
        "audio contains NaN or infinite samples (the first at 0.006 s)"),
    Row("long-nan", "long-float-notanumber.wav",   # over 30 s: predict scores it the way analyze does
        _wav(lambda: np.where(np.arange(35 * 8000) == 31 * 8000, np.nan, 0.1).astype(np.float32), 8000,
             subtype="FLOAT"), ERROR, "audio contains NaN or infinite samples (the first at 31.000 s)"),
    Row("dangling-link", "dangling.wav", _symlink("nowhere.wav"), ERROR, "file not found", evaluate=False),
    Row("link-loop", "loop-a.wav", _symlink("loop-b.wav"), ERROR, "cannot open (symbolic link loop)",
        evaluate=False),
    Row("link-loop-2", "loop-b.wav", _symlink("loop-a.wav"), ERROR, "cannot open (symbolic link loop)",
        evaluate=False),
    Row("self-link", "self.wav", _symlink("self.wav"), ERROR, "cannot open (symbolic link loop)", evaluate=False),
    Row("missing", "missing.wav", lambda p: p, ERROR, "file not found", in_folder=False),
    # -- too short, silent or not speech: an outcome instead of a label -----------------------------------
    Row("one-sample", "one-sample.wav", _wav(np.array([0.5], np.float32), 16000), TOO_SHORT),
    Row("10ms", "10ms.wav", _wav(_tone(0.01), 16000), TOO_SHORT),
    Row("50ms", "50ms.wav", _wav(_tone(0.05), 16000), TOO_SHORT),
    Row("silence", "silence.wav", _wav(np.zeros(48000, np.float32), 16000), NO_SPEECH),
    Row("long-silence", "long-silence.wav", _wav(np.zeros(35 * 8000, np.float32), 8000), NO_SPEECH),
    Row("white-noise", "white-noise.wav",
        _wav((0.1 * np.random.default_rng(0).standard_normal(48000)).astype(np.float32), 16000), NO_SPEECH),
    Row("tone", "tone.wav", _wav(_tone(3.0), 16000), NO_SPEECH),
    Row("tone-8ch-192k", "tone-8ch-192k.wav", _wav(lambda: np.tile(_tone(1.0, 192000)[:, None], (1, 8)), 192000),
        NO_SPEECH),
    # -- real speech, in every format ---------------------------------------------------------------------
    Row("flac-48k", "speech-48k.flac", _copy_real(0) if HAVE_REAL else _wav(_tone(2.0), 16000), GOOD),
    Row("flac-other", "speech-other.flac", _copy_real(1) if HAVE_REAL else _wav(_tone(2.0), 16000), GOOD),
    Row("mulaw-8k", "speech-mulaw-8k.wav", _wav(lambda: _speech(8000), 8000, subtype="ULAW"), GOOD),
    Row("alaw-8k", "speech-alaw-8k.wav", _wav(lambda: _speech(8000), 8000, subtype="ALAW"), GOOD),
    Row("pcm24", "speech-pcm24.wav", _wav(lambda: _speech(16000), 16000, subtype="PCM_24"), GOOD),
    Row("float32", "speech-float32.wav", _wav(lambda: _speech(16000), 16000, subtype="FLOAT"), GOOD),
    Row("ogg", "speech.ogg", _wav(lambda: _speech(16000), 16000, format="OGG", subtype="VORBIS"), GOOD),
    Row("8-channels", "speech-8ch.wav",
        _wav(lambda: _speech(16000)[:, None] * np.linspace(1.0, 0.3, 8, dtype=np.float32), 16000), GOOD),
    Row("192k", "speech-192k.wav", _wav(lambda: _speech(192000), 192000), GOOD),
    Row("huge-samples", "speech-float-1e30.wav",   # finite, far beyond full scale: levels are normalised
        _wav(lambda: _speech(16000) * np.float32(1e30), 16000, subtype="FLOAT"), GOOD),
    Row("cut-mid-data", "speech-cut.wav", _bytes(_cut_mid_data), GOOD),   # decoded up to the cut
    Row("spaces", "a clip with spaces.wav", _wav(lambda: _speech(16000), 16000), GOOD),
    Row("unicode", "grabación ünïcødé 感情.wav", _wav(lambda: _speech(16000), 16000), GOOD),
    Row("leading-dash", "-leading-dash.wav", _wav(lambda: _speech(16000), 16000), GOOD),
]
BAD = [r for r in ROWS if r.expect == ERROR]
#: rows whose wording is compared across predict, evaluate, analyze FILE and analyze DIR
SAME_WORDS = ["empty", "header-only", "text", "nan", "long-nan"]


def row(id_: str) -> Row:
    return next(r for r in ROWS if r.id == id_)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """Every row built in one folder ``batch/`` (plus a folder loop); ``{row id: path}``."""
    root = tmp_path_factory.mktemp("bad-inputs").resolve() / "batch"
    root.mkdir()
    paths = {r.id: r.make(root / r.name) for r in ROWS}
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to("..")          # a folder loop: must not be followed
    (root / "notes.txt").write_text("not an audio name: left alone\n")
    return paths


@pytest.fixture(scope="module")
def model():
    from escucha.inference import load_model

    return load_model()


def escucha(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "escucha", *map(str, args)], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=600)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def inproc(model, monkeypatch, capsys):
    """``escucha ...`` in this process with the model loaded once (for the per-row runs)."""
    import escucha.inference
    from escucha.cli import main

    monkeypatch.setattr(escucha.inference, "load_model", lambda path=None, labels=None, **kw: model)

    def run(*args) -> Run:
        capsys.readouterr()
        rc = main([str(a) for a in args])
        out = capsys.readouterr()
        return Run(rc, out.out, out.err)
    return run


# -- checks shared by every command ---------------------------------------------------------------------
def strict_json(text: str):
    def refuse(const):
        raise AssertionError(f"non-strict JSON constant {const}")
    return json.loads(text, parse_constant=refuse)


def assert_finite(obj) -> None:
    if isinstance(obj, float):
        assert math.isfinite(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            assert_finite(v)
    elif isinstance(obj, list):
        for v in obj:
            assert_finite(v)


def assert_clean(r, *, text: bool = True) -> None:
    """No traceback, no internal error, no NaN or infinity printed as a result (``text=False``
    for JSON output, whose values :func:`strict_json` and :func:`assert_finite` check)."""
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    if text:
        assert not re.search(r"\bnan\b|\binf(inity)?\b", r.stdout, re.IGNORECASE), r.stdout


def error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("escucha: error: ")]


def problem_of(stderr: str, path: Path) -> str:
    """The words after ``<path>: `` of the one error line that names ``path``."""
    lines = [ln for ln in error_lines(stderr) if ln.startswith(f"escucha: error: {path}: ")]
    assert len(lines) == 1, f"expected one error line naming {path}, got {lines}\n{stderr}"
    return lines[0][len(f"escucha: error: {path}: "):]


def check_prediction(d: dict, r: Row) -> None:
    """A predict --json entry for a row that is not an error."""
    assert_finite(d)
    if r.expect == LABEL:
        assert d["label"] in EMOTIONS and "outcome" not in d
        probs = d["probabilities"]
        assert set(probs) <= set(EMOTIONS) and d["label"] == max(probs, key=probs.get)
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-3)
    else:
        assert d["label"] is None and d["outcome"] == r.expect and d["probabilities"] == {} and d["reason"]


def check_analysis(d: dict, r: Row) -> None:
    """An analyze result (JSON) for a row that is not an error."""
    assert_finite(d)
    s = d["summary"]
    if r.expect == LABEL:
        assert d["segments"] and s["dominant"] in EMOTIONS and "outcome" not in d
        assert sum(s["emotion_share"].values()) == pytest.approx(1.0, abs=1e-3)
        assert all(seg["label"] in EMOTIONS for seg in d["segments"])
    else:
        assert s["dominant"] is None and not d["segments"] and d["outcome"] == r.expect and d["reason"]


# -- the whole table as one batch per command ---------------------------------------------------------------
@pytest.fixture(scope="module")
def predict_batch(corpus, tmp_path_factory):
    """``predict --json`` on every row (by path) and on a folder without audio."""
    empty = tmp_path_factory.mktemp("no-audio")
    (empty / "readme.txt").write_text("no audio here\n")
    return escucha("predict", "--json", *corpus.values(), empty), empty


def test_predict_json_batch(corpus, predict_batch):
    r, empty = predict_batch
    assert r.returncode == 1
    assert_clean(r, text=False)
    out = strict_json(r.stdout)
    by_file = {d["file"]: d for d in out}
    judged = [x for x in ROWS if x.expect != ERROR]
    # every input answered, in order: the good files' predictions and the bad ones' reasons
    assert list(by_file) == [str(corpus[x.id]) for x in ROWS] + [str(empty)]
    for x in judged:
        check_prediction(by_file[str(corpus[x.id])], x)
    for x in BAD:
        assert problem_of(r.stderr, corpus[x.id]).startswith(x.problem)
        d = by_file[str(corpus[x.id])]
        assert d["label"] is None and d["outcome"] == "error"
        assert d["reason"] == f"{corpus[x.id]}: {problem_of(r.stderr, corpus[x.id])}"
    assert problem_of(r.stderr, empty).startswith("no audio files found")
    assert by_file[str(empty)]["outcome"] == "error"
    assert len(error_lines(r.stderr)) == len(BAD) + 1


def test_predict_text_batch_on_the_folder(corpus):
    """``predict DIR``: every audio name in the folder once (the folder loop is not followed),
    the bad ones named, one line per judged file."""
    folder = corpus["empty"].parent
    r = escucha("predict", folder)
    assert r.returncode == 1
    assert_clean(r)
    lines = r.stdout.splitlines()
    in_folder = [x for x in ROWS if x.in_folder]
    assert len(lines) == sum(x.expect != ERROR for x in in_folder)
    for x in in_folder:
        p = corpus[x.id]
        if x.expect == ERROR:
            assert problem_of(r.stderr, p).startswith(x.problem)
            continue
        [line] = [ln for ln in lines if ln.startswith(f"{p}: ")]
        what = line[len(f"{p}: "):]
        if x.expect == LABEL:
            assert what.split(" ")[0] in EMOTIONS
        else:
            assert what.startswith(f"{x.expect} (")
    assert len(error_lines(r.stderr)) == sum(x.expect == ERROR for x in in_folder)


@pytest.fixture(scope="module")
def analyze_batch(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("analyze") / "out"
    return escucha("analyze", corpus["empty"].parent, "-o", out), out


def test_analyze_folder_batch(corpus, analyze_batch):
    r, out = analyze_batch
    assert r.returncode == 1
    assert_clean(r)
    in_folder = [x for x in ROWS if x.in_folder]
    for x in in_folder:
        p, result = corpus[x.id], out / f"{x.name}.json"
        if x.expect == ERROR:
            assert problem_of(r.stderr, p).startswith(x.problem)
            assert not result.exists()
        else:
            check_analysis(strict_json(result.read_text()), x)
    assert len(error_lines(r.stderr)) == sum(x.expect == ERROR for x in in_folder)
    rows = {Path(d["file"]).name: d for d in csv.DictReader(open(out / "summary.csv", encoding="utf-8"))}
    assert set(rows) == {x.name for x in in_folder if x.expect != ERROR}
    for x in in_folder:
        if x.expect != ERROR:
            assert (rows[x.name]["outcome"] or LABEL) == x.expect
    errors = {Path(d["file"]).name for d in csv.DictReader(open(out / "errors.csv", encoding="utf-8"))}
    assert errors == {x.name for x in in_folder if x.expect == ERROR}
    results = {q.relative_to(out).as_posix() for q in out.rglob("*.json") if q.name != "batch.json"}
    assert results == {f"{x.name}.json" for x in in_folder if x.expect != ERROR}   # the loop was not followed


@pytest.fixture(scope="module")
def evaluate_batch(corpus, tmp_path_factory):
    """``evaluate`` on a label CSV listing every row (real clips with their true emotion)."""
    d = tmp_path_factory.mktemp("evaluate")
    truth = {"flac-other": REAL_CLIPS[1][1]}
    with open(d / "labels.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "label", "speaker"])
        for x in ROWS:
            if x.evaluate:
                w.writerow([corpus[x.id], truth.get(x.id, REAL_CLIPS[0][1]), "s1"])
        folder = d / "a-folder.wav"
        folder.mkdir()
        w.writerow([folder, "angry", "s1"])   # a folder where a file is expected
    r = escucha("evaluate", d / "labels.csv", "--json", "--predictions", d / "predictions.csv")
    return r, d


def test_evaluate_batch(corpus, evaluate_batch):
    r, d = evaluate_batch
    assert r.returncode == 1
    assert_clean(r, text=False)
    listed = [x for x in ROWS if x.evaluate]
    for x in listed:
        if x.expect == ERROR and x.id != "missing":
            assert problem_of(r.stderr, corpus[x.id]).startswith(x.problem)
    for p in (corpus["missing"], d / "a-folder.wav"):  # listed but not a file: named as well
        assert len([ln for ln in error_lines(r.stderr) if f"{p}: " in ln]) == 1
    assert len(error_lines(r.stderr)) == sum(x.expect == ERROR for x in listed) + 1
    rep = strict_json(r.stdout)
    assert_finite(rep)
    good = [x for x in listed if x.expect == LABEL]
    assert rep["n"] == len(good)
    assert {u["file"]: u["outcome"] for u in rep["not_judged"]} == {
        str(corpus[x.id]): x.expect for x in listed if x.expect in (TOO_SHORT, NO_SPEECH)}
    rows = list(csv.DictReader(open(d / "predictions.csv", encoding="utf-8")))
    assert sorted(row_["file"] for row_ in rows) == sorted(str(corpus[x.id]) for x in good)
    assert all(row_["predicted"] in EMOTIONS for row_ in rows)


def test_silence_is_called_silent_by_predict_and_analyze(corpus, predict_batch, analyze_batch):
    """analyze said "voice activity detection found no speech" of a file of digital silence, where
    predict says it is silent; a person acts differently on the two (a muted channel, a bad line)."""
    by_file = {d["file"]: d for d in strict_json(predict_batch[0].stdout)}
    out = analyze_batch[1]
    for id_ in ("silence", "long-silence"):
        said = {"predict": by_file[str(corpus[id_])]["reason"],
                "analyze": strict_json((out / f"{row(id_).name}.json").read_text())["reason"]}
        assert set(said.values()) == {"silent: loudest frame -100 dBFS"}, said
    noise = strict_json((out / f"{row('white-noise').name}.json").read_text())["reason"]
    assert noise.startswith("voice activity detection finds no speech")


@pytest.mark.parametrize("id_", SAME_WORDS)
def test_same_problem_same_words_everywhere(id_, corpus, predict_batch, analyze_batch, evaluate_batch, inproc):
    p = corpus[id_]
    words = {"predict": problem_of(predict_batch[0].stderr, p),
             "analyze DIR": problem_of(analyze_batch[0].stderr, p),
             "evaluate": re.sub(r" \(line \d+ of .*\)$", "", problem_of(evaluate_batch[0].stderr, p)),
             "analyze FILE": problem_of(inproc("analyze", "--json", p).stderr, p)}
    assert len(set(words.values())) == 1, words
    assert words["predict"].startswith(row(id_).problem)


# -- each row alone, through the cheap commands -------------------------------------------------------------
@pytest.mark.parametrize("r", [x for x in ROWS if x.id != "link-loop-2"], ids=lambda x: x.id)
def test_each_row_alone(r, corpus, inproc, monkeypatch):
    p = corpus[r.id]
    monkeypatch.chdir(p.parent)  # by its relative name, after "--" (a name may start with a dash)
    js, text, an = (inproc("predict", "--json", "--", p.name), inproc("predict", "--", p.name),
                    inproc("analyze", "--json", "--", p.name))
    assert_clean(text)
    for res in (js, an):
        assert_clean(res, text=False)
    if r.expect == ERROR:
        for res in (js, text, an):
            assert res.returncode == 1
            assert len(error_lines(res.stderr)) == 1
            assert problem_of(res.stderr, Path(p.name)).startswith(r.problem)
        [d] = strict_json(js.stdout)  # the failure is a result with its reason
        assert d["outcome"] == "error" and d["reason"] == f"{p.name}: {problem_of(js.stderr, Path(p.name))}"
        assert text.stdout == "" and an.stdout == ""
        return
    for res in (js, text, an):
        assert res.returncode == 0 and not error_lines(res.stderr), res.stderr
    [d] = strict_json(js.stdout)
    assert d["file"] == p.name
    check_prediction(d, r)
    assert text.stdout.startswith(f"{p.name}: ") and text.stdout.count("\n") == 1
    check_analysis(strict_json(an.stdout), r)


# -- explore: a RAVDESS-named folder whose first clips are bad -----------------------------------------------
def test_explore_writes_its_report_despite_bad_clips(corpus, tmp_path):
    from .conftest import ravdess_name

    root = tmp_path / "ravdess"
    (root / "Actor_01").mkdir(parents=True)
    bad_first = ["nan", "empty", "text", "header-only", "one-sample", "10ms", "silence", "white-noise"]
    for k, id_ in enumerate(bad_first):   # Actor_01: one bad or useless clip per emotion, sorted first
        name = ravdess_name(k + 1, 1) + Path(corpus[id_].name).suffix
        (root / "Actor_01" / name).write_bytes(corpus[id_].read_bytes())
    (root / "Actor_02").mkdir()
    for k, id_ in enumerate(["flac-48k", "mulaw-8k", "ogg", "8-channels"]):
        name = ravdess_name(k + 1, 2) + Path(corpus[id_].name).suffix
        (root / "Actor_02" / name).write_bytes(corpus[id_].read_bytes())
    out = tmp_path / "report"
    r = escucha("explore", root, "-o", out, "--pitch-clips", "4")
    assert r.returncode == 0, r.stderr
    assert_clean(r)
    html = (out / "explore.html").read_text(encoding="utf-8")
    assert (out / "figures" / "clip.png").is_file() and (out / "figures" / "emotions.png").is_file()
    cues = {Path(d["path"]).name: d for d in csv.DictReader(open(out / "cues.csv", encoding="utf-8"))}
    nan_clip = ravdess_name(1, 1) + ".wav"
    assert "NaN or infinite" in cues[nan_clip]["error"] and nan_clip in html
    shown = re.search(r'<p class="note">([^<]*\.(?:wav|flac|ogg))</p>', html).group(1)   # the example clip
    useless = {ravdess_name(k + 1, 1) for k, id_ in enumerate(bad_first) if id_ != "white-noise"}
    assert Path(shown).stem not in useless   # not a bad, silent, one-sample or 10-ms clip
    from escucha.reports.explore import CUE_FIELDS

    assert all(d[k] == "" or math.isfinite(float(d[k])) for d in cues.values() for k in CUE_FIELDS)
    # a bad clip asked for by name is one error line naming it, and nothing is written
    r = escucha("explore", root, "-o", tmp_path / "other", "--clip", root / "Actor_01" / nan_clip)
    assert r.returncode == 1 and not (tmp_path / "other" / "explore.html").exists()
    assert problem_of(r.stderr, root / "Actor_01" / nan_clip).startswith("audio contains NaN")


# -- inputs that are not files at all ---------------------------------------------------------------------------
@pytest.mark.parametrize("args, code, words", [
    (["analyze", "{empty}", "-o", "{out}"], 2, "no audio files found"),
    (["predict", "{empty}"], 2, "no audio files found"),
    (["evaluate", "{empty}"], 2, "not a corpus layout"),
    (["explore", "{empty}", "-o", "{out}"], 2, "not a corpus layout"),
    (["analyze", "{missing}"], 1, "file not found"),
    (["predict", "{missing}"], 1, "file not found"),
    (["evaluate", "{missing}"], 2, "no such file or folder"),
    (["explore", "{missing}", "-o", "{out}"], 2, "not found"),
    (["analyze", "{empty}"], 2, "give an output folder"),
])
def test_a_folder_without_audio_or_a_missing_input(args, code, words, inproc, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no audio\n")
    subs = {"{empty}": tmp_path / "empty", "{out}": tmp_path / "out", "{missing}": tmp_path / "missing.wav"}
    r = inproc(*[str(subs.get(a, a)) for a in args])
    assert r.returncode == code
    assert_clean(r)
    [line] = error_lines(r.stderr)
    assert str(tmp_path) in line and words in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.json"))


def test_api_refuses_a_folder_and_a_link_loop(corpus, tmp_path):
    from escucha.audio import audio_info, load_audio
    from escucha.errors import AudioError
    from escucha.longaudio.stream import BlockReader

    for reader in (load_audio, audio_info, BlockReader):
        with pytest.raises(AudioError, match=re.escape(f"{tmp_path}: is a folder, not an audio file")):
            reader(tmp_path)
        with pytest.raises(AudioError, match="symbolic link loop"):
            reader(corpus["self-link"])


@pytest.mark.skipif(not HAVE_REAL, reason="needs ../shared/data/ravdess")
def test_predict_files_records_an_unexpected_failure_and_goes_on(tmp_path, monkeypatch):
    """A bug that strikes one file (not an EscuchaError) is that file's error; the others get answers."""
    import escucha

    model = escucha.load_model()
    Predictor = type(model)  # whichever runtime runs the bundled model
    good = sorted(SHARED_RAVDESS.glob("Actor_01/*"))[0]
    original = Predictor.predict

    def flaky(self, x, sample_rate=None):
        if str(x).endswith("boom.wav"):
            raise RuntimeError("simulated fault\nsecond line")
        return original(self, x, sample_rate)

    boom = tmp_path / "boom.wav"
    monkeypatch.setattr(Predictor, "predict", flaky)
    preds, errors = model.predict_files([good, boom, good])
    assert [p.label is not None for p in preds] == [True, True]
    assert errors == [(str(boom), f"{boom}: unexpected RuntimeError (simulated fault)")]


@pytest.mark.skipif(not HAVE_REAL, reason="needs ../shared/data/ravdess")
def test_the_api_takes_one_path_as_one_file_and_refuses_an_array_where_a_path_goes():
    import escucha
    from escucha.errors import ConfigError
    from escucha.longaudio import analyze_file

    model = escucha.load_model()
    good = sorted(SHARED_RAVDESS.glob("Actor_01/*"))[0]
    for one in (str(good), good):                 # not read letter by letter as files "/", "w", ...
        preds, errors = model.predict_files(one)
        assert errors == [] and [p.file for p in preds] == [str(good)]
    with pytest.raises(ConfigError, match="analyze_file takes a path to a recording, got ndarray.*CallAnalyzer"):
        analyze_file(np.zeros(16000, np.float32), model)
    from escucha.errors import AudioError

    for x, says in ((None, "got NoneType"), (5, "got int"), (np.zeros(16000, complex), "real numbers, got an array "
                                                                                     "of complex128")):
        with pytest.raises(AudioError, match=says):
            model.predict(x, sample_rate=16000)
    y = np.sin(np.linspace(0, 200, 16000)).astype(np.float32) * 0.5   # 8-bit PCM is offset: 128 is silence
    u8 = np.round(y * 127 + 128).astype(np.uint8)
    got = model.prepare(u8, 16000, preprocess_=False, resample_=False)
    assert np.abs(got - y).max() < 1.5 / 128


@pytest.mark.skipif(not HAVE_REAL, reason="needs ../shared/data/ravdess")
def test_integer_pcm_and_the_sample_rate_of_an_array(tmp_path):
    """int16 samples over 30 s went to the call analyzer unscaled (values in the thousands: other
    speech regions, another emotion); a sample rate of True was taken as 1 Hz (17 GB, then a
    segmentation fault); a labelled clip's duration was its trimmed length."""
    import escucha
    from escucha.audio import load_audio
    from escucha.errors import AudioError
    from escucha.longaudio import CallAnalyzer

    model = escucha.load_model()
    clips = [load_audio(p, sample_rate=16000)[0] for p in sorted(SHARED_RAVDESS.glob("Actor_01/*"))[:12]]
    y = np.concatenate([np.concatenate([c, np.zeros(8000, np.float32)]) for c in clips])
    assert len(y) > 30 * 16000                     # a long input: scored as a call
    i16 = np.round(np.clip(y, -1, 1) * 32767).astype(np.int16)
    as_float = model.predict(i16.astype(np.float32) / 32768, sample_rate=16000)
    as_int = model.predict(i16, sample_rate=16000)
    assert as_int.long and as_int.label == as_float.label
    assert as_int.probabilities == pytest.approx(as_float.probabilities, abs=0.02)
    an = CallAnalyzer(model, sample_rate=16000)
    an.feed(i16)
    an.finish()
    assert -60 < an.peak_db < 0                    # heard at its real level, not +75 dBFS
    assert as_int.confidence is None and as_int.arousal == pytest.approx(as_int.to_dict()["arousal"])
    for bad in (True, 1, 16000.5, "48000", 0, -8000, 10 ** 6):
        with pytest.raises(AudioError, match="sample rate must be a whole number of Hz from 1000 to 384000"):
            model.predict(clips[0], sample_rate=bad)
    assert model.predict(clips[0], sample_rate=16000.0).label is not None
    clip = sorted(SHARED_RAVDESS.glob("Actor_01/*"))[0]
    with pytest.raises(AudioError, match=r"the file is 48000 Hz; sample_rate=8000 is for arrays"):
        model.predict(clip, sample_rate=8000)
    p = model.predict(clip)
    info = sf.info(clip)
    assert p.duration == pytest.approx(info.frames / info.samplerate, abs=1e-3)   # not the trimmed length
    assert p.negative == p.to_dict()["negative"] and 0 < p.confidence <= 1
