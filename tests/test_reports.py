"""Corpus and run reports: content, refusal to overwrite, and how they look in headless Chromium.

A tiny synthetic RAVDESS-like corpus (harmonic tones of known pitch between silences) is built in
a temporary folder; a 2-epoch M5 run and a 2-fold cross-validation are trained on it through the
command line, which also checks that ``train`` and ``cv`` write their report at the end.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
import soundfile as sf

from escucha.cli import main
from escucha.errors import ConfigError, CorpusError
from escucha.reports import write_explore_report, write_run_report
from escucha.reports.explore import clip_cues

REAL_RAVDESS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ravdess"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]

SR = 16000
TRIM_SLACK = (2048 + 512) / SR  # s: what silence trimming may keep around a tone
ACTORS = (1, 2, 3, 4)            # odd = male, even = female
EMOTIONS = {1: "neutral", 3: "happy", 4: "sad", 5: "angry"}
EXPLORE_SECTIONS = ["summary", "clip", "emotions", "manifest", "durations", "balance", "cues"]
RUN_SECTIONS = ["summary", "curves", "confusion", "per-class", "predictions", "config"]
CV_SECTIONS = ["summary", "folds", "confusion", "per-class", "per-fold", "predictions", "config"]


def f0_of(emotion: int, actor: int) -> float:
    """The pitch of a synthetic clip: higher for women and for aroused emotions."""
    return (110.0 if actor % 2 else 200.0) * (1.0 + 0.12 * (emotion - 1))


def tone(f0: float, *, seconds: float, pad: float = 0.4, level: float = 0.3, seed: int = 0) -> np.ndarray:
    """``pad`` s of faint noise, a ``seconds`` s harmonic tone at ``f0`` Hz, ``pad`` s of noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = sum((0.5 / h) * np.sin(2 * np.pi * f0 * h * t) for h in range(1, 5))
    ramp = np.minimum(1.0, np.minimum(t, seconds - t) / 0.02)
    n_pad = int(pad * SR)
    sig = np.concatenate([np.zeros(n_pad), level * y * ramp, np.zeros(n_pad)])
    return (sig + 1e-4 * rng.standard_normal(len(sig))).astype(np.float32)


def speech_seconds(emotion: int, statement: int) -> float:
    return 0.8 + 0.1 * emotion + 0.1 * statement


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """4 actors x 4 emotions x 2 statements = 32 WAV clips at 16 kHz, plus one badly named file."""
    root = tmp_path_factory.mktemp("corpus") / "ravdess"
    for a in ACTORS:
        d = root / f"Actor_{a:02d}"
        d.mkdir(parents=True)
        for e in EMOTIONS:
            for st in (1, 2):
                y = tone(f0_of(e, a), seconds=speech_seconds(e, st), level=0.1 + 0.05 * e, seed=a * 100 + e * 10 + st)
                sf.write(d / f"03-01-{e:02d}-01-{st:02d}-01-{a:02d}.wav", y, SR)
    sf.write(root / "Actor_01" / "notes-take2.wav", tone(150, seconds=0.5), SR)
    return root


