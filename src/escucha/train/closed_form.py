"""Models fitted in closed form (a ``fit(X, y, X_val=, y_val=)`` method, e.g. eGeMAPS + SVM): one
pass of features (cached on disk), one fit, no epochs."""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from ..data.waveforms import WaveformCache
from ..features import FeatureExtractor
from ..utils.io import atomic_write_csv
from ..utils.progress import progress
from .augment import augment_waveforms
from .checkpoint import save_checkpoint
from .prepare import corpus_class_weights
from .scoring import finish_run, score

__all__ = ["fit_closed_form", "cached_features"]


def fit_closed_form(trainer, pred, records, split, waves_by_idx, y_all, ckpt_cfg, out, final, t_start,
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
    if config.conditions:  # each training clip heard under each listening condition
        X_tr, y_tr, tr_idx = _condition_features(config, trainer, split, waves_by_idx, X, y_all, cache)
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
        _, vloss, vrep = score(pred, [waves_by_idx[i] for i in split.val], y_all[split.val])
        row.update({"val_loss": round(vloss, 5), "val_acc": round(vrep["accuracy"], 5), "val_uar": round(vrep["uar"], 5)})
    atomic_write_csv(out / "metrics.csv", [row])
    save_checkpoint(out / "checkpoint", trainer.model,
                    {**ckpt_cfg, "model": {**ckpt_cfg["model"], "args": {**ckpt_cfg["model"]["args"], "C": info["C"]}},
                     "selected": info})
    best = {"epoch": 1, "val_uar": row.get("val_uar")}
    return finish_run(out, final, trainer.model, split, records, waves_by_idx, y_all, trainer.labels, best, t_start)


def _condition_features(config, trainer, split, waves_by_idx, X, y_all, cache):
    """Features of the training clips under each of ``config.conditions``
    (:mod:`escucha.train.conditions`), seeded per clip, loudness-normalised again after."""
    import hashlib

    from ..audio import normalize_loudness
    from .conditions import listen

    if cache is True:
        cache = WaveformCache()
    parts, ys, idx = [], [], []
    for k, cond in enumerate(config.conditions):
        if cond == "clip":
            parts.append(np.stack([X[i] for i in split.train]))
        else:
            waves = []
            for i in progress(split.train, desc=f"hearing clips: {cond}", unit="clip"):
                y = np.ascontiguousarray(waves_by_idx[i], dtype=np.float32)
                key = "c" + hashlib.blake2b(y.tobytes() + f"{cond}/{config.seed}/{config.loudness_db}".encode(),
                                            digest_size=20).hexdigest()
                z = cache.get(key) if cache else None
                if z is None:  # the VAD and the codecs take longer than the encoder: kept on disk too
                    z = listen(y, cond, rng=np.random.default_rng([config.seed, k, int(i)]))
                    if config.loudness_db is not None:
                        z = normalize_loudness(z, target_db=config.loudness_db)
                    z = z.astype(np.float32)
                    if cache:
                        cache.put(key, z)
                waves.append(z)
            parts.append(np.stack(cached_features(waves, trainer.frontend, cache)))
        ys.append(y_all[split.train])
        idx += list(split.train)
    return np.concatenate(parts), np.concatenate(ys), idx


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
