"""Who said it: speaker attribution of a call's segments (:class:`SpeakerTrack`).

One track per analysed channel collects speaker embeddings (:mod:`escucha.speakers`) over each
closed segment, 1.6 s at a time, as the call streams past (a few kB per embedding; the audio is
not kept). At the end of the call:

- a **mono** channel's embeddings are clustered (the number of speakers estimated, or given);
  each segment goes to the speaker of its embeddings; a segment whose embeddings change speaker
  for at least two embeddings in a row is cut there (two turns the VAD joined); one whose
  embeddings disagree for less is kept whole, given to its majority speaker and marked
  ``overlap`` (two voices at once, or too close to call), naming the other voice;
- with two or more speakers the segments' ``channel`` becomes the speaker's name, so that each
  speaker gets a timeline and a summary exactly as the channels of a split stereo call do;
- names: ``speaker 1``, ``speaker 2``, ... by first appearance; with an enrolled agent voice the
  closest speaker (or, on split stereo, channel) is ``agent`` and the other ``customer``; when
  more than one other voice is found, the one who talks most is the ``customer``.

During a live stream each segment gets a provisional speaker as it closes (the nearest speaker
heard so far, or a new one); :meth:`SpeakerTrack.finish` gives the final answer.
"""

from __future__ import annotations

import copy

import numpy as np

from ..speakers.cluster import centroids, cluster_speakers
from ..speakers.options import SpeakerOptions
from .segments import Segment, settle

__all__ = ["SpeakerTrack", "name_speakers", "provisional_names", "split_segment"]

_MIN_RUN = 2          # embeddings in a row needed to cut a segment between two speakers
_BATCH_WINDOWS = 48   # embeddings computed together (the LSTM runs faster on a batch)
GROUP = 1             # embeddings (of 1.6 s) of one segment clustered together (1: each alone)
_ONLINE_DISTANCE = 0.25  # live streams: a segment this close (cosine distance) to a speaker is theirs


def name_speakers(cent: np.ndarray, agent: np.ndarray | None, talk: np.ndarray | None = None) -> list[str]:
    """Names of ``k`` speakers (centroids ``(k, D)`` in order of first appearance).

    With an enrolled ``agent``, the closest speaker is ``agent`` and the other one ``customer``;
    when more than one other voice was found (a third party, or one customer heard as two voices
    by their changing emotion), the one who talks most (``talk``: seconds per speaker) is the
    ``customer`` and the others ``speaker 1``, ``speaker 2``, ... so that every call of an agent
    has a customer to follow."""
    k = len(cent)
    names = [f"speaker {i + 1}" for i in range(k)]
    if agent is not None and k >= 1:
        a = int(np.argmax(cent @ np.asarray(agent, np.float32)))
        rest = [i for i in range(k) if i != a]
        names[a] = "agent"
        main = rest[int(np.argmax(np.asarray(talk)[rest]))] if rest and talk is not None else None
        if len(rest) == 1:
            main = rest[0]
        others = [i for i in rest if i != main]
        if main is not None:
            names[main] = "customer"
        for j, i in enumerate(others):
            names[i] = f"speaker {j + 1}"
    return names


def provisional_names(voices: list[np.ndarray | None], agent: np.ndarray | None,
                      talk: np.ndarray | None = None) -> list[str | None]:
    """Roles of the voices heard so far in a live stream (``None`` where a voice is not heard yet
    or no role can be told): with an enrolled ``agent`` and at least two voices, the closest is
    ``agent`` and the rest are named as :func:`name_speakers` names them. One voice alone is not
    named: a single enrolment clip against a single voice is too weak a test (acted voices of one
    person and of two people overlap in cosine similarity: 0.38-0.94 against 0.32-0.93 for single
    clips of nEMO, Korean and RAVDESS speakers)."""
    heard = [i for i, v in enumerate(voices) if v is not None]
    out: list[str | None] = [None] * len(voices)
    if agent is None or len(heard) < 2:
        return out
    cent = np.stack([voices[i] / max(float(np.linalg.norm(voices[i])), 1e-9) for i in heard])
    names = name_speakers(cent, agent, talk=None if talk is None else np.asarray(talk)[heard])
    for i, nm in zip(heard, names):
        out[i] = nm
    return out


