"""ONNX Runtime sessions, one per graph file and thread count, and the thread setting shared by
both runtimes.

:func:`set_num_threads` is what a command's ``--threads`` calls, whatever runtime the model
will use: it sets torch's threads if torch is loaded (and torch models loaded later take it
too), and the intra-op threads of ONNX Runtime sessions made from now on. ONNX Runtime sessions
use one thread unless told otherwise (``ESCUCHA_THREADS`` or :func:`set_num_threads`): escucha
scales over files (``analyze --jobs``, the service's workers), not inside one small network.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

from ..errors import ConfigError, ModelError

__all__ = ["session", "set_num_threads", "requested_threads", "onnx_threads", "torch_available"]

_REQUESTED: int | None = None


def set_num_threads(n: int) -> None:
    """Threads for the networks of models loaded from now on (and for torch, now).

    Raises
    ------
    ConfigError
        ``n`` is not an integer >= 1.
    """
    global _REQUESTED
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"threads must be an integer >= 1 (--threads N, or threads= in Python), got {n!r}")
    _REQUESTED = n
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def requested_threads() -> int | None:
    """What :func:`set_num_threads` (or ``ESCUCHA_THREADS``) asked for, else ``None``."""
    if _REQUESTED is not None:
        return _REQUESTED
    env = os.environ.get("ESCUCHA_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            raise ConfigError(f"ESCUCHA_THREADS must be an integer >= 1, got {env!r}")
        return n
    return None


def onnx_threads() -> int:
    """Intra-op threads of new ONNX Runtime sessions (default 1)."""
    return requested_threads() or 1


def torch_available() -> bool:
    """Whether torch can be imported here (without importing it)."""
    if "torch" in sys.modules:
        return sys.modules["torch"] is not None
    import importlib.util

    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def session(path: str | os.PathLike, threads: int | None = None):
    """The ONNX Runtime session of the graph file ``path`` (made once per file version and
    thread count, then shared: an ensemble's members share their encoder's session).

    Raises
    ------
    ModelError
        onnxruntime is missing, or the file is not a graph it can load.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        raise ModelError(f"{p}: cannot read the ONNX graph ({e.strerror})") from None
    return _session(str(p), int(threads or onnx_threads()), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=32)
def _session(path: str, threads: int, mtime_ns: int, size: int):
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelError("the ONNX runtime needs the 'onnxruntime' package: pip install onnxruntime") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{path}: not an ONNX graph ONNX Runtime can load ({text[:200]})") from None
