"""The ONNX export folder: what ``escucha export`` writes and :mod:`escucha.runtime` reads.

An export folder describes itself, like a checkpoint::

    config.json                  format "escucha.onnx": labels, sample rate, the source model's
                                 config, members (weight, band, front end, graph), front ends
                                 (feature settings, graphs), source digests, parity measured
    member-K.onnx                features (B, C, frames) -> probabilities (B, n_labels)
    frontend-J-encoder.onnx      a learned front end (Whisper encoder layers: log-mel -> pooled
                                 states (B, D, 1); wav2vec2-style: waveform -> states (B, D, frames))
    frontend-J-spectrogram.onnx  the spectral front end (waveform (B, T) -> log-mel / MFCC, or
                                 Whisper's log-mel) for runtimes without escucha; escucha's own
                                 runtime computes the same in numpy (:mod:`escucha.features.spectral`)

``config.json`` fields
----------------------
==================  ===========================================================================
format, version     ``"escucha.onnx"``, 1
labels              the model's labels (as in its checkpoint)
sample_rate         Hz the model takes (the highest member rate for an ensemble)
model               the source checkpoint's ``config.json`` (an ensemble's or a single model's)
members             ``[{"config", "weight", "band", "frontend", "graph"[, "input_affine"]}]``: each
                    member's checkpoint config, its ensemble weight and band (``any``, ``wide``,
                    ``narrow``), the index of its front end, its graph file and, for a member
                    that ``escucha adapt`` changed, a ``.safetensors`` file of ``gain`` and
                    ``shift`` ``(D,)``: the features go into the graph as ``x * gain + shift``
frontends           ``[{"features", "encoder", "spectrogram", "computed_by"}]``: the
                    :class:`~escucha.features.FeatureConfig` fields, graph files (or ``null``),
                    and what computes the features in escucha (``numpy``, ``onnx``, ``opensmile``)
graphs              ``{file: {"precision": "fp32" | "int8-dynamic" | "int8-static", "sha256"}}``
source              ``{"digests": {relative path: sha256}}`` of the source checkpoint's files:
                    an export kept inside its model folder (``MODEL/onnx``) is used only while
                    they still match (``escucha adapt`` or retraining makes it stale)
==================  ===========================================================================

The folder is untrusted input: the config is checked before any graph is read, and every
graph it names must be a ``.onnx`` file inside the folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..errors import ModelError

__all__ = ["EXPORT_FORMAT", "EXPORT_VERSION", "EXPORT_DIRNAME", "PRECISIONS", "is_export_dir", "read_export_config",
           "source_digests", "stale_files", "file_digest", "read_affine", "write_affine"]

EXPORT_FORMAT = "escucha.onnx"
EXPORT_VERSION = 1
#: where a model folder carries its own export
EXPORT_DIRNAME = "onnx"
PRECISIONS = ("fp32", "int8-dynamic", "int8-static")
COMPUTED_BY = ("numpy", "onnx", "opensmile")
MAX_CONFIG_BYTES = 8 << 20


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_export_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder whose ``config.json`` says ``"format": "escucha.onnx"``
    (a cheap look at the file: the full check is :func:`read_export_config`)."""
    f = Path(path) / "config.json"
    try:
        if not f.is_file() or f.stat().st_size > MAX_CONFIG_BYTES:
            return False
        return json.loads(f.read_bytes()).get("format") == EXPORT_FORMAT
    except (OSError, ValueError, AttributeError, UnicodeDecodeError, RecursionError):
        return False


def source_digests(model_dir: str | os.PathLike, cfg: dict) -> dict[str, str]:
    """SHA-256 of every file of the checkpoint folder ``model_dir`` that decides its outputs:
    the configs and weight files (an ensemble's and each member's), by path relative to it."""
    from ..checkpoint import inside

    d = Path(model_dir)
    files = ["config.json"]
    if "ensemble" in cfg:
        for i, m in enumerate(cfg["ensemble"]):
            sub = inside(d, m["path"], field=f"ensemble[{i}].path", source=d / "config.json")
            mcfg = json.loads((sub / "config.json").read_text())
            files += [f"{m['path']}/config.json"] + [f"{m['path']}/{w}" for w in mcfg.get("weights", ["model.safetensors"])]
    else:
        files += list(cfg.get("weights", ["model.safetensors"]))
    return {f: file_digest(d / f) for f in files}


