"""k-fold cross-validation by speaker: every speaker is tested exactly once, by a model that
never heard them."""

from __future__ import annotations

import csv
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from ..corpora.manifest import Utterance
from ..data.splits import corpus_split, speaker_folds, speaker_split
from ..data.waveforms import PreprocessConfig, WaveformCache, load_waveforms
from ..errors import ConfigError
from ..evaluate.metrics import classification_report, mean_std_table
from ..utils.io import atomic_write_csv, atomic_write_json
from .config import TrainConfig
from .loop import fit
from .prepare import checkpoint_config, feature_config_for, labels_for, select_labels
from .runs import (CV_CONFIG, CV_SUMMARY, find_resumable, mark_finished, mark_unfinished, prepare_output, run_status,
                   setting_differences, swap_in)

__all__ = ["cross_validate"]


def cross_validate(records: list[Utterance], config: TrainConfig, out_dir: str | Path, *,
                   folds: int | None = None, cache: WaveformCache | bool | None = True,
                   show_progress: bool = True, overwrite: bool = False, resume: bool = False,
                   source: str | None = None, by: str | None = None, waves: list | None = None) -> dict:
    """Train one model per speaker fold into ``out_dir/fold-K`` and summarise.

    ``by="corpus"``: leave-one-corpus-out instead; fold K tests every clip of the K-th corpus
    (alphabetical) with a model trained on the others (``folds`` is ignored). ``by=None`` means
    by speaker, or, with ``resume``, the kind the cross-validation was started with.

    Writes ``cv_config.json`` first (settings, folds, data), then one run folder per fold, then
    ``cv_summary.json`` (mean ± std of accuracy, UAR, macro-F1 over folds, the pooled report over
    all test clips, fold speakers; it marks the cross-validation finished) and
    ``cv_predictions.csv`` (every clip once).

    ``overwrite`` replaces a non-empty ``out_dir`` as a whole (built beside it, swapped in when
    finished). ``resume`` continues an unfinished cross-validation: finished folds are kept, an
    unfinished fold goes on from its last completed epoch, missing folds are trained. ``waves``:
    the clips' waveforms, already decoded and aligned with ``records`` (the clips of
    ``config.labels``), e.g. by :func:`~escucha.train.prepare.drop_unreadable`.
    """
    out = Path(out_dir)
    if resume:   # the cross-validation's own kind: leave-one-corpus-out stays so when continued
        try:
            _saved_by = json.loads((find_resumable(out)[0] / CV_CONFIG).read_text()).get("by", "speaker")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            _saved_by = None   # reported below, where the settings are read
        if by is not None and _saved_by is not None and by != _saved_by:
            raise ConfigError(f"{out}: is a cross-validation by {_saved_by}; cannot resume it by {by}")
        by = _saved_by or by
    by = by or "speaker"
    if by not in ("speaker", "corpus"):
        raise ConfigError(f"cross-validation by {by!r}: choose 'speaker' or 'corpus'")
    records = select_labels(records, config)
    corpora = sorted({r.corpus for r in records})
    if by == "corpus":
        if len(corpora) < 2:
            raise ConfigError(f"leave-one-corpus-out needs at least two corpora in --data (got {', '.join(corpora)})")
        k = len(corpora)
        config = config.replace(split="corpus", folds=max(2, k), test_corpus=corpora[0])
    else:
        k = folds or config.folds
        config = config.replace(split="actors", folds=k)
    if resume:
        work, staged = find_resumable(out)
        try:
            saved = json.loads((work / CV_CONFIG).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"{work / CV_CONFIG}: cannot read the cross-validation's settings ({e}); "
                              f"cannot resume") from None
        diff = setting_differences(saved.get("train", {}), config.to_dict())
        if diff:
            raise ConfigError(f"{work}: cannot resume with settings other than the run's ({'; '.join(diff)})")
    else:
        work, staged = prepare_output(out, overwrite=overwrite, what="folder")
    if by == "corpus":
        fold_speakers = [sorted({r.speaker_key for r in records if r.corpus == c}) for c in corpora]
    else:
        fold_speakers = speaker_folds(records, k=k, seed=config.split_seed)
    if resume and saved.get("fold_speakers") != fold_speakers:
        raise ConfigError(f"{work}: the data are not the cross-validation's (its fold speakers differ); "
                          f"resume with the same --data")
    fcfg = feature_config_for(config)
    created = not resume
    existed = work.is_dir()
    if not resume:
        work.mkdir(parents=True, exist_ok=True)
        cv_cfg = {"train": config.to_dict(), "folds": k, "fold_speakers": fold_speakers, "by": by}
        if by == "corpus":
            cv_cfg["fold_corpora"] = corpora
        if source is not None:
            cv_cfg["data"] = str(source)
        atomic_write_json(work / CV_CONFIG, cv_cfg)
        mark_unfinished(work, final=out, command="cv")
    try:
        if run_status(work) != "finished":
            _run_folds(records, config, k, fold_speakers, fcfg, work, out, cache=cache, waves=waves,
                       show_progress=show_progress, source=source, corpora=corpora if by == "corpus" else None)
    except BaseException:
        if created and not any(p.is_dir() for p in work.glob("fold-*")):
            shutil.rmtree(work, ignore_errors=True)   # nothing worth keeping: rerunning needs no --force
            if existed and not staged:
                work.mkdir(parents=True, exist_ok=True)
        raise
    summary = json.loads((work / CV_SUMMARY).read_text())
    mark_finished(work)
    if staged:
        swap_in(work, out)
    return summary


