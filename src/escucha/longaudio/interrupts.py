"""Holding Ctrl-C and SIGTERM while a batch writes, so that a file is written whole or not at all."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

__all__ = ["interrupts_deferred"]


@contextmanager
def interrupts_deferred():
    """Hold Ctrl-C and SIGTERM until the block is done (then act on them as before), so that a
    result is written whole or not at all and no temporary file is left behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    old = {s: signal.signal(s, lambda signum, frame: got.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if got:
            h = old[got[0]]
            if callable(h):
                h(got[0], None)  # e.g. Python's Ctrl-C handler: raises KeyboardInterrupt here
            elif h == signal.SIG_DFL:
                os.kill(os.getpid(), got[0])
