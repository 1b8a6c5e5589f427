"""Train / validation / test splits.

Speaker independence is the default everywhere: a speaker's clips are all on one side.
Folds are dealt per gender so each fold holds as many women as men when the corpus allows.
``random_split`` reproduces the class project's clip-level split, for comparison only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..corpora.manifest import Utterance
from ..errors import ConfigError

__all__ = ["Split", "speaker_folds", "speaker_split", "random_split", "all_split", "corpus_split"]


@dataclass
class Split:
    """Indices into a record list, plus the speakers on each side (empty for random splits)."""

    train: list[int]
    val: list[int]
    test: list[int]
    kind: str = "actors"
    speakers: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "speakers": self.speakers,
                "sizes": {"train": len(self.train), "val": len(self.val), "test": len(self.test)}}


def _speaker_genders(records: list[Utterance]) -> dict[str, str]:
    """``{"corpus:speaker": gender}``: speakers are keyed by corpus (RAVDESS and EmoDB both have
    a speaker "03", who are two people)."""
    out: dict[str, str] = {}
    for r in records:
        out.setdefault(r.speaker_key, r.gender or "unknown")
    return out


def _check_speakers(records: list[Utterance]) -> None:
    anonymous = sorted({r.corpus or "?" for r in records if not r.speaker})
    if anonymous:
        raise ConfigError(f"clips of {', '.join(anonymous)} have no speaker id, so no speaker-independent split can "
                          "be made; give speakers (a 'speaker' column, or speaker folders above the label folders) "
                          "or use --split random")


def speaker_folds(records: list[Utterance], *, k: int = 5, seed: int = 0) -> list[list[str]]:
    """Partition the speakers into ``k`` disjoint folds, reproducibly for a given ``seed``.

    Speakers (``"corpus:speaker"`` keys) of each corpus and gender are shuffled and dealt
    round-robin, continuing where the previous group stopped, so folds differ in size by at most
    one speaker and every fold holds speakers of every corpus (that has at least ``k``) and both
    genders. Speakers stay disjoint across folds inside every corpus.
    """
    _check_speakers(records)
    genders = _speaker_genders(records)
    speakers = sorted(genders)
    if k < 2:
        raise ConfigError(f"need at least 2 folds, got k={k}")
    if k > len(speakers):
        raise ConfigError(f"cannot make {k} speaker folds from {len(speakers)} speakers; "
                          f"use --folds {len(speakers)} or fewer, or --split all")
    rng = np.random.default_rng(seed)
    folds: list[list[str]] = [[] for _ in range(k)]
    i = 0
    groups = sorted({(s.split(":", 1)[0], genders[s]) for s in speakers})
    for corpus, g in groups:
        group = [s for s in speakers if genders[s] == g and s.split(":", 1)[0] == corpus]
        for s in rng.permutation(group):
            folds[i % k].append(str(s))
            i += 1
    return [sorted(f) for f in folds]


def _pick_val_speakers(train_speakers: list[str], genders: dict[str, str], n: int, seed: int) -> list[str]:
    if n <= 0:
        return []
    if n >= len(train_speakers):
        raise ConfigError(f"cannot hold out {n} validation speakers from {len(train_speakers)} training speakers; "
                          f"lower --val-speakers")
    rng = np.random.default_rng(seed + 7919)
    by_g = defaultdict(list)
    for s in train_speakers:
        by_g[genders[s]].append(s)
    pools = [list(rng.permutation(sorted(v))) for _, v in sorted(by_g.items())]
    out: list[str] = []
    while len(out) < n:
        for p in pools:
            if p and len(out) < n:
                out.append(str(p.pop(0)))
    return sorted(out)


def speaker_split(records: list[Utterance], *, k: int = 5, fold: int = 0, val_speakers: int = 2,
                  seed: int = 0) -> Split:
    """Fold ``fold`` of :func:`speaker_folds` is the test set; ``val_speakers`` of the remaining
    speakers (balanced by gender) are held out for model selection; the rest train."""
    folds = speaker_folds(records, k=k, seed=seed)
    if not 0 <= fold < k:
        raise ConfigError(f"fold {fold} is outside 0..{k - 1}")
    test_spk = set(folds[fold])
    genders = _speaker_genders(records)
    rest = sorted(s for s in genders if s not in test_spk)
    val_spk = set(_pick_val_speakers(rest, genders, val_speakers, seed + fold))
    train_spk = set(rest) - val_spk
    sp = {"train": sorted(train_spk), "val": sorted(val_spk), "test": sorted(test_spk)}
    idx = {name: [i for i, r in enumerate(records) if r.speaker_key in set(v)] for name, v in sp.items()}
    return Split(idx["train"], idx["val"], idx["test"], kind="actors", speakers=sp)


def all_split(records: list[Utterance], *, val_speakers: int = 0, seed: int = 0) -> Split:
    """Every speaker trains (for the final model); optionally hold out validation speakers."""
    genders = _speaker_genders(records)
    if val_speakers:
        _check_speakers(records)
    val_spk = set(_pick_val_speakers(sorted(genders), genders, val_speakers, seed))
    train = [i for i, r in enumerate(records) if r.speaker_key not in val_spk]
    val = [i for i, r in enumerate(records) if r.speaker_key in val_spk]
    return Split(train, val, [], kind="all",
                 speakers={"train": sorted(set(genders) - val_spk), "val": sorted(val_spk), "test": []})


def corpus_split(records: list[Utterance], *, test_corpus: str, val_speakers: int = 2, seed: int = 0) -> Split:
    """Leave one corpus out: every clip of ``test_corpus`` is the test set; ``val_speakers``
    speakers of the other corpora are held out for model selection; the rest train."""
    corpora = sorted({r.corpus for r in records})
    if test_corpus not in corpora:
        raise ConfigError(f"corpus {test_corpus!r} is not in the data (corpora: {', '.join(corpora)})")
    if len(corpora) < 2:
        raise ConfigError("leave-one-corpus-out needs at least two corpora in --data")
    rest = [r for r in records if r.corpus != test_corpus]
    genders = _speaker_genders(rest)
    val_spk = set(_pick_val_speakers(sorted(genders), genders, val_speakers, seed))
    test = [i for i, r in enumerate(records) if r.corpus == test_corpus]
    val = [i for i, r in enumerate(records) if r.corpus != test_corpus and r.speaker_key in val_spk]
    train = [i for i, r in enumerate(records) if r.corpus != test_corpus and r.speaker_key not in val_spk]
    sp = {"train": sorted(set(genders) - val_spk), "val": sorted(val_spk),
          "test": sorted({r.speaker_key for r in records if r.corpus == test_corpus})}
    return Split(train, val, test, kind="corpus", speakers=sp)


def random_split(records: list[Utterance], *, test_fraction: float = 0.2, val_fraction: float = 0.1,
                 seed: int = 0) -> Split:
    """Clip-level split stratified by emotion: the class project's protocol, which lets the same
    speaker appear in train and test. For comparison only: it overstates accuracy on new voices."""
    if not 0 < test_fraction < 1 or not 0 <= val_fraction < 1 or test_fraction + val_fraction >= 1:
        raise ConfigError(f"bad fractions test={test_fraction} val={val_fraction}")
    rng = np.random.default_rng(seed)
    by_label = defaultdict(list)
    for i, r in enumerate(records):
        by_label[r.emotion].append(i)
    train, val, test = [], [], []
    for _, idx in sorted(by_label.items()):
        idx = list(rng.permutation(idx))
        n_test = int(round(len(idx) * test_fraction))
        n_val = int(round(len(idx) * val_fraction))
        test += idx[:n_test]
        val += idx[n_test:n_test + n_val]
        train += idx[n_test + n_val:]
    return Split(sorted(map(int, train)), sorted(map(int, val)), sorted(map(int, test)), kind="random")
