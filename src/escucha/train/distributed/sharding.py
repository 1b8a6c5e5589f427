"""How N processes compute the update of one process with batch ``B`` (``B`` divisible by N):

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
"""

from __future__ import annotations

import torch
from torch import nn

from ...errors import ConfigError
from .group import _initialized, world_size

__all__ = ["shard_bounds", "check_batch_size", "ShardedModel", "GlobalBatchNorm", "GlobalDropout", "prepare_model",
           "wrap"]


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