@pytest.fixture(scope="module")
def explore_html(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("explore")
    return write_explore_report(corpus, out, jobs=1, show_progress=False)


TRAIN_ARGS = ["--epochs", "2", "--model", "m5", "--batch-size", "8", "--clip-seconds", "1.0",
              "--val-speakers", "1", "--threads", "1", "--no-cache", "--quiet"]


@pytest.fixture(scope="module")
def run_dir(corpus, tmp_path_factory) -> Path:
    """A real 2-epoch M5 run trained by ``escucha train`` (which writes its report at the end)."""
    out = tmp_path_factory.mktemp("runs") / "m5"
    assert main(["train", "--data", str(corpus), "--folds", "4", "--out", str(out), *TRAIN_ARGS]) == 0
    return out


@pytest.fixture(scope="module")
def cv_dir(corpus, tmp_path_factory) -> Path:
    """A 2-fold cross-validation by ``escucha cv`` (which writes its report at the end)."""
    out = tmp_path_factory.mktemp("runs") / "cv"
    args = ["--epochs", "1", *TRAIN_ARGS[2:]]
    assert main(["cv", "--data", str(corpus), "--folds", "2", "--out", str(out), *args]) == 0
    return out


def section_ids(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', html)


def embedded_pngs(html: str) -> list[str]:
    return re.findall(r'src="data:image/png;base64,([^"]+)"', html)


def assert_self_contained(html_path: Path) -> None:
    html = html_path.read_text()
    assert not re.search(r'<(script|img|link)[^>]+(src|href)="https?:', html), "report must open offline"
    pngs = embedded_pngs(html)
    files = sorted((html_path.parent / "figures").glob("*.png"))
    assert len(pngs) == len(files) > 0
    for b64 in pngs:
        assert b64[:12] == "iVBORw0KGgoA"  # PNG signature, base64
    assert not list(html_path.parent.glob(".*.tmp")), "atomic writes leave no temporary files"


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------------------ library checks

def test_importing_reports_and_cli_does_not_load_matplotlib():
    code = ("import sys, escucha.reports, escucha.cli; escucha.cli.build_parser(); "
            "print(sorted(m for m in ('matplotlib', 'librosa', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_clip_cues_measures_a_tone_of_known_pitch_and_length(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, tone(180.0, seconds=1.2, pad=0.5), SR)
    c = clip_cues(str(path), trim_db=40.0)
    assert c["duration"] == pytest.approx(2.2, abs=1e-3)
    # trimming works on centred 2048-sample frames with a 512 hop: it may keep up to a frame more
    assert 1.2 <= c["trimmed_duration"] <= 1.2 + TRIM_SLACK
    assert c["f0_median"] == pytest.approx(180.0, rel=0.03)
    assert c["f0_range_st"] < 1.0          # a steady tone
    assert c["voiced_fraction"] > 0.8
    assert "error" in clip_cues(str(tmp_path / "missing.wav"))


# ----------------------------------------------------------------------------- explore report

def test_explore_report_holds_every_section_and_figure(explore_html, corpus):
    html = explore_html.read_text()
    assert explore_html.name == "explore.html"
    assert section_ids(html)[:len(EXPLORE_SECTIONS)] == EXPLORE_SECTIONS
    assert_self_contained(explore_html)
    names = {p.stem for p in (explore_html.parent / "figures").glob("*.png")}
    assert names == {"clip", "emotions", "durations", "balance", "emotion_intensity", "cues"}
    summary = html.split('<section id="summary">')[1].split("</section>")[0]
    assert "<th>clips used</th><td>32" in summary
    assert "<th>speakers</th><td>4 (2 female, 2 male)" in summary
    assert "16000 Hz: 32 clips" in summary
    assert "notes-take2.wav" in summary and "<th>files left out</th><td>1" in summary
    assert "40 dB below" in html  # the trimming threshold is stated
    # the manifest table shows the first 10 rows
    manifest = html.split('<section id="manifest">')[1].split("</section>")[0]
    assert manifest.count("<tr>") == 1 + 10


def test_explore_on_another_corpus_lists_only_what_its_reader_left_out(tmp_path):
    """On a SAVEE folder (Ogg clips, not RAVDESS names) the report used to list every clip as
    "not a RAVDESS name (left out)" beside "clips used" and to count only .wav/.flac files."""
    from .test_readers import make_fake_savee

    root = make_fake_savee(tmp_path / "savee", speakers=("DC", "JE"), n=1, ext="ogg")
    sf.write(root / "ALL" / "DC_x01.ogg", tone(150, seconds=0.5), SR, format="OGG", subtype="VORBIS")
    html = write_explore_report(root, tmp_path / "out", jobs=1, show_progress=False, pitch_clips=0).read_text()
    summary = html.split('<section id="summary">')[1].split("</section>")[0]
    assert "<th>audio files found</th><td>15 (.wav, .flac, .ogg, .mp3)" in summary
    assert "<th>clips used</th><td>14" in summary and "<th>files left out</th><td>1" in summary
    assert "<th>speakers</th><td>2 (2 male)" in summary
    left_out = summary.split("the corpus reader left out")[1]
    assert "DC_x01.ogg" in left_out and "not a SAVEE name" in left_out   # the reader's own words
    assert "RAVDESS" not in summary and "DC_a01.ogg" not in left_out


def test_explore_cues_match_the_synthetic_signals(explore_html):
    rows = read_csv(explore_html.parent / "cues.csv")
    assert len(rows) == 32
    for r in rows:
        name = Path(r["path"]).stem.split("-")
        emotion, statement, actor = int(name[2]), int(name[4]), int(name[6])
        assert float(r["f0_median"]) == pytest.approx(f0_of(emotion, actor), rel=0.03), r["path"]
        assert 0 <= float(r["trimmed_duration"]) - speech_seconds(emotion, statement) <= TRIM_SLACK
        assert float(r["duration"]) == pytest.approx(speech_seconds(emotion, statement) + 0.8, abs=1e-3)
    angry = np.mean([float(r["level_db"]) for r in rows if r["emotion"] == "angry"])
    neutral = np.mean([float(r["level_db"]) for r in rows if r["emotion"] == "neutral"])
    assert angry > neutral + 6  # 0.35 vs 0.15 amplitude: about 7 dB


def test_explore_refuses_to_overwrite_without_force(explore_html, corpus):
    before = explore_html.read_bytes()
    with pytest.raises(ConfigError, match=re.escape(str(explore_html)) + ".*--force"):
        write_explore_report(corpus, explore_html.parent, jobs=1, pitch_clips=0, show_progress=False)
    assert explore_html.read_bytes() == before


def test_explore_with_force_a_chosen_clip_and_no_pitch(corpus, tmp_path):
    out = tmp_path / "ex"
    first = write_explore_report(corpus, out, pitch_clips=0, jobs=1, show_progress=False)
    clip = "03-01-05-01-02-01-04.wav"
    again = write_explore_report(corpus, out, clip=clip, force=True, pitch_clips=0, jobs=1, show_progress=False)
    assert again == first
    html = again.read_text()
    clip_section = html.split('<section id="clip">')[1].split("</section>")[0]
    assert clip in clip_section and "angry" in clip_section
    assert "Pitch was not computed" in html
    assert all(r["f0_median"] == "" for r in read_csv(out / "cues.csv"))


def test_explore_pitch_on_a_stratified_subsample(corpus, tmp_path):
    html = write_explore_report(corpus, tmp_path, pitch_clips=8, jobs=1, show_progress=False).read_text()
    rows = read_csv(tmp_path / "cues.csv")
    with_pitch = [r for r in rows if r["f0_median"]]
    assert len(with_pitch) == 8
    assert {r["emotion"] for r in with_pitch} == set(EMOTIONS.values())  # 2 per emotion
    assert "computed on 8 of 32 clips (a subsample stratified by emotion" in html


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(corpus="missing-folder"), CorpusError, "missing-folder: corpus folder or manifest not found"),
    (dict(clip="no-such-clip.wav"), ConfigError, "--clip no-such-clip.wav: no such file"),
    (dict(trim_db=0), ConfigError, "trim_db must be > 0"),
    (dict(pitch_clips=-1), ConfigError, "pitch_clips must be >= 0"),
    (dict(jobs=0), ConfigError, "jobs must be >= 1"),
])
def test_explore_rejects_bad_input(corpus, tmp_path, kwargs, error, message):
    kw = {**dict(corpus=corpus, out_dir=tmp_path / "out", jobs=1, pitch_clips=0, show_progress=False), **kwargs}
    if kwargs.get("corpus") == "missing-folder":
        kw["corpus"] = tmp_path / "missing-folder"
    with pytest.raises(error, match=re.escape(message)):
        write_explore_report(kw.pop("corpus"), kw.pop("out_dir"), **kw)
    assert not (tmp_path / "out" / "explore.html").exists()


