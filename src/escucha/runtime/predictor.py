"""The ONNX Runtime predictor: an exported model run with numpy and onnxruntime, without torch.

:func:`load_export` reads an export folder (:mod:`escucha.runtime.format`) and gives the same
predictor interface as the torch runtime (:class:`escucha.inference.base.BasePredictor`):
single models as :class:`OnnxPredictor`, ensembles as
:class:`~escucha.inference.base.EnsemblePredictor` of them, with the same band routing and
the same shared front end. Features are computed as the torch front end computes them:
spectral ones in numpy (:mod:`escucha.features.spectral`), Whisper's and other learned encoders
by their graphs, eGeMAPS by openSMILE.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import ModelError
from ..inference.base import BasePredictor, EnsemblePredictor
from .format import read_affine, read_export_config
from .sessions import session

__all__ = ["OnnxPredictor", "load_export"]


class OnnxPredictor(BasePredictor):
    """One exported model: its front end, then its graph (features -> probabilities).

    Parameters
    ----------
    folder : path
        The export folder.
    member : dict
        Its ``members[k]`` entry (``config``, ``graph``).
    frontend : dict
        Its ``frontends[j]`` entry (``features``, ``encoder``, ``computed_by``).
    graphs : dict
        The export's ``graphs`` table (precision of each file).
    """

    runtime = "onnx"

    def __init__(self, folder: str | os.PathLike, member: dict, frontend: dict, graphs: dict):
        self._configure(member["config"])
        self.folder = Path(folder)
        self.graph = member["graph"]
        self.encoder = frontend.get("encoder")
        self.computed_by = frontend["computed_by"]
        self.precision = {g: graphs[g]["precision"] for g in (self.graph, self.encoder) if g}
        self.models: list = []  # no torch modules
        self.affine = read_affine(self.folder, member.get("input_affine"))
        self._threads: int | None = None
        self._smile = None
        for g in self.precision:  # fail at load, not at the first prediction
            self._session(g)

    def __getstate__(self):  # sessions are not picklable; a worker makes its own
        state = dict(self.__dict__)
        state["_smile"] = None
        return state

    def _session(self, graph: str):
        return session(self.folder / graph, self._threads)

    def _run(self, graph: str, x: np.ndarray) -> np.ndarray:
        s = self._session(graph)
        return s.run(None, {s.get_inputs()[0].name: np.ascontiguousarray(x, dtype=np.float32)})[0]

    def set_num_threads(self, n: int) -> None:
        self._threads = max(1, int(n))

    # -- features ----------------------------------------------------------------------------
    def features(self, wav: np.ndarray) -> np.ndarray:
        """Front-end features ``(B, C, frames)`` of waveforms ``(B, T)`` at :attr:`sample_rate`
        (what :class:`escucha.features.FeatureExtractor` gives the torch model)."""
        from ..features.spectral import loudest_window, spectral_features, whisper_log_mel

        c = self.feature_config
        wav = np.ascontiguousarray(wav, dtype=np.float32)
        if c.kind == "whisper":
            if c.max_seconds:
                wav = loudest_window(wav, int(round(c.max_seconds * self.sample_rate)))
            return self._run(self.encoder, whisper_log_mel(wav))
        if c.kind == "encoder":
            return self._run(self.encoder, wav)
        if c.kind == "egemaps":
            return self._egemaps(wav)
        return spectral_features(wav, c)

    def _egemaps(self, wav: np.ndarray) -> np.ndarray:
        from ..features.smile import egemaps_functionals, make_smile

        if self._smile is None:
            self._smile = make_smile()
        return egemaps_functionals(self._smile, wav, self.sample_rate)

    # -- the BasePredictor computations ------------------------------------------------------
    def _head(self, feats: np.ndarray) -> np.ndarray:
        """The member graph on front-end features; an adapted export first moves the features by
        its ``input_affine`` (``x * gain + shift``: the graph's own standardisation then uses the
        adapted statistics, see :mod:`escucha.inference.adapt`)."""
        self._observe(feats)
        if self.affine is not None:
            gain, shift = self.affine
            shape = feats.shape
            feats = (feats.reshape(shape[0], -1) * gain + shift).reshape(shape).astype(np.float32)
        return self._run(self.graph, feats)

    def predict_windows(self, windows: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
        """Probabilities ``(W, n_classes)`` for preprocessed windows ``(W, clip_samples)``."""
        out = [self._head(self.features(windows[i:i + batch_size]))
               for i in range(0, len(windows), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), dtype=np.float32)

    def whole_features(self, waves: Iterable[np.ndarray]) -> list[np.ndarray]:
        """Features ``(1, C, frames)`` of each whole waveform (models without windows)."""
        return [self.features(np.asarray(y, dtype=np.float32)[None]) for y in waves]

    def proba_from_features(self, feats: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, n_classes)`` for features from :meth:`whole_features` (same shapes run as one batch)."""
        if not len(feats):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        if len({tuple(f.shape[1:]) for f in feats}) == 1:
            return self._head(np.concatenate(list(feats)))
        return np.concatenate([self._head(f) for f in feats])


def load_export(path: str | os.PathLike) -> BasePredictor:
    """Load an ONNX export folder: an :class:`OnnxPredictor`, or an ensemble of them.

    Raises
    ------
    ModelError
        The folder is not an export, its config is outside the format
        (:func:`escucha.runtime.format.read_export_config`), or a graph cannot be loaded.
    """
    d, cfg = read_export_config(path)
    fronts = cfg["frontends"]
    members = [OnnxPredictor(d, m, fronts[m["frontend"]], cfg["graphs"]) for m in cfg["members"]]
    model = cfg["model"]
    if "ensemble" not in model:
        return members[0]
    if len(model["ensemble"]) != len(members):
        raise ModelError(f"{d / 'config.json'}: {len(members)} members but the model lists "
                         f"{len(model['ensemble'])}")
    return EnsemblePredictor.from_members(members, model, source=d / "config.json")
