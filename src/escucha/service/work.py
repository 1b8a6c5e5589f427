"""Bounded work: a fixed number of inference threads, a bounded number of requests waiting for
them, and a bounded store of background jobs.

Nothing here grows with load. A request is *admitted* (a slot out of ``workers + queue``) before
its upload is read, holds the slot while it uploads, waits and runs, and gives it back when its
job has finished — even when the client stopped waiting (a timeout): a thread running inference
cannot be interrupted, so its slot stays taken until it is done, and the count stays honest.
Admission beyond the capacity raises :class:`Busy` (the service answers ``503`` with
``Retry-After``).

The loaded model is shared by the worker threads. Escucha's predictors hold no per-call state:
the ONNX runtime's sessions are safe to run from several threads (onnxruntime's ``run`` is), the
torch runtime's modules run read-only under ``torch.inference_mode`` (and a process loads the
Whisper encoder once anyway), and Silero VAD is an onnxruntime session too.
``tests/test_service.py`` checks that concurrent predictions equal sequential ones. A backend
that is not safe to call from several threads runs with ``workers=1``.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Busy", "TimedOut", "Ticket", "WorkPool", "Job", "JobStore"]


class Busy(Exception):
    """No room for more work now; ``retry_after`` is a guess in whole seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class TimedOut(Exception):
    """A request waited longer than the service's timeout for its result."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class Ticket:
    """One admitted request's slot; :meth:`release` gives it back (once, whoever calls it)."""

    def __init__(self, pool: "WorkPool"):
        self._pool = pool
        self._released = False
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._pool._release()


class WorkPool:
    """``workers`` inference threads and room for ``queue`` more requests.

    Parameters
    ----------
    workers : int
        Jobs that run at once.
    queue : int
        Admitted requests beyond ``workers`` (uploading or waiting); more get :class:`Busy`.
    """

    def __init__(self, workers: int, queue: int):
        self.workers = int(workers)
        self.capacity = int(workers) + int(queue)
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="escucha-inference")
        self._lock = threading.Lock()
        self.admitted = 0            # requests holding a slot
        self.running = 0             # jobs running in a worker thread
        self.mean_job_seconds = 1.0  # running average, for Retry-After

    @property
    def waiting(self) -> int:
        """Admitted requests not running yet (uploading or queued): the queue depth."""
        with self._lock:
            return max(0, self.admitted - self.running)

    def retry_after(self) -> int:
        """Seconds after which a slot is likely to be free (1 to 60)."""
        with self._lock:
            backlog = max(1, self.admitted - self.workers + 1)
            guess = backlog * self.mean_job_seconds / self.workers
        return int(min(60, max(1, math.ceil(guess))))

    def admit(self) -> Ticket:
        """A slot for one request, or :class:`Busy` when ``workers + queue`` are taken."""
        with self._lock:
            full = self.admitted >= self.capacity
            if not full:
                self.admitted += 1
        if full:
            raise Busy(f"server busy: {self.capacity} requests are already being handled or waiting; "
                       "retry later", self.retry_after())
        return Ticket(self)

    def _release(self) -> None:
        with self._lock:
            self.admitted -= 1

    def submit(self, ticket: Ticket, fn: Callable[..., Any], *args, cleanup: Callable[[], None] | None = None
               ) -> Future:
        """Run ``fn(*args)`` in a worker thread. When it has finished (or was cancelled before it
        started) ``cleanup`` runs and the ticket is released."""

        def run():
            with self._lock:
                self.running += 1
            t0 = time.monotonic()
            try:
                return fn(*args)
            finally:
                dt = time.monotonic() - t0
                with self._lock:
                    self.running -= 1
                    self.mean_job_seconds = 0.8 * self.mean_job_seconds + 0.2 * dt

        def done(_fut):
            try:
                if cleanup is not None:
                    cleanup()
            finally:
                ticket.release()

        fut = self.executor.submit(run)
        fut.add_done_callback(done)
        return fut

    async def wait(self, fut: Future, *, timeout: float) -> Any:
        """The result of a submitted job, or :class:`TimedOut` after ``timeout`` seconds (a job
        that has not started yet is then cancelled; a running one finishes, unseen)."""
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(fut)), timeout)
        except asyncio.TimeoutError:
            fut.cancel()
            raise TimedOut(f"no result within this server's limit of {timeout:g} s (the server is busy or the "
                           "audio is long; retry later, or send a long call to /v1/analyze as a job)",
                           self.retry_after()) from None

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class Job:
    """A background analysis: ``status`` is ``queued``, ``running``, ``done`` or ``failed``."""

    id: str
    name: str
    created: float
    status: str = "queued"
    finished: float | None = None
    result: dict | None = None
    error: str | None = None
    code: int | None = None
    future: Future | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        d = {"id": self.id, "status": self.status, "file": self.name, "url": f"/v1/jobs/{self.id}"}
        if self.status == "done":
            d["result"] = self.result
        if self.status == "failed":
            d["error"], d["code"] = self.error, self.code
        return d


class JobStore:
    """At most ``max_jobs`` jobs, run one at a time in their own thread (so that long calls do not
    take the workers that answer clips); finished ones are kept ``ttl`` seconds, and the oldest
    finished one makes room for a new job when the store is full."""

    def __init__(self, max_jobs: int, ttl: float):
        self.max_jobs, self.ttl = int(max_jobs), float(ttl)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="escucha-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        for k in [k for k, j in self._jobs.items() if j.finished is not None and now - j.finished > self.ttl]:
            del self._jobs[k]

    def counts(self) -> dict[str, int]:
        with self._lock:
            out = {s: 0 for s in ("queued", "running", "done", "failed")}
            for j in self._jobs.values():
                out[j.status] += 1
            return out

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            self._expire(time.time())
            return self._jobs.get(job_id)

    def reserve(self, name: str, retry_after: int) -> Job:
        """A new job record, or :class:`Busy` when ``max_jobs`` are queued or running."""
        with self._lock:
            now = time.time()
            self._expire(now)
            if len(self._jobs) >= self.max_jobs:
                done = sorted((j for j in self._jobs.values() if j.finished is not None), key=lambda j: j.finished)
                if not done:
                    raise Busy(f"server busy: {self.max_jobs} analysis jobs are queued or running; retry later",
                               retry_after)
                del self._jobs[done[0].id]
            job = Job(id=uuid.uuid4().hex, name=name, created=now)
            self._jobs[job.id] = job
            return job

    def start(self, job: Job, fn: Callable[[], dict], *, cleanup: Callable[[], None], classify: Callable
              ) -> None:
        """Run ``fn`` for ``job``; ``classify(exc)`` gives ``(status code, message)`` of a failure."""

        def run():
            job.status = "running"
            try:
                job.result = fn()
                job.status = "done"
            except BaseException as e:  # recorded on the job; the thread goes on
                job.code, job.error = classify(e)
                job.status = "failed"
            finally:
                job.finished = time.time()
                cleanup()

        job.future = self.executor.submit(run)
        job.future.add_done_callback(lambda f: cleanup() if f.cancelled() else None)  # shut down before it ran

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