def split_segment(seg: Segment, cuts: list[float]) -> list[Segment]:
    """``seg`` cut at the times ``cuts`` (seconds), each part keeping the emotion windows whose
    centre lies in it; ``[seg]`` when a part would have no window."""
    bounds = [seg.start] + sorted(cuts) + [seg.end]
    parts = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        wins = [w for w in seg.windows if lo <= w.center < hi or (hi == seg.end and w.center == hi)]
        if not wins or hi <= lo:
            return [seg]
        part = settle(Segment(seg.channel, lo, hi, "", wins[0].probabilities, seg.labels, wins, band=seg.band))
        if hasattr(seg, "uncertain"):   # the model's flag stays with the segment's parts
            part.uncertain = seg.uncertain
        parts.append(part)
    if seg.words is not None:  # the transcript goes with the parts, word by word
        from ..asr import text_sentiment

        for p in parts:
            last = p is parts[-1]
            p.words = [w for w in seg.words if p.start <= 0.5 * (w["start"] + w["end"]) < p.end
                       or (last and 0.5 * (w["start"] + w["end"]) >= p.end)
                       or (p is parts[0] and 0.5 * (w["start"] + w["end"]) < p.start)]
            p.text_sentiment = text_sentiment(" ".join(w["word"] for w in p.words)) if p.words else None
    return parts


