"""The Predictor: checkpoint in, emotion probabilities out.

A clip shorter than the model's clip length is centre-padded; a longer one is cut into windows
of that length (hop: half a window, the last one aligned to the end) whose probabilities are
averaged. Ensembles average the probabilities of their members.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from ..audio import load_audio, resample, to_mono, valid_audio
from ..data.waveforms import PreprocessConfig, preprocess
from ..errors import AudioError, EscuchaError, ModelError
from ..features import FeatureConfig, FeatureExtractor

__all__ = ["Prediction", "Predictor", "load_model", "bundled_model_dir", "clip_windows"]


@dataclass
class Prediction:
    """Result for one input: the most probable ``label`` and all class ``probabilities``."""

    label: str
    probabilities: dict[str, float]
    file: str | None = None

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]

    def to_dict(self) -> dict:
        return {"file": self.file, "label": self.label,
                "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()}}


def clip_windows(y: np.ndarray, length: int, *, hop: int | None = None) -> np.ndarray:
    """Cut ``y`` ``(T,)`` into windows ``(W, length)``: centre-padded if short, else windows every
    ``hop`` samples (default ``length // 2``) with the last one ending at the end of ``y``."""
    n = y.shape[-1]
    if n <= length:
        off = (length - n) // 2
        out = np.zeros((1, length), dtype=np.float32)
        out[0, off:off + n] = y
        return out
    hop = hop or max(1, length // 2)
    starts = list(range(0, n - length + 1, hop))
    if starts[-1] != n - length:
        starts.append(n - length)
    return np.stack([y[s:s + length] for s in starts]).astype(np.float32, copy=False)


def bundled_model_dir() -> Path:
    """Folder of the model shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "assets" / "model"


class Predictor:
    """Emotion probabilities from audio, for one checkpoint (single model or ensemble)."""

    def __init__(self, models: Sequence[torch.nn.Module], config: dict):
        self.models = list(models)
        self.config = config
        self.labels: list[str] = list(config["labels"])
        self.feature_config = FeatureConfig.from_dict(config["features"])
        self.preprocess_config = PreprocessConfig.from_dict(config.get("preprocess", {}))
        self.preprocess_config.sample_rate = self.feature_config.sample_rate
        self.sample_rate = self.feature_config.sample_rate
        clip = config.get("clip_seconds")
        # None: the model takes each input whole (e.g. utterance-level functionals), no windows
        self.clip_samples = None if clip is None else int(round(clip * self.sample_rate))
        self.frontend = FeatureExtractor(self.feature_config).eval()
        for m in self.models:
            m.eval()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> "Predictor":
        from ..train.checkpoint import load_checkpoint

        models, cfg = load_checkpoint(path)
        return cls(models, cfg)

    # -- core ------------------------------------------------------------------------------
    @torch.inference_mode()
    def predict_windows(self, windows: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
        """Probabilities ``(W, n_classes)`` for preprocessed windows ``(W, clip_samples)``."""
        out = []
        for i in range(0, len(windows), batch_size):
            x = self.frontend(torch.from_numpy(np.ascontiguousarray(windows[i:i + batch_size])))
            p = sum(torch.softmax(m(x), dim=-1) for m in self.models) / len(self.models)
            out.append(p.numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), dtype=np.float32)

    def predict_proba_waveforms(self, waves: Iterable[np.ndarray], *, batch_size: int = 64) -> np.ndarray:
        """``(N, n_classes)`` for preprocessed mono waveforms at :attr:`sample_rate` (any lengths)."""
        if self.clip_samples is None:
            out = [self.predict_windows(np.asarray(y, dtype=np.float32)[None])[0] for y in waves]
            return np.stack(out) if out else np.zeros((0, len(self.labels)), dtype=np.float32)
        wins, owner = [], []
        for i, y in enumerate(waves):
            w = clip_windows(y, self.clip_samples)
            wins.append(w)
            owner += [i] * len(w)
        if not wins:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        probs = self.predict_windows(np.concatenate(wins), batch_size=batch_size)
        owner = np.asarray(owner)
        n = owner.max() + 1
        out = np.zeros((n, probs.shape[1]), dtype=np.float64)
        np.add.at(out, owner, probs)
        out /= np.bincount(owner, minlength=n)[:, None]
        return out.astype(np.float32)

    def prepare(self, y: np.ndarray, sample_rate: int, *, name: str = "audio") -> np.ndarray:
        """Mono, resampled, preprocessed float32 signal ready for :meth:`predict_proba_waveforms`."""
        y = np.asarray(y)
        if np.issubdtype(y.dtype, np.integer):
            y = y.astype(np.float32) / float(np.iinfo(y.dtype).max)
        y = valid_audio(y.astype(np.float32, copy=False), name=name)
        if y.ndim == 2:
            # accept (C, T) or (T, C): channels is the short axis
            y = to_mono(y if y.shape[0] <= y.shape[1] else y.T)
        y = resample(y, int(sample_rate), self.sample_rate)
        return preprocess(y, self.sample_rate, self.preprocess_config, name=name)

    def load(self, path: str | os.PathLike) -> np.ndarray:
        y, _ = load_audio(path, sample_rate=self.sample_rate)
        return preprocess(y, self.sample_rate, self.preprocess_config, name=str(path))

    def _to_prediction(self, p: np.ndarray, file: str | None) -> Prediction:
        probs = {lab: float(v) for lab, v in zip(self.labels, p)}
        return Prediction(label=self.labels[int(np.argmax(p))], probabilities=probs, file=file)

    # -- public API --------------------------------------------------------------------------
    def predict(self, x, sample_rate: int | None = None) -> Prediction:
        """Predict one input: a path, or an array ``(T,)``/``(C, T)`` with its ``sample_rate``."""
        if isinstance(x, (str, os.PathLike)):
            y, file = self.load(x), str(x)
        else:
            if sample_rate is None:
                raise AudioError("array input needs sample_rate= (Hz)")
            y, file = self.prepare(x, sample_rate), None
        return self._to_prediction(self.predict_proba_waveforms([y])[0], file)

    def predict_files(self, paths: Iterable[str | os.PathLike], *, show_progress: bool = False
                      ) -> tuple[list[Prediction], list[tuple[str, str]]]:
        """Predict many files; a bad file is recorded in ``errors`` ``[(file, message)]`` and skipped."""
        from ..utils.progress import progress

        preds, errors = [], []
        paths = list(paths)
        for p in progress(paths, desc="predicting", unit="file", disable=not show_progress or None):
            try:
                preds.append(self.predict(p))
            except EscuchaError as e:
                errors.append((str(p), str(e)))
        return preds, errors


def load_model(path: str | os.PathLike | None = None) -> Predictor:
    """Load a trained model (a checkpoint folder or run folder); ``None`` loads the bundled one."""
    if path is None:
        path = bundled_model_dir()
        if not (path / "config.json").is_file():
            raise ModelError(f"{path}: no bundled model in this installation; pass --model RUN_DIR")
    return Predictor.from_checkpoint(path)
