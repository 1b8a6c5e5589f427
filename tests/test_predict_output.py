"""``escucha predict`` keeps what it finished: results stream out (--jsonl), are kept on disk as
they come (-o FILE, resumable), an interrupted --json still prints them, and failed files are
results with their reason."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import make_fake_ravdess

ENV = {**os.environ, "ESCUCHA_PROGRESS": "0"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    # 4 actors x 8 emotions x 4 repetitions = 128 clips: long enough to stop in the middle
    return make_fake_ravdess(tmp_path_factory.mktemp("many") / "clips", actors=(1, 2, 3, 4), reps=(1, 2, 3, 4))


def _start(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "escucha", "predict", *map(str, args)], cwd=cwd, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop_after(proc, n_lines: int) -> tuple[list[str], str, int]:
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if len(lines) >= n_lines:
            proc.send_signal(signal.SIGTERM)
            break
    rest, err = proc.communicate(timeout=120)
    return lines + rest.splitlines(keepends=True), err, proc.returncode


def test_sigterm_during_jsonl_keeps_every_finished_result_and_the_rerun_resumes(folder, tmp_path):
    proc = _start(folder, "--jsonl", "-o", "results.csv", "--model", "fast", cwd=tmp_path)
    lines, err, rc = _stop_after(proc, 10)
    assert rc == 130, err
    records = [json.loads(line) for line in lines]     # every line whole, strict JSON
    assert 10 <= len(records) < 128
    kept = (tmp_path / "results.csv.partial").read_text().splitlines()
    assert set(json.loads(kept[0])) == {"settings"}    # what the kept results were made with, first
    assert len(kept) == len(records) + 1, "what was printed is what was kept"
    assert not (tmp_path / "results.csv").exists()
    assert f"{len(records)} of 128 results kept" in err

    r = subprocess.run([sys.executable, "-m", "escucha", "predict", str(folder), "-o", "results.csv", "--model",
                        "fast", "--jsonl"], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"{len(records)} of 128 files already done" in r.stderr
    again = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(again) == 128 and {a["file"] for a in again} == {str(p) for p in Path(folder).rglob("*.wav")}
    first = {x["file"]: x for x in records}
    assert all(a == first[a["file"]] for a in again if a["file"] in first), "a finished result was not reused"
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert len(rows) == 128 and set(rows[0]) >= {"file", "label", "confidence", "neutral", "surprised"}
    by_file = {a["file"]: a for a in again}
    for row in rows:                     # the dimensions and the uncertain flag, as --jsonl gives them
        a = by_file[row["file"]]
        assert (float(row["arousal"]), float(row["negative"])) == (a["arousal"], a["negative"])
        assert row["uncertain"] == str(int(bool(a.get("uncertain"))))
    assert not (tmp_path / "results.csv.partial").exists()


def test_a_stopped_run_is_not_finished_with_other_settings(folder, tmp_path):
    proc = _start(folder, "--jsonl", "-o", "r.jsonl", "--model", "fast", "--labels", "neutral,angry", cwd=tmp_path)
    lines, err, rc = _stop_after(proc, 5)
    assert rc == 130, err
    partial = tmp_path / "r.jsonl.partial"
    kept = partial.read_bytes()

    def rerun(*extra):
        return subprocess.run([sys.executable, "-m", "escucha", "predict", str(folder), "-o", "r.jsonl", "--model",
                               "fast", "--quiet", *extra], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                              timeout=300)
    r = rerun()                                         # all eight emotions this time: not mixed in
    assert r.returncode == 2 and r.stdout == "", r.stderr
    said = [ln for ln in r.stderr.splitlines() if ln.startswith("escucha: error:")]
    assert len(said) == 1 and "r.jsonl.partial: results kept from a run with other settings (labels" in said[0]
    assert partial.read_bytes() == kept and not (tmp_path / "r.jsonl").exists()
    r = rerun("--force")                                # start over
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert len(rows) == 128 and {len(x["probabilities"]) for x in rows} == {8}


def test_interrupted_json_prints_the_finished_results(folder, tmp_path):
    proc = _start(folder, "--json", "--model", "fast", "-o", "r.jsonl", cwd=tmp_path)
    partial = tmp_path / "r.jsonl.partial"
    import time

    deadline = time.time() + 120
    # five results kept: six lines, the first being the settings they were made with (waiting for
    # five lines raced: the signal could land with four results kept)
    while time.time() < deadline and (not partial.exists() or len(partial.read_text().splitlines()) < 6):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    printed = json.loads(out)
    assert len(printed) >= 5 and all(p["label"] for p in printed)


def test_failed_files_are_results_with_their_reason(folder, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    good = sorted(Path(folder).rglob("*.wav"))[0]
    r = subprocess.run([sys.executable, "-m", "escucha", "predict", str(good), str(bad), "--json", "--model", "fast",
                        "-o", tmp_path / "out.json"], env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    for out in (json.loads(r.stdout), json.loads((tmp_path / "out.json").read_text())):
        assert [o["file"] for o in out] == [str(good), str(bad)]
        assert out[1]["label"] is None and out[1]["outcome"] == "error"
        assert out[1]["reason"].startswith(f"{bad}: cannot decode audio")
    assert r.stderr.count("escucha: error:") == 1


def test_an_existing_results_file_needs_force(folder, tmp_path):
    (tmp_path / "r.json").write_text("mine")
    r = subprocess.run([sys.executable, "-m", "escucha", "predict", str(folder), "-o", "r.json"], cwd=tmp_path,
                       env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "r.json: already exists (a finished run: the same command resumes only a stopped " \
                                 "one); pass --force" in r.stderr
    assert (tmp_path / "r.json").read_text() == "mine"


def test_a_disk_that_fills_up_is_one_line_naming_the_file(folder, tmp_path):
    (tmp_path / "r.json.partial").symlink_to("/dev/full")   # every write: "No space left on device"
    r = subprocess.run([sys.executable, "-m", "escucha", "predict", str(folder), "-o", "r.json"], cwd=tmp_path,
                       env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    said = [ln for ln in r.stderr.splitlines() if ln.startswith("escucha: error:")]
    assert len(said) == 1 and "r.json.partial: cannot write (No space left on device)" in said[0], r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "r.json").exists()
