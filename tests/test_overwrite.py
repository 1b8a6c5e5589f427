"""Never lose or mix the user's data: nothing existing is replaced without --force, a batch
folder belongs to one batch, resume keys on content, and an interrupted or killed batch leaves
only complete results and no process behind.

The clips are synthetic tones (tests/conftest.py). Silero does not take them for speech, so the
batch tests run with a VAD threshold of 0.001: every clip is then "speech" and goes through the
bundled model, window by window, as a real call does.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from escucha.cli import main
from escucha.errors import ConfigError
from escucha.longaudio import VADConfig, analyze_folder

from .conftest import make_fake_ravdess, synth_clip

ALL_SPEECH = VADConfig(threshold=0.001)
N_CALLS = 16


# -- helpers -----------------------------------------------------------------------------------------
def write_call(path: Path, seed: int, *, seconds_each: float = 3.0, n: int = 10) -> Path:
    """A ``n * seconds_each`` s synthetic call at 16 kHz (tones of several 'emotions')."""
    y = np.concatenate([synth_clip(1 + (seed + k) % 8, 1 + seed % 4, seconds=seconds_each, seed=seed)
                        for k in range(n)])
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, 16000, subtype="PCM_16")
    return path


def strict_json(path: Path):
    def bad(const):
        raise ValueError(f"{path}: non-finite number {const}")

    return json.loads(path.read_text(), parse_constant=bad)


def results(out: Path) -> dict[str, dict]:
    """Every per-file result JSON under ``out``, by relative path."""
    return {p.relative_to(out).as_posix(): strict_json(p) for p in sorted(out.rglob("*.wav.json"))}


def children(pid: int) -> list[int]:
    """Pids of the live processes whose parent is ``pid`` (from /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(d.name))
    return out


