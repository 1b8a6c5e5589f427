"""Data-parallel training over several processes (PyTorch DDP), equal to one process with the
same global batch.

Start it with ``torchrun --nproc-per-node N -m escucha train ...`` or ``escucha train --nproc N``
(which runs the same through :mod:`torch.distributed.run` on this machine). Each process reads
torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``); :func:`process_group` joins and leaves the group.

How N processes compute the update of one process with batch ``B`` (``B`` divisible by N):

- every rank draws the *whole* global batch with the same random-number streams (batch order,
  crops, waveform augmentation, SpecAugment, mixup: all seeded alike), and computes augmentation
  and features for all of it, which costs little next to the model; only the model's forward and
  backward are split. :class:`ShardedModel` gives rank ``r`` the rows
  ``[r*B/N, (r+1)*B/N)`` of the feature batch, runs them through
  :class:`~torch.nn.parallel.DistributedDataParallel` and all-gathers the logits (with
  gradients), so the loss every rank computes is the loss of the whole batch, and the trainer's
  override points (:meth:`~escucha.train.loop.Trainer.forward`, ``objective``) stay as they are.
  Each rank's gradient is then N times its shard's share; DDP averages them into exactly the
  single-process gradient.
- BatchNorm layers become :class:`GlobalBatchNorm`: batch statistics over the whole global
  batch (two all-reduces per layer, with gradients), the running statistics those of one
  process. :class:`torch.nn.SyncBatchNorm` does the same but only on GPUs, and escucha trains
  on the CPU.
- ``Dropout`` (and ``Dropout1d/2d/3d``) layers become :class:`GlobalDropout`: the mask of the
  whole global batch is drawn from torch's generator (seeded alike on every rank) and sliced, so
  it is the mask one process draws. Dropout inside recurrent layers (``nn.GRU(dropout=...)``)
  is drawn per shard.

What one process would compute and N processes compute then differ only by the order of
floating-point sums (measured in ``docs/scaling.md``).

Only rank 0 writes: the run folder, checkpoints, training state, report, progress bar, the
waveform cache (rank 0 fills it first, the others then read it). Validation and test scoring run
on rank 0 alone (the others wait for the next step), so the chosen epoch and the reported metrics
are rank 0's, i.e. those of the one model all ranks hold.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from datetime import timedelta
from typing import Callable, TypeVar

import torch
from torch import nn

from .. import errors as _errors
from ..errors import ConfigError, EscuchaError

__all__ = ["world_size", "rank", "is_main", "launched_by_torchrun", "default_backend", "process_group",
           "shard_bounds", "check_batch_size", "ShardedModel", "GlobalBatchNorm", "GlobalDropout",
           "prepare_model", "wrap", "require_group", "on_rank0", "rank0_first", "read_only_cache",
           "lost_peer", "launch"]

T = TypeVar("T")

BACKENDS = ("auto", "gloo", "nccl")
_SIGNALS = {int(s) for s in signal.Signals}


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


# --- sharding --------------------------------------------------------------------------------

def check_batch_size(batch_size: int, world: int | None = None) -> None:
    """The global batch must split into equal shards.

    Raises
    ------
    ConfigError
        ``batch_size`` is not a multiple of the number of processes.
    """
    world = world_size() if world is None else world
    if batch_size % world:
        lo, hi = batch_size - batch_size % world, batch_size - batch_size % world + world
        raise ConfigError(f"--batch-size {batch_size} does not split evenly over {world} processes: "
                          f"use a multiple of {world} (e.g. {lo if lo >= 2 else hi} or {hi})")


def shard_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of a global batch of ``n`` that rank ``rank`` of ``world`` computes."""
    if n % world:
        raise ValueError(f"a batch of {n} does not split into {world} equal shards")
    k = n // world
    return rank * k, (rank + 1) * k


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks, with gradients (the gradient of a sum is the sum of the gradients)."""

    @staticmethod
    def forward(ctx, x):
        y = x.clone()
        torch.distributed.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, g):
        g = g.clone()
        torch.distributed.all_reduce(g)
        return g


class _AllGather(torch.autograd.Function):
    """Concatenate every rank's ``(n, ...)`` into ``(world * n, ...)``, with gradients: each rank
    gets the sum over ranks of the gradient of its own rows."""

    @staticmethod
    def forward(ctx, x):
        ctx.rank, ctx.n = torch.distributed.get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(torch.distributed.get_world_size())]
        torch.distributed.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, g):
        g = g.contiguous().clone()
        torch.distributed.all_reduce(g)      # gloo has no reduce-scatter
        return g[ctx.rank * ctx.n:(ctx.rank + 1) * ctx.n]


class _Shard:
    """Where this rank's rows lie in the current global batch (shared by the wrapped layers)."""

    def __init__(self):
        self.lo, self.hi, self.n = 0, 0, 0


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the whole global batch across ranks.

    Any input ``(B, C, ...)``. In evaluation, or without a joined group, it is plain BatchNorm.
    Mean and variance are all-reduced (sum of values, then sum of squared deviations from the
    global mean) with gradients; running statistics are updated as one process would
    (unbiased variance, same momentum).
    """

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"expected input of at least 2 dimensions, got {x.dim()}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _initialized() and torch.distributed.get_world_size() > 1):
            return super().forward(x)
        all_reduce = _AllReduceSum.apply
        c = x.shape[1]
        dims = [0, *range(2, x.dim())]
        shape = [1, c] + [1] * (x.dim() - 2)
        count = torch.full((1,), x.numel() // c, dtype=x.dtype, device=x.device)
        s = all_reduce(torch.cat([x.sum(dims), count]))
        n = s[c]
        mean = s[:c] / n
        xc = x - mean.reshape(shape)
        var = all_reduce(xc.square().sum(dims)) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1).clamp(min=1)), alpha=m)
        y = xc * torch.rsqrt(var + self.eps).reshape(shape)
        if self.affine:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y


class GlobalDropout(nn.Module):
    """Dropout whose mask is drawn for the whole global batch and sliced to this rank's rows:
    the mask one process would draw on the CPU (same generator calls as ``torch.nn.functional
    .dropout``). ``feature=True`` drops whole channels (``Dropout1d/2d/3d``)."""

    def __init__(self, p: float, shard: _Shard, *, feature: bool = False):
        super().__init__()
        self.p, self.feature, self._shard = float(p), feature, shard

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.numel() == 0:
            return x
        if self.p == 1:
            return x * torch.zeros((), dtype=x.dtype, device=x.device)
        sh = self._shard
        if sh.n == 0 or sh.hi - sh.lo != x.shape[0]:       # not called through ShardedModel
            lo, hi, n = 0, x.shape[0], x.shape[0]
        else:
            lo, hi, n = sh.lo, sh.hi, sh.n
        shape = (n, x.shape[1]) + (1,) * (x.dim() - 2) if self.feature else (n, *x.shape[1:])
        noise = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(1 - self.p)
        noise.div_(1 - self.p)
        return x * noise[lo:hi]

    def extra_repr(self) -> str:
        return f"p={self.p}, feature={self.feature}"


def _convert(module: nn.Module, shard: _Shard) -> nn.Module:
    """Replace BatchNorm and Dropout layers in place (same parameters and buffers, same order)."""
    for name, child in list(module.named_children()):
        new = None
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, GlobalBatchNorm):
            new = GlobalBatchNorm(child.num_features, eps=child.eps, momentum=child.momentum, affine=child.affine,
                                  track_running_stats=child.track_running_stats)
            if child.affine:
                new.weight, new.bias = child.weight, child.bias
            if child.track_running_stats:
                new.running_mean, new.running_var = child.running_mean, child.running_var
                new.num_batches_tracked = child.num_batches_tracked
            new.train(child.training)
        elif type(child) in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d):
            new = GlobalDropout(child.p, shard, feature=type(child) is not nn.Dropout)
            new.train(child.training)
        if new is not None:
            setattr(module, name, new)
        else:
            _convert(child, shard)
    return module


class ShardedModel(nn.Module):
    """The model as the trainer sees it under DDP: the global batch ``(B, ...)`` in, the global
    logits ``(B, K)`` out; this rank computes rows :func:`shard_bounds` through DDP."""

    def __init__(self, module: nn.Module, shard: _Shard):
        super().__init__()
        from torch.nn.parallel import DistributedDataParallel

        self.module = module
        self._shard = shard
        self.ddp = DistributedDataParallel(module)     # broadcasts rank 0's weights and buffers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = shard_bounds(x.shape[0], torch.distributed.get_rank(), torch.distributed.get_world_size())
        self._shard.lo, self._shard.hi, self._shard.n = lo, hi, x.shape[0]
        try:
            out = self.ddp(x[lo:hi])
        finally:
            self._shard.n = 0
        return _AllGather.apply(out)


def prepare_model(model: nn.Module) -> tuple[nn.Module, ShardedModel | None]:
    """Under a joined group of more than one process: convert ``model``'s BatchNorm and Dropout
    layers in place (:class:`GlobalBatchNorm`, :class:`GlobalDropout`) and return
    ``(model, shard)``; :func:`wrap` then makes the :class:`ShardedModel` the training step
    calls. Alone: ``(model, None)``. Call before making the optimiser: the parameters stay the
    same objects either way."""
    if world_size() <= 1:
        return model, None
    if torch.distributed.get_backend() == "nccl":
        raise ConfigError("the process group uses nccl alone, but escucha trains on the CPU: use --backend gloo "
                          "or auto")
    shard = _Shard()
    return _convert(model, shard), shard


def wrap(model: nn.Module, shard) -> ShardedModel:
    """DDP around ``model`` (after its state was loaded: DDP broadcasts rank 0's)."""
    return ShardedModel(model, shard)


# --- rank 0 does, the others follow -----------------------------------------------------------

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
        from ..data.waveforms import WaveformCache

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


# --- the --nproc launcher ---------------------------------------------------------------------

def lost_peer(e: BaseException) -> bool:
    """Whether ``e`` is a collective failing because another rank died (not this rank's bug)."""
    dist_error = getattr(torch.distributed, "DistError", ())
    return launched_by_torchrun() and (isinstance(e, dist_error) or
                                 (isinstance(e, RuntimeError) and "gloo" in str(e).lower()))


def _quiet_elastic_logs() -> None:
    import logging

    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


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
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 and -code in _SIGNALS else \
            f"ended with exit status {code}"
        print(f"escucha: error: training process {rank} {how}; the others were stopped", file=sys.stderr)
        return 3
    except (SignalException, KeyboardInterrupt):
        return 130
    return 0
