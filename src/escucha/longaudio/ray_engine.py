"""Batch scoring on a Ray cluster with Ray Data: the local batch's work, spread over machines.

    escucha analyze calls/ -o out/ --engine ray                      # a local Ray instance
    escucha analyze calls/ -o out/ --engine ray --address HEAD:6379  # a cluster (ray start --head)
    escucha predict calls/ --engine ray --address HEAD:6379 --json

Who does what
    The *driver* (the process running escucha) does everything the local batch does except the
    analysis itself: it lists the files, decides which are already done (content hash and
    settings, :mod:`escucha.longaudio.batch`), writes every result atomically as it arrives, and
    writes ``summary.csv`` and ``errors.csv`` at the end. Ray Data workers (one actor per
    ``threads`` CPUs) run the very same per-file function as the local worker processes
    (:func:`escucha.longaudio.worker.analyse_one`, or :meth:`Predictor.predict_files` for
    ``predict``) and send the result back; they never write into the output folder. The model
    goes to the workers through Ray's object store, so it need not exist on their machines.

What a cluster needs
    escucha (the same version) and its dependencies installed on every node, and the input
    files readable by the workers **at the same path** as on the driver (shared storage, e.g. an
    NFS mount): workers read the audio themselves, the driver only hashes it.

Failures and interruption
    A bad file is reported in ``errors.csv`` (``predict``: on stderr) and the batch goes on, as in
    the local engine. A worker that dies (out of memory, a lost node) is restarted by Ray; if Ray
    gives up, the files not finished are reported as failed and the next run resumes them.
    Ctrl-C or SIGTERM stops the run: results in flight are dropped, complete ones are kept, the
    tables are written, and the driver disconnects (a local Ray instance it started is shut down).
    Ray Data's iterators and fetch threads are stopped before the driver disconnects, and a second
    Ctrl-C waits for that clean-up: a thread still calling into Ray after ``ray.shutdown()`` would
    end the process with status 1 instead of 130.
"""

from __future__ import annotations

import gc
import logging
import pickle
import signal
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from ..errors import ConfigError
from .interrupts import interrupts_deferred

__all__ = ["require_ray", "run_analysis", "predict_files", "INSTALL_HINT"]

INSTALL_HINT = "pip install 'escucha[ray]' (or pip install 'ray[data]')"


def require_ray() -> None:
    """Raise :class:`ConfigError` (one line, saying how to install it) when Ray Data is missing."""
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError(f"--engine ray needs Ray Data, which is not installed: {INSTALL_HINT}") from None


@contextmanager
def connected(address: str | None = None) -> Iterator[None]:
    """Be connected to Ray for the block.

    Already connected (e.g. ``ray.init()`` by the caller): that connection is used and left open.
    Otherwise ``ray.init(address)`` connects to ``address`` (or ``RAY_ADDRESS``), or starts a local
    instance when neither is given; on leaving, the driver disconnects (which also stops a local
    instance it started and every worker it created).
    """
    require_ray()
    import ray

    if ray.is_initialized():
        yield
        return
    main = threading.current_thread() is threading.main_thread()
    old_term = signal.getsignal(signal.SIGTERM) if main else None
    kw = {} if address else {"include_dashboard": False}
    try:
        ray.init(address=address, logging_level=logging.ERROR, **kw)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = address or "a local Ray instance"
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"{where}: cannot connect to Ray ({msg}); start a cluster with 'ray start --head' and "
                          "pass its HOST:PORT with --address") from None
    finally:
        if main and old_term is not None:  # ray.init makes SIGTERM exit at once; keep escucha's clean stop
            signal.signal(signal.SIGTERM, old_term)
    before = set(threading.enumerate())
    # a second Ctrl-C must not cut the clean-up short: raised inside Ray Data's own clean-up it breaks
    # it ("release unlocked lock"), and inside ray.shutdown() it leaves threads calling into a
    # shut-down Ray, which ends the process with status 1 instead of escucha's 130
    with interrupts_deferred(first_acts=True):
        try:
            yield
        finally:
            with interrupts_deferred():
                _settle(before)
                ray.shutdown()


def _settle(before: set, timeout: float = 10.0) -> None:
    """Let the threads Ray Data started to fetch results finish before Ray is shut down.

    A thread that calls into Ray after ``ray.shutdown()`` (a block fetcher still in ``ray.get``
    after Ctrl-C) makes Ray end the whole process with status 1 ("The core worker has already been
    shutdown ... The process will exit"), so an interrupted batch would not exit 130. Unreachable
    object references are freed first, while Ray is still connected. Threads that only wait (Ray
    Data's prefetchers, its usage poller) live on as daemons and are not waited for.
    """
    gc.collect()
    deadline = time.monotonic() + timeout
    for t in set(threading.enumerate()) - before:
        if t.name.startswith("iter_threaded") or type(t).__name__ == "StreamingExecutor":
            t.join(max(0.0, deadline - time.monotonic()))


