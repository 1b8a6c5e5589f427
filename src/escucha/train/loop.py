"""The training loop: one run = split, load, train with model selection, test, write the run folder.

Override points (subclass :class:`Trainer`): :meth:`Trainer.forward` (waveforms -> logits) and
:meth:`Trainer.objective` (logits, soft targets -> loss). A non-finite loss skips the step; too
many in a row stop the run with a clear error instead of writing a broken model.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import __version__
from . import distributed
from ..audio import pad_or_crop
from ..corpora.manifest import Utterance
from ..data.splits import Split, all_split, corpus_split, random_split, speaker_split
from ..data.waveforms import PreprocessConfig, WaveformCache, load_waveforms
from ..errors import ConfigError, EscuchaError
from ..evaluate.metrics import classification_report
from ..features import FeatureConfig, FeatureExtractor
from ..inference.predictor import Predictor
from ..labels import EMOTIONS
from ..models import count_parameters, create_model, model_spec
from ..utils.io import atomic_write_csv, atomic_write_json
from ..utils.progress import progress
from .augment import augment_waveforms, spec_augment
from .checkpoint import save_checkpoint
from .config import TrainConfig
from .runs import (RUN_SUMMARY, STATE_DIR, find_resumable, mark_finished, mark_unfinished, prepare_output, run_status,
                   swap_in)
from .state import has_state, load_state, save_state

__all__ = ["Trainer", "fit", "make_split", "labels_for", "TrainingError"]


class TrainingError(EscuchaError):
    """Training cannot go on (e.g. the loss stopped being finite)."""


def labels_for(records: list[Utterance]) -> list[str]:
    """Label order: RAVDESS order for known emotions, then any others alphabetically."""
    present = {r.emotion for r in records}
    return [e for e in EMOTIONS if e in present] + sorted(present - set(EMOTIONS))


def select_labels(records: list[Utterance], config: TrainConfig) -> list[Utterance]:
    """The records whose label is in ``config.labels`` (all of them when it is ``None``)."""
    if config.labels is None:
        return records
    keep = [r for r in records if r.emotion in set(config.labels)]
    if len({r.emotion for r in keep}) < 2:
        raise ConfigError(f"the data have fewer than two of the labels {', '.join(config.labels)}")
    return keep


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


class Trainer:
    """Holds the model, front end and optimisation state of one run."""

    def __init__(self, config: TrainConfig, labels: list[str]):
        self.config = config
        self.labels = labels
        self.fcfg = feature_config_for(config)
        self.frontend = FeatureExtractor(self.fcfg)
        self.model = create_model(config.model, n_classes=len(labels), in_channels=self.fcfg.n_channels,
                                  **config.model_args)
        self.gen = torch.Generator().manual_seed(config.seed)

    # override point 1
    def forward(self, wav: torch.Tensor, *, train: bool,
                mix: tuple[float, torch.Tensor] | None = None) -> torch.Tensor:
        """Waveforms ``(B, T)`` -> logits ``(B, K)``. In training, augmentation is applied and
        ``mix=(lam, perm)`` mixes each example's features with those of ``perm`` (mixup)."""
        cfg = self.config.augment
        if train:
            wav = augment_waveforms(wav, self.fcfg.sample_rate, cfg, self.gen)
        x = self.frontend(wav)
        if train:
            x = spec_augment(x, cfg, self.gen)
        if mix is not None:
            lam, perm = mix
            x = lam * x + (1 - lam) * x[perm]
        return self.model(x)

    # override point 2
    def objective(self, logits: torch.Tensor, targets: torch.Tensor, class_weights: torch.Tensor | None) -> torch.Tensor:
        """Cross-entropy against soft ``targets`` ``(B, K)``, weighted per class if given."""
        logp = F.log_softmax(logits, dim=-1)
        loss = -(targets * logp).sum(dim=-1)
        if class_weights is not None:
            w = targets @ class_weights
            return (loss * w).sum() / w.sum()
        return loss.mean()


