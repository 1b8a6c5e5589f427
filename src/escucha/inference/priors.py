"""What a deployment looks like: calibrated probabilities, the class priors of the recordings
being scored, and answers not worth acting on.

A model trained class-balanced answers as if every emotion were equally common. Conversation is
mostly neutral; a batch of complaints is mostly angry. Three corrections, each measured
leave-one-corpus-out (``benchmarks/calibration.py``, ``docs/calibration.md``):

1. **Temperature** (Guo et al. 2017): ``p ∝ p_model ** (1 / T)``, one ``T`` fitted on out-of-fold
   answers for corpora the model never saw, so that "0.8" means right about 80 % of the time
   there.
2. **Priors of the recordings** (Saerens, Latinne & Decaestecker 2002): the posteriors of a
   balanced model are re-weighted by ``prior / training prior``, where ``prior`` is estimated
   from the recordings themselves by expectation-maximisation — without labels. Bounded: the
   estimate is a maximum a posteriori one with a Dirichlet pull of ``strength`` pseudo-turns
   towards the model's deployment prior, so a handful of turns move it a little, a long call or
   a folder a lot, and no emotion's prior leaves ``[start / ratio, start * ratio]``. A genuinely
   angry batch stays angry (its estimated angry prior rises); a neutral agent's channel stops
   collecting false alarms.
3. **Uncertain**: an answer whose top probability (after 1 and 2) is below ``uncertain_below``
   is flagged ``uncertain``; the label stays the best guess, and summaries count such speech
   apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError

__all__ = ["Calibration", "read_calibration", "write_calibration", "CALIBRATION_FILE", "apply_temperature", "shift_priors", "em_priors", "fit_temperature",
           "expected_calibration_error"]


#: the file beside a model's ``config.json`` that holds its deployment settings (kept apart from
#: the weights, so refitting it leaves the model's ONNX export current)
CALIBRATION_FILE = "calibration.json"


@dataclass
class Calibration:
    """A model's deployment settings (``calibration.json`` beside its ``config.json``).

    Attributes
    ----------
    temperature : float
        Divides log-probabilities (``> 1`` softens overconfident answers).
    prior : dict or None
        Expected share of each label where the model is used (``None``: the training prior, i.e.
        no shift). Labels it does not name share what the named ones leave.
    em_strength : float
        Pseudo-count of turns pulling an estimated prior towards ``prior`` (0: no estimation).
    em_ratio : float
        No estimated prior leaves ``[prior / em_ratio, prior * em_ratio]``.
    uncertain_below : float
        A top probability below this flags the answer ``uncertain`` (0: never).
    source : str
        How the numbers were chosen (shown in ``escucha models``).
    baseline : dict or None
        Each speaker of a call heard against their own neutral voice
        (:mod:`escucha.inference.baseline`): ``{"strength": 4.0, "iterations": 3, "reference":
        {band: {label: log-probability}}}``, the reference per input band (``"wide"``,
        ``"narrow"``; ``"any"`` for a model of one band) before the prior; ``None``: none.
    """

    temperature: float = 1.0
    prior: dict[str, float] | None = None
    em_strength: float = 0.0
    em_ratio: float = 4.0
    uncertain_below: float = 0.0
    source: str = ""
    extra: dict = field(default_factory=dict)
    baseline: dict | None = None

    @classmethod
    def from_dict(cls, d: dict | None) -> "Calibration":
        if not d:
            return cls()
        try:
            c = cls(temperature=float(d.get("temperature", 1.0)), prior=d.get("prior"),
                    em_strength=float(d.get("em_strength", 0.0)), em_ratio=float(d.get("em_ratio", 4.0)),
                    uncertain_below=float(d.get("uncertain_below", 0.0)), source=str(d.get("source", "")),
                    baseline=_baseline_settings(d.get("baseline")))
        except (TypeError, ValueError, AttributeError) as e:
            raise ConfigError(f"calibration settings are not numbers: {e}") from None
        if not c.temperature > 0:
            raise ConfigError(f"calibration temperature must be > 0, got {c.temperature}")
        if c.em_ratio < 1:
            raise ConfigError(f"calibration em_ratio must be >= 1, got {c.em_ratio}")
        return c

    def to_dict(self) -> dict:
        d = {"temperature": self.temperature, "prior": self.prior, "em_strength": self.em_strength,
             "em_ratio": self.em_ratio, "uncertain_below": self.uncertain_below}
        if self.source:
            d["source"] = self.source
        if self.baseline:
            d["baseline"] = self.baseline
        return d

    @property
    def identity(self) -> bool:
        return (self.temperature == 1.0 and not self.prior and not self.em_strength and not self.uncertain_below
                and not self.baseline)

    def prior_vector(self, labels) -> np.ndarray:
        """The deployment prior over ``labels`` (uniform without one), summing to one: labels
        the prior does not name share what the named ones leave (e.g. ``{"neutral": 0.35}``:
        0.65 shared by the others)."""
        if not self.prior:
            return np.full(len(labels), 1.0 / len(labels))
        named = {lab: float(self.prior[lab]) for lab in labels if lab in self.prior}
        rest = [lab for lab in labels if lab not in named]
        left = 1.0 - sum(named.values())
        fill = left / len(rest) if rest and left > 0 else (min(named.values()) if named else 1.0)
        v = np.array([named.get(lab, fill) for lab in labels])
        if not np.all(v > 0):
            raise ConfigError(f"calibration prior must be positive for every label, got {self.prior}")
        return v / v.sum()


def _baseline_settings(b) -> dict | None:
    """``calibration.json``'s ``"baseline"``, checked: numbers where numbers belong."""
    if not b:
        return None
    if not isinstance(b, dict) or not isinstance(b.get("reference"), dict):
        raise ConfigError(f"calibration baseline needs a reference per band ({{\"reference\": {{\"wide\": "
                          f"{{label: value}}}}}}), got {b!r}")
    out = {"strength": float(b.get("strength", 4.0)), "iterations": int(b.get("iterations", 3)),
           "reference": {str(band): {str(lab): float(v) for lab, v in ref.items()}
                         for band, ref in b["reference"].items()}}
    if not out["strength"] > 0 or out["iterations"] < 1:
        raise ConfigError(f"calibration baseline needs strength > 0 and iterations >= 1, got {b}")
    return out


