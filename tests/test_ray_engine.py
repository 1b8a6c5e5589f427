"""``--engine ray``: the same outputs, errors table and resume as the local batch, on a real
(one-node) Ray cluster started by ``ray start --head`` on this machine and joined with ``--address``."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from escucha.cli import main

REPO = Path(__file__).resolve().parents[1]
CLIPS = ["Actor_01/03-01-01-01-01-01-01", "Actor_01/03-01-05-01-01-01-01", "Actor_02/03-01-05-01-01-02-02"]


@pytest.fixture(scope="module")
def calls(real_ravdess, tmp_path_factory) -> Path:
    """Three real RAVDESS clips and one file that is not audio."""
    d = tmp_path_factory.mktemp("calls")
    for c in CLIPS:
        src = next(real_ravdess.glob(f"{c}.*"))
        shutil.copy(src, d / src.name)
    (d / "bad.wav").write_bytes(b"this is not audio")
    return d


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """``ray start --head --block`` in its own process group (ended by its id), with a token of its own
    (token authentication stays on, as on a real cluster); yields the address to pass to --address."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        pytest.skip("Ray Data is not installed (pip install 'escucha[ray]')")
    tmp = Path(tempfile.mkdtemp(prefix="escray-", dir="/tmp"))  # short: Ray's socket paths have a length limit
    (tmp / "token").write_text(secrets.token_hex(32))
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(tmp / "token"), "RAY_USAGE_STATS_ENABLED": "0",
           # two shared cores: a busy moment must not get the node declared dead (Ray then ends
           # every connected driver)
           "RAY_health_check_timeout_ms": "30000", "RAY_health_check_period_ms": "10000",
           "RAY_health_check_failure_threshold": "20"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)   # the driver (this process) joins with the same token: set before Ray is imported
    pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install 'escucha[ray]')")
    port = _free_port()
    log = open(tmp / "ray-start.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--port", str(port),
                             "--node-ip-address", "127.0.0.1", "--num-cpus", "2", "--include-dashboard", "false",
                             "--disable-usage-stats", "--temp-dir", str(tmp / "ray")],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ})
    try:
        deadline = time.time() + 90
        while "Ray runtime started" not in (tmp / "ray-start.log").read_text():
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail("ray start --head did not come up:\n" + (tmp / "ray-start.log").read_text()[-2000:])
            time.sleep(0.3)
        yield f"127.0.0.1:{port}"
    finally:
        for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 10)):  # the whole group it started, by its id
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def escucha(*args, **popen) -> subprocess.CompletedProcess:
    """``escucha ARGS`` in its own process: a Ray driver that Ray decides to end (a node it
    thinks dead) takes down that process, never the test run."""
    return subprocess.run([sys.executable, "-m", "escucha", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "ESCUCHA_PROGRESS": "0"}, timeout=600, **popen)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


@pytest.fixture(scope="module")
def local_batch(calls, tmp_path_factory) -> Path:
    import torch

    torch.set_num_threads(1)   # as each Ray worker (--threads 1): the same float sums
    out = tmp_path_factory.mktemp("local") / "out"
    assert main(["analyze", str(calls), "-o", str(out), "--quiet"]) == 1   # 1: the bad file
    return out


