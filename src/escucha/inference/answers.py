"""What a predictor answers: the emotions a user cares about (``--labels``).

A model trained on eight emotions can be asked to answer among fewer — say neutral, happy, sad
and angry, the four every corpus has: :class:`LabelSubset` keeps the probabilities of those
labels and renormalises them to sum to one, for every way of predicting (a clip, a file, the
windows of a long call), so that ``predict``, ``analyze``, ``evaluate``, the Python API and the
service answer alike. In our screening, restricting the 8-class model to the four shared
emotions raised held-back corpora's four-emotion UAR from 0.44 to 0.61, as good as training a
4-class model.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ..errors import ConfigError
from ..labels import normalize_label
from .base import BasePredictor

__all__ = ["LabelSubset", "Calibrated", "parse_labels", "answer_among", "calibrated"]


def parse_labels(value: str | Sequence[str] | None) -> list[str] | None:
    """``"neutral,happy, Sad"`` or ``["neutral", "happy"]`` -> escucha labels (synonyms and case
    accepted: ``anger`` is ``angry``); ``None`` or empty -> ``None``.

    Raises
    ------
    ConfigError
        A name that is no emotion (the message lists the accepted ones), or a label twice.
    """
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else [x for v in value for x in str(v).split(",")]
    names = [x.strip() for x in items if x.strip()]
    if not names:
        return None
    out = []
    for n in names:
        try:
            lab = normalize_label(n)
        except Exception:  # CorpusError from the label table: the caller's choice, not a corpus
            from ..labels import _accepted

            raise ConfigError(f"labels: {n!r} is not an emotion label escucha knows; accepted: {_accepted()} "
                              "and common synonyms (anger, fear, joy, ...)") from None
        if lab in out:
            raise ConfigError(f"labels: {lab!r} is given twice")
        out.append(lab)
    return out


class _Answers(BasePredictor):
    """A predictor whose probabilities pass through :meth:`_post` on every way of predicting
    (a clip, a file, the windows of a long call); everything else is the wrapped predictor's."""

    def __getattr__(self, name):  # everything not overridden here is the wrapped predictor's
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, state):
        self.__dict__.update(state)

    def _post(self, p: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_proba_waveforms(self, waves, *, batch_size: int = 64) -> np.ndarray:
        return self._post(self.inner.predict_proba_waveforms(waves, batch_size=batch_size))

    def predict_windows(self, windows: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
        return self._post(self.inner.predict_windows(windows, batch_size=batch_size))

    def whole_features(self, waves):
        return self.inner.whole_features(waves)

    def proba_from_features(self, feats) -> np.ndarray:
        return self._post(self.inner.proba_from_features(feats))

    def set_num_threads(self, n: int) -> None:
        self.inner.set_num_threads(n)


class Calibrated(_Answers):
    """``predictor`` answering as its deployment settings say (``config.json``'s
    ``"calibration"``, :class:`~escucha.inference.priors.Calibration`): probabilities softened by
    the temperature fitted on unseen corpora and re-weighted for the share of each emotion
    expected where the model is used (mostly neutral speech), and :attr:`uncertain_below`, under
    which a top probability flags the answer ``uncertain``."""

    def __init__(self, predictor: BasePredictor, calibration):
        self.inner = predictor
        self.calibration = calibration
        self.labels = list(predictor.labels)
        self._prior = calibration.prior_vector(self.labels)
        self.uncertain_below = calibration.uncertain_below
        self.config = {**predictor.config, "calibration": {**calibration.to_dict(), "applied": True}}
        self.runtime = predictor.runtime

    def baseline_reference(self, labels, band: str | None) -> np.ndarray | None:
        """The reference of :func:`escucha.inference.baseline.speaker_shift` for ``labels``
        (these answers' labels, maybe a subset of the model's) on input of ``band``, in the
        answers' space (the deployment prior included); ``None`` without one."""
        b = self.calibration.baseline
        if not b:
            return None
        refs = b["reference"]
        ref = refs.get(band or "any") or refs.get("any") or refs.get("wide")
        if ref is None or any(lab not in ref for lab in labels):
            return None
        prior = dict(zip(self.labels, self._prior))
        return np.array([ref[lab] + np.log(prior[lab]) for lab in labels])

    def _post(self, p: np.ndarray) -> np.ndarray:
        from .priors import apply_temperature, shift_priors

        q = apply_temperature(np.asarray(p, dtype=np.float64), self.calibration.temperature)
        return shift_priors(q, self._prior).astype(np.float32)


def calibrated(predictor: BasePredictor, calibration=None) -> BasePredictor:
    """``predictor`` answering with ``calibration`` (a
    :class:`~escucha.inference.priors.Calibration`; see :func:`~escucha.inference.priors.read_calibration`),
    or itself when there is none."""
    if calibration is None or calibration.identity:
        return predictor
    return Calibrated(predictor, calibration)


class LabelSubset(_Answers):
    """``predictor`` answering among ``labels`` only (probabilities renormalised over them).

    Everything else — gate, windows, long inputs, ensembles and their band routing, the runtime —
    is the wrapped predictor's; :attr:`labels` are the kept ones in the model's order.

    Raises
    ------
    ConfigError
        Fewer than two labels, or a label the model does not know (the message lists its labels).
    """

    def __init__(self, predictor: BasePredictor, labels: Iterable[str]):
        labels = list(labels)
        known = list(predictor.labels)
        unknown = [lab for lab in labels if lab not in known]
        if unknown:
            raise ConfigError(f"labels: the model does not answer {', '.join(map(repr, unknown))}; "
                              f"its labels are {', '.join(known)}")
        if len(set(labels)) < 2:
            raise ConfigError(f"labels: give at least two labels to choose between, got {', '.join(labels)}")
        self.inner = predictor
        keep = [lab for lab in known if lab in set(labels)]
        self._idx = np.array([known.index(lab) for lab in keep])
        self.labels = keep
        self.config = {**predictor.config, "labels": keep, "answer_labels": {"of": known, "kept": keep}}
        self.runtime = predictor.runtime
        self.uncertain_below = getattr(predictor, "uncertain_below", 0.0)

    def _keep(self, p: np.ndarray) -> np.ndarray:
        q = np.asarray(p, dtype=np.float64)[..., self._idx]
        total = q.sum(axis=-1, keepdims=True)
        # a model sure of a label outside the kept ones still answers among them, evenly if it
        # gives them nothing at all
        q = np.where(total > 1e-30, q / np.maximum(total, 1e-30), 1.0 / len(self._idx))
        return q.astype(np.float32)

    _post = _keep


def answer_among(predictor: BasePredictor, labels: str | Sequence[str] | None) -> BasePredictor:
    """``predictor`` restricted to ``labels`` (:func:`parse_labels`), or itself when ``None``."""
    labels = parse_labels(labels)
    return predictor if labels is None else LabelSubset(predictor, labels)
