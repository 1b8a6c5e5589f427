"""Self-describing checkpoints: ``model.safetensors`` weights + ``config.json``. Never pickle.

``config.json`` holds everything inference needs: model name and arguments, labels, the
feature and preprocessing settings, the clip length, and how the model was trained and scored.
An ensemble is one config listing several weight files of the same architecture; their
probabilities are averaged. (Ensembles of *different* checkpoints are folders of member
checkpoints; see :class:`escucha.inference.EnsemblePredictor`.)

This module sits below both ``train/`` (which writes checkpoints) and ``inference/`` (which
reads them). A model folder is treated as untrusted input: its config is checked against
:mod:`escucha.checkpoint_schema` before anything is built, every path it names must stay inside
the folder (symbolic links included), the tensor names and shapes in each weights file are
compared with the model before the tensors are read, and non-finite weights are refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .checkpoint_schema import FORMAT, VERSION, check_relative_path, validate_config, validate_model_config
from .errors import ModelError
from .utils.io import atomic_path, atomic_write_json

if TYPE_CHECKING:
    from torch import nn

__all__ = ["save_checkpoint", "load_checkpoint", "resolve_checkpoint_dir", "read_checkpoint_config",
           "member_dirs", "inside", "FORMAT", "VERSION", "MAX_CONFIG_BYTES", "MAX_PARAMETERS"]

#: A ``config.json`` larger than this is refused unread.
MAX_CONFIG_BYTES = 8 << 20
#: Parameters + buffers a checkpoint's model may have (400 MB of float32); counted on the
#: ``meta`` device before anything is allocated.
MAX_PARAMETERS = 100_000_000


def save_checkpoint(directory: str | os.PathLike, models: nn.Module | list[nn.Module], config: dict) -> Path:
    """Write one model (or an ensemble of same-shaped models) and its config into ``directory``.

    The config is checked against the schema and the weights for non-finite values before
    anything is written, so a checkpoint that could not be loaded back is never saved.

    Raises
    ------
    ModelError
        The config is outside the schema or a tensor holds NaN or infinity.
    """
    import torch
    from safetensors.torch import save_file

    directory = Path(directory)
    models = models if isinstance(models, list) else [models]
    files = ["model.safetensors"] if len(models) == 1 else [f"model-{i}.safetensors" for i in range(len(models))]
    cfg = {"format": FORMAT, "version": VERSION, **config, "weights": files}
    validate_model_config(cfg, source=str(directory / "config.json"))
    states = []
    for name, m in zip(files, models):
        state = {k: v.detach().contiguous().clone() for k, v in m.state_dict().items()}
        for k, v in state.items():
            if (v.is_floating_point() or v.is_complex()) and not bool(torch.isfinite(v).all()):
                raise ModelError(f"{directory / name}: tensor {k!r} has non-finite values (NaN or infinity); "
                                 "refusing to save weights that cannot be used")
        states.append(state)
    directory.mkdir(parents=True, exist_ok=True)
    for name, state in zip(files, states):
        with atomic_path(directory / name, suffix=".safetensors") as tmp:
            save_file(state, str(tmp), metadata={"format": FORMAT})
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


def inside(root: str | os.PathLike, rel: str, *, field: str, source: str | os.PathLike) -> Path:
    """``root / rel``, refused unless it stays inside ``root`` once symbolic links are followed.

    Raises
    ------
    ModelError
        ``rel`` is absolute, has ``..``, or resolves (through a link) outside ``root``.
    """
    check_relative_path(rel, field=field, source=str(source))
    root = Path(root)
    p = root / rel
    real_root, real = root.resolve(), p.resolve()
    if real == real_root or real_root not in real.parents:
        raise ModelError(f"{source}: {field} {rel!r} leads outside the model folder {root} (to {real}); "
                         "expected a file or folder inside it")
    return p


def read_checkpoint_config(path: str | os.PathLike) -> tuple[Path, dict]:
    """Find the checkpoint folder for ``path`` and return ``(folder, validated config)``.

    Works for single models and ensembles; see :mod:`escucha.checkpoint_schema` for what is
    accepted.
    """
    d = resolve_checkpoint_dir(path)
    f = d / "config.json"
    try:
        size = f.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ModelError(f"{f}: {size} bytes is too large for a checkpoint config "
                             f"(at most {MAX_CONFIG_BYTES} bytes)")
        cfg = json.loads(f.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise ModelError(f"{f}: not valid JSON ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    except OSError as e:
        raise ModelError(f"{f}: cannot read ({e.strerror})") from None
    return d, validate_config(cfg, source=str(f))


def member_dirs(directory: str | os.PathLike, cfg: dict) -> list[Path]:
    """Folders of an ensemble's members, each confined to ``directory``."""
    source = Path(directory) / "config.json"
    return [inside(directory, m["path"], field=f"ensemble[{i}].path", source=source)
            for i, m in enumerate(cfg["ensemble"])]


