"""Data-parallel training over several processes (PyTorch DDP), equal to one process with the
same global batch.

Start it with ``torchrun --nproc-per-node N -m escucha train ...`` or ``escucha train --nproc N``
(which runs the same through :mod:`torch.distributed.run` on this machine). Each process reads
torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``); :func:`process_group` joins and leaves the group.

Only rank 0 writes: the run folder, checkpoints, training state, report, progress bar, the
waveform cache (rank 0 fills it first, the others then read it). Validation and test scoring run
on rank 0 alone (the others wait for the next step), so the chosen epoch and the reported metrics
are rank 0's, i.e. those of the one model all ranks hold.

The parts, each in a module named for it:

- :mod:`~escucha.train.distributed.group`: this process's place in the group (rank, world
  size), joining and leaving it, and telling a lost peer from a bug;
- :mod:`~escucha.train.distributed.sharding`: how N processes compute exactly the update of one
  (global BatchNorm and dropout, the model's forward split by rows);
- :mod:`~escucha.train.distributed.rank0`: rank 0 does, the others follow (results and errors
  handed to every rank, the waveform cache filled once);
- :mod:`~escucha.train.distributed.launcher`: ``escucha train --nproc N`` on this machine.
"""

from .group import (BACKENDS, default_backend, is_main, launched_by_torchrun, lost_peer, process_group, rank,
                    require_group, world_size)
from .launcher import launch
from .rank0 import on_rank0, rank0_first, read_only_cache
from .sharding import (GlobalBatchNorm, GlobalDropout, ShardedModel, check_batch_size, prepare_model, shard_bounds,
                       wrap)

__all__ = ["world_size", "rank", "is_main", "launched_by_torchrun", "default_backend", "process_group",
           "shard_bounds", "check_batch_size", "ShardedModel", "GlobalBatchNorm", "GlobalDropout",
           "prepare_model", "wrap", "require_group", "on_rank0", "rank0_first", "read_only_cache",
           "lost_peer", "launch", "BACKENDS"]