def _crop_batch(waves: list[np.ndarray], idx: np.ndarray, length: int, rng: np.random.Generator) -> torch.Tensor:
    """Random crop (or random-offset padding) of each chosen clip to ``length`` samples: ``(B, length)``."""
    return torch.from_numpy(np.stack([pad_or_crop(waves[i], length, mode="random", rng=rng) for i in idx])
                            .astype(np.float32, copy=False))


def _score(pred: Predictor, waves: list[np.ndarray], y: np.ndarray) -> tuple[np.ndarray, float, dict]:
    probs = pred.predict_proba_waveforms(waves)
    nll = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-8, 1)))) if len(y) else float("nan")
    rep = classification_report(y, probs.argmax(1), pred.labels)
    return probs, nll, rep


def prediction_rows(records: list[Utterance], probs: np.ndarray, labels: list[str]) -> list[dict]:
    rows = []
    for r, p in zip(records, probs):
        k = int(np.argmax(p))
        rows.append({"file": r.path, "speaker": r.speaker, "true": r.emotion, "predicted": labels[k],
                     "confidence": f"{p[k]:.4f}", **{f"p_{lab}": f"{v:.4f}" for lab, v in zip(labels, p)}})
    return rows


def _read_run_config(work: Path) -> dict:
    try:
        saved = json.loads((work / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{work / 'config.json'}: cannot read the run's config ({e}); cannot resume") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("train"), dict):
        raise ConfigError(f"{work / 'config.json'}: not a run config written by escucha train; cannot resume")
    return saved


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """``"name run-value -> given-value"`` for each setting that differs (nested dicts flattened)."""
    a, b = json.loads(json.dumps(a)), json.loads(json.dumps(b))   # tuples and lists alike
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differences(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k} {va!r} -> {vb!r}")
    return out


def _discard(work: Path, *, keep_folder: bool) -> None:
    """Remove what a run that completed no epoch wrote, so that rerunning needs no --force."""
    shutil.rmtree(work, ignore_errors=True)
    if keep_folder:
        work.mkdir(parents=True, exist_ok=True)


def fit(records: list[Utterance], config: TrainConfig, out_dir: str | Path, *, split: Split | None = None,
        cache: WaveformCache | bool | None = True, show_progress: bool = True, overwrite: bool = False,
        waves: list[np.ndarray] | None = None, resume: bool = False,
        on_epoch: Callable[[int, dict], None] | None = None, source: str | None = None,
        _final_dir: Path | None = None) -> dict:
    """Train one model and write the run folder.

    Writes ``config.json`` (the TrainConfig and the split), ``metrics.csv`` (one row per epoch),
    ``state/`` (everything needed to go on, replaced atomically after every epoch),
    ``checkpoint/`` (best model by validation UAR, or the last epoch), and when there is a test
    set ``test_metrics.json`` and ``predictions.csv``; ``summary.json`` last, which marks the run
    finished (``state/`` is then removed). See :mod:`escucha.train.runs`.

    Parameters
    ----------
    records : list of Utterance
        The corpus.
    config : TrainConfig
        The run's settings.
    out_dir : path
        The run folder. A non-empty one is an error unless ``overwrite`` (or ``resume``).
    split : Split, optional
        Use this split instead of the one ``config`` makes.
    cache : WaveformCache or bool, optional
        Decoded-waveform cache (``True``: the default one).
    show_progress : bool
        Progress bars.
    overwrite : bool
        Replace a non-empty ``out_dir`` as a whole: the new run is built beside it
        (``.NAME.partial``) and swapped in once finished; until then the old run is untouched.
    waves : list of ndarray, optional
        Already-loaded waveforms aligned with ``records`` (skips decoding).
    resume : bool
        Continue the unfinished run in ``out_dir`` from its last completed epoch (or the
        replacement ``overwrite`` was building beside it). ``config`` and the data must be the
        run's own; with the same number of threads the result is exactly that of an
        uninterrupted run.
    on_epoch : callable, optional
        ``on_epoch(epoch, row)`` after each epoch's state is saved (``row``: its metrics).
    source : str, optional
        Where ``records`` came from (e.g. the ``--data`` argument), recorded in ``config.json``
        so that ``escucha train --resume`` can find the data again.

    Returns
    -------
    dict
        The summary (also written as ``summary.json``).

    Raises
    ------
    ConfigError
        Bad settings, a non-empty ``out_dir`` without ``overwrite``, or a ``resume`` that does
        not match the run. Nothing is written in these cases.
    TrainingError
        The loss stopped being finite.
    """
    out = Path(out_dir)
    distributed.require_group()
    main = distributed.is_main()         # under DDP only rank 0 writes (escucha.train.distributed)
    if resume:
        def _open():
            work, staged = find_resumable(out)
            saved = _read_run_config(work)
            diff = _differences(saved["train"], config.to_dict())
            if diff:
                raise ConfigError(f"{work}: cannot resume with settings other than the run's ({'; '.join(diff)})")
            done = run_status(work) == "finished"
            if done:                      # killed between finishing and swapping in
                swap_in(work, out)
            return work, staged, saved, done
        work, staged, saved, done = distributed.on_rank0(_open)
        if done:
            return json.loads((out / RUN_SUMMARY).read_text()) if main else None
    else:
        work, staged = distributed.on_rank0(lambda: prepare_output(out, overwrite=overwrite))
    final = Path(_final_dir) if _final_dir is not None else out
    t_start = time.time()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)

    if split is None:
        records = select_labels(records, config)
    labels = labels_for(records)
    trainer = Trainer(config, labels)          # unknown model / features fail before the split
    multi = distributed.world_size() > 1
    if multi and getattr(trainer.model, "closed_form", False):
        if not main:
            return None
        import warnings

        warnings.warn(f"{config.model} is fitted in closed form, which DDP does not split: rank 0 fits it alone, "
                      f"the other {distributed.world_size() - 1} process(es) stop")
        multi = False
    if multi:
        distributed.check_batch_size(config.batch_size)
    split = split or make_split(records, config)
    if not split.train:
        raise ConfigError("the training split is empty")
    if resume:
        if saved.get("labels") != labels or saved.get("split") != split.to_dict():
            raise ConfigError(f"{work}: the data are not the run's (its labels or speakers differ); "
                              f"resume with the same --data")
    existed = work.is_dir()
    fresh = not resume
    try:
        summary = _train(records, config, trainer, labels, split, work, final, cache=cache, waves=waves,
                         show_progress=show_progress and main, on_epoch=on_epoch, source=source,
                         t_start=t_start, write_config=not (resume and (work / "config.json").is_file()),
                         main=main, multi=multi, resume=resume)
    except BaseException:
        if main and fresh and not has_state(work / STATE_DIR) and not (work / RUN_SUMMARY).exists():
            _discard(work, keep_folder=existed and not staged)
        raise
    if not main:
        return None
    mark_finished(work)
    if staged:
        swap_in(work, out)
    return summary


def _train(records, config, trainer, labels, split, work: Path, final: Path, *, cache, waves, show_progress,
           on_epoch, source, t_start, write_config: bool, main: bool = True, multi: bool = False,
           resume: bool = False) -> dict | None:
    rng = np.random.default_rng(config.seed)
    lab_idx = {lab: i for i, lab in enumerate(labels)}
    fcfg = trainer.fcfg
    ckpt_cfg = checkpoint_config(config, labels, fcfg, fcfg.n_channels)
    # which voices the model has heard: evaluate warns when scored on them
    ckpt_cfg["trained_on"] = {"corpora": sorted({records[i].corpus for i in split.train}),
                              "speakers": sorted({f"{records[i].corpus}:{records[i].speaker}"
                                                  for i in set(split.train) | set(split.val)})}
    if main:
        work.mkdir(parents=True, exist_ok=True)      # only once the run is known to be valid
    if write_config and main:
        run_cfg = {"train": config.to_dict(), "split": split.to_dict(), "labels": labels,
                   "features": fcfg.to_dict(), "n_parameters": count_parameters(trainer.model),
                   "escucha_version": __version__}
        if source is not None:
            run_cfg["data"] = str(source)
        atomic_write_json(work / "config.json", run_cfg)
    if main and not (work / RUN_SUMMARY).exists():
        mark_unfinished(work, final=final, command="train")
    if waves is None:
        pcfg = PreprocessConfig.from_dict(ckpt_cfg["preprocess"])
        needed = sorted(set(split.train) | set(split.val) | set(split.test))
        paths = [records[i].path for i in needed]
        if multi:       # rank 0 decodes first and fills the cache; the others then only read it
            loaded = distributed.rank0_first(lambda: load_waveforms(
                paths, pcfg, cache=cache if main else distributed.read_only_cache(cache)))
        else:
            loaded = load_waveforms(paths, pcfg, cache=cache)
        waves_by_idx = dict(zip(needed, loaded))
    else:
        waves_by_idx = dict(enumerate(waves))
    y_all = np.array([lab_idx[r.emotion] for r in records])
    tr = np.array(split.train)
    tr_waves = [waves_by_idx[i] for i in split.train]
    y_tr = y_all[tr]
    counts = np.bincount(y_tr, minlength=len(labels)).astype(float)
    class_w = None
    if config.balance == "weights":
        w = np.where(counts > 0, counts.sum() / (len(labels) * np.maximum(counts, 1)), 0.0)
        class_w = torch.tensor(w, dtype=torch.float32)
    pred = Predictor([trainer.model], ckpt_cfg)
    if getattr(trainer.model, "closed_form", False):
        return _fit_closed_form(trainer, pred, records, split, waves_by_idx, y_all, ckpt_cfg, work, final, t_start,
                                cache)
    clip = int(round(config.clip_seconds * fcfg.sample_rate))
    bs = config.batch_size
    steps = max(1, len(tr) // bs)
    model = trainer.model
    shard = None
    if multi:       # BatchNorm / Dropout over the global batch; same parameters, same order
        model, shard = distributed.prepare_model(model)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.epochs * steps,
                                                pct_start=0.15, anneal_strategy="cos")
    val_waves = [waves_by_idx[i] for i in split.val]
    y_val = y_all[split.val] if split.val else np.array([], dtype=int)
    history: list[dict] = []
    best = {"val_uar": -1.0, "val_loss": math.inf, "epoch": 0}
    bad_steps = 0
    start, seconds_before = 0, 0.0
    state_dir = work / STATE_DIR
    if has_state(state_dir) and (main or resume):   # other ranks read rank 0's run, never a stale one
        start, info = load_state(state_dir, model=model, optimizer=opt, scheduler=sched, generator=trainer.gen,
                                 rng=rng)
        history, bad_steps, seconds_before = info["history"], info["bad_steps"], info["seconds"]
        best = {**info["best"], "val_loss": math.inf if info["best"]["val_loss"] is None else info["best"]["val_loss"]}
    net = model
    if multi:       # after loading the state: DDP broadcasts rank 0's weights
        net = trainer.model = distributed.wrap(model, shard)
    eps = config.label_smoothing
    K = len(labels)
    ep_bar = progress(range(start + 1, config.epochs + 1), desc=f"train {config.model}", unit="epoch",
                      disable=not show_progress or None)
    for epoch in ep_bar:
        t0 = time.time()
        net.train()
        if config.balance in ("sampler", "corpus"):
            w = (corpus_class_weights(records, tr, y_tr) if config.balance == "corpus" else 1.0 / counts[y_tr])
            order = rng.choice(len(tr), size=steps * bs, replace=True, p=w / w.sum())
        else:
            order = rng.permutation(len(tr))[: steps * bs]
        tot_loss, tot_correct, tot_n = 0.0, 0, 0
        for s in range(steps):
            bi = order[s * bs:(s + 1) * bs]
            wav = _crop_batch(tr_waves, bi, clip, rng)
            tgt = torch.from_numpy(y_tr[bi])
            soft = F.one_hot(tgt, K).float() * (1 - eps) + eps / K
            mix = None
            if config.augment.mixup_alpha > 0:
                lam = float(rng.beta(config.augment.mixup_alpha, config.augment.mixup_alpha))
                perm = torch.from_numpy(rng.permutation(len(bi)))
                mix = (lam, perm)
                soft = lam * soft + (1 - lam) * soft[perm]
            logits = trainer.forward(wav, train=True, mix=mix)
            loss = trainer.objective(logits, soft, class_w)
            if not torch.isfinite(loss):
                bad_steps += 1
                opt.zero_grad(set_to_none=True)
                if bad_steps >= min(10, steps):
                    raise TrainingError(f"loss was not finite for {bad_steps} steps in a row at epoch {epoch}; "
                                        f"lower --lr (now {config.lr})")
                continue
            bad_steps = 0
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            tot_loss += float(loss.detach()) * len(bi)
            tot_correct += int((logits.argmax(-1) == tgt).sum())
            tot_n += len(bi)
        row = {"epoch": epoch, "lr": f"{sched.get_last_lr()[0]:.6f}",
               "train_loss": round(tot_loss / max(tot_n, 1), 5), "train_acc": round(tot_correct / max(tot_n, 1), 5)}
        net.eval()
        if not main:      # validation, files and the progress bar are rank 0's
            continue
        if split.val:
            _, vloss, vrep = _score(pred, val_waves, y_val)
            row.update({"val_loss": round(vloss, 5), "val_acc": round(vrep["accuracy"], 5),
                        "val_uar": round(vrep["uar"], 5)})
            improved = (vrep["uar"] > best["val_uar"] + 1e-9
                        or (abs(vrep["uar"] - best["val_uar"]) <= 1e-9 and vloss < best["val_loss"]))
            if config.select == "val_uar" and improved:
                best = {"val_uar": vrep["uar"], "val_loss": vloss, "epoch": epoch}
                save_checkpoint(work / "checkpoint", model, {**ckpt_cfg, "selected": {"epoch": epoch, "val_uar": vrep["uar"]}})
        row["seconds"] = round(time.time() - t0, 2)
        history.append(row)
        atomic_write_csv(work / "metrics.csv", history)
        seconds_done = seconds_before + (time.time() - t_start)
        save_state(state_dir, epoch=epoch, model=model, optimizer=opt, scheduler=sched, generator=trainer.gen,
                   rng=rng, info={"history": history, "bad_steps": bad_steps, "seconds": seconds_done,
                                  "best": {**best, "val_loss": best["val_loss"] if math.isfinite(best["val_loss"])
                                           else None}})
        if hasattr(ep_bar, "set_postfix"):
            post = {"loss": row["train_loss"], "acc": row["train_acc"]}
            if "val_uar" in row:
                post["val_uar"] = row["val_uar"]
            ep_bar.set_postfix(post)
        if on_epoch is not None:
            on_epoch(epoch, row)
    if multi:
        trainer.model = model
        if not main:
            return None
    if config.select == "last" or not split.val:
        best = {"epoch": config.epochs, "val_uar": history[-1].get("val_uar"), "val_loss": history[-1].get("val_loss")}
        save_checkpoint(work / "checkpoint", model, {**ckpt_cfg, "selected": {"epoch": config.epochs}})
    return _finish(work, final, model, split, records, waves_by_idx, y_all, labels, best, t_start - seconds_before)


def _finish(out, final, model, split, records, waves_by_idx, y_all, labels, best, t_start) -> dict:
    """Score the saved checkpoint on the test speakers and write the summary (last: it marks the
    run finished)."""
    train_minutes = (time.time() - t_start) / 60
    summary = {"run_dir": str(final), "model": json.loads((out / "config.json").read_text())["train"]["model"],
               "n_parameters": count_parameters(model),
               "best_epoch": best["epoch"], "best_val_uar": best["val_uar"], "train_minutes": round(train_minutes, 3)}
    if split.test:
        best_pred = Predictor.from_checkpoint(out / "checkpoint")
        test_recs = [records[i] for i in split.test]
        probs, tloss, trep = _score(best_pred, [waves_by_idx[i] for i in split.test], y_all[split.test])
        trep = {**trep, "loss": tloss, "split": split.to_dict(), "best_epoch": best["epoch"]}
        atomic_write_json(out / "test_metrics.json", trep)
        atomic_write_csv(out / "predictions.csv", prediction_rows(test_recs, probs, labels))
        summary["test"] = {k: trep[k] for k in ("n", "accuracy", "uar", "macro_f1")}
    atomic_write_json(out / RUN_SUMMARY, summary)
    return summary


def corpus_class_weights(records: list[Utterance], idx, y: np.ndarray) -> np.ndarray:
    """Per-clip weights giving every (corpus, class) cell the same total weight, mean 1."""
    keys = [(records[i].corpus, int(c)) for i, c in zip(idx, y)]
    counts: dict = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    w = np.array([1.0 / counts[k] for k in keys])
    return w * (len(w) / w.sum())


def _fit_closed_form(trainer, pred, records, split, waves_by_idx, y_all, ckpt_cfg, out, final, t_start,
                     cache) -> dict:
    """Models with a ``fit(X, y, X_val=, y_val=)`` method (e.g. eGeMAPS + SVM): one feature pass,
    one fit, no epochs. ``augment_copies`` adds that many augmented versions of every training
    clip (``augment`` settings, seeded); ``balance: corpus`` weighs corpora and classes equally."""
    t0 = time.time()
    config = trainer.config
    idx = sorted(set(split.train) | set(split.val))
    feats = cached_features([waves_by_idx[i] for i in idx], trainer.frontend, cache)
    X = dict(zip(idx, feats))
    X_tr = np.stack([X[i] for i in split.train])
    y_tr = y_all[split.train]
    tr_idx = list(split.train)
    if config.augment_copies and not config.augment_original:
        X_tr, y_tr, tr_idx = X_tr[:0], y_tr[:0], []
    for copy in range(config.augment_copies):
        g = torch.Generator().manual_seed(config.seed * 1000 + copy + 1)
        rate = trainer.fcfg.sample_rate
        aug = [augment_waveforms(torch.from_numpy(waves_by_idx[i])[None], rate, config.augment, g)[0]
               .clamp(-1, 1).numpy() for i in split.train]
        X_tr = np.concatenate([X_tr, np.stack(cached_features(aug, trainer.frontend, cache))])
        y_tr = np.concatenate([y_tr, y_all[split.train]])
        tr_idx += list(split.train)
    X_val = np.stack([X[i] for i in split.val]) if split.val else None
    kw = {}
    if config.balance == "corpus":
        kw["sample_weight"] = corpus_class_weights(records, tr_idx, y_tr)
    info = trainer.model.fit(X_tr, y_tr, X_val=X_val, y_val=y_all[split.val] if split.val else None,
                             seed=config.seed, **kw)
    trainer.model.eval()
    row = {"epoch": 1, **{k: v for k, v in info.items()}, "train_clips": len(y_tr), "seconds": round(time.time() - t0, 2)}
    if split.val:
        _, vloss, vrep = _score(pred, [waves_by_idx[i] for i in split.val], y_all[split.val])
        row.update({"val_loss": round(vloss, 5), "val_acc": round(vrep["accuracy"], 5), "val_uar": round(vrep["uar"], 5)})
    atomic_write_csv(out / "metrics.csv", [row])
    save_checkpoint(out / "checkpoint", trainer.model,
                    {**ckpt_cfg, "model": {**ckpt_cfg["model"], "args": {**ckpt_cfg["model"]["args"], "C": info["C"]}},
                     "selected": info})
    best = {"epoch": 1, "val_uar": row.get("val_uar")}
    return _finish(out, final, trainer.model, split, records, waves_by_idx, y_all, trainer.labels, best, t_start)


def cached_features(waves: list[np.ndarray], frontend: FeatureExtractor, cache) -> list[np.ndarray]:
    """Features of whole waveforms ``(C, T')`` each, cached on disk by waveform bytes + feature config."""
    import hashlib

    if cache is True:
        cache = WaveformCache()
    settings = json.dumps(frontend.config.to_dict(), sort_keys=True).encode()
    out = []
    for y in progress(waves, desc=f"{frontend.config.kind} features", unit="clip"):
        key = hashlib.blake2b(np.ascontiguousarray(y).tobytes() + settings, digest_size=20).hexdigest()
        f = cache.get("f" + key) if cache else None
        if f is None:
            with torch.inference_mode():
                f = frontend(torch.from_numpy(np.ascontiguousarray(y))[None])[0].numpy()
            if cache:
                cache.put("f" + key, f)
        out.append(f)
    return out