def stale_files(export_cfg: dict, model_dir: str | os.PathLike) -> list[str]:
    """Files of ``model_dir`` that differ from (or are missing since) the export's ``source``."""
    d = Path(model_dir)
    out = []
    for rel, digest in export_cfg.get("source", {}).get("digests", {}).items():
        p = d / rel
        try:
            if file_digest(p) != digest:
                out.append(rel)
        except OSError:
            out.append(rel)
    return out


def _feature_dict(features: dict, *, source) -> dict:
    """Every :class:`~escucha.features.FeatureConfig` field of ``features`` (defaults filled in)."""
    from ..errors import ConfigError
    from ..features.config import FeatureConfig

    try:
        return FeatureConfig.from_dict(features).to_dict()
    except ConfigError as e:
        raise ModelError(f"{source}: {e}") from None


def _fail(source, field: str, value, expected: str):
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    raise ModelError(f"{source}: {field} is {text}; expected {expected}")


def _graph(folder: Path, value, *, field: str, source, graphs: dict, optional: bool = False):
    from ..checkpoint import inside
    from ..checkpoint_schema import check_relative_path

    if value is None and optional:
        return None
    check_relative_path(value, field=field, source=str(source), suffix=".onnx")
    p = inside(folder, value, field=field, source=source)
    if not p.is_file():
        raise ModelError(f"{source}: {field} names {value}, which is missing from the export folder")
    if value not in graphs:
        raise ModelError(f"{source}: {field} {value!r} is not listed in 'graphs'")
    return value