# --------------------------------------------------------------------------------- run reports

def test_train_writes_a_run_report_at_the_end(run_dir):
    html_path = run_dir / "report.html"
    html = html_path.read_text()
    assert section_ids(html) == RUN_SECTIONS
    assert_self_contained(html_path)
    assert {p.stem for p in (run_dir / "figures").glob("*.png")} == {"curves", "confusion", "per_class"}
    preds = read_csv(run_dir / "predictions.csv")
    table = html.split('id="predictions-table"')[1].split("</table>")[0]
    wrong = sum(r["true"] != r["predicted"] for r in preds)
    assert table.count("<tr class=") == len(preds) == 8  # the test actor's 8 clips
    assert table.count('<tr class="wrong">') == wrong
    # every row plays its clip from inside the report (a mailed report plays): Opus copies
    srcs = re.findall(r'<audio controls preload="none" src="([^"]+)"', table)
    assert len(srcs) == len(preds)
    for src, row in zip(srcs, preds):
        assert src.startswith("data:audio/ogg;base64,")
        data = base64.b64decode(src.split(",", 1)[1])
        y, sr = sf.read(io.BytesIO(data))
        assert sr == 16000 and abs(len(y) / sr - sf.info(row["file"]).duration) < 0.05
    assert "file://" not in html
    config = json.loads((run_dir / "config.json").read_text())
    assert '"model": "m5"' in html and str(config["n_parameters"]) in html.replace(",", "")


