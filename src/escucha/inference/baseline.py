"""Each speaker of a call heard against their own neutral voice.

How one person sounds when calm differs from how another does more than emotions differ from each
other; a model trained on other voices hears some people as always a little sad, others as always
a little happy. Within a call there is more to go on than one turn: a speaker's other turns. The
*baseline* re-weights the classes of one speaker's answers so that the turns heard as neutral sit
where the model puts neutral speech of voices it never heard (Busso et al. 2013's iterative
feature normalisation, at the level of the answers: the regression is linear, so moving a
speaker's features moves their log-probabilities by one vector for all their turns).

- ``reference`` (per input band, from ``calibration.json``'s ``"baseline"``): the mean
  log-probability (after the temperature, before the deployment prior) of neutral clips of
  corpora the model was not trained on (the out-of-fold answers the calibration was fitted on).
- The speaker's *neutral centre*: the mean log-probability of their segments, each weighted by
  its neutral probability; re-estimated ``iterations`` times as the answers move.
- The shift is ``n / (n + strength)`` of the way from the centre to the reference, where ``n`` is
  the speaker's neutral weight (segments heard as neutral): a speaker heard for two turns moves
  little.

Measured in ``benchmarks/speaker_baseline.py`` (simulated calls) and ``benchmarks/calls.py``
(``docs/calls.md``): on calls from unseen corpora it halves a neutral agent's false alarms, but a
speaker angry throughout still has enough neutral weight in ``analyze``'s segments to be taken
for calm, and is heard as angry far less often. Hence ``analyze --baseline`` is opt-in. No variant
can fix that from one speaker's answers alone: on the Korean and Polish corpora, anger moves the
answers by less than two standard deviations of how differently speakers sound when calm
(``benchmarks/speaker_baseline.py --spread``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["speaker_shift", "reweight", "neutral_reference"]


def reweight(p: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Probabilities ``p`` (``(..., K)``) re-weighted by ``exp(shift)`` and renormalised; a zero
    stays zero."""
    q = np.asarray(p, dtype=np.float64) * np.exp(shift - np.max(shift))
    s = q.sum(axis=-1, keepdims=True)
    return np.where(s > 0, q / np.where(s > 0, s, 1.0), p).astype(np.float32)


def speaker_shift(p: np.ndarray, reference: np.ndarray, *, neutral: int, strength: float = 4.0,
                  iterations: int = 3) -> np.ndarray:
    """The log-weight vector that moves one speaker's answers ``p`` (``(N, K)``, as the model
    answers them, prior included) towards ``reference`` (``(K,)``, the same space).

    Labels answered with probability zero (outside ``--labels``) are left out: their shift is 0.
    """
    p = np.asarray(p, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    k = p.shape[1]
    live = np.all(p > 0, axis=0) & np.isfinite(ref)
    shift = np.zeros(k)
    if len(p) == 0 or not live[neutral] or live.sum() < 2:
        return shift
    L0 = np.log(p[:, live])
    r = ref[live]
    j = int(np.flatnonzero(live).tolist().index(neutral))
    q = p[:, live] / p[:, live].sum(1, keepdims=True)
    for _ in range(max(1, int(iterations))):
        w = q[:, j]
        n = float(w.sum())
        if n <= 0:
            break
        centre = (w[:, None] * L0).sum(0) / n
        d = n / (n + strength) * (r - centre)
        d -= d.mean()   # a constant vector changes nothing; keep the numbers small
        L = L0 + d
        q = np.exp(L - L.max(1, keepdims=True))
        q /= q.sum(1, keepdims=True)
        shift[live] = d
    return shift


def neutral_reference(p_neutral: np.ndarray, temperature: float) -> np.ndarray:
    """The reference of :func:`speaker_shift` before the prior: the mean log-probability, after
    ``temperature``, of out-of-fold answers ``p_neutral`` (``(N, K)``) to neutral clips of
    corpora the model never heard; centred (a constant vector changes nothing)."""
    from .priors import apply_temperature

    ref = np.log(np.clip(apply_temperature(np.asarray(p_neutral, dtype=np.float64), temperature), 1e-12, 1.0)).mean(0)
    return ref - ref.mean()
