"""The torch runtime: :class:`Predictor` runs a checkpoint's torch modules; :func:`load_model`
picks the runtime for a model folder.

Everything between audio and the network (gate, windows, long inputs, ensembles and their band
routing) is shared with the ONNX runtime in :mod:`escucha.inference.base`. torch is imported
only when a torch model is loaded, so ``import escucha.inference`` works without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import ConfigError, ModelError
from .base import (BANDS, LONG_SECONDS, NARROWBAND_CUT_HZ, NARROWBAND_MAX_DB, BasePredictor,  # noqa: F401
                   EnsemblePredictor, Prediction, clip_windows)

__all__ = ["Prediction", "Predictor", "EnsemblePredictor", "BasePredictor", "load_model", "bundled_model_dir",
           "BUNDLED_MODELS", "resolve_model",
           "clip_windows", "make_ensemble", "RUNTIMES"]


#: models shipped inside the package, by name: ``load_model("fast")``, ``--model fast``
#: (docs/model_card.md). ``default`` is the accurate one, ``fast`` hears 1.5 s through two
#: Whisper blocks instead of everything through three.
BUNDLED_MODELS = {"default": "model", "fast": "fast"}


def bundled_model_dir(name: str = "default") -> Path:
    """Folder of a model shipped inside the package (:data:`BUNDLED_MODELS`)."""
    if name not in BUNDLED_MODELS:
        raise ModelError(f"{name!r} is not a bundled model; choose one of {', '.join(BUNDLED_MODELS)} "
                         "or give a model folder")
    return Path(__file__).resolve().parent.parent / "assets" / BUNDLED_MODELS[name]


def resolve_model(model: str | os.PathLike | None) -> Path:
    """The folder ``model`` names: ``None`` the default bundled model, a bundled model's name
    (when no file or folder of that name exists here, which wins), else the path itself."""
    if model is None:
        model = "default"
    if isinstance(model, str) and model in BUNDLED_MODELS and not Path(model).exists():
        d = bundled_model_dir(model)
        if not (d / "config.json").is_file():
            raise ModelError(f"{d}: no bundled {model} model in this installation; pass --model RUN_DIR")
        return d
    return Path(model)


class Predictor(BasePredictor):
    """Emotion probabilities from audio, for one checkpoint run by torch (its weight files'
    probabilities are averaged)."""

    runtime = "torch"

    def __init__(self, models: Sequence, config: dict):
        from ..features import FeatureExtractor
        from ..runtime.sessions import requested_threads

        if requested_threads():  # a --threads given before the model was loaded
            self.set_num_threads(requested_threads())
        self.models = list(models)
        self._configure(config)
        self.frontend = FeatureExtractor(self.feature_config).eval()
        for m in self.models:
            m.eval()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> "Predictor":
        from ..checkpoint import load_checkpoint

        models, cfg = load_checkpoint(path)
        return cls(models, cfg)

    def set_num_threads(self, n: int) -> None:
        import torch

        torch.set_num_threads(max(1, int(n)))

    # -- core ------------------------------------------------------------------------------
    def predict_windows(self, windows: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
        """Probabilities ``(W, n_classes)`` for preprocessed windows ``(W, clip_samples)``."""
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(windows), batch_size):
                x = self.frontend(torch.from_numpy(np.ascontiguousarray(windows[i:i + batch_size])))
                self._observe(x)
                p = sum(torch.softmax(m(x), dim=-1) for m in self.models) / len(self.models)
                out.append(p.numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), dtype=np.float32)

    def whole_features(self, waves: Iterable[np.ndarray]) -> list:
        """Front-end features ``(1, C, frames)`` (torch tensors) of each whole waveform (models
        without windows)."""
        import torch

        with torch.inference_mode():
            return [self.frontend(torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))[None]) for y in waves]

    def proba_from_features(self, feats: Sequence) -> np.ndarray:
        """``(N, n_classes)``: the models' mean probabilities for features from :meth:`whole_features`."""
        import torch

        if not feats:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        x = torch.cat(list(feats)) if len({tuple(f.shape[1:]) for f in feats}) == 1 else None
        if x is None:
            return np.concatenate([self.proba_from_features([f]) for f in feats])
        self._observe(x)
        with torch.inference_mode():
            return (sum(torch.softmax(m(x), dim=-1) for m in self.models) / len(self.models)).numpy()


