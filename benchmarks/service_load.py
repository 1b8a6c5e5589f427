"""Load on ``escucha serve``: throughput, latency and memory at fixed concurrency, and an overload.

Starts ``escucha serve`` in a subprocess on a free 127.0.0.1 port (nothing else is contacted),
sends a fixed number of ``POST /v1/predict`` requests (real RAVDESS clips, multipart uploads)
at each concurrency, and prints for each run: requests/s, p50/p95/p99 latency, answers by status,
transport errors, and the server's peak resident memory. Then a second server with a small queue
takes a burst far above its capacity: the run must show 503s with ``Retry-After``, no other
status, and a server that still answers ``/healthz`` and a prediction afterwards.

    python benchmarks/service_load.py
    python benchmarks/service_load.py --requests 200 --concurrency 1 8 32 --workers 2 --queue 32

Stops by itself. Not run in CI; results are recorded in docs/service.md with the command and
the machine. The load generator runs on the same machine, so on a small machine it takes CPU
from the server: the numbers are a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ravdess"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``escucha serve`` in a subprocess, with its resident memory sampled every 50 ms."""

    def __init__(self, *, workers: int, queue: int, timeout: float):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "ESCUCHA_PROGRESS": "0"}
        env.pop("ESCUCHA_TOKEN", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "escucha", "serve", "--port", str(self.port),
                                      "--workers", str(workers), "--queue", str(queue), "--timeout", str(timeout),
                                      "--log-level", "warning"], stderr=subprocess.PIPE, text=True, env=env)
        self.peak_kb = 0
        self._stop = threading.Event()
        import httpx

        t0 = time.monotonic()
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"escucha serve exited with {self.proc.returncode}: {self.proc.stderr.read()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() - t0 > 120:
                raise SystemExit("escucha serve did not start within 120 s")
            time.sleep(0.1)
        self.start_seconds = time.monotonic() - t0
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def rss_kb(self) -> int:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _sample(self):
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, self.rss_kb())
            time.sleep(0.05)

    def reset_peak(self):
        self.peak_kb = self.rss_kb()

    def stop(self) -> int:
        self._stop.set()
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def run_load(url: str, clips: list[tuple[str, bytes]], *, requests: int, concurrency: int) -> dict:
    """``requests`` uploads through ``concurrency`` threads, each with its own keep-alive client."""
    import httpx

    local = threading.local()

    def one(i: int):
        c = getattr(local, "client", None)
        if c is None:
            c = local.client = httpx.Client(base_url=url, timeout=300)
        name, data = clips[i % len(clips)]
        t0 = time.perf_counter()
        try:
            r = c.post("/v1/predict", files={"file": (name, data, "audio/flac")})
            status, retry = r.status_code, r.headers.get("retry-after")
        except httpx.TransportError as e:
            status, retry = f"transport: {type(e).__name__}", None
        return time.perf_counter() - t0, status, retry

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as ex:
        out = list(ex.map(one, range(requests)))
    wall = time.perf_counter() - t0
    lat = np.array([o[0] for o in out if o[1] == 200]) * 1000
    statuses: dict = {}
    for _, s, _ in out:
        statuses[s] = statuses.get(s, 0) + 1
    retry_ok = all(r is not None and int(r) >= 1 for _, s, r in out if s == 503)
    pct = (lambda q: float(np.percentile(lat, q))) if len(lat) else (lambda q: float("nan"))
    return {"requests": requests, "concurrency": concurrency, "wall": wall, "ok_per_s": len(lat) / wall,
            "p50": pct(50), "p95": pct(95), "p99": pct(99), "statuses": statuses, "retry_after": retry_ok}


def healthy(url: str, clip: tuple[str, bytes]) -> bool:
    import httpx

    h = httpx.get(f"{url}/healthz", timeout=10)
    p = httpx.post(f"{url}/v1/predict", files={"file": clip}, timeout=60)
    return h.status_code == 200 and p.status_code == 200 and p.json().get("label") is not None