def test_without_ray_engine_ray_says_how_to_install_it(calls, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)   # import ray -> ImportError
    monkeypatch.setitem(sys.modules, "ray.data", None)
    for argv in (["analyze", str(calls), "-o", str(tmp_path / "out"), "--engine", "ray"],
                 ["predict", str(calls), "--engine", "ray"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "pip install 'escucha[ray]'" in err[0], err
    assert not (tmp_path / "out").exists()


def test_analyze_on_ray_equals_local_reports_the_bad_file_and_resumes(calls, local_batch, cluster, tmp_path):
    out = tmp_path / "ray"
    r = escucha("analyze", calls, "-o", out, "--engine", "ray", "--address", cluster, "--quiet")
    assert r.returncode == 1, r.stderr                 # 1: the bad file
    assert _files(out) == _files(local_batch)          # every result, summary.csv, errors.csv, batch.json
    errors = (out / "errors.csv").read_text().splitlines()
    assert len(errors) == 2 and errors[1].startswith(f"{calls / 'bad.wav'},") and "cannot decode" in errors[1]
    assert "analysed 3 file(s)" in r.stdout

    results = [p for p in out.iterdir() if p.name.endswith((".flac.json", ".segments.csv"))]
    stamps = {p: p.stat().st_mtime_ns for p in results}
    assert len(stamps) == 6
    r = escucha("analyze", calls, "-o", out, "--engine", "ray", "--address", cluster, "--quiet")
    assert r.returncode == 1, r.stderr
    assert "analysed 0 file(s)" in r.stdout and "skipped 3 already done" in r.stdout
    assert {p: p.stat().st_mtime_ns for p in results} == stamps   # nothing recomputed or rewritten
    assert _files(out) == _files(local_batch)


def test_predict_on_ray_prints_what_the_local_engine_prints(calls, cluster):
    local = escucha("predict", calls, "--json", "--quiet")
    ray = escucha("predict", calls, "--json", "--quiet", "--engine", "ray", "--address", cluster)
    assert local.returncode == ray.returncode == 1, ray.stderr
    assert json.loads(ray.stdout) == json.loads(local.stdout) and len(json.loads(ray.stdout)) == 4
    assert [o["file"].endswith("bad.wav") for o in json.loads(ray.stdout)].count(True) == 1
    said = [[ln for ln in r.stderr.splitlines() if ln.startswith("escucha:")] for r in (local, ray)]
    assert said[0] == said[1] and "bad.wav: cannot decode" in ray.stderr   # Ray's own log lines aside


def test_analyze_on_ray_into_the_store_equals_local_and_resumes(calls, local_batch, cluster, tmp_path):
    pytest.importorskip("sqlalchemy", reason="the store extra is not installed (pip install 'escucha[store]')")
    from escucha.store import open_store

    url = f"sqlite:///{tmp_path / 'calls.db'}"
    r = escucha("analyze", calls, "--db", url, "--engine", "ray", "--address", cluster, "--quiet")
    assert r.returncode == 1 and "analysed 3 file(s)" in r.stdout, r.stderr   # 1: the bad file
    store = open_store(url)
    items, total = store.list_calls()
    assert total == 3
    for c in items:                                    # the same records as the local batch's JSON
        got = store.get_call(c["id"])
        want = json.loads((local_batch / f"{Path(got['file']).name}.json").read_text())
        assert got["segments"] == want["segments"] and got["summary"] == want["summary"]
    r = escucha("analyze", calls, "--db", url, "--engine", "ray", "--address", cluster, "--quiet")
    assert "analysed 0 file(s)" in r.stdout and "skipped 3 already stored" in r.stdout, r.stderr
    assert store.count_calls() == 3
    store.close()


@pytest.fixture(scope="module")
def many(real_ravdess, tmp_path_factory) -> tuple[Path, Path]:
    """Twelve real clips, and their local batch (the result a Ray batch must reach)."""
    import torch

    d = tmp_path_factory.mktemp("many")
    for src in sorted(real_ravdess.glob("Actor_03/*"))[:12]:
        shutil.copy(src, d / src.name)
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("many-local") / "out"
    assert main(["analyze", str(d), "-o", str(out), "--quiet"]) == 0
    return d, out


@pytest.mark.parametrize("signals", [["SIGINT"], ["SIGINT", "SIGINT"], ["SIGTERM"]],
                         ids=["ctrl-c", "ctrl-c-twice", "sigterm"])
def test_interrupted_ray_batch_keeps_complete_results_and_resumes(many, cluster, tmp_path, signals):
    folder, local = many
    out = tmp_path / "ray"
    args = [sys.executable, "-m", "escucha", "analyze", str(folder), "-o", str(out), "--engine", "ray",
            "--address", cluster, "--quiet"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "ESCUCHA_PROGRESS": "0"})
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not list(out.glob("*.flac.json")):
        time.sleep(0.05)
    for name in signals:   # once the first result is written; an impatient user presses Ctrl-C again
        proc.send_signal(getattr(signal, name))
        time.sleep(0.1)
    _, err = proc.communicate(timeout=300)
    # 130, not 1: no thread of Ray's calls into it after the driver disconnected ("The core worker
    # has already been shutdown ... The process will exit"), and a second Ctrl-C does not break the
    # clean-up (files reported as failed) nor start a local Ray instance on the way out
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Started a local Ray instance" not in err, err
    done = sorted(p.name[:-len(".json")] for p in out.glob("*.flac.json"))
    assert 1 <= len(done) < 12
    assert f"interrupted; {len(done)} finished analyses are kept in {out}" in err   # and how to go on
    rows = (out / "summary.csv").read_text().splitlines()
    assert sorted(r.split(",")[0].rsplit("/", 1)[-1] for r in rows[1:]) == done   # the complete results, listed
    assert not [p for p in out.rglob(".*") if p.name != ".batch.lock"]          # no half-written file
    r = escucha("analyze", folder, "-o", out, "--engine", "ray", "--address", cluster, "--quiet")
    assert r.returncode == 0, r.stderr
    assert f"analysed {12 - len(done)} file(s)" in r.stdout        # the rest, not the ones already done
    assert _files(out) == _files(local)
