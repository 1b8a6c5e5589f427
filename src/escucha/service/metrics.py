"""Prometheus metrics of one service (its own registry, so that several apps in one process —
tests — do not share counters). A scrape is always answered: with a store that does not answer,
``escucha_store_up`` is 0 and the series read from it (the stored jobs by status) are left out."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("escucha.service")

__all__ = ["Metrics", "route_label", "ROUTES"]

#: paths reported by name in the metrics; anything else is "other" (the label set stays small)
ROUTES = ("/", "/healthz", "/readyz", "/metrics", "/v1/models", "/v1/predict", "/v1/analyze", "/v1/stream", "/v1/calls",
          "/v1/calls.csv", "/v1/calls.json", "/v1/jobs")


def route_label(path: str) -> str:
    """The route template of ``path`` (``/v1/calls/{id}``: never an id, so the label set stays small)."""
    if path in ROUTES:
        return path
    if path.startswith("/v1/jobs/"):
        return "/v1/jobs/{id}"
    if path.startswith("/v1/calls/") and "/" not in path[len("/v1/calls/"):]:
        return "/v1/calls/{id}.csv" if path.endswith(".csv") else "/v1/calls/{id}"
    if path.startswith("/static/"):
        return "/static"
    if path in ("/docs", "/openapi.json", "/docs/oauth2-redirect", "/redoc"):
        return "/docs"
    return "other"


class Metrics:
    """Requests, latency, errors, queue depth, running jobs, background jobs, open streams,
    seconds of audio analysed; with a store (``store=True``: ``jobs`` reads it), whether it
    answers."""

    def __init__(self, pool=None, jobs=None, streams=None, *, store: bool = False):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = r = CollectorRegistry()
        self.requests = Counter("escucha_requests", "HTTP requests answered", ["route", "method", "status"], registry=r)
        self.latency = Histogram("escucha_request_seconds", "Time to answer an HTTP request", ["route"],
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
                                 registry=r)
        self.errors = Counter("escucha_errors", "Requests answered with an error status (4xx/5xx)",
                              ["route", "status"], registry=r)
        self.rejected = Counter("escucha_rejected", "Requests refused for lack of room (503)", ["reason"], registry=r)
        self.audio_seconds = Counter("escucha_audio_seconds", "Seconds of audio analysed", ["route"], registry=r)
        self.queue_depth = Gauge("escucha_queue_depth", "Admitted requests waiting for a worker (uploading or "
                                 "queued)", registry=r)
        self.running = Gauge("escucha_running_jobs", "Inference jobs running now", registry=r)
        self.jobs = Gauge("escucha_background_jobs", "Background analysis jobs by status", ["status"], registry=r)
        self.streams = Gauge("escucha_open_streams", "WebSocket streams open now", registry=r)
        if pool is not None:
            self.queue_depth.set_function(lambda: pool.waiting)
            self.running.set_function(lambda: pool.running)
        if streams is not None:
            self.streams.set_function(streams)
        self.store_up = Gauge("escucha_store_up", "1 when the store's database answered the last scrape, else 0",
                              registry=r) if store else None
        self._jobs = jobs

    def render(self) -> tuple[bytes, str]:
        """The scrape's body and content type. Reads the store (blocking): call it off the event loop."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        if self._jobs is not None:
            try:
                counts = self._jobs.counts()
            except Exception as e:   # the store is down: the rest of the scrape still tells what is going on
                if self.store_up is None:
                    raise
                log.warning("metrics without the stored jobs: %s", e)
                self.store_up.set(0)
                self.jobs.clear()
            else:
                for status, n in counts.items():
                    self.jobs.labels(status).set(n)
                if self.store_up is not None:
                    self.store_up.set(1)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def middleware(self, app):
        """ASGI middleware counting every HTTP request by route, method and status."""
        metrics = self

        async def wrapped(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            route, t0, status = route_label(scope.get("path", "")), time.perf_counter(), [500]

            async def send_(message):
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_)
            finally:
                code = str(status[0])
                metrics.requests.labels(route, scope.get("method", ""), code).inc()
                metrics.latency.labels(route).observe(time.perf_counter() - t0)
                if status[0] >= 400:
                    metrics.errors.labels(route, code).inc()

        return wrapped
