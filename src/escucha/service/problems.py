"""The HTTP answer for an exception: one line for a person and the right status, shared by the
endpoints (:mod:`escucha.service.app`) and the stream (:mod:`escucha.service.stream`)."""

from __future__ import annotations

import logging
import re

from ..errors import AudioError, ConfigError, EscuchaError, ModelError, StoreError
from .uploads import HTTPProblem, Upload
from .work import Busy, TimedOut

__all__ = ["problem_of", "api_words"]

log = logging.getLogger("escucha.service")

_FLAG = re.compile(r"^--([a-z][a-z-]*): ")
_CLI_ONLY = re.compile(r"; map others with --label-map \S+")


def api_words(message: str) -> str:
    """A library message in the words of the API: a leading ``--labels:`` (the command line's
    flag) names the parameter, ``labels:``, and advice only the command line can follow
    (``map others with --label-map FILE.json``) is left out."""
    message = _CLI_ONLY.sub("", message)
    return _FLAG.sub(lambda m: m.group(1).replace("-", "_") + ": ", message)


def problem_of(e: BaseException, up: Upload | None = None) -> HTTPProblem:
    """The HTTP answer for an exception raised while handling ``up``: the library's own message
    (naming the client's file, not the stored one) and a 4xx status for anything about the input."""
    msg = (lambda s: up.message(api_words(s))) if up is not None else api_words
    if isinstance(e, HTTPProblem):
        return e
    if isinstance(e, (Busy, TimedOut)):
        return HTTPProblem(503, str(e), {"Retry-After": str(e.retry_after)})
    if isinstance(e, StoreError):
        # the database or the data folder, not the request: the whole line (the database's URL,
        # its password masked) in the server's log; the client is told the problem only
        status = 507 if getattr(e, "no_space", False) else 503
        log.warning("answering %d: %s", status, e)
        return HTTPProblem(status, msg(getattr(e, "problem", None) or str(e)), {"Retry-After": "5"})
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
