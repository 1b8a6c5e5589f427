"""The per-file work of a batch, in a worker: analyse one file and send the result back.

The same functions run in this process, in the local engine's worker processes
(:mod:`escucha.longaudio.pool`) and in Ray's workers (:mod:`escucha.longaudio.ray_engine`).
A worker writes nothing: its result (the JSON dict, the segments CSV text, the timeline PNG
bytes) goes back to the parent, which alone writes into the output folder. A worker process
ends with its parent, however the parent ends.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from ..errors import EscuchaError
from .inputs import content_digest

__all__ = ["init_worker", "analyse_one"]

_WORKER: dict = {}


def _die_with_parent(parent_pid: int) -> None:
    """End this (worker) process as soon as ``parent_pid`` is gone, however the parent ended."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG: the kernel kills us with the parent
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="escucha-parent-watch", daemon=True).start()


def init_worker(predictor, threads: int, subprocess: bool = True, parent_pid: int | None = None) -> None:
    """Make this process ready for :func:`analyse_one`: the model, on ``threads`` threads, and a VAD
    of its own. ``subprocess``: this is a worker process, which ignores Ctrl-C (the parent handles
    it) and ends with the parent ``parent_pid``."""
    from .vad import SileroVAD

    if subprocess:  # a worker process: the parent alone handles Ctrl-C and SIGTERM; ends with the parent
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if parent_pid is not None:
            _die_with_parent(parent_pid)
        predictor.set_num_threads(max(1, threads))
    _WORKER["predictor"] = predictor
    _WORKER["vad"] = SileroVAD(threads=max(1, threads))


def _plot_png(res) -> bytes:
    """The timeline figure as PNG bytes (drawn in a private scratch folder, not in the output)."""
    import tempfile

    from .plot import plot_timeline

    with tempfile.TemporaryDirectory(prefix="escucha-plot-") as tmp:
        return plot_timeline(res, Path(tmp) / "timeline.png").read_bytes()


def analyse_one(path: str, options: dict, plot: bool) -> tuple[str, float, dict | None, str | None]:
    """Analyse one file; returns ``(path, seconds, payload, error)``. Writes nothing: the payload
    (``json`` dict, ``csv`` text, optional ``png`` bytes) goes back to the parent."""
    from .analyze import analyze_file

    from ..audio.io import check_audio_path

    try:
        check_audio_path(path)  # a missing file or a link loop: the words predict uses
        before = os.stat(path)
        digest = content_digest(path)
        res = analyze_file(path, _WORKER["predictor"], vad_model=_WORKER["vad"], **options)
        after = os.stat(path)
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            return path, 0.0, None, f"{path}: file changed while it was being analysed; run again to analyse it"
        res.source = {**res.source, "blake2b": digest}
        payload = {"json": res.to_dict(), "csv": res.segments_csv()}
        if plot:
            payload["png"] = _plot_png(res)
        return path, res.duration, payload, None
    except EscuchaError as e:
        return path, 0.0, None, str(e)
    except OSError as e:
        return path, 0.0, None, f"{path}: cannot read the file ({e.strerror or e})"
    except Exception as e:  # a batch goes on whatever one file does
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return path, 0.0, None, f"{path}: unexpected {type(e).__name__} ({msg})"
