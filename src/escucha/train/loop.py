"""The training loop: one run = split, load, train with model selection, test, write the run folder.

The model and its two override points are :class:`~escucha.train.trainer.Trainer`'s
(:mod:`escucha.train.trainer`). A non-finite loss skips the step; too many in a row stop the
run with a clear error instead of writing a broken model. Models fitted in closed form take
their own short path (:mod:`escucha.train.closed_form`).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import __version__
from . import distributed
from ..audio import pad_or_crop
from ..corpora.manifest import Utterance
from ..data.splits import Split
from ..data.waveforms import PreprocessConfig, WaveformCache, load_waveforms
from ..errors import ConfigError, EscuchaError
from ..inference.predictor import Predictor
from ..models import count_parameters
from ..utils.io import atomic_write_csv, atomic_write_json
from ..utils.progress import progress
from .checkpoint import save_checkpoint
from .closed_form import fit_closed_form
from .config import TrainConfig
from .prepare import checkpoint_config, corpus_class_weights, labels_for, make_split, select_labels
from .runs import (RUN_SUMMARY, STATE_DIR, discard_run, find_resumable, mark_finished, mark_unfinished, prepare_output,
                   read_run_config, run_status, setting_differences, swap_in)
from .scoring import finish_run, score
from .state import has_state, load_state, save_state
from .trainer import Trainer

# also importable from here, where they used to be defined (tests, escucha evaluate)
from .closed_form import cached_features  # noqa: F401,E402
from .prepare import feature_config_for  # noqa: F401,E402
from .scoring import prediction_rows  # noqa: F401,E402

__all__ = ["Trainer", "fit", "make_split", "labels_for", "TrainingError"]


class TrainingError(EscuchaError):
    """Training cannot go on (e.g. the loss stopped being finite)."""


def _crop_batch(waves: list[np.ndarray], idx: np.ndarray, length: int, rng: np.random.Generator) -> torch.Tensor:
    """Random crop (or random-offset padding) of each chosen clip to ``length`` samples: ``(B, length)``."""
    return torch.from_numpy(np.stack([pad_or_crop(waves[i], length, mode="random", rng=rng) for i in idx])
                            .astype(np.float32, copy=False))


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
    if split is None:                    # fewer than two labels: refused before anything is written
        records = select_labels(records, config)
    if waves is not None and len(waves) != len(records):
        raise ValueError(f"waves: {len(waves)} waveforms for {len(records)} clips (give those of config.labels' clips)")
    if resume:
        def _open():
            work, staged = find_resumable(out)
            saved = read_run_config(work)
            diff = setting_differences(saved["train"], config.to_dict())
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
            discard_run(work, keep_folder=existed and not staged)
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
        return fit_closed_form(trainer, pred, records, split, waves_by_idx, y_all, ckpt_cfg, work, final, t_start,
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
            _, vloss, vrep = score(pred, val_waves, y_val)
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
    return finish_run(work, final, model, split, records, waves_by_idx, y_all, labels, best, t_start - seconds_before)
