"""Rank 0 does, the others follow: a result (or an error) of rank 0 handed to every rank, and the
waveform cache filled by rank 0 first, then only read by the others."""

from __future__ import annotations

from typing import Callable, TypeVar

import torch

from ... import errors as _errors
from ...errors import ConfigError, EscuchaError
from .group import is_main, world_size

__all__ = ["on_rank0", "rank0_first", "read_only_cache"]

T = TypeVar("T")


def _broadcast(obj):
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def _mirror(err: tuple[str, str]) -> EscuchaError:
    cls = getattr(_errors, err[0], None)
    if not (isinstance(cls, type) and issubclass(cls, EscuchaError)):
        cls = ConfigError
    return cls(err[1])


def on_rank0(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only and hand its result to every rank (it must be picklable).
    An :class:`~escucha.errors.EscuchaError` on rank 0 is raised on every rank."""
    if world_size() <= 1:
        return fn()
    if is_main():
        try:
            out = fn()
        except EscuchaError as e:
            _broadcast(("error", (type(e).__name__, str(e))))
            raise
        except BaseException:
            _broadcast(("error", ("ConfigError", "rank 0 stopped; see its message")))
            raise
        _broadcast(("ok", out))
        return out
    kind, out = _broadcast(None)
    if kind == "error":
        raise _mirror(out)
    return out


class _ReadOnlyCache:
    """A waveform cache read as it is, never written (not even to drop a damaged entry)."""

    def __init__(self, cache):
        self._cache = cache

    def key(self, path, config):
        return self._cache.key(path, config)

    def get(self, key):
        import numpy as np

        p = self._cache.dir / key[:2] / f"{key}.npy"
        try:
            return np.load(p) if p.is_file() else None
        except Exception:
            return None

    def put(self, key, y):
        pass


def read_only_cache(cache):
    """What the ranks other than 0 use of ``cache`` (``True``: the default folder, ``None``: none):
    the entries rank 0 wrote, read only."""
    if cache is None or cache is False:
        return None
    if cache is True:
        from ...data.waveforms import WaveformCache

        cache = WaveformCache()
    return _ReadOnlyCache(cache)


def rank0_first(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0, then on the other ranks (e.g. rank 0 fills the waveform cache, the
    others then only read it). An :class:`~escucha.errors.EscuchaError` on rank 0 is raised on
    every rank."""
    if world_size() <= 1:
        return fn()
    result: list = []
    on_rank0(lambda: result.append(fn()))
    return result[0] if is_main() else fn()