def _quiet_ray_data() -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # escucha draws its own bar from the results as they arrive
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def _workers(jobs: int | None, threads: int, n_items: int) -> int:
    """Actors to start: ``jobs``, or one per ``threads`` CPUs of the cluster; never more than items."""
    import ray

    if jobs is None:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        jobs = max(1, cpus // max(1, threads))
    return max(1, min(jobs, n_items))


class _Worker:
    """A Ray Data actor holding one model; subclasses say what one file's result is."""

    def __init__(self, shared: list, threads: int, options: dict):
        import ray

        self.predictor = ray.get(shared[0])   # a list, so that the ref is not resolved for us
        self.threads = max(1, int(threads))
        self.options = options
        self.predictor.set_num_threads(self.threads)  # torch or ONNX Runtime

    def one(self, path: str):
        raise NotImplementedError

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        return {"result": np.array([pickle.dumps(self.one(str(p))) for p in batch["path"]], dtype=object)}


class _Analyser(_Worker):
    def __init__(self, shared: list, threads: int, options: dict):
        super().__init__(shared, threads, options)
        from .worker import init_worker

        init_worker(self.predictor, self.threads, subprocess=False)

    def one(self, path: str):
        from .worker import analyse_one

        return analyse_one(path, self.options["analysis"], self.options["plot"])


class _Predictor(_Worker):
    def one(self, path: str):
        preds, errors = self.predictor.predict_files([path])
        return path, preds, errors


def _results(worker_cls, paths: Sequence[str], predictor, options: dict, *, jobs: int | None, threads: int
             ) -> Iterator[object]:
    """Each file's result (what ``worker_cls.one`` returned), in the order they finish."""
    import ray
    import ray.data

    _quiet_ray_data()
    shared = [ray.put(predictor)]
    n = _workers(jobs, threads, len(paths))
    ds = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=len(paths))
    ds = ds.map_batches(worker_cls, batch_size=1, compute=ray.data.ActorPoolStrategy(size=n), num_cpus=threads,
                        fn_constructor_kwargs={"shared": shared, "threads": threads, "options": options})
    rows = iter(ds.iter_rows())   # a generator: closing it runs Ray Data's own clean-up (its threads stop)
    try:
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except KeyboardInterrupt:
                # Ctrl-C inside Ray Data. Its traceback holds Ray Data's iterators, which clean up
                # (calling Ray) when they are freed: after ray.shutdown() if the exception carried
                # them up. So they are freed here, while connected, and a bare KeyboardInterrupt
                # is raised once this handler (and with it that traceback) is gone.
                row = None
            if row is None:
                rows.close()
                del ds, shared
                gc.collect()
                raise KeyboardInterrupt
            yield pickle.loads(row["result"])
    finally:
        rows.close()


def _lost(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"a Ray worker failed ({type(exc).__name__}{': ' + msg if msg else ''}) while this batch ran; run again to resume"


def _each(results: Iterator[object], on_failure: Callable[[BaseException], None]) -> Iterator[object]:
    """``results``, until Ray itself fails (a worker Ray gave up on, a lost cluster): then
    ``on_failure(exc)`` and stop. What the caller does with a result is not guarded here."""
    while True:
        try:
            r = next(results)
        except StopIteration:
            return
        except Exception as e:  # a bad file never gets here: the per-file function reports it
            on_failure(e)
            return
        yield r


def run_analysis(todo: Sequence[str], predictor, options: dict, plot: bool, *, jobs: int | None, threads: int,
                 address: str | None, tick: Callable, report) -> None:
    """Analyse ``todo`` on Ray; ``tick(path, seconds, payload, error)`` (the local batch's own
    writer) is called on the driver for each file as its result arrives. Files Ray could not
    finish are added to ``report.errors``."""
    finished = set()

    def lost(e):
        report.errors.extend((p, f"{p}: {_lost(e)}") for p in todo if p not in finished)

    with connected(address):
        results = _results(_Analyser, list(todo), predictor, {"analysis": options, "plot": plot}, jobs=jobs,
                           threads=threads)
        try:
            for r in _each(results, lost):
                tick(*r)
                finished.add(r[0])
        finally:
            results.close()


def predict_files(predictor, paths: Sequence[str], *, address: str | None = None, jobs: int | None = None,
                  threads: int = 1, show_progress: bool = False):
    """:meth:`Predictor.predict_files` on Ray: ``(predictions, errors)`` in the order of ``paths``.

    Each file is predicted by that same method on a Ray worker; a bad file is an entry
    ``(file, message)`` in ``errors`` and the others go on.
    """
    from ..utils.progress import progress

    paths = [str(p) for p in paths]
    unique = list(dict.fromkeys(paths))
    done: dict[str, tuple[list, list]] = {}

    def lost(e):
        for p in unique:
            done.setdefault(p, ([], [(p, f"{p}: {_lost(e)}")]))

    with connected(address):
        bar = progress(total=len(unique), desc="predicting", unit="file", disable=not show_progress or None)
        results = _results(_Predictor, unique, predictor, {}, jobs=jobs, threads=threads)
        try:
            for path, preds, errors in _each(results, lost):
                done[path] = (preds, errors)
                bar.update(1)
        finally:
            results.close()
            bar.close()
    preds, errors = [], []
    for p in paths:  # as the local engine: a file listed twice is listed twice
        a, b = done[p]
        preds += a
        errors += b
    return preds, errors
