"""This process's place in a torchrun group: rank and world size, joining and leaving the group,
refusing to train as one of several processes without it, and telling a collective that failed
because another rank died from this rank's own error."""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta

import torch

from ...errors import ConfigError

__all__ = ["world_size", "rank", "is_main", "launched_by_torchrun", "default_backend", "process_group",
           "require_group", "lost_peer", "BACKENDS"]

BACKENDS = ("auto", "gloo", "nccl")


def _env_int(name: str, default: int) -> int:
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be a whole number, got {v!r}") from None


def _initialized() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def launched_by_torchrun() -> bool:
    """Whether this process is one of several started by torchrun (``WORLD_SIZE`` > 1)."""
    return _env_int("WORLD_SIZE", 1) > 1


def world_size() -> int:
    """Processes in the joined group; 1 when none was joined."""
    return torch.distributed.get_world_size() if _initialized() else 1


def rank() -> int:
    """This process's rank in the joined group, or torchrun's ``RANK`` before joining (0 alone)."""
    return torch.distributed.get_rank() if _initialized() else _env_int("RANK", 0)


def is_main() -> bool:
    """Rank 0: the one process that writes files and prints."""
    return rank() == 0


def default_backend() -> str:
    """``"cpu:gloo,cuda:nccl"`` where CUDA is available (CPU tensors over gloo, CUDA tensors over
    nccl), else ``"gloo"``."""
    if torch.cuda.is_available() and torch.distributed.is_nccl_available():
        return "cpu:gloo,cuda:nccl"
    return "gloo"


def _resolve_backend(backend: str | None) -> str:
    if backend in (None, "auto"):
        return default_backend()
    if backend not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "nccl":
        if not (torch.cuda.is_available() and torch.distributed.is_nccl_available()):
            raise ConfigError("--backend nccl needs CUDA GPUs and a torch built with NCCL; none here: "
                              "use --backend gloo")
        # the loop keeps its tensors on the CPU: they still need gloo beside nccl
        return "cpu:gloo,cuda:nccl"
    if not torch.distributed.is_gloo_available():
        raise ConfigError("this torch has no gloo backend; distributed training on the CPU needs it")
    return backend


@contextlib.contextmanager
def process_group(backend: str | None = "auto", *, timeout_s: float | None = None):
    """Join torchrun's process group for the ``with`` block, then leave it.

    Does nothing when ``WORLD_SIZE`` is 1 or unset (one process) or a group is already joined.

    Parameters
    ----------
    backend : {"auto", "gloo", "nccl"}
        ``auto``: gloo, plus nccl for CUDA tensors where CUDA is available.
    timeout_s : float, optional
        How long a collective waits for the other ranks (default ``$ESCUCHA_DIST_TIMEOUT`` or
        1800 s).

    Raises
    ------
    ConfigError
        torch has no ``torch.distributed``, an unknown or unavailable backend, or torchrun's
        variables are incomplete.
    """
    if not launched_by_torchrun() or _initialized():
        yield
        return
    if not torch.distributed.is_available():
        raise ConfigError("this torch has no torch.distributed; run one process")
    be = _resolve_backend(backend)
    missing = [v for v in ("RANK", "MASTER_ADDR", "MASTER_PORT") if not os.environ.get(v)]
    if missing:
        raise ConfigError(f"WORLD_SIZE is {os.environ['WORLD_SIZE']} but {', '.join(missing)} are not set: start "
                          f"the processes with torchrun or 'escucha train --nproc N'")
    timeout = timeout_s if timeout_s is not None else float(os.environ.get("ESCUCHA_DIST_TIMEOUT", 1800))
    torch.distributed.init_process_group(backend=be, timeout=timedelta(seconds=timeout))
    try:
        yield
    finally:
        torch.distributed.destroy_process_group()


def require_group() -> None:
    """Refuse to run as one of several torchrun processes without a joined group: each would
    otherwise train alone and write the same run folder."""
    if launched_by_torchrun() and not _initialized():
        raise ConfigError(f"started as one of {os.environ['WORLD_SIZE']} processes (WORLD_SIZE) but the process "
                          f"group was not joined: call the training inside "
                          f"escucha.train.distributed.process_group()")


def lost_peer(e: BaseException) -> bool:
    """Whether ``e`` is a collective failing because another rank died (not this rank's bug)."""
    dist_error = getattr(torch.distributed, "DistError", ())
    return launched_by_torchrun() and (isinstance(e, dist_error) or
                                 (isinstance(e, RuntimeError) and "gloo" in str(e).lower()))