def test_run_report_needs_force_to_replace_and_can_write_elsewhere(run_dir, tmp_path):
    html_path = run_dir / "report.html"
    before = html_path.read_bytes()
    with pytest.raises(ConfigError, match="report already exists; pass --force"):
        write_run_report(run_dir)
    assert html_path.read_bytes() == before
    assert write_run_report(run_dir, force=True) == html_path
    other = write_run_report(run_dir, out_dir=tmp_path / "elsewhere", audio="link")
    assert other == tmp_path / "elsewhere" / "report.html"
    src = re.search(r'<audio controls preload="none" src="([^"]+)"', other.read_text()).group(1)
    assert not urlparse(src).scheme and (other.parent / unquote(src)).resolve().is_file()


@pytest.mark.parametrize("mode", ["folder", "link"])
def test_run_report_audio_beside_it_or_linked_relatively(run_dir, tmp_path, mode):
    html = write_run_report(run_dir, out_dir=tmp_path / "r", audio=mode).read_text()
    preds = read_csv(run_dir / "predictions.csv")
    srcs = re.findall(r'<audio controls preload="none" src="([^"]+)"', html)
    assert len(srcs) == len(preds) and "file://" not in html
    for src, row in zip(srcs, preds):
        assert not urlparse(src).scheme and not src.startswith("/")
        target = (tmp_path / "r" / unquote(src)).resolve()
        if mode == "folder":
            assert target.parent == (tmp_path / "r" / "audio").resolve() and target.suffix == ".ogg"
            assert abs(sf.info(target).duration - sf.info(row["file"]).duration) < 0.05
        else:
            assert target == Path(row["file"]).resolve()


def test_a_clip_that_cannot_be_read_gets_a_note_not_a_failed_report(tmp_path):
    from escucha.reports.html import HtmlReport

    rep = HtmlReport("t", base_dir=tmp_path)
    rep.add("s", "S", rep.audio(tmp_path / "gone.wav"))
    html = rep.write(tmp_path / "t.html").read_text()
    assert "(no audio: " in html and "gone.wav" in html and "<audio" not in html


