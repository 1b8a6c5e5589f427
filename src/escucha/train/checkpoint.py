"""Checkpoint read/write now lives in :mod:`escucha.checkpoint`, below both ``train`` and
``inference``; this module re-exports it so existing imports keep working."""

from __future__ import annotations

from ..checkpoint import (FORMAT, VERSION, load_checkpoint, read_checkpoint_config, resolve_checkpoint_dir,
                          save_checkpoint)

__all__ = ["save_checkpoint", "load_checkpoint", "resolve_checkpoint_dir", "read_checkpoint_config", "FORMAT",
           "VERSION"]
