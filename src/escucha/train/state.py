"""The full state of a training run after an epoch, so that a killed run can go on exactly.

``RUN/state/`` holds ``tensors-EEEE.safetensors`` (model weights and buffers, optimiser moments,
the torch random-number states as uint8 tensors, numpy's legacy Mersenne-Twister key) and
``state.json`` (epoch, best-so-far, metrics history, optimiser hyper-parameters, scheduler,
python and numpy generator states, and which tensors file belongs to it). Never pickle.

Saving is atomic as a whole: the tensors file of epoch E is written first, then ``state.json``
is replaced to point at it, then older tensors files are removed. A reader therefore always
finds a complete, consistent state, whatever moment the process was killed at.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from ..utils.io import atomic_path, atomic_write_json

__all__ = ["save_state", "load_state", "has_state", "FORMAT", "VERSION"]

FORMAT = "escucha.train-state"
VERSION = 1


def has_state(state_dir: str | Path) -> bool:
    return (Path(state_dir) / "state.json").is_file()


def save_state(state_dir: str | Path, *, epoch: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               scheduler, generator: torch.Generator, rng: np.random.Generator, info: dict) -> Path:
    """Write the state after ``epoch`` into ``state_dir`` (atomically, see the module docstring).

    ``info`` is any JSON-serialisable dict (best-so-far, history, counters) returned as is by
    :func:`load_state`.
    """
    from safetensors.torch import save_file

    d = Path(state_dir)
    d.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        tensors[f"model/{k}"] = v.detach().contiguous().clone()
    opt_sd = optimizer.state_dict()
    opt_json: dict = {"param_groups": opt_sd["param_groups"], "state": {}}
    for pid, st in opt_sd["state"].items():
        for name, val in st.items():
            if isinstance(val, torch.Tensor):
                tensors[f"optim/{pid}/{name}"] = val.detach().contiguous().clone()
            else:
                opt_json["state"].setdefault(str(pid), {})[name] = val
    tensors["rng/torch"] = torch.get_rng_state()
    tensors["rng/generator"] = generator.get_state()
    np_legacy = np.random.get_state()
    tensors["rng/numpy_legacy_key"] = torch.from_numpy(np.asarray(np_legacy[1], dtype=np.uint32).view(np.uint8).copy())
    py_version, py_internal, py_gauss = random.getstate()
    name = f"tensors-{epoch:04d}.safetensors"
    with atomic_path(d / name, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "epoch": str(epoch)})
    atomic_write_json(d / "state.json", {
        "format": FORMAT, "version": VERSION, "epoch": epoch, "tensors": name,
        "optimizer": opt_json,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": {"numpy_generator": rng.bit_generator.state,
                "numpy_legacy": {"pos": int(np_legacy[2]), "has_gauss": int(np_legacy[3]),
                                 "cached_gaussian": float(np_legacy[4])},
                "python": {"version": py_version, "internal": list(py_internal), "gauss_next": py_gauss}},
        "info": info,
    })
    for old in d.glob("tensors-*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)
    return d


def load_state(state_dir: str | Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler,
               generator: torch.Generator, rng: np.random.Generator) -> tuple[int, dict]:
    """Restore everything :func:`save_state` wrote, in place. Returns ``(epoch, info)``.

    Raises
    ------
    ConfigError
        The state is missing, damaged, or does not fit this model.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    d = Path(state_dir)
    try:
        meta = json.loads((d / "state.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{d / 'state.json'}: cannot read the training state ({e}); cannot resume") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ConfigError(f"{d / 'state.json'}: not an escucha training state; cannot resume")
    if meta.get("version", 0) > VERSION:
        raise ConfigError(f"{d / 'state.json'}: training state version {meta.get('version')} is newer than "
                          f"this escucha understands ({VERSION})")
    tfile = d / str(meta.get("tensors"))
    try:
        tensors = load_file(str(tfile))
        with safe_open(str(tfile), framework="pt") as fh:
            t_meta = fh.metadata() or {}
    except Exception as e:  # a truncated or foreign file raises SafetensorError, OSError, ...: one message
        raise ConfigError(f"{tfile}: cannot read the training state ({str(e).splitlines()[0] if str(e) else e}); "
                          f"cannot resume") from None
    epoch = meta.get("epoch")
    if t_meta.get("epoch") != str(epoch):
        raise ConfigError(f"{tfile}: belongs to epoch {t_meta.get('epoch')}, not {epoch}; cannot resume")
    try:
        model.load_state_dict({k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")},
                              strict=True)
        opt_json = meta["optimizer"]
        groups = []
        for g in opt_json["param_groups"]:
            groups.append({k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()})
        state: dict = {}
        for k, v in tensors.items():
            if k.startswith("optim/"):
                _, pid, name = k.split("/", 2)
                state.setdefault(int(pid), {})[name] = v
        for pid, extra in opt_json.get("state", {}).items():
            state.setdefault(int(pid), {}).update(extra)
        optimizer.load_state_dict({"state": state, "param_groups": groups})
        if scheduler is not None and meta.get("scheduler") is not None:
            scheduler.load_state_dict(meta["scheduler"])
        torch.set_rng_state(tensors["rng/torch"])
        generator.set_state(tensors["rng/generator"])
        r = meta["rng"]
        rng.bit_generator.state = r["numpy_generator"]
        key = tensors["rng/numpy_legacy_key"].numpy().view(np.uint32)
        leg = r["numpy_legacy"]
        np.random.set_state(("MT19937", key, leg["pos"], leg["has_gauss"], leg["cached_gaussian"]))
        py = r["python"]
        random.setstate((py["version"], tuple(py["internal"]), py["gauss_next"]))
    except (KeyError, ValueError, TypeError, RuntimeError) as e:
        raise ConfigError(f"{d}: the training state does not fit this run ({str(e).splitlines()[0]}); "
                          f"cannot resume") from None
    return int(epoch), meta.get("info", {})