def test_cv_writes_a_report_with_folds_and_pooled_results(cv_dir):
    html_path = cv_dir / "report.html"
    html = html_path.read_text()
    assert section_ids(html) == CV_SECTIONS
    assert_self_contained(html_path)
    assert {p.stem for p in (cv_dir / "figures").glob("*.png")} == {"folds", "confusion", "per_class",
                                                                    "fold-0", "fold-1"}
    s = json.loads((cv_dir / "cv_summary.json").read_text())
    uar = s["mean_std"]["uar"]
    assert f"{100 * uar['mean']:.1f} ± {100 * uar['std']:.1f} %" in html
    assert 'id="fold-0"' in html and 'id="fold-1"' in html
    # which data, and the settings every fold shares (not fold 0's own)
    assert Path(s["data"]).name == "ravdess"   # the corpus fixture's folder
    assert f"<th>data</th><td>{s['data']}</td>" in html and "<th>folds</th><td>2, by speaker" in html
    assert not {"fold", "test_corpus", "split"} & set(s["config"])
    assert "<th>held out</th>" in html and ">speakers " in html
    table = html.split('id="predictions-table"')[1].split("</table>")[0]
    assert table.count("<tr class=") == 32  # every clip once


@pytest.mark.parametrize("case, message", [
    ("missing", "run folder not found"),
    ("empty", "not a run folder (no metrics.csv, summary.json or cv_summary.json)"),
    ("unfinished-cv", "cross-validation folder without cv_summary.json"),
    ("bad-json", "summary.json: not valid JSON"),
    ("a-file", "not a folder"),
])
def test_run_report_rejects_what_is_not_a_run(tmp_path, case, message):
    d = tmp_path / "run"
    if case == "empty":
        d.mkdir()
    elif case == "unfinished-cv":
        (d / "fold-0").mkdir(parents=True)
    elif case == "bad-json":
        d.mkdir()
        (d / "summary.json").write_text("{not json")
    elif case == "a-file":
        d.write_text("x")
    with pytest.raises(ConfigError, match=re.escape(message)):
        write_run_report(d)
    assert not (d / "report.html").exists()


