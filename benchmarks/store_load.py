"""The store under load: listing and filtering 1,000 stored calls over HTTP, and jobs per second,
on SQLite and PostgreSQL in one run.

For each database: stores ``--calls`` calls (copies of a real analysis of a two-speaker call
made from the packaged sample clip, each with its own name, dominant emotion and negative shares),
serves them with ``create_app`` under uvicorn on a free 127.0.0.1 port (in a thread of this
process), and times ``GET /v1/calls`` with several filters (``--repeat`` requests each, one at a
time), printing p50 and p95 per query. Then ``--jobs`` jobs are queued and worked by two
:class:`~escucha.service.durable.DurableJobs` (two "servers", each with its own connection pool)
whose analysis is the stored result itself, so the number is what the queue and the store
sustain (claim, heartbeat, store the call and end the job in one transaction), not the model;
``--real-jobs`` then runs that many real analyses through the queue (model-bound).

PostgreSQL is a throw-away server started in a temporary folder (``initdb``/``pg_ctl`` of
Debian's postgresql package, as the tests do), or the one ``--pg URL`` names.

    python benchmarks/store_load.py
    python benchmarks/store_load.py --calls 1000 --repeat 100 --jobs 200 --real-jobs 20

Stops by itself. Not run in CI; results are recorded in docs/service.md with the command and the
machine. The client runs on the same machine as the server and the database.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import glob
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "src" / "escucha" / "assets" / "samples" / "sample.wav"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def temp_postgres():
    """``postgresql://escucha@127.0.0.1:PORT/postgres`` of a server in a temporary folder."""
    def find(name):
        return shutil.which(name) or (sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [None])[-1]

    initdb, pg_ctl = find("initdb"), find("pg_ctl")
    if not (initdb and pg_ctl):
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql), or give --pg URL")
    pre = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="escucha-pg-bench-"))
    os.chmod(root, 0o777)
    port, env = free_port(), {**os.environ, "LC_ALL": "C"}
    subprocess.run(pre + [initdb, "-D", str(root / "data"), "-U", "escucha", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True, env=env)
    # default durability (fsync on): the numbers are those of a real server
    subprocess.run(pre + [pg_ctl, "-D", str(root / "data"), "-o", f"-h 127.0.0.1 -p {port} -k {root}",
                          "-l", str(root / "log"), "-w", "start"], check=True, capture_output=True, env=env)
    try:
        yield f"postgresql://escucha@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(pre + [pg_ctl, "-D", str(root / "data"), "-m", "fast", "stop"], capture_output=True, env=env)
        shutil.rmtree(root, ignore_errors=True)


def template(model) -> dict:
    """A real analysis of a two-speaker call (the sample clip alternating between the channels)."""
    import soundfile as sf

    from escucha.longaudio import analyze_file

    y, sr = sf.read(SAMPLE, dtype="float32")
    pause = np.zeros(sr, np.float32)
    blocks = []
    for k in range(12):
        b = np.zeros((len(y) + len(pause), 2), np.float32)
        b[:len(y), k % 2] = y
        blocks.append(b)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "call.wav"
        sf.write(p, np.concatenate(blocks), sr, subtype="PCM_16")
        return analyze_file(p, model, channels="split", channel_names="agent,customer").to_dict(windows=False)


def variant(t: dict, i: int, rng: random.Random) -> dict:
    d = copy.deepcopy(t)
    d["file"] = f"calls/2026-12/{i:05d}-{rng.choice(['sales', 'support', 'billing'])}.wav"
    s = d["summary"]
    s["dominant"] = rng.choice(d["labels"])
    for block in [s, *s.get("channels", {}).values()]:
        first, last = round(rng.random(), 4), round(rng.random(), 4)
        block["negative"] = {"share": round((first + last) / 2, 4), "first_third": first, "last_third": last,
                             "change": round(last - first, 4)}
    return d


QUERIES = [
    ("newest page", ""),
    ("file name", "file=support"),
    ("customer ended worse", "speaker=customer&min_change=0.2"),
    ("dominant + most negative", "dominant=angry&sort=-negative"),
    ("negative >= 0.5, time range", "min_negative=0.5&since=2000-01-01&until=2999-01-01"),
    ("page 10 by duration", "sort=-duration&offset=250&limit=25"),
]


def measure(url: str, repeat: int) -> list[tuple[str, float, float]]:
    import httpx

    out = []
    with httpx.Client(base_url=url, timeout=30) as c:
        c.get("/v1/calls")  # connections warm
        for name, q in QUERIES:
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                r = c.get(f"/v1/calls?{q}")
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
            out.append((name, float(np.percentile(times, 50)) * 1e3, float(np.percentile(times, 95)) * 1e3,
                        r.json()["total"]))
    return out


def serve(app):
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    while not srv.started:
        time.sleep(0.05)
    return srv, t, f"http://127.0.0.1:{port}"


def jobs_per_second(url: str, data: str, result: dict, n: int) -> float:
    from escucha.service.durable import DurableJobs
    from escucha.store import open_store

    stores = [open_store(url), open_store(url)]
    audio = Path(data) / "bench.wav"
    queued = []
    for i in range(n):
        shutil.copyfile(SAMPLE, audio)
        queued.append(stores[0].enqueue(f"job{i}.wav", audio_path=str(audio), options={}, keep_audio=True)["id"])
    run = lambda claim: {**result, "file": claim.file}  # noqa: E731
    workers = [DurableJobs(s, data, run, lambda e, c: (500, str(e)), workers=1, lease=60, poll=0.05,
                           keep_audio=True) for s in stores]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    while stores[0].job_counts()["done"] < n:
        time.sleep(0.02)
    dt = time.perf_counter() - t0
    for w in workers:
        w.shutdown()
    for s in stores:
        s.close()
    return n / dt


def real_jobs(model, n: int, workers: int) -> tuple[float, float]:
    """``n`` real analyses of a 30-s two-speaker call queued in a SQLite store and worked by
    ``workers`` job threads of one server (the analysis as ``POST /v1/analyze?mode=job`` runs it):
    ``(jobs per second, seconds of audio per second)``."""
    import soundfile as sf

    from escucha.service.durable import DurableJobs, analysis_runner
    from escucha.store import open_store

    with tempfile.TemporaryDirectory(prefix="escucha-real-jobs-") as d:
        y, sr = sf.read(SAMPLE, dtype="float32")
        pause = np.zeros(sr // 2, np.float32)
        blocks = []
        for k in range(12):
            b = np.zeros((len(y) + len(pause), 2), np.float32)
            b[:len(y), k % 2] = y
            blocks.append(b)
        call = np.concatenate(blocks)
        seconds = len(call) / sr
        store = open_store(data=d)
        for i in range(n):
            sf.write(Path(d) / f"c{i}.wav", call, sr, subtype="PCM_16")
            store.enqueue(f"c{i}.wav", audio_path=str(Path(d) / f"c{i}.wav"),
                          options={"channels": "split", "channel_names": "agent,customer", "windows": False})
        jobs = DurableJobs(store, d, analysis_runner(model), lambda e, c: (500, str(e)), workers=workers, lease=60,
                           poll=0.05)
        t0 = time.perf_counter()
        jobs.start()
        while (c := store.job_counts())["done"] + c["failed"] < n:
            time.sleep(0.05)
        dt = time.perf_counter() - t0
        assert c["failed"] == 0
        jobs.shutdown()
        store.close()
    return n / dt, n * seconds / dt


def run_one(name: str, url: str, data: str, model, t: dict, args) -> dict:
    from escucha.service import ServiceConfig, create_app
    from escucha.store import open_store

    store = open_store(url)
    rng = random.Random(0)
    t0 = time.perf_counter()
    for i in range(args.calls):
        store.save_call(variant(t, i, rng))
    insert = args.calls / (time.perf_counter() - t0)
    srv, th, base = serve(create_app(model, ServiceConfig(workers=1, data=data, db=url), store=store))
    try:
        lat = measure(base, args.repeat)
    finally:
        srv.should_exit = True
        th.join(10)
    store.close()
    jps = jobs_per_second(url, data, t, args.jobs)
    return {"name": name, "insert": insert, "lat": lat, "jobs": jps}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=100, help="requests per query (default 100)")
    ap.add_argument("--jobs", type=int, default=200, help="jobs worked through the queue (default 200)")
    ap.add_argument("--pg", help="an empty PostgreSQL database to use instead of a throw-away server")
    ap.add_argument("--real-jobs", type=int, default=20,
                    help="also this many real analyses (a 30-s call each) through the queue (0: none; default 20)")
    args = ap.parse_args()
    os.environ.setdefault("ESCUCHA_PROGRESS", "0")
    import escucha

    model = escucha.load_model()
    t = template(model)
    print(f"# {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}; {args.calls} calls of "
          f"{len(t['segments'])} segments each, {args.repeat} requests per query, {args.jobs} jobs", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="escucha-store-bench-") as d:
        os.makedirs(f"{d}/sqlite")
        results.append(run_one("SQLite", f"sqlite:///{d}/sqlite/escucha.db", f"{d}/sqlite", model, t, args))
        os.makedirs(f"{d}/pg")
        with (contextlib.nullcontext(args.pg) if args.pg else temp_postgres()) as pg:
            results.append(run_one("PostgreSQL", pg, f"{d}/pg", model, t, args))
    print("\n| query | " + " | ".join(f"{r['name']} p50 / p95 (ms)" for r in results) + " | matches |")
    print("|---|" + "---|" * len(results) + "---|")
    for k, (q, _) in enumerate(QUERIES):
        cells = " | ".join(f"{r['lat'][k][1]:.1f} / {r['lat'][k][2]:.1f}" for r in results)
        print(f"| {q} | {cells} | {results[0]['lat'][k][3]} |")
    print("| **worst p95** | " + " | ".join(f"**{max(x[2] for x in r['lat']):.1f}**" for r in results) + " | |")
    print("\n| | " + " | ".join(r["name"] for r in results) + " |\n|---|" + "---|" * len(results))
    print("| calls stored per second (one writer) | " + " | ".join(f"{r['insert']:.0f}" for r in results) + " |")
    print("| jobs per second (two workers, queue + store only) | " + " | ".join(f"{r['jobs']:.0f}" for r in results)
          + " |")
    if args.real_jobs:
        jps, aps = real_jobs(model, args.real_jobs, workers=2)
        print(f"\nreal jobs (SQLite, one server, --job-workers 2): {args.real_jobs} calls of 30 s analysed in "
              f"{args.real_jobs / jps:.1f} s: {jps:.2f} jobs/s, {aps:.0f} s of audio per second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
