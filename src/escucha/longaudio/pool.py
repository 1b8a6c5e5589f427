"""The local engine's worker processes: a pool of ``jobs`` processes running
:func:`escucha.longaudio.worker.analyse_one`, stopped at once on Ctrl-C, SIGTERM or an error."""

from __future__ import annotations

import os

from .worker import analyse_one, init_worker

__all__ = ["run_pool"]


def _stop_pool(ex) -> None:
    """Kill the pool's workers now (their results in flight are lost, never written)."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    for p in procs:
        try:
            p.kill()
        except (OSError, ValueError, AttributeError):
            pass
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        try:
            p.join(timeout=5)
        except (OSError, ValueError, AssertionError):
            pass


def run_pool(todo, predictor, opts, plot, *, jobs, threads, tick, report) -> None:
    """Analyse ``todo`` in ``jobs`` worker processes; ``tick(path, seconds, payload, error)`` is
    called in this process for each file as its result arrives. Files lost with a worker that
    ended abruptly are added to ``report.errors``."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    ex = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=ctx, initializer=init_worker,
                             initargs=(predictor, threads, True, os.getpid()))
    try:
        futs, finished = {}, set()
        try:
            for p in todo:
                futs[ex.submit(analyse_one, p, opts, plot)] = p
            for f in as_completed(futs):
                p = futs[f]
                try:
                    r = f.result()
                except BrokenProcessPool:
                    raise
                except Exception as e:  # e.g. a result that could not be sent back
                    r = (p, 0.0, None, f"{p}: unexpected {type(e).__name__} in a worker process ({e})")
                tick(*r)
                finished.add(p)
        except BrokenProcessPool:
            for p in todo:
                if p not in finished:
                    report.errors.append((p, f"{p}: a worker process ended abruptly (out of memory or killed?) "
                                              "while this batch ran; run again to resume"))
    except BaseException:  # KeyboardInterrupt, SystemExit, or an error writing a result
        _stop_pool(ex)
        raise
    ex.shutdown(wait=True)