def read_calibration(model_dir) -> "Calibration | None":
    """The deployment settings in ``model_dir/calibration.json`` (for an ONNX export folder, its
    model's), or ``None`` without one.

    Raises
    ------
    ConfigError
        The file is not JSON or holds settings out of range (naming the file).
    """
    import json
    from pathlib import Path

    d = Path(model_dir)
    for f in (d / CALIBRATION_FILE, d.parent / CALIBRATION_FILE if d.name == "onnx" else None):
        if f is not None and f.is_file():
            try:
                return Calibration.from_dict(json.loads(f.read_text()))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise ConfigError(f"{f}: not a calibration file ({e})") from None
            except ConfigError as e:
                raise ConfigError(f"{f}: {e}") from None
    return None


def write_calibration(model_dir, calibration: "Calibration") -> None:
    """Write ``calibration`` to ``model_dir/calibration.json`` (atomically)."""
    import json
    from pathlib import Path

    from ..utils.io import atomic_write_text

    atomic_write_text(Path(model_dir) / CALIBRATION_FILE, json.dumps(calibration.to_dict(), indent=2) + "\n")


def _normalise(p: np.ndarray) -> np.ndarray:
    s = p.sum(axis=-1, keepdims=True)
    return np.where(s > 0, p / np.where(s > 0, s, 1), 1.0 / p.shape[-1])


def apply_temperature(p: np.ndarray, temperature: float) -> np.ndarray:
    """``p ** (1 / T)`` renormalised, over the last axis (zeros stay zero)."""
    p = np.asarray(p, dtype=np.float64)
    if temperature == 1.0:
        return p
    with np.errstate(divide="ignore"):
        logp = np.log(np.clip(p, 0, None)) / temperature
    logp -= np.max(np.where(np.isfinite(logp), logp, -np.inf), axis=-1, keepdims=True)
    return _normalise(np.exp(logp))