def row(name: str, r: dict, peak_mb: float) -> str:
    st = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items(), key=lambda kv: str(kv[0])))
    errors = sum(v for k, v in r["statuses"].items() if k != 200)
    return (f"| {name} | {r['concurrency']} | {r['requests']} | {r['ok_per_s']:.1f} | {r['p50']:.0f} | {r['p95']:.0f} "
            f"| {r['p99']:.0f} | {errors} ({st}) | {peak_mb:.0f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RAVDESS folder (clips are read from it)")
    ap.add_argument("--clips", type=int, default=16, help="distinct clips sent in turn (default 16)")
    ap.add_argument("--requests", type=int, default=96, help="requests per run (default 96)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--workers", type=int, default=2, help="server --workers (default 2)")
    ap.add_argument("--queue", type=int, default=32, help="server --queue for the load runs (default 32)")
    ap.add_argument("--overload-requests", type=int, default=192)
    ap.add_argument("--overload-concurrency", type=int, default=64)
    ap.add_argument("--overload-queue", type=int, default=4, help="server --queue for the overload run (default 4)")
    args = ap.parse_args(argv)

    files = sorted(args.data.glob("Actor_*/*.flac"))[:: max(1, len(sorted(args.data.glob("Actor_*/*.flac"))) // args.clips)]
    clips = [(f.name, f.read_bytes()) for f in files[:args.clips]]
    if not clips:
        raise SystemExit(f"no RAVDESS .flac clips under {args.data}")
    import soundfile as sf

    mean_s = float(np.mean([sf.info(f).duration for f in files[:args.clips]]))
    print(f"# escucha serve under load: {platform.node()}, {os.cpu_count()} CPU cores, Python "
          f"{platform.python_version()}; {len(clips)} RAVDESS clips of {mean_s:.1f} s on average\n")
    print("| run | concurrency | requests | 200/s | p50 ms | p95 ms | p99 ms | non-200 (by status) | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")

    srv = Server(workers=args.workers, queue=args.queue, timeout=300)
    failures = []
    try:
        run_load(srv.url, clips, requests=min(8, args.requests), concurrency=2)  # warm: first requests load lazily
        for c in args.concurrency:
            srv.reset_peak()
            r = run_load(srv.url, clips, requests=args.requests, concurrency=c)
            print(row(f"load (workers {args.workers}, queue {args.queue})", r, srv.peak_kb / 1024), flush=True)
            if not healthy(srv.url, clips[0]):
                failures.append(f"not healthy after concurrency {c}")
    finally:
        rc = srv.stop()
    if rc not in (0, -signal.SIGTERM, 130):
        failures.append(f"server exited with {rc} on SIGTERM")

    over = Server(workers=1, queue=args.overload_queue, timeout=300)
    try:
        run_load(over.url, clips, requests=4, concurrency=1)
        over.reset_peak()
        r = run_load(over.url, clips, requests=args.overload_requests, concurrency=args.overload_concurrency)
        print(row(f"overload (workers 1, queue {args.overload_queue})", r, over.peak_kb / 1024), flush=True)
        if set(r["statuses"]) - {200, 503}:
            failures.append(f"overload gave statuses other than 200/503: {r['statuses']}")
        if not r["statuses"].get(503):
            failures.append("overload gave no 503")
        if not r["retry_after"]:
            failures.append("a 503 came without Retry-After")
        alive = healthy(over.url, clips[0])
        if not alive:
            failures.append("server not healthy after the overload")
    finally:
        rc = over.stop()
    print(f"\nserver start-up (model load + warm-up) {srv.start_seconds:.1f} s; after the overload the server "
          f"{'answered /healthz and a prediction' if not failures else 'FAILED: ' + '; '.join(failures)}; "
          f"exit status on SIGTERM {rc}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