def alive(pid: int) -> bool:
    """Running (a zombie left unreaped by a container's init counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids, timeout: float = 5.0) -> list[int]:
    end = time.time() + timeout
    while time.time() < end and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def kill_leftovers(pids) -> None:
    """A failing test must not leave processes behind either."""
    for p in pids:
        if alive(p):
            os.kill(p, signal.SIGKILL)


def batch_cmd(calls: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "escucha", "analyze", str(calls), "-o", str(out), "--jobs", "2",
            "--vad-threshold", "0.001", "--quiet"]


def start_and_wait_for_first_result(calls: Path, out: Path) -> tuple[subprocess.Popen, list[int]]:
    """Start a 2-worker batch; return once its first result is written (mid-run), with its workers."""
    proc = subprocess.Popen(batch_cmd(calls, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    end = time.time() + 60
    while not list(out.rglob("*.wav.json")):
        assert proc.poll() is None, proc.communicate()
        assert time.time() < end, "no result within 60 s"
        time.sleep(0.01)
    workers = children(proc.pid)
    return proc, workers


# -- fixtures -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def predictor():
    import torch

    import escucha

    torch.set_num_threads(1)
    return escucha.load_model()


@pytest.fixture(scope="module")
def calls(tmp_path_factory) -> Path:
    """16 synthetic calls of 30 s, two of them in a sub-folder."""
    root = tmp_path_factory.mktemp("calls")
    for i in range(N_CALLS):
        write_call(root / ("day2" if i >= N_CALLS - 2 else "") / f"call{i:02d}.wav", seed=i)
    return root


@pytest.fixture(scope="module")
def clean(calls, predictor, tmp_path_factory) -> Path:
    """The results of one uninterrupted run (the reference)."""
    out = tmp_path_factory.mktemp("clean") / "out"
    rep = analyze_folder(calls, predictor, out, jobs=1, show_progress=False, vad=ALL_SPEECH)
    assert len(rep.analysed) == N_CALLS and not rep.errors
    d = results(out)
    assert all(r["segments"] for r in d.values())  # the model really ran on every call
    return out


def assert_same_as_clean(out: Path, clean: Path) -> None:
    assert results(out) == results(clean)
    assert list(csv.DictReader(open(out / "summary.csv"))) == list(csv.DictReader(open(clean / "summary.csv")))
    assert not [p for p in out.rglob(".*") if p.name != ".batch.lock"]  # no temporary files left


# -- interrupted and killed batches ------------------------------------------------------------------------
def test_killed_batch_leaves_no_worker_and_resumes_to_the_clean_result(calls, clean, tmp_path):
    out = tmp_path / "out"
    proc, workers = start_and_wait_for_first_result(calls, out)
    try:
        assert len(workers) >= 2, workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert wait_gone(workers) == [], "worker processes outlived their killed parent"
    finally:
        kill_leftovers(workers)
    done = results(out)
    assert 0 < len(done) < N_CALLS, "the batch was not killed mid-run"
    for name, d in done.items():  # what is there is complete
        assert d == results(clean)[name]
    rerun = subprocess.run(batch_cmd(calls, out), capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"skipped {len(done)} already done" in rerun.stdout
    assert_same_as_clean(out, clean)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_batch_exits_130_with_only_complete_results(calls, clean, tmp_path, how):
    out = tmp_path / "out"
    proc, workers = start_and_wait_for_first_result(calls, out)
    try:
        if how == "ctrl-c":  # the terminal sends SIGINT to the whole process group
            os.killpg(proc.pid, signal.SIGINT)
        else:  # a service manager stops the parent
            os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err.decode()
        assert "interrupted" in err.decode() and "Traceback" not in err.decode()
        assert wait_gone(workers) == []
    finally:
        kill_leftovers(workers + [proc.pid])
    done = results(out)  # strict JSON: a NaN anywhere fails here
    assert len(done) < N_CALLS
    for name, d in done.items():
        assert d == results(clean)[name]
        assert math.isfinite(d["segments"][0]["confidence"])
        assert (out / name.replace(".json", ".segments.csv")).is_file()
    assert not [p for p in out.rglob("*.tmp")]
    rows = list(csv.DictReader(open(out / "summary.csv")))  # lists what is done, nothing else
    assert sorted(r["file"] for r in rows) == sorted(d["file"] for d in done.values())
    if how == "ctrl-c":
        rerun = subprocess.run(batch_cmd(calls, out), capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        assert_same_as_clean(out, clean)


def test_non_finite_results_are_never_written(calls, predictor, tmp_path):
    """A model that answers NaN: the file is an error, no result is written, a rerun retries it."""

    class NaNModel:
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            return getattr(self._inner, name)

        def predict_windows(self, windows, **kw):
            return np.full((len(windows), len(self._inner.labels)), np.nan, np.float32)

    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(calls / "call00.wav", one / "call00.wav")
    out = tmp_path / "out"
    rep = analyze_folder(one, NaNModel(predictor), out, show_progress=False, vad=ALL_SPEECH)
    assert rep.analysed == [] and [Path(p).name for p, _ in rep.errors] == ["call00.wav"]
    assert "call00.wav" in rep.errors[0][1]
    assert not (out / "call00.wav.json").exists()
    assert not list(csv.DictReader(open(out / "summary.csv")))
    rep2 = analyze_folder(one, predictor, out, show_progress=False, vad=ALL_SPEECH)
    assert [Path(p).name for p in rep2.analysed] == ["call00.wav"]


# -- resume keys on content -----------------------------------------------------------------------------
def test_replaced_input_of_the_same_size_and_mtime_is_analysed_again(predictor, tmp_path):
    folder, out = tmp_path / "calls", tmp_path / "out"
    a = write_call(folder / "a.wav", seed=1, n=2)
    write_call(folder / "b.wav", seed=2, n=2)
    rep = analyze_folder(folder, predictor, out, show_progress=False, vad=ALL_SPEECH)
    assert len(rep.analysed) == 2
    first = strict_json(out / "a.wav.json")
    assert len(first["source"]["blake2b"]) == 32
    st = a.stat()
    write_call(a, seed=5, n=2)  # other content, same length and format: same size
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert a.stat().st_size == st.st_size and a.stat().st_mtime_ns == st.st_mtime_ns
    rep2 = analyze_folder(folder, predictor, out, show_progress=False, vad=ALL_SPEECH)
    assert [Path(p).name for p in rep2.analysed] == ["a.wav"] and [Path(p).name for p in rep2.skipped] == ["b.wav"]
    again = strict_json(out / "a.wav.json")
    assert again["source"]["blake2b"] != first["source"]["blake2b"]
    assert again["windows"] != first["windows"]


def test_a_result_with_nan_or_without_its_csv_is_not_done(predictor, tmp_path):
    folder, out = tmp_path / "calls", tmp_path / "out"
    write_call(folder / "a.wav", seed=1, n=1)
    write_call(folder / "b.wav", seed=2, n=1)
    analyze_folder(folder, predictor, out, show_progress=False, vad=ALL_SPEECH)
    j = out / "a.wav.json"
    j.write_text(j.read_text().replace('"confidence": ', '"confidence": NaN, "was": ', 1))
    (out / "b.wav.segments.csv").unlink()
    rep = analyze_folder(folder, predictor, out, show_progress=False, vad=ALL_SPEECH)
    assert sorted(Path(p).name for p in rep.analysed) == ["a.wav", "b.wav"]
    assert "NaN" not in j.read_text() and (out / "b.wav.segments.csv").is_file()


# -- a batch folder belongs to one batch --------------------------------------------------------------------
@pytest.fixture
def small(tmp_path) -> Path:
    folder = tmp_path / "calls"
    write_call(folder / "a.wav", seed=1, n=1)
    return folder


def test_batch_refuses_a_folder_with_other_files_even_with_force(predictor, small, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    (out / "summary.csv").write_text("my,table\n")
    for force in (False, True):
        with pytest.raises(ConfigError, match=r"notes\.txt.*even with --force"):
            analyze_folder(small, predictor, out, force=force, show_progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "summary.csv"]  # not even a lock file
    assert (out / "summary.csv").read_text() == "my,table\n"


def test_batch_refuses_results_of_another_folder_or_run_without_force(predictor, small, tmp_path):
    out = tmp_path / "out"
    analyze_folder(small, predictor, out, show_progress=False)
    other = tmp_path / "other"
    write_call(other / "z.wav", seed=9, n=1)
    with pytest.raises(ConfigError, match=r"another folder.*--force"):
        analyze_folder(other, predictor, out, show_progress=False)
    assert (out / "a.wav.json").is_file()
    rep = analyze_folder(other, predictor, out, force=True, show_progress=False)
    assert [Path(p).name for p in rep.analysed] == ["z.wav"]
    assert not (out / "a.wav.json").exists() and not (out / "a.wav.segments.csv").exists()  # no old run beside
    assert [r["file"] for r in csv.DictReader(open(out / "summary.csv"))] == [str(other / "z.wav")]
    # results made by `analyze FILE -o` (no batch marker): replaced only with --force
    single = tmp_path / "single"
    assert main(["analyze", str(small / "a.wav"), "-o", str(single), "--quiet"]) == 0
    with pytest.raises(ConfigError, match=r"not made by a batch run.*--force"):
        analyze_folder(small, predictor, single, show_progress=False)
    assert len(analyze_folder(small, predictor, single, force=True, show_progress=False).analysed) == 1


def test_leftover_temporary_files_of_a_killed_run_are_cleaned(predictor, small, tmp_path):
    out = tmp_path / "out"
    analyze_folder(small, predictor, out, show_progress=False)
    (out / ".a.wav.json.k3j_x9.tmp").write_text('{"half": ')
    (out / ".keep-me").write_text("user's hidden file")
    analyze_folder(small, predictor, out, show_progress=False)
    assert not (out / ".a.wav.json.k3j_x9.tmp").exists() and (out / ".keep-me").read_text() == "user's hidden file"


def test_cli_batch_refusal_is_one_line(small, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["analyze", str(small), "-o", str(out), "--force", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("escucha: error: ") and "\n" not in err and str(out) in err


@pytest.mark.parametrize("command", ["predict", "analyze-file", "analyze-folder", "adapt", "analyze-into-input"])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(small, tmp_path, capsys, command):
    blocker = tmp_path / "afile"   # a file where the output's folder would be
    blocker.write_text("mine")
    argv = {"predict": ["predict", str(small), "-o", str(blocker / "scores.json")],
            "analyze-file": ["analyze", str(small / "a.wav"), "-o", str(blocker / "out")],
            "analyze-folder": ["analyze", str(small), "-o", str(blocker / "out")],
            "adapt": ["adapt", str(small), "-o", str(blocker / "model")],
            "analyze-into-input": ["analyze", str(small), "-o", str(small)]}[command]
    before = sorted(p.name for p in small.iterdir())
    assert main(argv + ["--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == ""                                   # nothing predicted or analysed first
    assert err.startswith("escucha: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert (str(blocker) in err and "not a folder" in err) if command != "analyze-into-input" else \
        (f"{small}: is the folder being analysed" in err)
    assert blocker.read_text() == "mine" and sorted(p.name for p in small.iterdir()) == before


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize("command", ["predict", "analyze-file"])
def test_a_folder_that_refuses_files_is_found_before_any_work(small, capsys, command):
    """Run as root (containers), permission bits say yes everywhere: -o /sys/x.csv predicted every
    file, then failed, and said the results were kept in a file it could not create."""
    from escucha.utils.io import check_writable

    with pytest.raises(ConfigError, match=r"^/proc/escucha-test\.csv: cannot be written"):
        check_writable("/proc/escucha-test.csv")
    argv = {"predict": ["predict", str(small), "-o", "/proc/escucha-test.csv"],
            "analyze-file": ["analyze", str(small / "a.wav"), "-o", "/proc/escucha-test"]}[command]
    assert main(argv + ["--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("escucha: error: /proc/escucha-test") and err.count("\n") == 1, err


# -- single files, evaluate, explore ---------------------------------------------------------------------
def test_analyze_file_refuses_to_overwrite_without_force(small, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["analyze", str(small / "a.wav"), "-o", str(out), "--quiet", "--plot"]
    assert main(args) == 0
    capsys.readouterr()
    for name in ("a.wav.json", "a.wav.segments.csv", "a.wav.timeline.png"):
        others = {p.name: p.read_bytes() for p in out.iterdir() if p.name != name}
        (out / name).write_bytes(b"mine")
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"{out / name}: already exists; pass --force" in err
        assert (out / name).read_bytes() == b"mine"
        assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != name} == others
        (out / name).unlink()
    assert main(args[:-1] + ["--force"]) == 0  # without --plot: the old plot does not stay beside
    assert sorted(p.name for p in out.iterdir()) == ["a.wav.json", "a.wav.segments.csv"]
    assert strict_json(out / "a.wav.json")["file"] == str(small / "a.wav")


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory) -> Path:
    return make_fake_ravdess(tmp_path_factory.mktemp("tiny"), actors=(1, 2), emotions=(1, 5), reps=(1,))


def test_evaluate_predictions_refuses_to_overwrite_without_force(tiny_corpus, tmp_path, capsys):
    pred = tmp_path / "pred.csv"
    pred.write_text("my,precious,data\n")
    assert main(["evaluate", str(tiny_corpus), "--predictions", str(pred), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{pred}: already exists; pass --force to replace it" in err and err.count("\n") == 1
    assert pred.read_text() == "my,precious,data\n"
    assert main(["evaluate", str(tiny_corpus), "--predictions", str(pred), "--force", "--quiet"]) in (0, 1)
    rows = list(csv.DictReader(open(pred)))
    assert len(rows) == 4 and {"file", "true", "predicted"} <= set(rows[0])
    assert main(["evaluate", str(tiny_corpus), "--predictions", str(tmp_path), "--force", "--quiet"]) == 2
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.parametrize("existing", ["figures/balance.png", "cues.csv", "explore.html"])
def test_explore_refuses_to_replace_any_of_its_files_without_force(tiny_corpus, tmp_path, existing):
    from escucha.reports import write_explore_report

    out = tmp_path / "out"
    (out / existing).parent.mkdir(parents=True, exist_ok=True)
    (out / existing).write_bytes(b"mine")
    with pytest.raises(ConfigError, match=r"already exists.*--force"):
        write_explore_report(tiny_corpus, out, jobs=1, pitch_clips=0, show_progress=False)
    assert (out / existing).read_bytes() == b"mine"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [existing]


def test_explore_force_replaces_the_whole_report(tiny_corpus, tmp_path):
    from escucha.reports import write_explore_report

    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    for name in ("balance", "emotion_intensity"):  # an old report's figures, one it will not make again
        (out / "figures" / f"{name}.png").write_bytes(b"old")
    (out / "figures" / "my-own.png").write_bytes(b"user's")
    write_explore_report(tiny_corpus, out, jobs=1, pitch_clips=0, force=True, show_progress=False)
    for p in (out / "figures").glob("*.png"):
        assert p.read_bytes() != b"old", p
    assert (out / "figures" / "my-own.png").read_bytes() == b"user's"  # not one of its files: left alone
    from escucha.reports.explore import FIGURE_NAMES

    made = {p.stem for p in (out / "figures").glob("*.png")} - {"my-own"}
    assert made <= set(FIGURE_NAMES) and len(made) >= 4  # the list the refusal checks is the list it writes
    assert (out / "explore.html").is_file() and (out / "cues.csv").is_file()
