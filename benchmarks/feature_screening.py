#!/usr/bin/env python3
"""Quick screening of front ends on features cached once per clip: leave-one-corpus-out in seconds.

Before a recipe goes through ``escucha cv --by corpus`` (about 12 min per recipe on 2 cores),
this compares front ends on features extracted once per clip, with a logistic regression
(``--C`` 0.1, balanced classes, standardised on the training clips). It is how the Whisper
layers of the bundled recipe and the shrinkage of ``escucha adapt`` were chosen
(``docs/results.md``, "Screening on cached features"); every choice was then confirmed through
escucha itself (``escucha cv --by corpus``, ``benchmarks/bundle_cv.py``).

    python benchmarks/feature_screening.py extract --cache DIR [--kind whisper|egemaps|telephone]
    python benchmarks/feature_screening.py loco --cache DIR [--layers 1,2,3] [--adapt shrunk] [--rav-in]

``extract`` writes ``DIR/KIND.npz`` (1-2 min per kind on 2 cores for the three corpora):
``whisper``, Whisper tiny.en hidden states (the embedding and the 4 blocks, mean and std over
time: 5 x 768 values); ``egemaps``, openSMILE eGeMAPS v02 functionals (88); ``telephone``, the
Whisper states of G.711 telephone versions of the same clips. Clips are loaded at 16 kHz and
loudness-normalised to -23 dBFS, not trimmed.

``loco`` reads them. Data: RAVDESS (the actors present), EmoDB without boredom, SAVEE.
LOCO: train on two corpora, test on the third; UAR over the emotions present in the test corpus,
any other answer wrong (so with RAVDESS held out, calm is always wrong). ``--rav-in``: also
5-fold actor cross-validation of RAVDESS with EmoDB and SAVEE wholly in training. ``--adapt``
standardises the test corpus with its own statistics (``full``) or with them shrunk towards the
training statistics by n / (n + 200) (``shrunk``, what ``escucha adapt`` does), and also reports
the recall of angry on a folder of only angry clips (full re-normalisation erases it).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

CORPORA = ("ravdess", "emodb", "savee")
LABELS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
KINDS = ("whisper", "egemaps", "telephone")
WHISPER_STATES = 5          # tiny.en: the embedding and 4 blocks
SHRINK = 200.0              # escucha adapt: weight n / (n + 200) on the target's own statistics


# -- extract -----------------------------------------------------------------------------------------
def _records(data: Path, limit: int | None) -> list:
    from escucha.corpora import scan_emodb, scan_ravdess, scan_savee

    out = []
    for name, scan in (("ravdess", scan_ravdess), ("emodb", scan_emodb), ("savee", scan_savee)):
        recs = [r for r in scan(data / name) if r.emotion in LABELS]   # EmoDB's boredom has no counterpart
        out += recs[:limit] if limit else recs
    return out


def extract(args) -> int:
    import torch

    from escucha.audio import load_audio
    from escucha.data.waveforms import PreprocessConfig, preprocess

    torch.set_num_threads(args.threads)
    recs = _records(Path(args.data), args.limit)
    cfg = PreprocessConfig(sample_rate=16000, trim_db=None, loudness_db=-23.0)
    if args.kind == "egemaps":
        from escucha.features.smile import egemaps_functionals, make_smile

        smile = make_smile()
    else:
        from escucha.features.whisper import load_whisper_encoder, pooled_states
        from escucha.train.augment import telephone_channel

        enc = load_whisper_encoder()
    rows, t0 = [], time.time()
    for i, r in enumerate(recs):
        y, _ = load_audio(r.path, sample_rate=16000)
        if args.kind == "telephone":
            y = telephone_channel(torch.from_numpy(y)[None], 16000)[0].numpy()
        y = preprocess(y, 16000, cfg, name=r.path)
        if args.kind == "egemaps":
            rows.append(egemaps_functionals(smile, y[None], 16000)[0, :, 0])
        else:
            with torch.inference_mode():
                rows.append(pooled_states(enc, torch.from_numpy(y)[None])[0].numpy())
        if i % 200 == 0:
            print(f"{i}/{len(recs)} clips, {time.time() - t0:.0f} s", flush=True)
    out = Path(args.cache) / f"{args.kind}.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, X=np.stack(rows), corpus=[r.corpus for r in recs], speaker=[r.speaker for r in recs],
             emotion=[r.emotion for r in recs], path=[r.path for r in recs])
    print(f"{out}: {len(rows)} clips x {rows[0].shape[0]} values, {time.time() - t0:.0f} s")
    return 0


# -- loco --------------------------------------------------------------------------------------------
def _uar(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean([np.mean(y_pred[y_true == k] == k) for k in np.unique(y_true)]))


def _select_layers(X: np.ndarray, layers: str | None) -> np.ndarray:
    if not layers:
        return X
    width = X.shape[1] // WHISPER_STATES
    return np.hstack([X[:, i * width:(i + 1) * width] for i in (int(s) for s in layers.split(","))])


def _standardise(X_test: np.ndarray, mu: np.ndarray, sd: np.ndarray, adapt: str) -> np.ndarray:
    if adapt == "none":
        return (X_test - mu) / sd
    lam = 1.0 if adapt == "full" else len(X_test) / (len(X_test) + SHRINK)
    m = lam * X_test.mean(0) + (1 - lam) * mu
    s = np.sqrt(lam * X_test.var(0) + (1 - lam) * sd ** 2)
    return (X_test - m) / s


def loco(args) -> int:
    from sklearn.linear_model import LogisticRegression

    warnings.filterwarnings("ignore")
    if args.features == "egemaps" and (args.layers or args.test == "telephone"):
        sys.exit("--layers and --test telephone are for Whisper features (--features whisper)")
    cache = Path(args.cache)
    data = np.load(cache / f"{args.features}.npz")
    X = _select_layers(data["X"], args.layers)
    X_test_all = X
    if args.test == "telephone":
        tel = np.load(cache / "telephone.npz")
        if not (tel["path"] == data["path"]).all():
            sys.exit(f"{cache / 'telephone.npz'}: not the clips of {args.features}.npz; extract both again")
        X_test_all = _select_layers(tel["X"], args.layers)
    corpus, speaker = data["corpus"], data["speaker"]
    y = np.array([LABELS.index(e) for e in data["emotion"]])

    def fit(train: np.ndarray):
        mu, sd = X[train].mean(0), X[train].std(0) + 1e-6
        clf = LogisticRegression(C=args.C, max_iter=3000, class_weight="balanced").fit((X[train] - mu) / sd, y[train])
        return clf, mu, sd

    what = args.features + (f" layers {args.layers}" if args.layers else "")
    print(f"{what}, C {args.C}, adapt {args.adapt}, tested on {args.test} clips")
    scores = {}
    for held in (c for c in CORPORA if (corpus == c).any()):
        test = corpus == held
        clf, mu, sd = fit(~test)
        scores[held] = _uar(y[test], clf.predict(_standardise(X_test_all[test], mu, sd, args.adapt)))
        line = f"  LOCO {held:8s} UAR {scores[held]:.3f}"
        angry = test & (y == LABELS.index("angry"))
        if args.adapt != "none" and angry.any():
            recall = np.mean(clf.predict(_standardise(X_test_all[angry], mu, sd, args.adapt)) == LABELS.index("angry"))
            line += f"   angry-only folder: recall {recall:.2f}"
        print(line, flush=True)
    print(f"  LOCO mean      UAR {np.mean(list(scores.values())):.3f}")
    if args.rav_in:
        actors = np.random.default_rng(0).permutation(np.unique(speaker[corpus == "ravdess"]))
        folds = []
        for f in range(5):
            test = (corpus == "ravdess") & np.isin(speaker, list(actors[f::5]))
            clf, mu, sd = fit(~test)
            folds.append(_uar(y[test], clf.predict((X_test_all[test] - mu) / sd)))
        print(f"  RAV in (5 actor folds) UAR {np.mean(folds):.3f} ± {np.std(folds, ddof=1):.3f}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    sub = ap.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("extract", help="extract one kind of features of every clip into the cache")
    ex.add_argument("--cache", required=True, metavar="DIR", help="folder for the .npz files")
    ex.add_argument("--kind", choices=KINDS, default="whisper", help="features to extract (default: %(default)s)")
    ex.add_argument("--data", default=str(REPO.parent / "shared" / "data"),
                    help="folder holding ravdess/, emodb/ and savee/ (default: %(default)s)")
    ex.add_argument("--limit", type=int, metavar="N", help="only the first N clips of each corpus (a quick check)")
    ex.add_argument("--threads", type=int, default=1, help="torch threads (default: %(default)s)")
    ex.set_defaults(func=extract)
    lo = sub.add_parser("loco", help="leave-one-corpus-out on cached features")
    lo.add_argument("--cache", required=True, metavar="DIR", help="folder of the .npz files made by extract")
    lo.add_argument("--features", choices=("whisper", "egemaps"), default="whisper",
                    help="features to train on (default: %(default)s)")
    lo.add_argument("--layers", help="Whisper states to use, e.g. 1,2,3 (0: the embedding; default: all five)")
    lo.add_argument("--C", type=float, default=0.1, help="inverse regularisation (default: %(default)s)")
    lo.add_argument("--adapt", choices=("none", "full", "shrunk"), default="none",
                    help="standardise each test corpus with its own statistics (default: %(default)s)")
    lo.add_argument("--test", choices=("clean", "telephone"), default="clean",
                    help="score the clean clips or their telephone versions (needs telephone.npz)")
    lo.add_argument("--rav-in", action="store_true", help="also 5-fold actor CV of RAVDESS, other corpora in training")
    lo.set_defaults(func=loco)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
