"""Late fusion of cross-validated models: average their per-clip probabilities fold by fold.

    python benchmarks/fusion.py runs/bench/m5 runs/bench/egemaps-svm [--weights 1 1]
    python benchmarks/fusion.py runs/a/oof-....npz runs/b/oof-fast-....npz --test telephone-mu --weights 3 1

Reads each CV folder's ``cv_predictions.csv`` (every clip tested once, by a model that never
heard its speaker), or the out-of-fold answers ``benchmarks/train_conditions.py`` keeps
(``oof-*.npz``: every clip heard under ``--test`` by a model that never heard its corpus, or its
speakers with ``--speaker-folds``; one fold per corpus), averages the probabilities with fixed
weights (no tuning on the test clips) and prints accuracy / UAR / macro-F1 per fold and
mean ± std, for each input alone and for the fusion.
"""

from __future__ import annotations

import argparse
import csv
import sys

import numpy as np

from escucha.evaluate.metrics import classification_report, mean_std_table


def load(path, test: str = "clip"):
    if str(path).endswith(".npz"):
        return load_oof(path, test)
    rows = list(csv.DictReader(open(f"{path}/cv_predictions.csv")))
    labels = [k[2:] for k in rows[0] if k.startswith("p_")]
    return {r["file"]: r for r in rows}, labels


def load_oof(path, test: str):
    """``train_conditions.py``'s out-of-fold answers to the clips heard as ``test``, as rows of
    ``cv_predictions.csv`` (a clip is its row number; its fold, its corpus)."""
    d = np.load(path, allow_pickle=True)
    if test not in d.files:
        raise SystemExit(f"{path}: no answers to {test!r} clips (it has: "
                         f"{', '.join(f for f in d.files if f not in ('name', 'labels', 'y', 'corpus', 'speaker'))})")
    labels = [str(lab) for lab in d["labels"]]
    corpora = sorted(set(d["corpus"]))
    rows = {}
    for i, (y, c, p) in enumerate(zip(d["y"], d["corpus"], d[test])):
        rows[str(i)] = {"file": str(i), "fold": str(corpora.index(c)), "true": labels[int(y)],
                        **{f"p_{lab}": v for lab, v in zip(labels, p)}}
    return rows, labels


def scores(by_file, probs_of, labels):
    li = {lab: i for i, lab in enumerate(labels)}
    folds = sorted({int(r["fold"]) for r in by_file.values()})
    reps = []
    for f in folds:
        files = [k for k, r in by_file.items() if int(r["fold"]) == f]
        y = [li[by_file[k]["true"]] for k in files]
        p = np.stack([probs_of(k) for k in files])
        reps.append(classification_report(y, p.argmax(1), labels))
    return mean_std_table(reps)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cv_dirs", nargs="+")
    ap.add_argument("--weights", nargs="+", type=float)
    ap.add_argument("--test", default="clip", help="with oof-*.npz inputs: the condition the clips were heard in "
                                                   "(clip, cut, telephone-mu, ...; default clip)")
    ap.add_argument("--confusion", action="store_true", help="also print the fusion's pooled confusion and recalls")
    args = ap.parse_args(argv)
    runs = [load(d, args.test) for d in args.cv_dirs]
    labels = runs[0][1]
    w = args.weights or [1.0] * len(runs)
    base = runs[0][0]
    for d, (by, labs) in zip(args.cv_dirs, runs):
        assert labs == labels and set(by) == set(base), f"{d}: different clips or labels"
        assert all(by[k]["fold"] == base[k]["fold"] for k in base), f"{d}: different folds"

    def vec(r):
        return np.array([float(r[f"p_{lab}"]) for lab in labels])

    print("| input | accuracy | UAR | macro-F1 |\n|---|---|---|---|")
    for d, (by, _) in zip(args.cv_dirs, runs):
        s = scores(by, lambda k, by=by: vec(by[k]), labels)
        print(f"| {d} | " + " | ".join(f"{s[m]['mean']:.3f} ± {s[m]['std']:.3f}" for m in ("accuracy", "uar", "macro_f1")) + " |")
    s = scores(base, lambda k: sum(wi * vec(by[k]) for wi, (by, _) in zip(w, runs)) / sum(w), labels)
    print("| fusion (" + " + ".join(f"{wi:g}×{d}" for wi, d in zip(w, args.cv_dirs)) + ") | "
          + " | ".join(f"{s[m]['mean']:.3f} ± {s[m]['std']:.3f}" for m in ("accuracy", "uar", "macro_f1")) + " |")
    if args.confusion:
        li = {lab: i for i, lab in enumerate(labels)}
        files = sorted(base)
        p = np.stack([sum(wi * vec(by[k]) for wi, (by, _) in zip(w, runs)) for k in files])
        rep = classification_report([li[base[k]["true"]] for k in files], p.argmax(1), labels)
        print("\npooled confusion (rows = true):\n" + " " * 10 + " ".join(f"{lab[:6]:>6s}" for lab in labels))
        for lab, row in zip(labels, rep["confusion"]):
            print(f"{lab:10s}" + " ".join(f"{v:6d}" for v in row) + f"   recall {rep['per_class'][lab]['recall']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
