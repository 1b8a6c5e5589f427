"""Training: configuration, loop, checkpoints, cross-validation."""

from .config import TrainConfig, AugmentConfig, load_config
from .checkpoint import save_checkpoint, load_checkpoint
from .runs import run_status, unfinished_note

__all__ = ["TrainConfig", "AugmentConfig", "load_config", "save_checkpoint", "load_checkpoint", "fit",
           "cross_validate", "run_status", "unfinished_note"]


def __getattr__(name):
    if name == "fit":
        from .loop import fit
        return fit
    if name == "cross_validate":
        from .cv import cross_validate
        return cross_validate
    raise AttributeError(name)
