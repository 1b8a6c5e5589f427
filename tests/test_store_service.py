"""The service with a store (``escucha serve --data DIR`` / ``--db URL``): calls kept and listed,
filtered, exported and deleted over HTTP; jobs that survive ``kill -9`` of the server (SQLite,
and PostgreSQL shared by two servers); a batch into the store killed mid-write, then resumed.
Real databases and real processes throughout, never mocks."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install -e '.[serve]')")
pytest.importorskip("sqlalchemy", reason="the store extra is not installed (pip install 'escucha[store]')")

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from escucha.service import ServiceConfig, create_app  # noqa: E402

from .conftest import REPO  # noqa: E402
from .store_fixtures import postgres_server, postgres_url  # noqa: E402,F401

SAMPLE = REPO / "src" / "escucha" / "assets" / "samples" / "sample.wav"


def make_long_call(path: Path, repeats: int, *, gap: float = 1.0, seed: int = 0) -> Path:
    """The packaged sample clip ``repeats`` times with ``gap`` s of (faint noise) silence between."""
    y, sr = sf.read(SAMPLE, dtype="float32")
    rng = np.random.default_rng(seed)
    pause = (0.001 * rng.standard_normal(int(gap * sr))).astype(np.float32)
    sf.write(path, np.concatenate([np.concatenate([y, pause]) for _ in range(repeats)]), sr, subtype="PCM_16")
    return path

def run_until_over(runner, store, jobs: list, tries: int = 300) -> list:
    """Start the job ``runner``, wait (up to ``tries`` / 10 s) until every job of ``jobs`` is done
    or failed, stop it; the jobs as the store has them then."""
    runner.start()
    try:
        for _ in range(tries):
            got = [store.get_job(j["id"]) for j in jobs]
            if all(g["status"] in ("done", "failed") for g in got):
                break
            time.sleep(0.1)
    finally:
        runner.shutdown()
    return got


@pytest.fixture(scope="module")
def model():
    import escucha

    return escucha.load_model()


def test_calls_over_http_list_filter_export_delete(model, tmp_path):
    make_long_call(tmp_path / "long call.wav", 8)
    cfg = ServiceConfig(data=str(tmp_path / "data"), sync_seconds=5, token="tok")
    h = {"Authorization": "Bearer tok"}
    with TestClient(create_app(model, cfg)) as c:
        assert c.get("/v1/calls").status_code == 401
        r = c.post("/v1/analyze", files={"file": ("long call.wav", (tmp_path / "long call.wav").read_bytes())},
                   headers=h)
        assert r.status_code == 202 and r.json()["status"] == "queued"   # over sync_seconds: queued in the store
        job_url = r.headers["location"]
        for _ in range(600):
            job = c.get(job_url, headers=h).json()
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert job["status"] == "done", job
        assert job["result"]["file"] == "long call.wav" and job["result"]["summary"]["segments"] >= 1
        r = short = c.post("/v1/analyze", files={"file": ("short.wav", SAMPLE.read_bytes())}, headers=h)
        assert r.status_code == 200 and r.headers["content-location"].startswith("/v1/calls/")
        short_id = r.headers["content-location"].rsplit("/", 1)[1]
        assert c.get(f"/v1/calls/{short_id}", headers=h).json()["segments"] == r.json()["segments"]
        listing = c.get("/v1/calls?sort=file", headers=h).json()
        assert listing["total"] == 2 and [x["file"] for x in listing["calls"]] == ["long call.wav", "short.wav"]
        assert listing["calls"][1]["dominant"] == r.json()["summary"]["dominant"]
        assert c.get("/v1/calls?file=LONG", headers=h).json()["total"] == 1
        dominant = listing["calls"][1]["dominant"]
        assert c.get(f"/v1/calls?dominant={dominant.upper()}", headers=h).json()["total"] >= 1   # any case
        r = c.get("/v1/calls?dominant=nonesuch", headers=h)       # a typo is said, not "no calls"
        assert r.status_code == 400 and "dominant='nonesuch' is not an emotion" in r.json()["error"]
        r = c.get("/v1/calls?dominnat=angry", headers=h)          # nor is a misspelt parameter ignored
        assert r.status_code == 422 and r.json()["error"].startswith("unknown parameter 'dominnat'; /v1/calls takes")
        assert c.get("/v1/calls?speaker=mono&min_negative=0", headers=h).json()["total"] == 2
        assert c.get("/v1/calls?since=2000-01-01&until=2999-01-01T00:00:00Z", headers=h).json()["total"] == 2
        assert c.get("/v1/calls?limit=1&offset=1&sort=-file", headers=h).json()["calls"][0]["file"] == "long call.wav"
        for bad, word in [("since=soon", "since='soon': not a time"), ("sort=colour", "sort 'colour' is unknown"),
                          ("min_negative=2", "min_negative"), ("limit=0", "limit")]:
            r = c.get(f"/v1/calls?{bad}", headers=h)
            assert r.status_code in (400, 422) and word in r.json()["error"], (bad, r.json())
        rows = list(csv.DictReader(io.StringIO(c.get("/v1/calls.csv?sort=file", headers=h).text)))
        assert [row["file"] for row in rows] == ["long call.wav", "short.wav"] and rows[0]["id"]
        assert "negative_share" in rows[0] and "share_angry" in rows[0]
        found = short.json().get("speakers")   # as a batch's summary.csv counts them
        assert rows[1]["speakers"] == ("" if found is None else str(len(found)))
        seg_csv = c.get(f"/v1/calls/{short_id}.csv", headers=h).text
        assert seg_csv.splitlines()[0].startswith("channel,start,end,duration,label,confidence,uncertain,arousal,"
                                                  "negative,p_")
        assert len(seg_csv.splitlines()) == 1 + len(short.json()["segments"]) >= 2
        from escucha.longaudio.result import segments_csv   # what analyze -o writes, byte for byte
        assert seg_csv == segments_csv(short.json()["labels"], short.json()["segments"])
        assert c.get("/v1/calls.json", headers=h).json()["total"] == 2
        assert c.delete(f"/v1/calls/{short_id}", headers=h).status_code == 204
        assert c.get(f"/v1/calls/{short_id}", headers=h).status_code == 404
        assert c.delete(f"/v1/calls/{short_id}", headers=h).status_code == 404
        assert c.get("/v1/calls", headers=h).json()["total"] == 1
    assert os.listdir(tmp_path / "data" / "uploads") == []               # the job's audio is gone once done


def test_calls_in_any_case_duplicates_told_routes_counted_and_a_token_first(model, tmp_path):
    from escucha.store import open_store

    from .test_store import fake_result

    store = open_store(data=tmp_path)
    first = store.save_call(fake_result("first.wav", dominant="angry"), digest="d1")
    store.save_call(fake_result("other.wav"), digest="d2")
    store.save_call(fake_result("no digest.wav", channels=("mono",)))
    again = store.save_call(fake_result("again.wav"), digest="d1")     # the same bytes as first.wav, later
    h = {"Authorization": "Bearer tok"}
    cfg = ServiceConfig(workers=1, data=str(tmp_path), token="tok")
    with TestClient(create_app(model, cfg, store=store)) as c:
        # a protected route without the token, or with a wrong one, is 401 before anything else is said
        for method, path in [("GET", "/v1/calls"), ("GET", "/v1/calls?limit=0"), ("GET", "/v1/calls?dominant=anger"),
                             ("GET", "/v1/calls?nonesuch=1"), ("GET", "/v1/calls.csv"), ("GET", "/v1/calls.json"),
                             ("GET", f"/v1/calls/{first}"), ("GET", f"/v1/calls/{first}.csv"), ("GET", "/v1/calls/x"),
                             ("DELETE", f"/v1/calls/{first}"), ("GET", "/v1/jobs"), ("GET", "/v1/jobs/x")]:
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                r = c.request(method, path, headers=headers)
                assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (method, path, r.text)

        def get(path):
            return c.get(path, headers=h)

        assert get("/v1/calls?speaker=Customer").json()["total"] == 3   # a role or name in any case
        assert get("/v1/calls?dominant=ANGRY").json()["total"] == 1
        assert get("/v1/calls?since=2000-01-01&until=2999-01-01T00:00:00Z").json()["total"] == 4
        for path in ("/v1/calls", "/v1/calls.csv", "/v1/calls.json"):   # the store's words, a 400 for all three
            r = get(f"{path}?dominant=anger")
            assert r.status_code == 400 and r.json()["error"].startswith("dominant='anger' is not an emotion; one of")
        rows = list(csv.DictReader(io.StringIO(get("/v1/calls.csv").text)))
        assert list(rows[0])[-1] == "duplicate_of"                         # as a batch's summary.csv ends
        assert {r["file"]: r["duplicate_of"] for r in rows} == {"first.wav": "", "other.wav": "", "no digest.wav": "",
                                                                "again.wav": "first.wav"}
        rows = list(csv.DictReader(io.StringIO(get("/v1/calls.csv?file=again").text)))
        assert [(r["file"], r["duplicate_of"]) for r in rows] == [("again.wav", "")]   # among the rows exported
        # each stored-call route under its template, never an id
        for path in (f"/v1/calls/{first}", f"/v1/calls/{first}.csv", "/v1/calls.json", "/v1/jobs"):
            assert get(path).status_code == 200, path
        assert c.delete(f"/v1/calls/{again}", headers=h).status_code == 204
        text = get("/metrics").text
        for route in ("/v1/calls", "/v1/calls.csv", "/v1/calls.json", "/v1/calls/{id}", "/v1/calls/{id}.csv",
                      "/v1/jobs"):
            assert f'route="{route}"' in text, route
        assert re.search(r'escucha_requests_total\{method="DELETE",route="/v1/calls/\{id\}",status="204"\} 1\.0', text)
        assert 'route="other"' not in text and first not in text and again not in text
        # uploads keep their digest too: the same recording sent twice is told in calls.csv
        for name in ("sample.wav", "sample again.wav"):
            assert c.post("/v1/analyze", files={"file": (name, SAMPLE.read_bytes())}, headers=h).status_code == 200
        rows = list(csv.DictReader(io.StringIO(get("/v1/calls.csv?file=sample").text)))
        assert {r["file"]: r["duplicate_of"] for r in rows} == {"sample.wav": "", "sample again.wav": "sample.wav"}
    store.close()


# -- real servers, killed ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``escucha serve`` in its own process on a free port."""

    def __init__(self, *args: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "ESCUCHA_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "escucha", "serve", "--port", str(self.port),
                                      "--log-level", "warning", "--workers", "1", "--threads", "1", *args],
                                     stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"escucha serve ended: {self.proc.stderr.read()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("escucha serve did not start in 120 s")

    def get(self, path: str, **kw):
        return httpx.get(self.url + path, timeout=30, **kw)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.proc.stderr.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc.stderr.close()


