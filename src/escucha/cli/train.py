"""``escucha train`` and ``escucha cv``."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _common(p):
    p.add_argument("--data", required=True, help="RAVDESS folder or manifest CSV")
    p.add_argument("--config", help="JSON file of training options (see configs/); flags override it")
    p.add_argument("--model", help="model name (see 'escucha models'); default cnn")
    p.add_argument("--features", choices=["raw", "logmel", "mfcc", "egemaps", "encoder"],
                   help="input features (default: the model's; see 'escucha models')")
    p.add_argument("--epochs", type=int, help="passes over the training clips (default 30 or the config's)")
    p.add_argument("--batch-size", type=int, help="clips per step (default 32)")
    p.add_argument("--lr", type=float, help="peak learning rate of the one-cycle schedule (default 3e-3)")
    p.add_argument("--seed", type=int, help="initialisation / augmentation seed (default 0)")
    p.add_argument("--split-seed", type=int, help="seed of the speaker-fold assignment (default 0)")
    p.add_argument("--trim-db", type=float, help="trim leading/trailing silence quieter than this (dB below peak)")
    p.add_argument("--clip-seconds", type=float, help="training crop length in seconds")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: all)")
    p.add_argument("--val-speakers", type=int, help="training speakers held out for model selection (default 2)")
    p.add_argument("--cache-dir", help="waveform cache folder (default $ESCUCHA_CACHE or ~/.cache/escucha)")
    p.add_argument("--no-cache", action="store_true", help="decode every file again, write no cache")
    p.add_argument("--force", action="store_true", help="write into a non-empty output folder")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report at the end")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def register(sub):
    p = sub.add_parser("train", help="train a model (speaker-independent split by default)")
    _common(p)
    p.add_argument("--split", choices=["actors", "random", "all"],
                   help="actors: test on unseen speakers (default); random: class project's clip split, "
                        "for comparison only; all: train on every speaker (final model)")
    p.add_argument("--fold", type=int, help="which speaker fold is the test set (default 0)")
    p.add_argument("--folds", type=int, help="number of speaker folds (default 5)")
    p.add_argument("--out", default=None, help="run folder to create (default runs/<model>-<split>)")
    p.set_defaults(func=run_train)

    c = sub.add_parser("cv", help="k-fold cross-validation by speaker; reports mean ± std")
    _common(c)
    c.add_argument("--folds", type=int, default=5, help="speaker folds; each is the test set once (default 5)")
    c.add_argument("--out", default=None, help="folder to create (default runs/cv-<model>)")
    c.set_defaults(func=run_cv)


def _load(args, **extra):
    from ..corpora import scan_corpus
    from ..train.config import load_config

    over = dict(model=args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, split_seed=args.split_seed,
                trim_db=args.trim_db, clip_seconds=args.clip_seconds, threads=args.threads,
                val_speakers=args.val_speakers, **extra)
    cfg = load_config(args.config, **over)
    if args.features:
        cfg = cfg.replace(features={**cfg.features, "kind": args.features})
    records = scan_corpus(args.data)
    return cfg, records


def _cache(args):
    if args.no_cache:
        return None
    from ..data.waveforms import WaveformCache

    return WaveformCache(args.cache_dir) if args.cache_dir else True


def _maybe_report(args, run_dir: Path):
    if args.no_report:
        return
    try:
        from ..reports import write_run_report  # added by the reports feature
    except ImportError:
        return
    path = write_run_report(run_dir, force=True)
    print(f"report: {path}", file=sys.stderr)


def run_train(args) -> int:
    from ..train.loop import fit

    cfg, records = _load(args, split=args.split, fold=args.fold, folds=args.folds)
    out = Path(args.out or f"runs/{cfg.model}-{cfg.split}" + (f"-fold{cfg.fold}" if cfg.split == "actors" else ""))
    summary = fit(records, cfg, out, cache=_cache(args), show_progress=not args.quiet, overwrite=args.force)
    _maybe_report(args, out)
    print(json.dumps(summary, indent=2))
    return 0


def run_cv(args) -> int:
    from ..train.cv import cross_validate

    cfg, records = _load(args)
    out = Path(args.out or f"runs/cv-{cfg.model}")
    s = cross_validate(records, cfg, out, folds=args.folds, cache=_cache(args), show_progress=not args.quiet,
                       overwrite=args.force)
    _maybe_report(args, out)
    ms = s["mean_std"]
    print(f"{s['folds']}-fold speaker CV of {s['model']} on {s['n']} clips ({out}):")
    for k in ("accuracy", "uar", "macro_f1"):
        print(f"  {k:9s} {ms[k]['mean']:.3f} ± {ms[k]['std']:.3f}   folds: "
              + " ".join(f"{v:.3f}" for v in ms[k]["folds"]))
    return 0
