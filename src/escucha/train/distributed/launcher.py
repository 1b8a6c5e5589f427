"""``escucha train --nproc N``: the same command in N processes on this machine, through torchrun's
own agent, and the exit status that says how they ended."""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["launch"]

_SIGNALS = {int(s) for s in signal.Signals}


def _quiet_elastic_logs() -> None:
    import logging

    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _how(code: int) -> str:
    return (f"was killed by {signal.Signals(-code).name}" if code < 0 and -code in _SIGNALS
            else f"ended with exit status {code}")


def launch(argv: list[str], nproc: int) -> int:
    """Run ``python -m escucha ARGV`` in ``nproc`` processes on this machine through
    :mod:`torch.distributed.run` (torchrun's own agent: a failing or interrupted process stops
    the others, nothing is left running).

    Returns
    -------
    int
        The CLI exit status: 0; the exit status 1, 2 or 3 of the first process that failed (it
        printed why); 3 for a process killed by a signal (e.g. out of memory); 130 when
        interrupted (Ctrl-C, SIGTERM).
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    import socket

    with socket.socket() as s:                 # a free port for the rendezvous on this machine
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = parse_args(["--nnodes", "1", "--nproc-per-node", str(nproc), "--master-addr", "127.0.0.1",
                       "--master-port", str(port), "--max-restarts", "0", "--monitor-interval", "0.1",
                       "-m", "escucha", *argv])
    _quiet_elastic_logs()
    os.environ.setdefault("OMP_NUM_THREADS", "1")   # torchrun's default, without its banner
    try:
        run(args)
    except ChildFailedError as e:
        rank, first = e.get_first_failure()       # the others were stopped because of this one
        code = first.exitcode
        if code in (1, 2, 3, 130):
            return code                           # that process said why on stderr
        if code in (-signal.SIGINT, -signal.SIGTERM):
            return 130
        # every process that failed, the first first: when one is killed, another may abort on the
        # lost connection within the same instant, and either may be seen first
        failed = sorted(e.failures.items(), key=lambda kv: (kv[0] != rank, kv[1].timestamp, kv[0]))
        print("escucha: error: " + ", ".join(f"training process {r} {_how(f.exitcode)}" for r, f in failed)
              + "; the others were stopped", file=sys.stderr)
        return 3
    except (SignalException, KeyboardInterrupt):
        return 130
    return 0
