"""``escucha train`` and ``escucha cv``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: training-option flags (argparse dest names) that --resume does not take: the run has its own
_OPTION_FLAGS = ("config", "model", "features", "epochs", "batch_size", "lr", "seed", "split_seed", "trim_db",
                 "clip_seconds", "threads", "val_speakers", "split", "fold", "folds", "labels", "balance")


def _read_data(data, args):
    """Records of one or more ``--data`` roots, and the roots as one string for the run config."""
    import os

    from ..corpora import scan_corpora

    roots = [data] if isinstance(data, str) else list(data)
    roots = [r for item in roots for r in str(item).split(os.pathsep) if r]
    records = scan_corpora(roots, corpus=getattr(args, "corpus", None), label_map=getattr(args, "label_map", None))
    return records, os.pathsep.join(str(Path(r).resolve()) for r in roots)


def _common(p):
    p.add_argument("--data", nargs="+", metavar="DIR_OR_CSV",
                   help="one or more corpus folders (RAVDESS, EmoDB, SAVEE, TESS, CREMA-D, nEMO, Korean emotiontts, folder-per-label) or "
                        "manifest/label CSVs; several corpora train one model (with --resume: default the run's)")
    p.add_argument("--corpus", help="read --data folders as this corpus instead of detecting it "
                                    "(see 'escucha data index --help')")
    p.add_argument("--label-map", metavar="FILE.json",
                   help='map your label names to escucha\'s, e.g. {"joy": "happy", "boredom": null} (null: skip)')
    p.add_argument("--labels", help="train and test on these labels only, comma-separated "
                                    "(e.g. neutral,happy,sad,angry: the four every corpus has)")
    p.add_argument("--balance", choices=["weights", "sampler", "corpus", "none"],
                   help="class balance: loss weights (default), a balanced sampler, or 'corpus': every corpus "
                        "and class weighs the same, so a small corpus is not drowned by a big one")
    p.add_argument("--config", metavar="RECIPE_OR_FILE",
                   help="a shipped recipe by name (whisper-lr, fast, m5-aug, ...: 'escucha models' lists them) or "
                        "a JSON file of training options; flags override it. Default: the m5-aug-last recipe "
                        "(M5 on 8 kHz raw audio, augmentation, 80 epochs, last epoch kept)")
    p.add_argument("--model", help="model name (see 'escucha models'). Default m5, with the shipped recipe: "
                                   "8 kHz raw audio, gain/noise/speed augmentation, label smoothing, 80 epochs, "
                                   "last epoch kept; another NAME without --config gets the same training "
                                   "settings with its own features")
    p.add_argument("--features", choices=["raw", "logmel", "mfcc", "egemaps", "encoder", "whisper"],
                   help="input features (default: the model's; see 'escucha models')")
    p.add_argument("--epochs", type=int, help="passes over the training clips (default 80 or the config's)")
    p.add_argument("--batch-size", type=int, help="clips per step (default 32)")
    p.add_argument("--lr", type=float, help="peak learning rate of the one-cycle schedule, > 0 (default 3e-3)")
    p.add_argument("--seed", type=int, help="initialisation / augmentation seed (default 0)")
    p.add_argument("--split-seed", type=int, help="seed of the speaker-fold assignment (default 0)")
    p.add_argument("--trim-db", type=float, help="trim leading/trailing silence quieter than this (dB below peak)")
    p.add_argument("--clip-seconds", type=float, help="training crop length in seconds (default 3)")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: all); a run repeats exactly "
                                               "for the same seed and threads")
    p.add_argument("--val-speakers", type=int,
                   help="training speakers held out for model selection; with some, the epoch of best "
                        "validation UAR is kept (default: none with the default recipe or --split all, "
                        "else 2)")
    p.add_argument("--cache-dir", help="waveform cache folder (default $ESCUCHA_CACHE or ~/.cache/escucha)")
    p.add_argument("--no-cache", action="store_true", help="decode every file again, write no cache")
    p.add_argument("--force", action="store_true",
                   help="replace an existing output folder as a whole: the new one is built beside it "
                        "(.NAME.partial) and swapped in when finished, the old one deleted only then")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report at the end")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true",
                   help="print the result as JSON on stdout (the run's summary.json) instead of a few lines")


def register(sub):
    p = sub.add_parser("train", help="train a model (speaker-independent split by default)")
    _common(p)
    p.add_argument("--split", choices=["actors", "random", "all"],
                   help="actors: test on unseen speakers (default); random: class project's clip split, "
                        "for comparison only; all: train on every speaker, none held out, last epoch kept "
                        "(final model)")
    p.add_argument("--fold", type=int, help="which speaker fold is the test set (default 0)")
    p.add_argument("--folds", type=int, help="number of speaker folds (default 5)")
    p.add_argument("--out", default=None, help="run folder to create (default runs/<model>-<split>, and -fold<N> for a speaker fold)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the unfinished run in RUN_DIR from its last completed epoch, with its own "
                        "settings; it ends exactly where the uninterrupted run would have")
    p.add_argument("--nproc", type=int, metavar="N",
                   help="train with N processes on this machine (PyTorch DDP, through torch.distributed.run; "
                        "the same as 'torchrun --nproc-per-node N -m escucha train ...'): the same update "
                        "as one process with the same --batch-size, which N must divide")
    p.add_argument("--backend", choices=["auto", "gloo", "nccl"], default="auto",
                   help="process-group backend under torchrun or --nproc: auto (default) is gloo, plus "
                        "nccl for CUDA tensors where CUDA is available")
    p.set_defaults(func=run_train)
    global _TRAIN_PARSER
    _TRAIN_PARSER = p

    c = sub.add_parser("cv", help="k-fold cross-validation by speaker; reports mean ± std")
    _common(c)
    c.add_argument("--folds", type=int, help="speaker folds; each is the test set once (default 5)")
    c.add_argument("--by", choices=["speaker", "corpus"], default=None,
                   help="speaker: k folds of unseen speakers inside every corpus (default); corpus: "
                        "leave-one-corpus-out, each corpus tested by a model trained on the others "
                        "(with --resume: the cross-validation's own)")
    c.add_argument("--out", default=None, help="folder to create (default runs/cv-<model>)")
    c.add_argument("--resume", metavar="CV_DIR",
                   help="continue an unfinished cross-validation: finished folds are kept, the others "
                        "trained or continued")
    c.set_defaults(func=run_cv)


def _load(args, **extra):
    from ..errors import ConfigError
    from ..train.config import default_config, load_config

    if not args.data:
        raise ConfigError("--data is required (a corpus folder or manifest CSV)")
    labels = [x.strip() for x in args.labels.split(",") if x.strip()] if args.labels else None
    if labels:
        from ..labels import normalize_label

        labels = [normalize_label(x) for x in labels]
    over = dict(model=args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                split_seed=args.split_seed, trim_db=args.trim_db, clip_seconds=args.clip_seconds,
                threads=args.threads, val_speakers=args.val_speakers, labels=labels, balance=args.balance, **extra)
    cfg = load_config(args.config, **over) if args.config else default_config(**over)
    if args.features:
        cfg = cfg.replace(features={**cfg.features, "kind": args.features})
    records, source = _read_data(args.data, args)
    return cfg, records, source


def _load_resume(args, kind: str):
    """The settings and corpus of the run ``--resume`` names; training flags are refused."""
    from ..errors import ConfigError
    from ..train.runs import load_run_config

    given = [f"--{name.replace('_', '-')}" for name in _OPTION_FLAGS if getattr(args, name, None) is not None]
    if given or args.force or args.out:
        given += ["--force"] * bool(args.force) + ["--out"] * bool(args.out)
        raise ConfigError(f"--resume continues a run with its own settings; drop {', '.join(given)}")
    cfg, data, found = load_run_config(args.resume)
    if found != kind:
        other = "escucha cv --resume" if found == "cv" else "escucha train --resume"
        raise ConfigError(f"{args.resume}: is a {'cross-validation' if found == 'cv' else 'training run'}; "
                          f"use '{other}'")
    data = args.data or data
    if not data:
        raise ConfigError(f"{args.resume}: the run does not record its data; pass --data")
    records, source = _read_data(data, args)
    return cfg, records, source


def _cache(args):
    if args.no_cache:
        return None
    from ..data.waveforms import WaveformCache

    return WaveformCache(args.cache_dir) if args.cache_dir else True


def _readable(records, cfg, args):
    """The records whose audio decodes and their waveforms; each file that does not is named on
    stderr and left out (the job goes on, and ends with exit status 1, as every batch command does)."""
    from ..train import distributed
    from ..train.prepare import drop_unreadable

    cache = _cache(args)
    main = distributed.is_main()
    records, waves, failed = distributed.rank0_first(lambda: drop_unreadable(
        records, cfg, cache=cache if main else distributed.read_only_cache(cache),
        show_progress=main and not args.quiet))
    if main:
        for _, message in failed:
            print(f"escucha: error: {message}; left out", file=sys.stderr)
    return records, waves, failed


def _left_out(failed, rc: int) -> int:
    """The exit status of a finished job that left ``failed`` files out: 1 (some inputs failed)."""
    if not failed:
        return rc
    print(f"escucha: {len(failed)} file{'s' if len(failed) > 1 else ''} could not be decoded and "
          f"{'were' if len(failed) > 1 else 'was'} left out (named above)", file=sys.stderr)
    return max(rc, 1)


def _maybe_report(args, run_dir: Path) -> int:
    """Write the run's HTML report; 0, or 1 with one line when it could not be made (the run
    itself is finished and kept: ``escucha report RUN`` tries again)."""
    if args.no_report:
        return 0
    from ..errors import EscuchaError
    from ..reports import write_run_report

    try:
        path = write_run_report(run_dir, force=True)
    except EscuchaError as e:
        print(f"escucha: error: the run is finished and kept, but its report was not written: {e}", file=sys.stderr)
        return 1
    print(f"report: {path}", file=sys.stderr)
    return 0


def _interrupted(out: Path, command: str) -> int:
    """Say what an interrupted run left and how to go on; exit status 130."""
    from ..errors import ConfigError
    from ..train.runs import find_resumable

    try:
        find_resumable(out)
        print(f"escucha: interrupted; the completed epochs are kept: continue with "
              f"'escucha {command} --resume {out}'", file=sys.stderr)
    except ConfigError:
        print("escucha: interrupted before the first epoch was completed; nothing was kept", file=sys.stderr)
    return 130


_TRAIN_PARSER = None


def _child_argv(args) -> list[str]:
    """The ``escucha train`` arguments of this command, without ``--nproc``."""
    import argparse

    argv = ["train"]
    for a in _TRAIN_PARSER._actions:
        if not a.option_strings or a.dest in ("help", "nproc"):
            continue
        v = getattr(args, a.dest, None)
        if isinstance(a, argparse._StoreTrueAction):
            argv += [a.option_strings[-1]] if v else []
        elif v is not None and v != a.default:
            argv += [a.option_strings[-1], *(map(str, v) if isinstance(v, list) else [str(v)])]
    return argv


def _launch(args) -> int:
    """``escucha train --nproc N``: check what can be checked here, then start N processes."""
    from ..errors import ConfigError
    from ..train import distributed

    n = args.nproc
    if n < 1:
        raise ConfigError(f"--nproc must be a whole number >= 1, got {n}")
    if distributed.launched_by_torchrun():
        raise ConfigError("--nproc starts the processes itself; under torchrun leave it out")
    # settings and data fail here, once, before N processes start (each rank checks them again,
    # with the batch size against N: closed-form models need no division)
    _load_resume(args, "run") if args.resume else _load(args, split=args.split, fold=args.fold, folds=args.folds)
    if n == 1:
        args.nproc = None
        return run_train(args)
    return distributed.launch(_child_argv(args), n)


def run_train(args) -> int:
    from ..errors import AudioError, EscuchaError
    from ..train import distributed

    if args.nproc is not None:
        return _launch(args)
    if distributed.is_main():
        return _run_train(args)
    # another rank of a DDP run: rank 0 prints, reports and writes; the same errors reach it too
    import os
    import warnings

    os.environ["ESCUCHA_PROGRESS"] = "0"
    warnings.simplefilter("ignore")
    try:
        return _run_train(args)
    except AudioError:
        return 1
    except EscuchaError:
        return 2
    except KeyboardInterrupt:
        return 130


def _run_train(args) -> int:
    from ..train import distributed
    from ..train.loop import fit

    if args.resume:
        cfg, records, source = _load_resume(args, "run")
        out = Path(args.resume)
    else:
        cfg, records, source = _load(args, split=args.split, fold=args.fold, folds=args.folds)
        out = Path(args.out or f"runs/{cfg.model}-{cfg.split}" + (f"-fold{cfg.fold}" if cfg.split == "actors" else ""))
    try:
        with distributed.process_group(args.backend):
            records, waves, failed = _readable(records, cfg, args)
            summary = fit(records, cfg, out, cache=_cache(args), show_progress=not args.quiet,
                          overwrite=args.force, resume=bool(args.resume), source=source, waves=waves)
    except KeyboardInterrupt:
        if not distributed.is_main():
            raise
        return _interrupted(out, "train")
    except RuntimeError as e:
        if not distributed.lost_peer(e):
            raise
        print(f"escucha: error: rank {distributed.rank()} lost contact with the other training processes "
              f"({str(e).splitlines()[0][:200]})", file=sys.stderr)
        return 3
    if not distributed.is_main():
        return 0
    # the result first: a report problem cannot hide it
    print(json.dumps(summary, indent=2) if args.json else _train_lines(summary, cfg), flush=True)
    return _left_out(failed, _maybe_report(args, out))


def _train_lines(summary: dict, cfg) -> str:
    """What a person reads at the end of ``train``: where the model is, and its test figures on
    speakers it did not hear (or why there are none)."""
    head = (f"trained {summary['model']} ({summary['n_parameters']:,} parameters) in "
            f"{summary['train_minutes']:.1f} min: {summary['run_dir']}")
    if summary.get("best_val_uar") is not None:
        head += f"\n  kept epoch {summary['best_epoch']} (validation UAR {summary['best_val_uar']:.3f})"
    t = summary.get("test")
    if not t:
        return head + "\n  no test set (--split all: every speaker was trained on)"
    whose = ("random split: its speakers were also trained on" if cfg.split == "random"
             else f"speakers it did not train on (--fold {cfg.fold}, {cfg.folds} folds)")
    return (head + f"\n  test: {t['n']} clips of {whose}\n"
            f"  accuracy {t['accuracy']:.3f}   UAR {t['uar']:.3f}   macro-F1 {t['macro_f1']:.3f}")


def run_cv(args) -> int:
    from ..errors import ConfigError
    from ..train import distributed
    from ..train.cv import cross_validate

    if distributed.launched_by_torchrun():
        raise ConfigError("escucha cv runs in one process; distributed training (torchrun, --nproc) is "
                          "'escucha train'")

    if args.resume:
        cfg, records, source = _load_resume(args, "cv")
        out = Path(args.resume)
    else:
        cfg, records, source = _load(args)
        out = Path(args.out or f"runs/cv-{cfg.model}")
    records, waves, failed = _readable(records, cfg, args)
    try:
        s = cross_validate(records, cfg, out, folds=None if args.resume else args.folds, cache=_cache(args),
                           show_progress=not args.quiet, overwrite=args.force, resume=bool(args.resume),
                           source=source, by=args.by, waves=waves)
    except KeyboardInterrupt:
        return _interrupted(out, "cv")
    if args.json:
        print(json.dumps(s, indent=2), flush=True)
        return _left_out(failed, _maybe_report(args, out))
    ms = s["mean_std"]
    if s.get("by") == "corpus":
        print(f"leave-one-corpus-out CV of {s['model']} on {s['n']} clips ({out}):")
        for r in s["per_fold"]:
            print(f"  {r['test_corpus']:10s} accuracy {r['accuracy']:.3f}   UAR {r['uar']:.3f}   macro-F1 {r['macro_f1']:.3f}")
    else:
        print(f"{s['folds']}-fold speaker CV of {s['model']} on {s['n']} clips ({out}):")
    for k in ("accuracy", "uar", "macro_f1"):
        print(f"  {k:9s} {ms[k]['mean']:.3f} ± {ms[k]['std']:.3f}   folds: "
              + " ".join(f"{v:.3f}" for v in ms[k]["folds"]))
    sys.stdout.flush()
    return _left_out(failed, _maybe_report(args, out))