def read_export_config(path: str | os.PathLike) -> tuple[Path, dict]:
    """Read and check an export folder's ``config.json``; returns ``(folder, config)``.

    Raises
    ------
    ModelError
        Naming the file, the field and the problem: not an export, a newer version, labels or
        member configs outside the checkpoint schema, weights or bands out of range, a graph
        missing, not ``.onnx`` or outside the folder.
    """
    from ..checkpoint_schema import validate_config, validate_model_config

    d = Path(path)
    f = d / "config.json"
    if not f.is_file():
        raise ModelError(f"{d}: not an ONNX export (no config.json; make one with 'escucha export MODEL -o {d}')")
    try:
        if f.stat().st_size > MAX_CONFIG_BYTES:
            raise ModelError(f"{f}: too large for an export config (at most {MAX_CONFIG_BYTES} bytes)")
        cfg = json.loads(f.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ModelError(f"{f}: not valid JSON ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    except OSError as e:
        raise ModelError(f"{f}: cannot read ({e.strerror})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != EXPORT_FORMAT:
        got = cfg.get("format") if isinstance(cfg, dict) else type(cfg).__name__
        raise ModelError(f"{f}: not an escucha ONNX export (format is {got!r}; expected {EXPORT_FORMAT!r})")
    version = cfg.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= EXPORT_VERSION:
        if isinstance(version, int) and not isinstance(version, bool) and version > EXPORT_VERSION:
            raise ModelError(f"{f}: export version {version} is newer than this escucha understands "
                             f"({EXPORT_VERSION}); upgrade escucha")
        _fail(f, "version", version, f"an integer from 1 to {EXPORT_VERSION}")
    validate_config(cfg.get("model"), source=f"{f} (model)")
    graphs = cfg.get("graphs")
    if not isinstance(graphs, dict):
        _fail(f, "graphs", graphs, "an object {file: {precision, sha256}}")
    for name, g in graphs.items():
        if not isinstance(g, dict) or g.get("precision") not in PRECISIONS:
            _fail(f, f"graphs[{name!r}].precision", g.get("precision") if isinstance(g, dict) else g,
                  f"one of {', '.join(PRECISIONS)}")
    fronts = cfg.get("frontends")
    if not isinstance(fronts, list) or not 1 <= len(fronts) <= 64:
        _fail(f, "frontends", fronts, "a list of 1 to 64 front ends")
    for j, fe in enumerate(fronts):
        if not isinstance(fe, dict) or not isinstance(fe.get("features"), dict):
            _fail(f, f"frontends[{j}]", fe, "an object with 'features'")
        if fe.get("computed_by") not in COMPUTED_BY:
            _fail(f, f"frontends[{j}].computed_by", fe.get("computed_by"), f"one of {', '.join(COMPUTED_BY)}")
        for key in ("encoder", "spectrogram"):
            _graph(d, fe.get(key), field=f"frontends[{j}].{key}", source=f, graphs=graphs, optional=True)
        if fe["computed_by"] == "onnx" and fe.get("encoder") is None:
            _fail(f, f"frontends[{j}].encoder", None, "an encoder graph (computed_by is 'onnx')")
    members = cfg.get("members")
    if not isinstance(members, list) or not 1 <= len(members) <= 64:
        _fail(f, "members", members, "a list of 1 to 64 members")
    labels = None
    for i, m in enumerate(members):
        if not isinstance(m, dict):
            _fail(f, f"members[{i}]", m, "an object {config, weight, band, frontend, graph}")
        mcfg = validate_model_config(m.get("config"), source=f"{f} (members[{i}].config)")
        labels = labels or mcfg["labels"]
        if mcfg["labels"] != labels:
            raise ModelError(f"{f}: members disagree on labels: {mcfg['labels']} vs {labels}")
        w = m.get("weight", 1.0)
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (0 < w <= 1e6):
            _fail(f, f"members[{i}].weight", w, "a finite number > 0")
        if m.get("band", "any") not in ("any", "wide", "narrow"):
            _fail(f, f"members[{i}].band", m.get("band"), "one of any, wide, narrow")
        k = m.get("frontend")
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(fronts):
            _fail(f, f"members[{i}].frontend", k, f"a front end index from 0 to {len(fronts) - 1}")
        if _feature_dict(fronts[k]["features"], source=f) != _feature_dict(mcfg["features"], source=f):
            raise ModelError(f"{f}: members[{i}] has other feature settings than its front end {k}")
        _graph(d, m.get("graph"), field=f"members[{i}].graph", source=f, graphs=graphs)
        if m.get("input_affine") is not None:
            _affine_path(d, m["input_affine"], field=f"members[{i}].input_affine", source=f)
    if cfg.get("labels") != labels:
        _fail(f, "labels", cfg.get("labels"), f"the members' labels {labels}")
    if "ensemble" not in cfg["model"] and len(members) != 1:
        _fail(f, "members", f"{len(members)} members", "one member for a single model")
    return d, cfg


def _affine_path(folder: Path, value, *, field: str, source) -> Path:
    from ..checkpoint import inside
    from ..checkpoint_schema import check_relative_path

    check_relative_path(value, field=field, source=str(source), suffix=".safetensors")
    p = inside(folder, value, field=field, source=source)
    if not p.is_file():
        raise ModelError(f"{source}: {field} names {value}, which is missing from the export folder")
    return p


def read_affine(folder: str | os.PathLike, name: str | None) -> tuple | None:
    """``(gain, shift)`` float32 ``(D,)`` of a member's ``input_affine`` file, or ``None``.

    Raises
    ------
    ModelError
        The file is not inside the folder, unreadable, or its tensors are missing, of other
        shapes or not finite.
    """
    if name is None:
        return None
    import numpy as np
    from safetensors.numpy import load_file

    p = _affine_path(Path(folder), name, field="input_affine", source=Path(folder) / "config.json")
    try:
        t = load_file(str(p))
    except Exception as e:  # a damaged file: the library's words, one line
        raise ModelError(f"{p}: cannot read ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    gain, shift = t.get("gain"), t.get("shift")
    if gain is None or shift is None or gain.ndim != 1 or gain.shape != shift.shape:
        raise ModelError(f"{p}: expected tensors 'gain' and 'shift' of one shape (D,)")
    if not (np.isfinite(gain).all() and np.isfinite(shift).all()):
        raise ModelError(f"{p}: gain or shift is not finite")
    return gain.astype(np.float32), shift.astype(np.float32)


def write_affine(path: str | os.PathLike, gain, shift) -> None:
    """Write an ``input_affine`` file atomically."""
    import numpy as np
    from safetensors.numpy import save_file

    from ..utils.io import atomic_path

    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file({"gain": np.ascontiguousarray(gain, dtype=np.float32),
                   "shift": np.ascontiguousarray(shift, dtype=np.float32)}, str(tmp))