def _build(name: str, args: dict, *, n_classes: int, in_channels: int, source: Path, meta: bool = False):
    import torch

    from .models import create_model

    try:
        if meta:
            with torch.device("meta"):
                return create_model(name, n_classes=n_classes, in_channels=in_channels, **args)
        return create_model(name, n_classes=n_classes, in_channels=in_channels, **args)
    except ModelError as e:
        raise ModelError(f"{source}: {e}") from None
    except Exception as e:  # a factory rejecting a value the schema let through (e.g. stride 0)
        raise ModelError(f"{source}: model {name!r} cannot be built with args {args} "
                         f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None


#: Longest input (seconds) :func:`_probe` gives a model; longer clips are probed at this length.
PROBE_SECONDS = 3.0


def _probe(model, cfg: dict, file: Path) -> None:
    """Run ``model`` once on an all-zero input of the feature shape inference gives it.

    A model that cannot take its clip length, does not give one logit per label, or gives NaN or
    infinity (e.g. a zero scale or temperature) is refused here rather than at the first
    prediction. The input is at most :data:`PROBE_SECONDS` long, so the probe stays small.
    """
    import torch

    f, m = cfg["features"], cfg["model"]
    sr = f["sample_rate"]
    clip = cfg.get("clip_seconds")
    seconds = min(clip, PROBE_SECONDS) if clip else PROBE_SECONDS  # None: inputs are taken whole
    n = int(round(seconds * sr))
    kind = f["kind"]
    frames = {"raw": n, "egemaps": 1, "whisper": 1, "encoder": max(1, n // 320)}.get(kind)
    if frames is None:  # log-mel / MFCC: centred STFT frames
        frames = 1 + n // f.get("hop_length", 160)
    n_labels = len(cfg["labels"])
    try:
        with torch.inference_mode():
            out = model(torch.zeros(1, m["in_channels"], frames))
    except Exception as e:  # shape errors surface as RuntimeError / ValueError from torch
        text = str(e).splitlines()[0] if str(e) else ""
        raise ModelError(f"{file}: model {m['name']!r} with args {m.get('args', {})} cannot process "
                         f"{seconds:g} s at {sr} Hz ({type(e).__name__}: {text})") from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, n_labels):
        shape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelError(f"{file}: model {m['name']!r} gives outputs of shape {shape}, "
                         f"expected [batch, {n_labels}] (one logit per label)")
    if not bool(torch.isfinite(out).all()):
        raise ModelError(f"{file}: model {m['name']!r} gives non-finite outputs (NaN or infinity) for a "
                         "silent input; the weights are unusable")


def _names(keys, limit: int = 5) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _read_weights(file: Path, expected: dict[str, tuple[int, ...]], model: str) -> dict:
    """Tensors of ``file`` after checking names and shapes against ``expected`` and finiteness."""
    import torch
    from safetensors import safe_open

    if not file.is_file():
        raise ModelError(f"{file}: weights file missing")
    try:
        with safe_open(str(file), framework="pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            problems = []
            wrong = [k for k in expected if k in found and found[k] != expected[k]]  # first layer first
            if wrong:
                k = wrong[0]
                problems.append(f"tensor {k!r} has shape {list(found[k])}, the model expects {list(expected[k])}"
                                + (f" (and {len(wrong) - 1} more tensors differ)" if len(wrong) > 1 else ""))
            if set(expected) - set(found):
                problems.append(f"missing tensors: {_names(set(expected) - set(found))}")
            if set(found) - set(expected):
                problems.append(f"unexpected tensors: {_names(set(found) - set(expected))}")
            if problems:
                raise ModelError(f"{file}: weights do not fit model {model!r}: " + "; ".join(problems))
            state = {}
            for k in found:
                t = f.get_tensor(k)
                if (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
                    raise ModelError(f"{file}: tensor {k!r} has non-finite values (NaN or infinity); "
                                     "the weights are corrupt")
                state[k] = t
    except ModelError:
        raise
    except Exception as e:  # safetensors raises its own error types for a truncated or forged file
        raise ModelError(f"{file}: not a readable safetensors weights file "
                         f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    return state


def load_checkpoint(path: str | os.PathLike) -> tuple[list[nn.Module], dict]:
    """Rebuild the model(s) from a checkpoint folder. Returns ``(models in eval mode, config)``.

    Raises
    ------
    ModelError
        The folder is an ensemble, its config is outside :mod:`escucha.checkpoint_schema`, the
        model would exceed :data:`MAX_PARAMETERS`, or a weights file is missing, outside the
        folder, not safetensors, of the wrong names or shapes, or holds NaN / infinity.
    """
    d, cfg = read_checkpoint_config(path)
    source = d / "config.json"
    if "ensemble" in cfg:
        raise ModelError(f"{source}: is an ensemble, not a single model checkpoint (load ensembles with "
                         "escucha.inference.load_model; they cannot be nested)")
    name, args = cfg["model"]["name"], cfg["model"].get("args", {})
    dims = dict(n_classes=len(cfg["labels"]), in_channels=cfg["model"]["in_channels"])
    skeleton = _build(name, args, **dims, source=source, meta=True)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    n = sum(int(v.numel()) for v in skeleton.state_dict().values())
    if n > MAX_PARAMETERS:
        raise ModelError(f"{source}: model {name!r} with args {args} would have {n} parameters; "
                         f"at most {MAX_PARAMETERS} are accepted")
    models = []
    for i, wf in enumerate(cfg.get("weights", ["model.safetensors"])):
        file = inside(d, wf, field=f"weights[{i}]", source=source)
        state = _read_weights(file, expected, name)
        m = _build(name, args, **dims, source=source)
        try:
            m.load_state_dict(state, strict=True)
        except RuntimeError as e:  # names and shapes were checked; this is what remains (dtype)
            raise ModelError(f"{file}: weights do not fit model {name!r} ({str(e).splitlines()[-1].strip()})") from None
        m.eval()
        _probe(m, cfg, file)
        models.append(m)
    return models, cfg
