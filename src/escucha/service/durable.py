"""Jobs that survive the server: with a store (``escucha serve --data DIR`` or ``--db URL``) a
long call's analysis is queued in the database, its audio kept in the data folder, and worker
threads claim queued jobs, run them and store the call and the job's end in one transaction.

Kill the server while a job runs and start it again (or let another server on the same
PostgreSQL go on): the job's lease runs out and it is claimed again and finishes; a job whose
server was killed :data:`~escucha.store.MAX_ATTEMPTS` times is failed with that reason. A call is
never stored twice (only the lease holder can finish a job). Several servers share the queue; on
PostgreSQL they claim with ``SELECT ... FOR UPDATE SKIP LOCKED``. Every server that shares a
database must see the same data folder (where the uploads wait), at any path: a job stores its
upload's path relative to the data folder, and each server finds it under its own ``--data``.

Each job's claim, take-over (after a lease ran out), end and failure is logged, one line at INFO
on the ``escucha.service`` logger.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from pathlib import Path
from typing import Callable

from ..errors import AudioError

__all__ = ["DurableJobs", "analysis_runner", "one_transcriber"]

log = logging.getLogger("escucha.service")


def one_transcriber() -> Callable:
    """``transcriber()``: the service's one Whisper model, loaded by the first analysis that asks
    for words (an upload, a queued job or a stream), once even when several ask at once."""
    import threading

    box: list = []
    lock = threading.Lock()

    def transcriber():
        with lock:
            if not box:
                from ..asr import load_transcriber

                box.append(load_transcriber())
            return box[0]
    return transcriber


def analysis_runner(predictor, speakers_for: Callable | None = None, transcriber: Callable | None = None) -> Callable:
    """``run(claim) -> result dict``: a queued job's analysis with its stored options, as
    ``POST /v1/analyze`` would run it (``speakers_for(spec)``: the service's speaker options,
    its agent's voice included; default :func:`escucha.speakers.speaker_options`;
    ``transcriber()``: the service's Whisper model, for jobs that ask for words; default: one
    loaded by the first such job)."""
    transcriber = transcriber or one_transcriber()

    def run(claim) -> dict:
        from ..inference.answers import answer_among
        from ..longaudio import VADConfig, analyze_file
        from ..longaudio.settings import BASELINE_DEFAULT
        from ..speakers import speaker_options

        o = dict(claim.options)
        vad = VADConfig(threshold=o.get("vad_threshold", 0.5), max_segment=o.get("max_segment", 10.0))
        answering = answer_among(predictor, o.get("labels"))
        # jobs queued before speakers and words were stored ran with the defaults: they still do
        res = analyze_file(claim.audio_path, answering, window=o.get("window"), hop=o.get("hop"),
                           smooth=o.get("smooth", 3.0), channels=o.get("channels", "mono"),
                           channel_names=o.get("channel_names"), vad=vad,
                           speakers=(speakers_for or speaker_options)(o.get("speakers", "auto")),
                           transcribe=transcriber() if o.get("transcribe") else None,
                           baseline=o.get("baseline", BASELINE_DEFAULT))
        d = res.to_dict(windows=o.get("windows", True))
        d["file"] = claim.file
        return d

    return run


class DurableJobs:
    """The store's queue, worked by ``workers`` threads of this server.

    Parameters
    ----------
    store : escucha.store.Store
    data : path
        The data folder: uploads of queued jobs wait in ``data/uploads``.
    run : callable
        ``run(claim) -> result dict`` (:func:`analysis_runner`).
    classify : callable
        ``classify(exc, claim) -> (status, one-line message)`` of a failed job.
    lease : float
        Seconds a claim holds without a heartbeat (heartbeats every quarter of it); a killed
        server's job is run again this long after its last heartbeat.
    keep_audio : bool
        Keep the uploads of finished jobs (default: deleted when the job is done or failed;
        :meth:`sweep_uploads`, at start and every 10 minutes, deletes those a job no longer needs).
    """

    def __init__(self, store, data, run: Callable, classify: Callable, *, workers: int = 1, lease: float = 60.0,
                 poll: float = 1.0, keep_audio: bool = False):
        self.store, self.data, self.run, self.classify = store, Path(data), run, classify
        self.workers, self.lease, self.poll, self.keep_audio = int(workers), float(lease), float(poll), keep_audio
        self._stop, self._wake = threading.Event(), threading.Event()
        self._threads: list[threading.Thread] = []
        self._held: dict[str, str] = {}  # job id -> worker name, while running here
        self._lock = threading.Lock()
        self.done = 0

    # -- the API's side -----------------------------------------------------------------------------
    def submit(self, upload_path, name: str, options: dict) -> dict:
        """Keep the upload in the data folder and queue its analysis; the job as ``GET /v1/jobs``
        shows it."""
        from ..store.uploads import keep_upload, remove_upload

        job_id = uuid.uuid4().hex
        kept = keep_upload(upload_path, self.data, job_id, name)   # relative to the data folder
        try:
            job = self.store.enqueue(name, audio_path=kept, options=options, keep_audio=self.keep_audio,
                                     job_id=job_id)
        except BaseException:
            remove_upload(self.upload_of(kept))
            raise
        self._wake.set()
        return job

    def get(self, job_id: str) -> dict | None:
        return self.store.get_job(job_id)

    def counts(self) -> dict[str, int]:
        return self.store.job_counts()

    def upload_of(self, stored: str | None) -> Path | None:
        """Where this server finds an upload a job stored (:func:`escucha.store.uploads.upload_path`)."""
        from ..store.uploads import upload_path

        return upload_path(stored, self.data)

    def sweep_uploads(self) -> int:
        """Delete the uploads no job needs (those of jobs failed before they ran, after being
        interrupted too often; see :func:`escucha.store.uploads.prune_orphans`); how many."""
        from ..store.uploads import prune_orphans

        try:
            n = prune_orphans(self.store, self.data)
        except Exception as e:
            log.warning("could not look for uploads no job needs: %s", e)
            return 0
        if n:
            log.info("deleted %d upload(s) no job needs from %s", n, self.data)
        return n

    # -- the workers --------------------------------------------------------------------------------
    def start(self) -> None:
        self.expire_dead()
        self.sweep_uploads()
        for k in range(self.workers):
            t = threading.Thread(target=self._loop, args=(k,), name=f"escucha-durable-{k}", daemon=True)
            t.start()
            self._threads.append(t)

    def expire_dead(self) -> int:
        """End at once the leases of running jobs whose server ran on this machine and is no
        longer alive (killed, then restarted: its jobs run again now, not after the lease).
        A worker is ``host:pid:thread:random``; a pid alive again under another program only
        delays the job to its lease's end. Returns how many were freed."""
        host, freed = socket.gethostname(), 0
        try:
            running = self.store.running_jobs()
        except Exception as e:
            log.warning("could not look for jobs of a killed server: %s", e)
            return 0
        for job_id, worker in running:
            parts = (worker or "").split(":")
            if len(parts) < 2 or parts[0] != host or not parts[1].isdigit() or int(parts[1]) == os.getpid():
                continue
            try:
                os.kill(int(parts[1]), 0)
                continue  # alive
            except ProcessLookupError:
                pass
            except OSError:  # alive, someone else's
                continue
            if self.store.expire_lease(job_id, worker):
                log.warning("job %s was running in a server that is gone (%s): running it again", job_id, worker)
                freed += 1
        return freed

    def shutdown(self) -> None:
        """Stop claiming; give the jobs running here back to the queue (run again at once by the
        next server, instead of after their lease)."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            held = dict(self._held)
        for job_id, worker in held.items():
            try:
                self.store.release_job(job_id, worker)
            except Exception as e:  # the database is gone: the lease will run out instead
                log.warning("could not give job %s back to the queue: %s", job_id, e)

    def _loop(self, k: int) -> None:
        import time

        worker = f"{socket.gethostname()}:{os.getpid()}:{k}:{uuid.uuid4().hex[:6]}"
        checked = swept = time.monotonic()
        while not self._stop.is_set():
            if k == 0 and time.monotonic() - checked > max(2.0, min(10.0, self.lease / 4)):
                self.expire_dead()  # a server on this machine killed meanwhile: its jobs now, not after its lease
                checked = time.monotonic()
            if k == 0 and time.monotonic() - swept > 600:
                self.sweep_uploads()
                swept = time.monotonic()
            try:
                claim = self.store.claim(worker, lease=self.lease)
            except Exception as e:  # the database is unreachable for a moment: wait, then try again
                log.error("claiming a job failed: %s", e)
                self._stop.wait(5 * self.poll)
                continue
            if claim is None:
                self._wake.wait(self.poll)
                self._wake.clear()
                continue
            if claim.attempts > 1:
                log.info("job %s (%s) taken over by %s after its lease ran out (attempt %d)", claim.id, claim.file,
                         worker, claim.attempts)
            else:
                log.info("job %s (%s) claimed by %s", claim.id, claim.file, worker)
            self._run_one(claim)

    def _run_one(self, claim) -> None:
        import dataclasses
        import time

        from ..store.uploads import remove_upload

        stored = claim.audio_path
        path = self.upload_of(stored)   # under this server's own data folder
        claim = dataclasses.replace(claim, audio_path=str(path) if path is not None else None)
        t0 = time.monotonic()

        with self._lock:
            self._held[claim.id] = claim.worker
        beat_stop = threading.Event()

        def beat():
            while not beat_stop.wait(self.lease / 4):
                try:
                    if not self.store.heartbeat(claim.id, claim.worker, lease=self.lease):
                        return
                except Exception as e:
                    log.warning("heartbeat of job %s failed: %s", claim.id, e)

        hb = threading.Thread(target=beat, name="escucha-heartbeat", daemon=True)
        hb.start()
        finished = False
        try:
            try:
                if not claim.audio_path or not os.path.isfile(claim.audio_path):
                    raise AudioError(f"{claim.file}: its uploaded audio is gone from the data folder "
                                     f"({stored} under {self.data}); every server sharing a database must share "
                                     "its data folder")
                from ..longaudio.inputs import content_digest

                d = self.run(claim)
                digest = content_digest(claim.audio_path)   # duplicates are told in calls.csv
            except Exception as e:  # the analysis failed: the job is over, with the reason
                status, message = self.classify(e, claim)
                try:
                    finished = self.store.fail_job(claim.id, claim.worker, message, status)
                except Exception as e2:
                    log.error("could not record the failure of job %s: %s", claim.id, e2)
                    return
                if finished:
                    log.info("job %s (%s) failed after %.1f s: %d %s", claim.id, claim.file, time.monotonic() - t0,
                             status, message)
                else:
                    log.info("job %s (%s) failed here, but another server holds it now", claim.id, claim.file)
                return
            try:
                finished = self.store.save_call(d, digest=digest, job=(claim.id, claim.worker)) is not None
            except Exception as e:  # the store, not the call: its lease runs out and it is run again
                log.error("could not store the call of job %s (%s); it will be run again", claim.id, e)
                return
            if finished:
                self.done += 1
                log.info("job %s (%s) done in %.1f s", claim.id, claim.file, time.monotonic() - t0)
            else:
                log.info("job %s (%s) finished here, but another server holds it now: its result is not stored",
                         claim.id, claim.file)
        finally:
            if finished and not claim.keep_audio:
                remove_upload(claim.audio_path)
            beat_stop.set()
            with self._lock:
                self._held.pop(claim.id, None)