def load_torch_ensemble(path: str | os.PathLike) -> EnsemblePredictor:
    """Load an ensemble folder with torch members; its config and every member are validated
    as untrusted input (member paths must stay inside the folder, weights finite and > 0)."""
    from ..checkpoint import member_dirs, read_checkpoint_config

    d, cfg = read_checkpoint_config(path)
    source = d / "config.json"
    if "ensemble" not in cfg:
        raise ModelError(f"{source}: not an ensemble (no 'ensemble' member list); load it with load_model")
    members = [Predictor.from_checkpoint(p) for p in member_dirs(d, cfg)]
    return EnsemblePredictor.from_members(members, cfg, source=source)


#: what runs a model's network: ``auto`` (default: ONNX Runtime when the model folder carries a
#: current export, else torch), ``torch`` or ``onnx``; also set by ``ESCUCHA_RUNTIME``
RUNTIMES = ("auto", "torch", "onnx")


def load_model(path: str | os.PathLike | None = None, *, runtime: str | None = None,
               labels: str | Sequence[str] | None = None, calibrate: bool = True) -> BasePredictor:
    """Load a trained model (see :func:`load_predictor`), answering as its deployment settings
    say (``calibrate=False``: the raw class-balanced probabilities;
    :class:`~escucha.inference.answers.Calibrated`); with ``labels`` (e.g.
    ``"neutral,happy,sad,angry"``) it answers among those emotions only, probabilities
    renormalised over them (:class:`~escucha.inference.answers.LabelSubset`).

    Raises
    ------
    ModelError, ConfigError
        As :func:`load_predictor`; a label the model does not know, or fewer than two.
    """
    from .answers import answer_among, calibrated
    from .priors import read_calibration

    predictor = load_predictor(path, runtime=runtime)
    if calibrate:
        predictor = calibrated(predictor, read_calibration(resolve_model(path)))
    return answer_among(predictor, labels)


def load_predictor(path: str | os.PathLike | None = None, *, runtime: str | None = None) -> BasePredictor:
    """Load a trained model (a checkpoint folder, a run folder, an ensemble folder or an ONNX
    export folder); ``None`` loads the default bundled one, ``"fast"`` the fast bundled one
    (:data:`BUNDLED_MODELS`; an existing folder of the same name is taken instead).

    ``runtime`` (default ``$ESCUCHA_RUNTIME``, else ``"auto"``) chooses what runs the network:
    ``"onnx"`` runs the export the model folder carries (``MODEL/onnx``, written by
    ``escucha export``) on ONNX Runtime without torch; ``"torch"`` runs the checkpoint on
    torch; ``"auto"`` takes the export when it is there and current (made from the same weights),
    else torch. An export folder itself always runs on ONNX Runtime.

    The folder is untrusted input: its config is checked against
    :mod:`escucha.checkpoint_schema` (:mod:`escucha.runtime.format` for exports) and every
    path it names must stay inside it.

    Raises
    ------
    ModelError
        Naming the file and the problem (missing, bad config field, bad weights; no export for
        ``runtime="onnx"``; torch missing for a model without a current export).
    ConfigError
        An unknown ``runtime``.
    """
    from ..checkpoint import read_checkpoint_config
    from ..runtime.format import EXPORT_DIRNAME, is_export_dir, read_export_config, stale_files
    from ..runtime.sessions import torch_available

    runtime = runtime or os.environ.get("ESCUCHA_RUNTIME") or "auto"
    if runtime not in RUNTIMES:
        raise ConfigError(f"runtime {runtime!r} is unknown; choose one of {', '.join(RUNTIMES)} "
                          "(ESCUCHA_RUNTIME or runtime=)")
    path = resolve_model(path)
    if is_export_dir(path):
        if runtime == "torch":
            raise ModelError(f"{path}: is an ONNX export, which runs on ONNX Runtime only; load its source model "
                             "for the torch runtime")
        from ..runtime.predictor import load_export

        return load_export(path)
    if (path / "UNFINISHED").is_file() and not (path / "checkpoint" / "config.json").is_file():
        # killed before its first checkpoint: say so, not that its run config is no checkpoint
        try:
            how = (path / "UNFINISHED").read_text(errors="replace").strip().splitlines()[-1]
        except (OSError, IndexError):
            how = f"Continue it with: escucha train --resume {path}"
        raise ModelError(f"{path}: unfinished training run without a model yet (it saves one when it finishes). {how}")
    d, cfg = read_checkpoint_config(path)
    warn_if_unfinished(d)
    export = d / EXPORT_DIRNAME
    if runtime != "torch":
        why = None
        if not is_export_dir(export):
            why = f"{d}: has no ONNX export; make one with 'escucha export {d}'"
        else:
            stale = stale_files(read_export_config(export)[1], d)
            if stale:
                why = (f"{export}: was exported from other weights than {d} holds now ({', '.join(stale[:3])} "
                       f"changed); export it again with 'escucha export {d} --force'")
        if why is None:
            from ..runtime.predictor import load_export

            return load_export(export)
        if runtime == "onnx":
            raise ModelError(why)
        if not torch_available():
            raise ModelError(f"{why}, or install torch for the torch runtime: pip install 'escucha[train]'")
        if is_export_dir(export):
            import warnings

            warnings.warn(f"{why}; using the torch runtime meanwhile", stacklevel=2)
    elif not torch_available():
        raise ModelError(f"{d}: the torch runtime needs torch: pip install 'escucha[train]'")
    return (load_torch_ensemble if "ensemble" in cfg else Predictor.from_checkpoint)(d)


