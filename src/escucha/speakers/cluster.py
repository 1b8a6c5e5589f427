"""Who is who: speaker embeddings ``(N, D)`` -> speaker indices ``(N,)``.

The embeddings of one call are first centred (the call's mean embedding is subtracted: what all
its voices share, the line, the room, the language, goes; measured on the mono calls of
``benchmarks/speakers.py`` this lifts the attribution of average-linkage clustering with the
right number of speakers from 0.82 to 0.99 on wide-band calls and from 0.74 to 0.93 on
telephone calls). Then:

- the number of speakers, unless given, comes from the eigengaps of the normalised Laplacian of
  the centred cosine affinities (2 to ``max_speakers``), as in the d-vector diarization of Wang
  et al. (2018), taking the fewest speakers whose gap is at least 0.4 of the largest; one
  speaker when there is too little speech or when the two halves of the best
  split sound alike (their uncentred centroids' cosine similarity at least ``same_voice``);
- average-linkage agglomerative clustering (``scipy.cluster.hierarchy``) on the centred
  embeddings' cosine distance gives that many clusters, refined by a few rounds of reassignment
  to the nearest centroid; clusters holding less than ``min_share`` of the speech join their
  nearest neighbour (a cough or a burst of noise is not a speaker).

Speakers are numbered by first appearance.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["cluster_speakers", "estimate_count", "centroids", "DEFAULT_THRESHOLD", "MAX_LINKAGE_ITEMS"]

#: uncentred cosine similarity of the two halves' centroids at or above which a recording is
#: one voice (measured: two-party calls 0.50-0.95, one voice 0.79-0.94; a call is rarely one voice)
DEFAULT_THRESHOLD = 0.95
#: the number of speakers is the fewest whose eigengap is at least this share of the largest
#: (1.0: the largest gap; measured on the mono calls of benchmarks/speakers.py, docs/speakers.md)
GAP_SHARE = 0.4
#: fewer embeddings than this (about 10 s of speech) are one speaker unless told otherwise
MIN_ITEMS_FOR_SEVERAL = 6
#: above this many items, the linkage and the eigengap use an even subsample (memory stays
#: bounded: N^2 affinities) and every item is then assigned to the nearest centroid
MAX_LINKAGE_ITEMS = 1500


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def centroids(emb: np.ndarray, labels: np.ndarray, k: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Unit-norm weighted mean embedding of each of ``k`` clusters ``(k, D)`` (zeros when empty)."""
    w = np.ones(len(emb)) if weights is None else np.asarray(weights, float)
    out = np.zeros((k, emb.shape[1]), np.float32)
    for j in range(k):
        m = labels == j
        if m.any():
            out[j] = _unit((w[m, None] * emb[m]).sum(axis=0))
    return out


def estimate_count(emb: np.ndarray, *, max_speakers: int = 8, same_voice: float = DEFAULT_THRESHOLD) -> int:
    """The number of speakers among unit embeddings ``(N, D)`` (see the module docstring)."""
    n = len(emb)
    if n < MIN_ITEMS_FOR_SEVERAL:
        return 1
    from scipy.cluster.hierarchy import fcluster, linkage

    c = _unit(emb - emb.mean(axis=0))
    halves = fcluster(linkage(c.astype(np.float64), method="average", metric="cosine"), t=2, criterion="maxclust")
    if len(np.unique(halves)) < 2:
        return 1
    a, b = _unit(emb[halves == 1].mean(axis=0)), _unit(emb[halves == 2].mean(axis=0))
    if float(a @ b) >= same_voice:
        return 1
    A = np.maximum(c @ c.T, 0.0).astype(np.float64)
    np.fill_diagonal(A, 0.0)
    d = A.sum(axis=1) + 1e-9
    lap = np.eye(n) - A / np.sqrt(np.outer(d, d))
    kmax = int(min(max_speakers, n - 1))
    ev = np.linalg.eigvalsh(lap)[:kmax + 1]
    gaps = np.diff(ev)[1:kmax]    # gaps[j]: between the (j+2)-th and (j+3)-th eigenvalue
    if kmax < 2 or not len(gaps):
        return 1
    # the fewest speakers whose gap is at least GAP_SHARE of the largest: an emotional voice
    # tends to split into more clusters than there are speakers, rarely into fewer
    return int(np.flatnonzero(gaps >= GAP_SHARE * gaps.max())[0] + 2)


def cluster_speakers(emb: np.ndarray, *, weights: np.ndarray | None = None, n_speakers: int | None = None,
                     threshold: float = DEFAULT_THRESHOLD, max_speakers: int = 8, min_share: float = 0.05,
                     refine: int = 5) -> np.ndarray:
    """Speaker index of each embedding.

    Parameters
    ----------
    emb : np.ndarray, shape ``(N, D)``
        Speaker embeddings in time order (e.g. one per 1.6 s of speech).
    weights : np.ndarray, shape ``(N,)``, optional
        Seconds of speech behind each embedding (default: equal).
    n_speakers : int, optional
        The number of speakers, if known; otherwise estimated with ``threshold``.
    threshold : float
        Uncentred cosine similarity at or above which the two halves of the best split are one
        voice (when estimating).
    max_speakers : int
        At most this many speakers are reported when estimating.
    min_share : float
        When estimating, a cluster with less than this share of the speech joins its nearest one.
    refine : int
        Rounds of reassignment to the nearest centroid.

    Returns
    -------
    np.ndarray of int, shape ``(N,)``
        0, 1, ... numbered by first appearance.
    """
    emb = _unit(np.asarray(emb, np.float32))
    n = len(emb)
    if n_speakers is not None and int(n_speakers) < 1:
        raise ConfigError(f"number of speakers must be >= 1, got {n_speakers}")
    if n == 0:
        return np.zeros(0, int)
    w = np.ones(n) if weights is None else np.maximum(np.asarray(weights, float), 1e-6)
    pick = np.arange(n) if n <= MAX_LINKAGE_ITEMS else np.linspace(0, n - 1, MAX_LINKAGE_ITEMS).round().astype(int)
    k = int(n_speakers) if n_speakers is not None else estimate_count(emb[pick], max_speakers=max_speakers,
                                                                       same_voice=threshold)
    if n == 1 or k == 1:
        return np.zeros(n, int)
    from scipy.cluster.hierarchy import fcluster, linkage

    mean = (w[:, None] * emb).sum(axis=0) / w.sum()
    c = _unit(emb - mean)
    Z = linkage(c[pick].astype(np.float64), method="average", metric="cosine")
    sub = fcluster(Z, t=min(k, len(pick)), criterion="maxclust") - 1
    k = int(sub.max()) + 1
    cent = centroids(c[pick], sub, k, w[pick])
    labels = np.argmax(c @ cent.T, axis=1)
    for _ in range(refine):
        cent = centroids(c, labels, k, w)
        new = np.argmax(c @ cent.T, axis=1)
        if (new == labels).all():
            break
        labels = new
    if n_speakers is None:
        # small clusters join their nearest neighbour
        while True:
            share = np.bincount(labels, weights=w, minlength=k) / w.sum()
            alive = np.flatnonzero(share > 0)
            if len(alive) <= 1:
                break
            small = alive[np.argmin(share[alive])]
            if share[small] >= min_share:
                break
            cent = centroids(c, labels, k, w)
            others = [j for j in alive if j != small]
            m = labels == small
            labels[m] = np.asarray(others)[np.argmax(c[m] @ cent[others].T, axis=1)]
    # number by first appearance
    order = {}
    for lab in labels:
        order.setdefault(int(lab), len(order))
    return np.array([order[int(lab)] for lab in labels], int)
