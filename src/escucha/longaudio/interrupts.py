"""Holding Ctrl-C and SIGTERM while a batch writes, so that a file is written whole or not at all."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

__all__ = ["interrupts_deferred"]


def _act(handler, signum: int) -> None:
    """Do what ``handler`` (a signal's handler as ``signal.signal`` returned it) does for ``signum``."""
    if callable(handler):
        handler(signum, None)  # e.g. Python's Ctrl-C handler: raises KeyboardInterrupt here
    elif handler == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


@contextmanager
def interrupts_deferred(*, first_acts: bool = False):
    """Hold Ctrl-C and SIGTERM until the block is done (then act on them as before), so that a
    result is written whole or not at all and no temporary file is left behind.

    ``first_acts``: the first one acts at once (Ctrl-C raises KeyboardInterrupt) and only the later
    ones are held, for work whose clean-up a second Ctrl-C must not cut short; they are dropped if
    the block ends by an exception (the first one's, on its way up) and acted on if it ends normally.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    acted: list[int] = []

    def hold(signum, frame):
        if first_acts and not acted:
            acted.append(signum)
            _act(old[signum], signum)
        else:
            got.append(signum)

    old = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    finished = False
    try:
        yield
        finished = True
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if got and (finished or not first_acts):
            _act(old[got[0]], got[0])