def shift_priors(p: np.ndarray, new: np.ndarray, old: np.ndarray | None = None) -> np.ndarray:
    """Posteriors under class prior ``old`` (default uniform) re-weighted for prior ``new``."""
    p = np.asarray(p, dtype=np.float64)
    old = np.full(p.shape[-1], 1.0 / p.shape[-1]) if old is None else np.asarray(old, dtype=np.float64)
    return _normalise(p * (np.asarray(new, dtype=np.float64) / old))


def em_priors(p: np.ndarray, start: np.ndarray, *, strength: float, ratio: float = 4.0, weights=None,
              old: np.ndarray | None = None, only: int | None = None, max_iter: int = 100,
              tol: float = 1e-6) -> np.ndarray:
    """The class prior of the recordings behind posteriors ``p`` ``(N, K)`` (given under prior
    ``old``, default uniform), by EM (Saerens et al. 2002) with a Dirichlet pull of ``strength``
    pseudo-observations towards ``start`` and each re-estimated share kept within
    ``[start / ratio, start * ratio]``.

    ``only``: re-estimate that one class's share (e.g. neutral) and keep the others in
    ``start``'s proportions — one number to learn from a few turns instead of ``K - 1``, which
    keeps a classifier's off-corpus confusions from feeding on themselves. ``weights`` ``(N,)``:
    how much each row counts (e.g. seconds of speech; normalised to ``N`` in total).
    Returns the prior ``(K,)``; apply it with :func:`shift_priors` (``old`` as given)."""
    p = np.asarray(p, dtype=np.float64)
    start = np.asarray(start, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0 or not strength > 0:
        return start
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w * (len(p) / max(w.sum(), 1e-12))
    lo, hi = start / ratio, np.minimum(start * ratio, 1.0)
    prior = start.copy()
    for _ in range(max_iter):
        post = shift_priors(p, prior, old)
        new = ((w[:, None] * post).sum(0) + strength * start) / (w.sum() + strength)
        if only is not None:
            q = float(np.clip(new[only], lo[only], min(hi[only], 0.99)))
            rest = np.delete(np.arange(len(start)), only)
            new = start.copy()
            new[rest] = start[rest] / start[rest].sum() * (1 - q)
            new[only] = q
        else:
            new = np.clip(new, lo, hi)
            new /= new.sum()
        if np.abs(new - prior).max() < tol:
            return new
        prior = new
    return prior


def fit_temperature(p: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of labels ``y`` under ``p``
    ``(N, K)`` (a log grid from 0.25 to 8, then refined)."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y)

    def nll(t):
        q = apply_temperature(p, t)
        return -float(np.mean(np.log(np.clip(q[np.arange(len(y)), y], 1e-12, None))))

    grid = np.exp(np.linspace(np.log(0.25), np.log(8), 61))
    best = grid[int(np.argmin([nll(t) for t in grid]))]
    fine = best * np.exp(np.linspace(-0.06, 0.06, 25))
    return float(fine[int(np.argmin([nll(t) for t in fine]))])


def expected_calibration_error(p: np.ndarray, y: np.ndarray, *, bins: int = 10) -> tuple[float, list[dict]]:
    """ECE of the top answer (equal-width confidence bins) and the bins of a reliability diagram:
    ``[{"lo", "hi", "n", "confidence", "accuracy"}]``."""
    p = np.asarray(p, dtype=np.float64)
    conf, pred = p.max(1), p.argmax(1)
    ok = pred == np.asarray(y)
    edges = np.linspace(0, 1, bins + 1)
    rows, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(conf[m].mean() - ok[m].mean())
            rows.append({"lo": float(lo), "hi": float(hi), "n": int(m.sum()), "confidence": float(conf[m].mean()),
                         "accuracy": float(ok[m].mean())})
    return float(ece), rows