def warn_if_unfinished(model_dir: str | os.PathLike) -> bool:
    """Warn (:class:`UserWarning`, one line) when ``model_dir`` belongs to a training run that
    is not finished (killed or still training: its ``UNFINISHED`` marker is in the run folder),
    so its checkpoint is not the final model. Reads only the marker: no training code imported.
    Returns whether it warned."""
    import warnings

    d = Path(model_dir)
    for run in (d, d.parent) if d.name == "checkpoint" else (d,):
        marker = run / "UNFINISHED"
        if marker.is_file():
            try:
                how = marker.read_text(errors="replace").strip().splitlines()[-1]
            except (OSError, IndexError):
                how = "it is not finished; its model is not final"
            warnings.warn(f"{run}: unfinished training run, its checkpoint is not the final model. {how}",
                          stacklevel=3)
            return True
    return False


def make_ensemble(model_dirs: Sequence[str | os.PathLike], out_dir: str | os.PathLike, *,
                  weights: Sequence[float] | None = None, bands: Sequence[str] | None = None,
                  clip_seconds: float = 3.0, force: bool = False):
    """Copy member checkpoints into ``out_dir/member-K`` and write the ensemble ``config.json``.

    The ensemble is built in a hidden sibling folder (``.<name>.new-*``) and renamed into place
    only when complete and loadable, so a failed or interrupted run leaves ``out_dir`` as it was.

    ``out_dir`` may be new or an empty folder. An existing *ensemble* folder (its ``config.json``
    lists the members and it holds nothing but that file and those ``member-K`` checkpoint
    folders) is replaced only with ``force``: the old folder is renamed aside, the new one renamed
    in, and only then is the old one deleted. Any other non-empty folder (a run, a model, the
    user's files) is refused even with ``force``, as is an ``out_dir`` that is, holds or lies
    inside one of the members.

    Raises
    ------
    ConfigError
        Fewer than 2 members, a weight per member that is not a finite number > 0, unknown bands,
        or an ``out_dir`` that may not be written (see above).
    ModelError
        A member that cannot be loaded.
    """
    import math
    import shutil
    import tempfile

    from ..checkpoint import FORMAT, VERSION, resolve_checkpoint_dir
    from ..errors import ConfigError
    from ..utils.io import atomic_write_json, swap_folder

    def _not_an_ensemble_folder(folder: Path) -> str | None:
        """Why ``folder`` is not an ensemble folder this tool made (``None`` when it is one)."""
        import json
        import re

        try:
            cfg = json.loads((folder / "config.json").read_text())
        except FileNotFoundError:
            first = sorted(folder.iterdir())[0]
            return f"not an escucha ensemble folder (no config.json; it holds {first})"
        except (OSError, ValueError):
            return "not an escucha ensemble folder (config.json unreadable)"
        entries = cfg.get("ensemble") if isinstance(cfg, dict) else None
        if not isinstance(entries, list):
            return "not an escucha ensemble folder (its config.json lists no members)"
        names = {e["path"] for e in entries if isinstance(e, dict) and isinstance(e.get("path"), str)}
        for item in sorted(folder.iterdir()):
            if item.name == "config.json":
                continue
            # what escucha itself writes into a model folder: its deployment settings, its export
            if item.name == "calibration.json" and item.is_file() and not item.is_symlink():
                continue
            if item.name == "onnx" and item.is_dir() and not item.is_symlink() and (item / "config.json").is_file():
                continue
            if not (item.name in names and re.fullmatch(r"member-\d+", item.name) and item.is_dir()
                    and not item.is_symlink() and (item / "config.json").is_file()):
                return f"holds {item}, which is not one of its member checkpoints"
        return None

    out = Path(out_dir)
    model_dirs = list(model_dirs)
    weights = list(weights) if weights else [1.0] * len(model_dirs)
    if len(weights) != len(model_dirs) or len(model_dirs) < 2:
        raise ConfigError(f"an ensemble needs >= 2 members and one weight each (got {len(model_dirs)} members, "
                          f"{len(weights)} weights)")
    try:
        weights = [float(w) for w in weights]
    except (TypeError, ValueError):
        raise ConfigError(f"ensemble weights must be numbers, one per member; got {weights}") from None
    if not all(math.isfinite(w) and w > 0 for w in weights):
        raise ConfigError(f"ensemble weights must be finite numbers > 0, one per member; got {weights}")
    bands = list(bands) if bands else ["any"] * len(model_dirs)
    if len(bands) != len(model_dirs) or set(bands) - set(BANDS):
        raise ConfigError(f"bands must be one of {', '.join(BANDS)} per member; got {bands}")
    if not (isinstance(clip_seconds, (int, float)) and math.isfinite(clip_seconds) and clip_seconds > 0):
        raise ConfigError(f"clip_seconds must be a finite number of seconds > 0, got {clip_seconds}")
    srcs = [resolve_checkpoint_dir(p) for p in model_dirs]
    target = out.resolve()
    for p, src in zip(model_dirs, srcs):
        for member in {Path(p).resolve(), src.resolve()}:
            if target == member or target in member.parents or member in target.parents:
                raise ConfigError(f"{out}: is, holds or lies inside the member {p}; write the ensemble to "
                                  "another folder")
    replace = False
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"{out}: exists and is not a folder")
        if any(out.iterdir()):
            if not force:
                raise ConfigError(f"{out}: folder exists and is not empty; pass --force to replace it")
            why = _not_an_ensemble_folder(out)
            if why:
                raise ConfigError(f"{out}: {why}; refusing to replace it even with --force; choose another folder")
            replace = True
    members = [Predictor.from_checkpoint(p) for p in model_dirs]  # validates every member
    # what the ensemble needs of its members, said of the folders given (not of the copy being built)
    for p, m in zip(model_dirs[1:], members[1:]):
        a, b = members[0], m
        if list(b.labels) != list(a.labels):
            raise ConfigError(f"{p}: answers {', '.join(b.labels)}, but {model_dirs[0]} answers "
                              f"{', '.join(a.labels)}; ensemble members must answer the same emotions "
                              "(train them with the same --labels)")
        pa, pb = a.preprocess_config, b.preprocess_config
        if (pb.trim_db, pb.loudness_db) != (pa.trim_db, pa.loudness_db):
            raise ConfigError(f"{p}: prepares audio with trim_db {pb.trim_db} and loudness_db {pb.loudness_db}, but "
                              f"{model_dirs[0]} with {pa.trim_db} and {pa.loudness_db}; ensemble members must "
                              "prepare audio alike (train them with the same --trim-db and loudness)")
    out.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    old = new.with_name(new.name.replace(".new-", ".old-", 1))
    try:
        entries = []
        for i, (src, w) in enumerate(zip(srcs, weights)):
            dst = new / f"member-{i}"
            shutil.copytree(src, dst)
            entries.append({"path": dst.name, "weight": float(w), "band": bands[i],
                            "model": members[i].config["model"]["name"]})
        heard = sorted({s for m in members for s in m.config.get("trained_on", {}).get("speakers", [])})
        cfg = {"format": FORMAT, "version": VERSION, "ensemble": entries, "labels": members[0].labels,
               "clip_seconds": clip_seconds, "trained_on": {"speakers": heard}}
        atomic_write_json(new / "config.json", cfg)
        load_torch_ensemble(new)  # loadable before it replaces anything
        swap_folder(new, out, old=old if replace else None)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return load_torch_ensemble(out)

