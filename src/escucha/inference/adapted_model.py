"""Writing an adapted model: new ``mean``/``scale`` in a member's weights, and the model's ONNX
export carried along by an input affine (:mod:`escucha.inference.adapt`). numpy and safetensors
only: no torch."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..errors import ModelError

__all__ = ["write_member", "adapt_export"]


def write_member(src_cfg: dict, folder: Path, stats: list[tuple[np.ndarray, np.ndarray]], record: dict) -> None:
    """Rewrite the weight files of one member with new ``mean``/``scale`` (numpy and safetensors:
    no torch); its config gets ``record``."""
    from safetensors.numpy import load_file, save_file

    from ..checkpoint import FORMAT
    from ..checkpoint_schema import validate_model_config
    from ..utils.io import atomic_path, atomic_write_json

    cfg = {**src_cfg, "adapted": record}
    validate_model_config(cfg, source=str(folder / "config.json"))
    for wf, (mean, scale) in zip(cfg.get("weights", ["model.safetensors"]), stats):
        state = load_file(str(folder / wf))
        state["mean"] = np.ascontiguousarray(mean, dtype=state["mean"].dtype)
        state["scale"] = np.ascontiguousarray(scale, dtype=state["scale"].dtype)
        if not (np.isfinite(state["mean"]).all() and np.isfinite(state["scale"]).all()):
            raise ModelError(f"{folder / wf}: adapted statistics are not finite; nothing was written")
        with atomic_path(folder / wf, suffix=".safetensors") as tmp:
            save_file(state, str(tmp), metadata={"format": FORMAT})
    atomic_write_json(folder / "config.json", cfg)


def adapt_export(model_dir: Path, changes: dict[int, tuple]) -> bool:
    """Carry the adaptation into the model folder's ONNX export (``MODEL/onnx``) without
    re-exporting: each changed member's features go into its unchanged graph as
    ``x * gain + shift`` with ``gain = s_graph / s_new`` and ``shift = m_graph - m_new * gain``, so
    that the graph's own standardisation ``(x' - m_graph) / s_graph`` is ``(x - m_new) / s_new``.
    ``changes`` maps a member index to ``(old stats, new stats)`` (one pair per weight file).
    The export's member configs, model config and source digests then describe the adapted
    folder, so it stays current. Returns False (and removes the export) for a member with
    several weight files, which one graph averages: ``escucha export`` makes that one anew."""
    from ..checkpoint import read_checkpoint_config
    from ..runtime.format import (EXPORT_DIRNAME, is_export_dir, read_affine, read_export_config, source_digests,
                                  write_affine)
    from ..utils.io import atomic_write_json

    export = model_dir / EXPORT_DIRNAME
    if not is_export_dir(export):
        return False
    d, cfg = read_export_config(export)
    if any(len(old) != 1 for old, _ in changes.values()):
        shutil.rmtree(export)
        return False
    _, top = read_checkpoint_config(model_dir)
    member_paths = [m["path"] for m in top["ensemble"]] if "ensemble" in top else ["."]
    for k, (old, new) in changes.items():
        (m_prev, s_prev), (m_new, s_new) = old[0], new[0]
        m = cfg["members"][k]
        # the graph's statistics: the previous ones, seen through the previous affine if any
        prev = read_affine(d, m.get("input_affine"))
        g0, b0 = (prev if prev is not None else (np.ones_like(m_prev), np.zeros_like(m_prev)))
        g0, b0 = np.asarray(g0, np.float64), np.asarray(b0, np.float64)
        s_graph, m_graph = g0 * s_prev, b0 + g0 * m_prev
        gain = s_graph / s_new
        name = f"member-{k}-input-affine.safetensors"
        write_affine(d / name, gain, m_graph - m_new * gain)
        m["input_affine"] = name
    for k, m in enumerate(cfg["members"]):
        m["config"] = read_checkpoint_config(model_dir / member_paths[k])[1]
    cfg["model"] = top
    cfg["source"] = {**cfg.get("source", {}), "digests": source_digests(model_dir, top)}
    atomic_write_json(d / "config.json", cfg)
    return True