def _queue(server: Server, files: list[Path]) -> list[str]:
    ids = []
    for f in files:
        r = httpx.post(f"{server.url}/v1/analyze?mode=job", files={"file": (f.name, f.read_bytes())}, timeout=60)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    return ids


def _wait(server: Server, ids: list[str], want=("done",), timeout: float = 180) -> list[dict]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        jobs = [server.get(f"/v1/jobs/{i}").json() for i in ids]
        if all(j["status"] in want for j in jobs):
            return jobs
        time.sleep(0.2)
    raise AssertionError(f"jobs not {want} after {timeout} s: {jobs}")


def _wait_running(server: Server, timeout: float = 120) -> str:
    """The id of a job that ``server`` itself is running, once there is one."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for j in server.get("/v1/jobs").json()["jobs"]:
            if j["status"] == "running" and f":{server.proc.pid}:" in (j["worker"] or ""):
                return j["id"]
        time.sleep(0.05)
    raise AssertionError("no job started running")


def _three_calls(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [make_long_call(folder / f"call{k}.wav", 60 + 10 * k, seed=k) for k in range(3)]


def _check_three(server: Server, names: set[str]) -> list[dict]:
    listing = server.get("/v1/calls?limit=50").json()
    assert listing["total"] == 3 and {c["file"] for c in listing["calls"]} == names   # each once
    for c in listing["calls"]:
        assert c["segments"] >= 1 and c["dominant"] and c["negative"]["share"] is not None
    rows = list(csv.DictReader(io.StringIO(server.get("/v1/calls.csv").text)))
    assert sorted(r["file"] for r in rows) == sorted(names)
    return listing["calls"]


def test_kill_9_mid_job_on_sqlite_then_restart_finishes_every_call(tmp_path):
    files = _three_calls(tmp_path / "in")
    data = tmp_path / "data"
    args = ("--db", f"sqlite:///{data / 'calls.db'}")                   # the uploads wait beside the file
    a = Server(*args)
    try:
        ids = _queue(a, files)
        killed = _wait_running(a)
    finally:
        a.kill()                                                         # mid-job: nothing handed back
    t0 = time.time()
    b = Server(*args)
    try:
        jobs = _wait(b, ids)
        # the killed server was on this machine and is gone: its job ran again at once, not after the
        # default 60-s lease
        assert time.time() - t0 < 50
        assert {j["id"]: j["attempts"] for j in jobs}[killed] == 2       # the killed one ran again, once more
        calls = _check_three(b, {f.name for f in files})
        gone = calls[0]["id"]
        assert httpx.delete(f"{b.url}/v1/calls/{gone}", timeout=30).status_code == 204
    finally:
        b.stop()
    c = Server(*args)
    try:
        assert c.get(f"/v1/calls/{gone}").status_code == 404              # still deleted after a restart
        assert c.get("/v1/calls").json()["total"] == 2
    finally:
        c.stop()
    assert os.listdir(data / "uploads") == []


def test_two_servers_on_postgresql_one_killed_mid_job(tmp_path, postgres_url):
    files = _three_calls(tmp_path / "in")
    data = tmp_path / "data"
    args = ("--db", postgres_url, "--data", str(data), "--job-lease", "2")
    a, b = Server(*args), Server(*args)
    try:
        try:
            ids = _queue(a, files)
            killed = _wait_running(a)
        finally:
            a.kill()
        jobs = _wait(b, ids)                                             # the other server finishes them all
        assert {j["status"] for j in jobs} == {"done"}
        assert {j["id"]: j for j in jobs}[killed]["attempts"] == 2
        assert f":{b.proc.pid}:" in {j["id"]: j for j in jobs}[killed]["worker"]
        calls = _check_three(b, {f.name for f in files})
        gone = calls[0]["id"]
        assert httpx.delete(f"{b.url}/v1/calls/{gone}", timeout=30).status_code == 204
        a = Server(*args)
        assert a.get(f"/v1/calls/{gone}").status_code == 404
        assert a.get("/v1/calls").json()["total"] == 2 == b.get("/v1/calls").json()["total"]
    finally:
        a.stop()
        b.stop()


KILL_ON_THIRD = """
import os, signal, sys
import escucha.store.repository as r
real, seen = r._segment_rows, []
def dying(d, call_id):
    seen.append(call_id)
    if len(seen) == 3:          # inside the third call's transaction, after its row was flushed
        os.kill(os.getpid(), signal.SIGKILL)
    return real(d, call_id)
