"""Self-describing checkpoints: ``model.safetensors`` weights + ``config.json``. Never pickle.

``config.json`` holds everything inference needs: model name and arguments, labels, the
feature and preprocessing settings, the clip length, and how the model was trained and scored.
An ensemble is one config listing several weight files of the same architecture; their
probabilities are averaged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from torch import nn

from ..errors import ModelError
from ..utils.io import atomic_path, atomic_write_json

__all__ = ["save_checkpoint", "load_checkpoint", "resolve_checkpoint_dir", "FORMAT"]

FORMAT = "escucha.checkpoint"
VERSION = 1


def save_checkpoint(directory: str | os.PathLike, models: nn.Module | list[nn.Module], config: dict) -> Path:
    """Write one model (or an ensemble of same-shaped models) and its config into ``directory``."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    models = models if isinstance(models, list) else [models]
    files = []
    for i, m in enumerate(models):
        name = "model.safetensors" if len(models) == 1 else f"model-{i}.safetensors"
        state = {k: v.detach().contiguous().clone() for k, v in m.state_dict().items()}
        with atomic_path(directory / name, suffix=".safetensors") as tmp:
            save_file(state, str(tmp), metadata={"format": FORMAT})
        files.append(name)
    cfg = {"format": FORMAT, "version": VERSION, **config, "weights": files}
    atomic_write_json(directory / "config.json", cfg)
    return directory


def resolve_checkpoint_dir(path: str | os.PathLike) -> Path:
    """Accept a checkpoint folder, its ``config.json``, or a run folder holding ``checkpoint/``."""
    p = Path(path)
    if p.is_file() and p.name == "config.json":
        p = p.parent
    elif p.is_file() and p.suffix == ".safetensors":
        p = p.parent
    if p.is_dir() and (p / "checkpoint" / "config.json").is_file():
        p = p / "checkpoint"  # a run folder
    if not p.exists():
        raise ModelError(f"{path}: model not found")
    if not (p / "config.json").is_file():
        raise ModelError(f"{path}: not an escucha model (no config.json; expected a folder from 'escucha train')")
    return p


def load_checkpoint(path: str | os.PathLike) -> tuple[list[nn.Module], dict]:
    """Rebuild the model(s) from a checkpoint folder. Returns ``(models in eval mode, config)``."""
    from safetensors.torch import load_file

    from ..models import create_model

    d = resolve_checkpoint_dir(path)
    try:
        cfg = json.loads((d / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelError(f"{d / 'config.json'}: not valid JSON ({e})") from None
    if cfg.get("format") != FORMAT:
        raise ModelError(f"{d / 'config.json'}: not an escucha checkpoint (format={cfg.get('format')!r})")
    if cfg.get("version", 0) > VERSION:
        raise ModelError(f"{d}: checkpoint version {cfg['version']} is newer than this escucha understands ({VERSION})")
    try:
        labels = cfg["labels"]
        name = cfg["model"]["name"]
        args = cfg["model"].get("args", {})
        in_channels = cfg["model"]["in_channels"]
    except KeyError as e:
        raise ModelError(f"{d / 'config.json'}: missing field {e}") from None
    models = []
    for wf in cfg.get("weights", ["model.safetensors"]):
        m = create_model(name, n_classes=len(labels), in_channels=in_channels, **args)
        try:
            state = load_file(str(d / wf))
            m.load_state_dict(state, strict=True)
        except FileNotFoundError:
            raise ModelError(f"{d / wf}: weights file missing") from None
        except (RuntimeError, OSError, Exception) as e:
            raise ModelError(f"{d / wf}: weights do not fit model {name!r} ({str(e).splitlines()[0]})") from None
        m.eval()
        models.append(m)
    return models, cfg