class SpeakerTrack:
    """Speaker embeddings of one analysed channel's segments, and their attribution.

    Parameters
    ----------
    options : SpeakerOptions
    channel : str
        The channel's name.
    cluster : bool
        ``True`` for a mono channel (several voices); ``False`` for a channel of a split call
        (one voice: embeddings only serve to find the enrolled agent).
    immediate : bool
        Embed each segment as it closes and give it a provisional speaker (live streams);
        otherwise segments are embedded in batches (faster) and named at :meth:`finish`.
    """

    def __init__(self, options: SpeakerOptions, *, channel: str, cluster: bool = True, immediate: bool = False):
        from ..speakers.encoder import load_speaker_encoder

        self.options = options
        self.channel = channel
        self.cluster = cluster
        self.immediate = immediate
        self.encoder = load_speaker_encoder()
        self._queue: list[tuple[Segment, np.ndarray, list[tuple[int, int]]]] = []
        self._queued = 0
        self.segments: list[Segment] = []          # in the order added
        self._emb: list[np.ndarray] = []            # per segment: (n_i, D)
        self._spans: list[np.ndarray] = []          # per segment: (n_i, 2) seconds
        self._online: list[np.ndarray] = []         # provisional speakers' summed embeddings
        self._online_n: list[int] = []              # ... and how many embeddings each sums

    # -- collecting -------------------------------------------------------------------------------
    def add(self, seg: Segment, y: np.ndarray, rate: int) -> None:
        """Embed the speech of ``seg`` (``y``: its samples at ``rate`` Hz, mono)."""
        enc = self.encoder
        y = np.asarray(y, np.float32)
        if rate != enc.sample_rate:
            from ..audio import resample

            y = resample(y, rate, enc.sample_rate)
        mel = enc.mel(enc.normalize(y)) if len(y) else np.zeros((1, enc.fb.shape[1]), np.float32)
        T, P = len(mel), enc.partial_frames
        if T <= P:
            spans = [(0, T)]
        else:
            n = int(np.ceil(T / P))
            spans = [(int(s), int(s) + P) for s in np.linspace(0, T - P, n).round()]
        self._queue.append((seg, mel, spans))
        self._queued += len(spans)
        if self.immediate or self._queued >= _BATCH_WINDOWS:
            self._embed_queue()

    def _embed_queue(self) -> None:
        if not self._queue:
            return
        enc = self.encoder
        mels, spans, owners = [], [], []
        for i, (seg, mel, sp) in enumerate(self._queue):
            for a, b in sp:
                mels.append(mel[a:b])
                spans.append((a, b))
                owners.append(i)
        lens = np.array([len(m) for m in mels])
        x = np.zeros((len(mels), int(lens.max()), mels[0].shape[1]), np.float32)
        for j, m in enumerate(mels):
            x[j, :len(m)] = m
        emb = np.zeros((len(mels), enc.dim), np.float32)
        order = np.argsort(-lens, kind="stable")
        for k in range(0, len(order), 64):
            idx = order[k:k + 64]
            emb[idx] = enc.embed_mels(x[idx, :int(lens[idx].max())], lens[idx])
        owners = np.array(owners)
        hop = enc.hop / enc.sample_rate
        for i, (seg, _mel, sp) in enumerate(self._queue):
            e = emb[owners == i]
            t = np.array([(seg.start + a * hop, min(seg.start + b * hop, seg.end)) for a, b in sp])
            self.segments.append(seg)
            self._emb.append(e)
            self._spans.append(t)
            if self.immediate and self.cluster:
                seg.speaker = self._provisional(e)
        self._queue, self._queued = [], 0

    def _provisional(self, e: np.ndarray) -> str:
        """Nearest provisional speaker of a live stream (or a new one); with an enrolled agent and
        two voices heard, named by role (:func:`provisional_names`)."""
        v = e.sum(axis=0)
        v = v / max(float(np.linalg.norm(v)), 1e-9)
        j = None
        if self._online:
            cent = np.stack([c / max(float(np.linalg.norm(c)), 1e-9) for c in self._online])
            sims = cent @ v
            j = int(np.argmax(sims))
            if 1 - sims[j] < _ONLINE_DISTANCE or (self.options.count and len(self._online) >= self.options.count):
                self._online[j] = self._online[j] + e.sum(axis=0)
                self._online_n[j] += len(e)
            else:
                j = None
        if j is None:
            self._online.append(e.sum(axis=0))
            self._online_n.append(len(e))
            j = len(self._online) - 1
        role = provisional_names(list(self._online), self.options.agent, talk=np.array(self._online_n, float))[j]
        return role or f"speaker {j + 1}"

    # -- the answer ----------------------------------------------------------------------------------
    def mean_embedding(self) -> np.ndarray | None:
        """The channel's voice: the normalised, time-weighted mean of its embeddings."""
        self._embed_queue()
        if not self._emb:
            return None
        e = np.concatenate(self._emb)
        w = np.concatenate([t[:, 1] - t[:, 0] for t in self._spans])
        v = (np.maximum(w, 1e-3)[:, None] * e).sum(axis=0)
        return v / max(float(np.linalg.norm(v)), 1e-9)

    def finish(self) -> tuple[list[Segment], list[str]]:
        """Attribute every segment; returns the segments (some cut in two) in time order and the
        speakers' names in order of first appearance. Call once, at the end of the call."""
        self._embed_queue()
        if not self._emb:
            return [], []
        E = np.concatenate(self._emb)
        spans = np.concatenate(self._spans)
        w = np.maximum(spans[:, 1] - spans[:, 0], 1e-3)
        # the voices are clustered by pieces of up to GROUP embeddings of one segment (a turn's
        # mean voice is steadier than 1.6 s of it); each embedding takes its piece's speaker
        owner, items, iw = [], [], []
        for e, t in zip(self._emb, self._spans):
            d = np.maximum(t[:, 1] - t[:, 0], 1e-3)
            n = len(e)
            pieces = max(1, int(round(n / GROUP)))
            for idx in np.array_split(np.arange(n), pieces):
                v = (d[idx, None] * e[idx]).sum(axis=0)
                items.append(v / max(float(np.linalg.norm(v)), 1e-9))
                iw.append(float(d[idx].sum()))
                owner += [len(items) - 1] * len(idx)
        item_labels = cluster_speakers(np.stack(items), weights=np.array(iw), n_speakers=self.options.count,
                                       threshold=self.options.threshold)
        labels = item_labels[np.array(owner)]
        k = int(labels.max()) + 1
        names = name_speakers(centroids(E, labels, k, w), self.options.agent,
                              talk=np.bincount(labels, weights=w, minlength=k))
        out: list[Segment] = []
        pos = 0
        for seg, e in zip(self.segments, self._emb):
            lab = labels[pos:pos + len(e)]
            t = spans[pos:pos + len(e)]
            pos += len(e)
            out += self._attribute(seg, lab, t, names)
        if k >= 2:
            for s in out:
                s.channel = s.speaker
        present = [n for n in names if any(s.speaker == n for s in out)]
        return sorted(out, key=lambda s: (s.start, s.channel)), present

    def _attribute(self, seg: Segment, lab: np.ndarray, t: np.ndarray, names: list[str]) -> list[Segment]:
        if self.immediate:   # a live client holds the provisional segment: the answer is a new one
            seg = copy.copy(seg)
        runs = []  # [label, first index, last index]
        for i, v in enumerate(lab):
            if runs and runs[-1][0] == v:
                runs[-1][2] = i
            else:
                runs.append([int(v), i, i])
        if len(runs) == 1:
            seg.speaker = names[runs[0][0]]
            return [seg]
        long_runs = [r for r in runs if r[2] - r[1] + 1 >= _MIN_RUN]
        # merge neighbouring long runs of the same speaker (a short run between them is overlap)
        merged = []
        for r in long_runs:
            if merged and merged[-1][0] == r[0]:
                merged[-1][2] = r[2]
            else:
                merged.append(list(r))
        if len(merged) >= 2:
            cuts = [0.5 * (t[a[2], 1] + t[b[1], 0]) for a, b in zip(merged[:-1], merged[1:])]
            cuts = [min(max(c, seg.start), seg.end) for c in cuts]
            parts = split_segment(seg, cuts)
            if len(parts) == len(merged):
                for p, r in zip(parts, merged):
                    p.speaker = names[r[0]]
                return parts
        dur = np.bincount(lab, weights=t[:, 1] - t[:, 0], minlength=len(names))
        main = int(np.argmax(dur))
        seg.speaker = names[main]
        others = [names[j] for j in np.flatnonzero(dur) if j != main]
        if others:
            seg.overlap = others
        return [seg]