r._segment_rows = dying
from escucha.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_kill_9_during_a_batch_write_then_resume(tmp_path):
    folder = tmp_path / "calls"
    folder.mkdir()
    for k in range(5):
        make_long_call(folder / f"c{k}.wav", 2 + k, seed=k)
    url = f"sqlite:///{tmp_path / 'b.db'}"
    env = {**os.environ, "ESCUCHA_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", KILL_ON_THIRD, "analyze", str(folder), "--db", url, "--quiet"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == -signal.SIGKILL, r.stderr
    from escucha.store import open_store

    store = open_store(url)
    first, _ = store.list_calls()
    assert len(first) == 2                                               # two whole calls; the third none
    r = subprocess.run([sys.executable, "-m", "escucha", "analyze", str(folder), "--db", url, "--quiet"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "analysed 3 file(s)" in r.stdout and "skipped 2 already stored" in r.stdout
    calls, total = store.list_calls()
    assert total == 5 and sorted(c["file"] for c in calls) == sorted(str(folder / f"c{k}.wav") for k in range(5))
    for c in calls:                                                      # every call whole
        assert len(store.get_call(c["id"])["segments"]) == c["segments"] >= 1
    r = subprocess.run([sys.executable, "-m", "escucha", "analyze", str(folder), "--db", url, "--quiet"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert "analysed 0 file(s)" in r.stdout and "skipped 5" in r.stdout
    r = subprocess.run([sys.executable, "-m", "escucha", "analyze", str(folder / "c0.wav"), "--db", url, "--force"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and store.count_calls() == 5                # --force replaces, never doubles
    # other settings, no --force: refused before any work, as -o refuses (it replaced all 5 unasked)
    ids = sorted(c["id"] for c in store.list_calls()[0])
    r = subprocess.run([sys.executable, "-m", "escucha", "analyze", str(folder), "--db", url, "--smooth", "5",
                        "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "5 of its 5 recording(s) are stored with other analysis settings; pass --force" \
        in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert sorted(c["id"] for c in store.list_calls()[0]) == ids
    store.close()


def test_db_command_line(tmp_path):
    env = {**os.environ, "ESCUCHA_PROGRESS": "0"}

    def db(*args):
        return subprocess.run([sys.executable, "-m", "escucha", "db", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    r = db("upgrade", "--data", str(tmp_path))
    assert r.returncode == 0 and "-> 0002" in r.stdout, r.stderr
    assert "already at 0002" in db("upgrade", "--data", str(tmp_path)).stdout
    assert "0 call(s)" in db("status", "--data", str(tmp_path)).stdout
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    orphan, queued = uploads / "0123.wav", uploads / "4567.wav"           # left by a killed server / waiting
    for f in (orphan, queued):
        f.write_bytes(b"RIFF")
        os.utime(f, (time.time() - 7200, time.time() - 7200))
    from escucha.store import open_store

    store = open_store(data=tmp_path)
    store.enqueue("4567.wav", audio_path=str(queued), options={})
    store.close()
    r = db("prune", "--data", str(tmp_path), "--older-than", "30d")
    assert r.returncode == 0 and "deleted 0 call(s)" in r.stdout and "1 upload(s)" in r.stdout
    assert not orphan.exists() and queued.exists()
    for args, msg in [(("prune", "--data", str(tmp_path), "--older-than", "soon"), "--older-than 'soon'"),
                      (("status",), "no store: give a data folder"),
                      (("status", "--db", "mysql://a@b/c"), "not a database URL")]:
        r = db(*args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and msg in r.stderr, r.stderr


def test_schema_fuzz_of_the_calls_routes_never_5xx(model, tmp_path):
    """Requests generated from the OpenAPI schema (schemathesis), valid and invalid, for every
    route of the stored calls: always an answer below 500, errors as their one line."""
    schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a test extra")
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    from escucha.store import open_store

    from .test_store import fake_result

    store = open_store(data=tmp_path)
    for name in ("a.wav", "b.wav"):
        store.save_call(fake_result(name))
    app = create_app(model, ServiceConfig(workers=1, data=str(tmp_path)), store=store)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = [r.ok() for r in schema.get_all_operations()]
    ops = [op for op in ops if op.label.split(" ", 1)[1].startswith(("/v1/calls", "/v1/jobs"))]
    assert {op.label for op in ops} >= {"GET /v1/calls", "GET /v1/calls.csv", "GET /v1/calls.json",
                                        "GET /v1/calls/{call_id}", "DELETE /v1/calls/{call_id}",
                                        "GET /v1/calls/{call_id}.csv", "GET /v1/jobs"}
    for op in ops:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=8, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(op.as_strategy(generation_mode=mode))
            def check(case):
                r = case.call()
                assert r.status_code < 500, (case.method, case.formatted_path, case.query, r.status_code, r.text[:300])
                if r.status_code >= 400:
                    assert isinstance(r.json()["error"], str)

            try:
                check()
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE, op.label
    store.close()


def test_a_broken_store_is_a_503_in_one_line_not_a_500(model, tmp_path):
    from sqlalchemy import text

    from escucha.errors import StoreError
    from escucha.store import open_store

    store = open_store(data=tmp_path)
    with TestClient(create_app(model, ServiceConfig(workers=1, data=str(tmp_path)), store=store)) as c:
        with store.engine.begin() as conn:                                # the database loses its tables
            conn.execute(text("DROP TABLE segments"))
        r = c.post("/v1/analyze", files={"file": ("short.wav", SAMPLE.read_bytes())})
        assert r.status_code == 503 and r.headers["retry-after"]
        assert "cannot store the call 'short.wav'" in r.json()["error"] and "\n" not in r.json()["error"]
        with store.engine.begin() as conn:
            conn.execute(text("DROP TABLE speakers"))
            conn.execute(text("DROP TABLE calls"))
        r = c.get("/v1/calls")
        assert r.status_code == 503 and "no such table" in r.json()["error"]
    with pytest.raises(StoreError):
        store.list_calls()
    store.close()


def test_a_stored_job_that_cannot_be_analysed_fails_with_its_reason_and_its_audio_goes(model, tmp_path):
    from escucha.service.app import problem_of
    from escucha.service.durable import DurableJobs, analysis_runner
    from escucha.service.uploads import Upload
    from escucha.store import open_store

    store = open_store(data=tmp_path)

    def classify(e, claim):
        p = problem_of(e, Upload(path=Path(claim.audio_path), name=claim.file, size=0))
        return p.status, p.message

    jobs = DurableJobs(store, tmp_path, analysis_runner(model), classify, lease=30, poll=0.05)
    src = make_long_call(tmp_path / "incoming.wav", 3)
    job = jobs.submit(src, "call 7.wav", {"smooth": 3.0})
    kept = next((tmp_path / "uploads").iterdir())
    assert not src.exists() and kept.name == f"{job['id']}.wav"         # moved into the data folder
    kept.write_bytes(b"not audio any more")                             # damaged while it waited
    keep = make_long_call(tmp_path / "keep.wav", 3)
    jobs.keep_audio = True
    kept_job = jobs.submit(keep, "kept.wav", {})
    got = run_until_over(jobs, store, [job, kept_job])
    assert got[0]["status"] == "failed" and got[0]["code"] == 422
    assert got[0]["error"].startswith("call 7.wav: cannot decode audio") and "uploads" not in got[0]["error"]
    assert got[1]["status"] == "done" and got[1]["result"]["file"] == "kept.wav"
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == [f"{kept_job['id']}.wav"]  # asked to keep
    from escucha.longaudio.inputs import content_digest

    kept_digest = content_digest(tmp_path / "uploads" / f"{kept_job['id']}.wav")
    assert [r["digest"] for r in store.iter_calls()] == [kept_digest]   # a job's call keeps its digest too
    store.close()


# -- operations: a database down, another mount, a full disk, delete on request, logs -------------------
def test_with_the_database_down_metrics_answer_readyz_says_why_and_clients_never_see_its_url(model, tmp_path,
                                                                                               caplog):
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'escucha[postgres]')")
    from escucha.store import Store, open_store
    from escucha.store.db import make_engine

    up = open_store(data=tmp_path / "up")
    with TestClient(create_app(model, ServiceConfig(workers=1, data=str(tmp_path / "up")), store=up)) as c:
        assert c.get("/readyz").status_code == 200 and c.get("/readyz").json()["store"] is True
        assert "escucha_store_up 1.0" in c.get("/metrics").text
    up.close()
    down = Store(make_engine("postgresql+psycopg://escucha:hunter2@127.0.0.1:9/calls"))   # nothing listens
    caplog.set_level("INFO", logger="escucha.service")
    with TestClient(create_app(model, ServiceConfig(workers=1, data=str(tmp_path / "down")), store=down)) as c:
        assert c.get("/healthz").status_code == 200                         # alive, though not ready
        r = c.get("/readyz")
        assert r.status_code == 503 and r.headers["retry-after"] and "database does not answer" in r.json()["error"]
        m = c.get("/metrics")
        assert m.status_code == 200 and "escucha_store_up 0.0" in m.text and "escucha_queue_depth" in m.text
        assert 'escucha_background_jobs{status="queued"}' not in m.text    # left out, not made up
        assert 'escucha_errors_total{route="/readyz",status="503"}' in m.text
        for path in ("/v1/calls", "/v1/calls.csv", "/v1/calls.json", "/v1/jobs"):
            r = c.get(path)
            assert r.status_code == 503 and r.headers["retry-after"], (path, r.text)
            assert "127.0.0.1" not in r.json()["error"] and "\n" not in r.json()["error"], r.json()
        # a call that could not be kept is not analysed first: a client retrying after
        # Retry-After paid the whole analysis each time
        import escucha.longaudio as la

        ran = []
        real = la.analyze_file
        la.analyze_file = lambda *a, **k: ran.append(1) or real(*a, **k)
        try:
            with open(make_long_call(tmp_path / "short.wav", 2), "rb") as f:
                r = c.post("/v1/analyze?mode=sync", files={"file": ("short.wav", f, "audio/wav")})
        finally:
            la.analyze_file = real
        assert r.status_code == 503 and r.headers["retry-after"] and ran == [], r.text
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(w.startswith("answering 503: postgresql+psycopg://escucha:***@127.0.0.1:9/calls") for w in warned)
    assert not any("hunter2" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelname == "ERROR" and "internal error" in r.getMessage()]
    down.close()


def test_a_second_server_mounting_the_data_folder_elsewhere_runs_the_job_and_failed_uploads_go(model, tmp_path,
                                                                                              caplog):
    from escucha.service.app import problem_of
    from escucha.service.durable import DurableJobs, analysis_runner
    from escucha.service.uploads import Upload
    from escucha.store import open_store

    def classify(e, claim):
        p = problem_of(e, Upload(path=Path(claim.audio_path), name=claim.file, size=0))
        return p.status, p.message

    store = open_store(f"sqlite:///{tmp_path / 'shared.db'}")
    first = DurableJobs(store, tmp_path / "mnt-a", analysis_runner(model), classify, lease=30, poll=0.05)
    good = first.submit(make_long_call(tmp_path / "in1.wav", 3), "good.wav", {"smooth": 3.0})
    bad_src = tmp_path / "in2.wav"
    bad_src.write_bytes(b"RIFF not audio")
    bad = first.submit(bad_src, "bad.wav", {})
    (tmp_path / "mnt-a").rename(tmp_path / "mnt-b")                     # the other server's mount point
    caplog.set_level("INFO", logger="escucha.service")
    second = DurableJobs(store, tmp_path / "mnt-b", analysis_runner(model), classify, lease=30, poll=0.05)
    got = run_until_over(second, store, [good, bad])
    assert got[0]["status"] == "done", got[0]
    assert got[1]["status"] == "failed" and got[1]["error"].startswith("bad.wav: cannot decode audio")
    assert list((tmp_path / "mnt-b" / "uploads").iterdir()) == []        # the failed job's upload went too
    lines = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    for job, end in ((good, "done in"), (bad, "failed after")):
        assert any(line.startswith(f"job {job['id']} ") and " claimed by " in line for line in lines), lines
        assert any(line.startswith(f"job {job['id']} ") and end in line for line in lines), lines
    store.close()


def test_deleting_a_call_deletes_its_kept_recording(model, tmp_path):
    data = tmp_path / "data"
    cfg = ServiceConfig(data=str(data), sync_seconds=5, keep_audio=True)
    make_long_call(tmp_path / "long.wav", 8)
    with TestClient(create_app(model, cfg)) as c:
        job_url = c.post("/v1/analyze", files={"file": ("long.wav", (tmp_path / "long.wav").read_bytes())},
                         params={"mode": "job"}).headers["location"]
        for _ in range(600):
            job = c.get(job_url).json()
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert job["status"] == "done", job
        kept = list((data / "uploads").iterdir())
        assert [p.name for p in kept] == [f"{job['id']}.wav"] and oct(kept[0].stat().st_mode & 0o777) == "0o600"
        assert c.delete(f"/v1/calls/{job['call']}").status_code == 204
        assert list((data / "uploads").iterdir()) == []


def test_a_full_data_folder_is_a_507_and_a_read_only_one_a_503_naming_it(model, tmp_path):
    """A real small file system (tmpfs: needs the right to mount, else skipped) as the data folder;
    its database elsewhere."""
    data = tmp_path / "data"
    data.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(data)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root in a container that allows it)")
    try:
        cfg = ServiceConfig(data=str(data), db=f"sqlite:///{tmp_path / 'calls.db'}", sync_seconds=5)
        make_long_call(tmp_path / "long.wav", 8)
        body = (tmp_path / "long.wav").read_bytes()
        assert len(body) > 64_000
        with TestClient(create_app(model, cfg)) as c:
            r = c.post("/v1/analyze", files={"file": ("long.wav", body)}, params={"mode": "job"})
            assert r.status_code == 507 and r.headers["retry-after"], r.text
            assert str(data) in r.json()["error"] and "please report" not in r.json()["error"]
            assert list((data / "uploads").iterdir()) == []                 # no partial .part left
            subprocess.run(["mount", "-o", "remount,ro", str(data)], check=True)
            r = c.post("/v1/analyze", files={"file": ("short.wav", SAMPLE.read_bytes())}, params={"mode": "job"})
            assert r.status_code == 503 and "not writable" in r.json()["error"] and str(data) in r.json()["error"]
    finally:
        subprocess.run(["umount", str(data)], capture_output=True)