def test_cli_report_and_explore(run_dir, corpus, tmp_path, capsys):
    assert main(["report", str(run_dir), "--force"]) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / "report.html")
    assert main(["report", str(run_dir)]) == 2
    assert "report already exists" in capsys.readouterr().err
    out = tmp_path / "explore-out"
    assert main(["explore", str(corpus), "-o", str(out), "--pitch-clips", "0", "--jobs", "1", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "explore.html")
    assert main(["explore", str(corpus), "-o", str(out), "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err


# ----------------------------------------------------------------------------- in a real browser

@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (run `make browser`, which installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_in_browser(browser, html_path: Path, shot: Path, sections: list[str]) -> dict:
    """Load a report, check it the way a reader would see it, and save a screenshot."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(html_path.as_uri(), wait_until="load")
    images = page.evaluate("Promise.all(Array.from(document.images).map(i => i.decode().then("
                           "() => [i.naturalWidth, i.naturalHeight], () => [0, 0])))")
    found = page.evaluate("ids => ids.filter(id => document.getElementById(id) !== null)", sections)
    page.screenshot(path=str(shot), full_page=False)
    return {"page": page, "errors": errors, "images": images, "found": found}


def test_explore_report_in_chromium(browser, explore_html, tmp_path):
    shot = tmp_path / "explore.png"
    r = open_in_browser(browser, explore_html, shot, EXPLORE_SECTIONS)
    assert r["errors"] == []
    assert len(r["images"]) == 6 and all(w > 0 and h > 0 for w, h in r["images"])
    assert r["found"] == EXPLORE_SECTIONS
    assert shot.stat().st_size > 10_000
    r["page"].close()


def test_run_report_in_chromium_plays_audio_and_filters_mistakes(browser, run_dir, tmp_path):
    shot = tmp_path / "run.png"
    r = open_in_browser(browser, run_dir / "report.html", shot, RUN_SECTIONS)
    page = r["page"]
    assert r["errors"] == []
    assert len(r["images"]) == 3 and all(w > 0 and h > 0 for w, h in r["images"])
    assert r["found"] == RUN_SECTIONS
    assert shot.stat().st_size > 10_000
    # the first row's audio element plays, from the report alone moved to another folder
    moved = tmp_path / "mailed" / "report.html"
    moved.parent.mkdir()
    moved.write_bytes((run_dir / "report.html").read_bytes())
    page.goto(moved.as_uri())
    duration = page.evaluate("""() => new Promise(resolve => {
        const a = document.querySelector('#predictions-table audio');
        a.addEventListener('loadedmetadata', () => resolve(a.duration));
        a.addEventListener('error', () => resolve(-1));
        a.preload = 'metadata'; a.load();
    })""")
    first = read_csv(run_dir / "predictions.csv")[0]
    assert duration == pytest.approx(sf.info(first["file"]).duration, abs=0.1)
    # "show only misclassified" hides the correct rows
    wrong = sum(r_["true"] != r_["predicted"] for r_ in read_csv(run_dir / "predictions.csv"))
    page.check("input[data-filter=predictions-table]")
    visible = page.evaluate("Array.from(document.querySelectorAll('#predictions-table tbody tr'))"
                            ".filter(tr => tr.offsetParent !== null).length")
    assert visible == wrong
    assert r["errors"] == []
    page.close()


def test_cv_report_in_chromium(browser, cv_dir, tmp_path):
    shot = tmp_path / "cv.png"
    r = open_in_browser(browser, cv_dir / "report.html", shot, CV_SECTIONS + ["fold-0", "fold-1"])
    assert r["errors"] == []
    assert len(r["images"]) == 5 and all(w > 0 and h > 0 for w, h in r["images"])
    assert r["found"] == CV_SECTIONS + ["fold-0", "fold-1"]
    assert shot.stat().st_size > 10_000
    r["page"].close()


# ------------------------------------------------------------------------------------ real data

@pytest.mark.integration
def test_explore_real_ravdess_clips_in_worker_processes(tmp_path):
    if not (REAL_RAVDESS / "Actor_01").is_dir():
        pytest.skip(f"real RAVDESS data not found at {REAL_RAVDESS}")
    clips = sorted((REAL_RAVDESS / "Actor_01").glob("03-01-0[1-5]-01-01-0*-01.*")) + \
        sorted((REAL_RAVDESS / "Actor_02").glob("03-01-0[1-5]-01-01-0*-02.*"))
    assert len(clips) >= 8
    manifest = tmp_path / "few.csv"
    lines = ["path,speaker,emotion,gender,sample_rate,duration"]
    for c in clips:
        actor = int(c.stem.split("-")[6])
        emotion = ["neutral", "calm", "happy", "sad", "angry"][int(c.stem.split("-")[2]) - 1]
        info = sf.info(str(c))
        lines.append(f"{c},{actor:02d},{emotion},{'male' if actor % 2 else 'female'},{info.samplerate},{info.duration}")
    manifest.write_text("\n".join(lines) + "\n")
    html_path = write_explore_report(manifest, tmp_path / "out", jobs=2, show_progress=False)
    html = html_path.read_text()
    assert "48000 Hz: %d clips" % len(clips) in html
    assert "with 2 processes" in html
    rows = read_csv(tmp_path / "out" / "cues.csv")
    for r in rows:
        f0 = float(r["f0_median"])
        assert (80 < f0 < 220) if r["gender"] == "male" else (140 < f0 < 400), (r["path"], f0)
        assert 1.0 < float(r["trimmed_duration"]) < float(r["duration"])
