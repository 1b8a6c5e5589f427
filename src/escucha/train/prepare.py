"""What one run trains on, from the records and its :class:`~escucha.train.config.TrainConfig`: the
records kept and their label order, the split, the front end, the weights that balance corpora
and classes, and the config its checkpoint will carry. Shared by the loop
(:mod:`escucha.train.loop`) and cross-validation (:mod:`escucha.train.cv`)."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from .. import __version__
from ..corpora.manifest import Utterance
from ..data.splits import Split, all_split, corpus_split, random_split, speaker_split
from ..data.waveforms import PreprocessConfig
from ..errors import ConfigError
from ..features import FeatureConfig
from ..labels import EMOTIONS
from ..models import model_spec
from .config import TrainConfig

__all__ = ["labels_for", "select_labels", "make_split", "feature_config_for", "checkpoint_config",
           "corpus_class_weights"]


def labels_for(records: list[Utterance]) -> list[str]:
    """Label order: RAVDESS order for known emotions, then any others alphabetically."""
    present = {r.emotion for r in records}
    return [e for e in EMOTIONS if e in present] + sorted(present - set(EMOTIONS))


def select_labels(records: list[Utterance], config: TrainConfig) -> list[Utterance]:
    """The records whose label is in ``config.labels`` (all of them when it is ``None``); a
    :class:`ConfigError` when fewer than two labels are left, which no model can learn from."""
    if config.labels is None:
        present = sorted({r.emotion for r in records})
        if len(present) < 2:
            raise ConfigError(f"the data have {'one label (' + present[0] + ')' if present else 'no clips'}; "
                              "training needs clips of at least two")
        return records
    keep = [r for r in records if r.emotion in set(config.labels)]
    if len({r.emotion for r in keep}) < 2:
        raise ConfigError(f"the data have fewer than two of the labels {', '.join(config.labels)}")
    return keep


def drop_unreadable(records: list[Utterance], config: TrainConfig, *, cache=True, show_progress: bool = True
                    ) -> tuple[list[Utterance], list, list[tuple[str, str]]]:
    """The records whose audio decodes, their waveforms, and ``(file, "<file>: <problem>")`` for
    each that does not.

    Every clip is decoded and preprocessed as training will (into the waveform ``cache`` too), so
    a file that a corpus reader accepted but that cannot be decoded (a truncated FLAC) is left out
    before the split is made, instead of stopping a training or a cross-validation half way. The
    waveforms, aligned with the records returned, go to ``fit(waves=...)`` or
    ``cross_validate(waves=...)``, which then decode nothing again.
    """
    from ..data.waveforms import PreprocessConfig, load_waveforms

    records = select_labels(records, config)   # only the clips training uses; too few labels: refused first
    pcfg = PreprocessConfig.from_dict(
        checkpoint_config(config, labels_for(records), feature_config_for(config), 0)["preprocess"])
    failed: list[tuple[str, str]] = []
    waves = load_waveforms([r.path for r in records], pcfg, cache=cache, errors=failed,
                           desc="loading audio" if show_progress else None)
    kept = [i for i, w in enumerate(waves) if w is not None]
    return [records[i] for i in kept], [waves[i] for i in kept], failed


def make_split(records: list[Utterance], config: TrainConfig) -> Split:
    if config.split == "actors":
        return speaker_split(records, k=config.folds, fold=config.fold, val_speakers=config.val_speakers,
                             seed=config.split_seed)
    if config.split == "random":
        return random_split(records, seed=config.split_seed)
    if config.split == "corpus":
        return corpus_split(records, test_corpus=config.test_corpus, val_speakers=config.val_speakers,
                            seed=config.split_seed)
    return all_split(records, val_speakers=config.val_speakers if config.select == "val_uar" else 0,
                     seed=config.split_seed)


def feature_config_for(config: TrainConfig) -> FeatureConfig:
    spec = model_spec(config.model)
    fcfg = FeatureConfig.from_dict({**spec.features, **config.features})
    if fcfg.kind not in spec.accepts:
        raise ConfigError(f"model {config.model!r} takes {' or '.join(spec.accepts)} features, not {fcfg.kind!r}")
    return fcfg


def checkpoint_config(config: TrainConfig, labels: list[str], fcfg: FeatureConfig, in_channels: int) -> dict:
    pcfg = PreprocessConfig(sample_rate=fcfg.sample_rate, trim_db=config.trim_db, loudness_db=config.loudness_db)
    return {
        "model": {"name": config.model, "args": dict(config.model_args), "in_channels": in_channels},
        "labels": labels,
        "features": fcfg.to_dict(),
        "preprocess": asdict(pcfg),
        "clip_seconds": config.clip_seconds,
        "escucha_version": __version__,
    }


def corpus_class_weights(records: list[Utterance], idx, y: np.ndarray) -> np.ndarray:
    """Per-clip weights giving every (corpus, class) cell the same total weight, mean 1."""
    keys = [(records[i].corpus, int(c)) for i, c in zip(idx, y)]
    counts: dict = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    w = np.array([1.0 / counts[k] for k in keys])
    return w * (len(w) / w.sum())
