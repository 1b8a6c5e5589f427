"""k-fold cross-validation by speaker: every speaker is tested exactly once, by a model that
never heard them."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..corpora.manifest import Utterance
from ..data.splits import speaker_folds, speaker_split
from ..data.waveforms import PreprocessConfig, WaveformCache, load_waveforms
from ..errors import ConfigError
from ..evaluate.metrics import classification_report, mean_std_table
from ..utils.io import atomic_write_csv, atomic_write_json
from .config import TrainConfig
from .loop import checkpoint_config, feature_config_for, fit, labels_for

__all__ = ["cross_validate"]


def cross_validate(records: list[Utterance], config: TrainConfig, out_dir: str | Path, *,
                   folds: int | None = None, cache: WaveformCache | bool | None = True,
                   show_progress: bool = True, overwrite: bool = False) -> dict:
    """Train one model per speaker fold into ``out_dir/fold-K`` and summarise.

    Writes ``cv_summary.json`` (mean ± std of accuracy, UAR, macro-F1 over folds, the pooled
    report over all test clips, fold speakers) and ``cv_predictions.csv`` (every clip once).
    """
    k = folds or config.folds
    config = config.replace(split="actors", folds=k)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"{out}: folder exists and is not empty; choose another --out or pass --force")
    fold_speakers = speaker_folds(records, k=k, seed=config.split_seed)
    fcfg = feature_config_for(config)
    pcfg = PreprocessConfig.from_dict(checkpoint_config(config, labels_for(records), fcfg, 0)["preprocess"])
    waves = load_waveforms([r.path for r in records], pcfg, cache=cache)
    reports, rows = [], []
    for f in range(k):
        cfg_f = config.replace(fold=f)
        split = speaker_split(records, k=k, fold=f, val_speakers=config.val_speakers, seed=config.split_seed)
        s = fit(records, cfg_f, out / f"fold-{f}", split=split, waves=waves, cache=cache, show_progress=show_progress,
                overwrite=overwrite)
        reports.append({**s["test"], "fold": f, "best_epoch": s["best_epoch"], "train_minutes": s["train_minutes"],
                        "test_speakers": fold_speakers[f]})
        with open(out / f"fold-{f}" / "predictions.csv", newline="") as fh:
            for r in csv.DictReader(fh):
                rows.append({"fold": f, **r})
    labels = labels_for(records)
    li = {lab: i for i, lab in enumerate(labels)}
    pooled = classification_report([li[r["true"]] for r in rows], [li[r["predicted"]] for r in rows], labels)
    summary = {
        "model": config.model, "folds": k, "n": len(rows), "config": config.to_dict(),
        "per_fold": reports, "mean_std": mean_std_table(reports), "pooled": pooled,
        "train_minutes_total": round(float(np.sum([r["train_minutes"] for r in reports])), 3),
    }
    atomic_write_json(out / "cv_summary.json", summary)
    atomic_write_csv(out / "cv_predictions.csv", rows)
    return summary