def _fold_line(f: int, k: int, corpus: str | None, trained: int, elapsed: float, left: int) -> str:
    """``escucha: fold 2 of 5 (test corpus emodb): 1 trained in 2.1 min, about 8.4 min left (4 folds
    to go)``: where a long cross-validation is, with an ETA from the folds trained so far."""
    def span(sec: float) -> str:
        return f"{sec:.0f} s" if sec < 60 else f"{sec / 60:.1f} min"
    line = f"escucha: fold {f + 1} of {k}" + (f" (test corpus {corpus})" if corpus else "")
    if trained:
        line += (f": {trained} trained in {span(elapsed)}, about {span(elapsed / trained * left)} left "
                 f"({left} fold{'s' if left > 1 else ''} to go)")
    return line


def _run_folds(records, config, k, fold_speakers, fcfg, work: Path, final: Path, *, cache, show_progress,
               source, corpora=None, waves=None) -> None:
    if waves is None:
        pcfg = PreprocessConfig.from_dict(checkpoint_config(config, labels_for(records), fcfg, 0)["preprocess"])
        waves = load_waveforms([r.path for r in records], pcfg, cache=cache)
    elif len(waves) != len(records):
        raise ValueError(f"waves: {len(waves)} waveforms for {len(records)} clips")
    reports, rows = [], []
    t0, trained = time.time(), 0   # for the whole cross-validation's ETA, from the folds trained here
    for f in range(k):
        cfg_f = config.replace(test_corpus=corpora[f]) if corpora else config.replace(fold=f)
        fold_dir = work / f"fold-{f}"
        status = run_status(fold_dir)
        if status == "finished":
            s = json.loads((fold_dir / "summary.json").read_text())
        else:
            if show_progress:
                print(_fold_line(f, k, corpora[f] if corpora else None, trained, time.time() - t0,
                                 k - f), file=sys.stderr, flush=True)
            split = (corpus_split(records, test_corpus=corpora[f], val_speakers=config.val_speakers,
                                  seed=config.split_seed) if corpora else
                     speaker_split(records, k=k, fold=f, val_speakers=config.val_speakers, seed=config.split_seed))
            if fold_dir.exists() and status is None and not any(fold_dir.iterdir()):
                fold_dir.rmdir()
            s = fit(records, cfg_f, fold_dir, split=split, waves=waves, cache=cache, show_progress=show_progress,
                    resume=status == "unfinished", source=source, _final_dir=final / f"fold-{f}")
        trained += status != "finished"
        reports.append({**s["test"], "fold": f, "best_epoch": s["best_epoch"], "train_minutes": s["train_minutes"],
                        "test_speakers": fold_speakers[f], **({"test_corpus": corpora[f]} if corpora else {})})
        with open(fold_dir / "predictions.csv", newline="") as fh:
            for r in csv.DictReader(fh):
                rows.append({"fold": f, **r})
    labels = labels_for(records)
    li = {lab: i for i, lab in enumerate(labels)}
    pooled = classification_report([li[r["true"]] for r in rows], [li[r["predicted"]] for r in rows], labels)
    summary = {
        "model": config.model, "folds": k, "by": "corpus" if corpora else "speaker", "n": len(rows),
        # the settings every fold shares (each fold's own held-out fold or corpus is in per_fold)
        "config": {k: v for k, v in config.to_dict().items() if k not in ("fold", "test_corpus", "split")},
        **({"data": str(source)} if source is not None else {}),
        "per_fold": reports, "mean_std": mean_std_table(reports), "pooled": pooled,
        "train_minutes_total": round(float(np.sum([r["train_minutes"] for r in reports])), 3),
    }
    atomic_write_csv(work / "cv_predictions.csv", rows)
    atomic_write_json(work / CV_SUMMARY, summary)   # last: marks the cross-validation finished
