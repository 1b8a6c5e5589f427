"""The HTTP answer for an exception: one line for a person and the right status, shared by the
endpoints (:mod:`escucha.service.app`) and the stream (:mod:`escucha.service.stream`)."""

from __future__ import annotations

import logging

from ..errors import AudioError, ConfigError, EscuchaError, ModelError, StoreError
from .uploads import HTTPProblem, Upload
from .work import Busy, TimedOut

__all__ = ["problem_of"]

log = logging.getLogger("escucha.service")


def problem_of(e: BaseException, up: Upload | None = None) -> HTTPProblem:
    """The HTTP answer for an exception raised while handling ``up``: the library's own message
    (naming the client's file, not the stored one) and a 4xx status for anything about the input."""
    msg = (lambda s: up.message(s)) if up is not None else str
    if isinstance(e, HTTPProblem):
        return e
    if isinstance(e, (Busy, TimedOut)):
        return HTTPProblem(503, str(e), {"Retry-After": str(e.retry_after)})
    if isinstance(e, StoreError):
        return HTTPProblem(503, msg(str(e)), {"Retry-After": "5"})
    if isinstance(e, AudioError):
        return HTTPProblem(422, msg(str(e)))
    if isinstance(e, ConfigError):
        return HTTPProblem(400, msg(str(e)))
    if isinstance(e, EscuchaError) and not isinstance(e, ModelError):  # a broken model is ours: 500
        return HTTPProblem(400, msg(str(e)))
    if isinstance(e, MemoryError):
        return HTTPProblem(503, "out of memory on the server; retry with a shorter recording or later",
                           {"Retry-After": "30"})
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    log.error("internal error", exc_info=e)
    return HTTPProblem(500, f"internal error ({type(e).__name__}: {msg(first)}); please report it")
