#!/usr/bin/env python3
"""Answer each speaker of a call against their own baseline? Measured on out-of-fold answers.

Speech emotion differs from speaker to speaker more than from emotion to emotion; normalising
each speaker by their own statistics is a classic cross-corpus lever. ``escucha adapt`` does it
for a whole folder (towards the training corpora's average, which is emotional by construction,
so it is not the default: calibration.md). This script measures the per-call version, anchored on
*neutral* instead of the average, at the level of the answers: the regression is linear, so
shifting a speaker's features shifts their log-probabilities by a constant vector. Each party's
log-probabilities (after the temperature, before the deployment prior) are moved by
``s * (reference - centre)``, where

- ``reference`` is the mean log-probability of the *other* corpora's neutral clips (what the
  model answers for neutral speech it never heard), per way of hearing (cut or telephone);
- ``centre`` is the party's mean log-probability: over all their turns (``mean``), or over the
  turns heard as neutral, weighted by their neutral probability and re-estimated three times
  (``neutral``: Busso et al. 2013's iterative feature normalisation, at the answer level);
- ``s = n / (n + k)`` shrinks the move for parties heard little (``n``: their turns, or their
  neutral weight).

Calls are simulated as ``benchmarks/calibration.py`` does (an agent: 9 neutral turns of one
speaker; a customer: 8 turns of another, every emotion in turn; 64 calls per corpus), with the
deployment settings chosen from the other corpora's answers. Printed per variant, mean over the
held-out corpora and the two lines: customer UAR, agent false alarms, **all-angry** (the angry
recall of a customer angry in all 8 turns: must stay angry), **mostly-neutral** (the share of
a speaker's neutral turns given another emotion when 8 of their 10 turns are neutral: the
natural-conversation proxy) and customer arousal UAR.

    python benchmarks/speaker_baseline.py runs/conditions-s4/oof-clip-cut-telephone-mu-trim40-floor30-whisper-base-L1234-split.npz
        [--spread]   # instead: how far apart speakers' calm voices are, against anger
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from calibration import build_calls, choose_settings, prior_vec, uar  # noqa: E402
from escucha.inference.priors import apply_temperature, shift_priors  # noqa: E402
from escucha.labels import HIGH_AROUSAL  # noqa: E402

LINES = ("cut", "telephone-mu")


def answers(P, labels, *, temperature, prior, reference=None, centre="mean", k=4.0, iterations=3):
    """One party's answers (``P``: their turns' uncalibrated probabilities): temperature, optionally
    the move towards ``reference`` (see the module's docstring), then the deployment prior."""
    neutral = labels.index("neutral")
    pri = prior_vec(labels, prior)
    L0 = np.log(np.clip(apply_temperature(P, temperature), 1e-12, 1.0))

    def post(L):
        q = np.exp(L - L.max(1, keepdims=True))
        return shift_priors(q / q.sum(1, keepdims=True), pri)

    if reference is None:
        return post(L0).argmax(1)
    if centre == "mean":
        return post(L0 - len(P) / (len(P) + k) * (L0.mean(0) - reference)).argmax(1)
    L, Q = L0, post(L0)
    for _ in range(iterations):
        w = Q[:, neutral]
        n = float(w.sum())
        mu = (w[:, None] * L0).sum(0) / max(n, 1e-9)
        L = L0 - n / (n + k) * (mu - reference)
        Q = post(L)
    return Q.argmax(1)


def spread(d, temperature: float) -> None:
    """Can one speaker's answers tell an angry speaker from a calm one who sounds angry? Per corpus
    and line: how far apart speakers' *neutral* centres lie on each class (the standard deviation
    over speakers of the mean centred log-probability of their neutral clips, each speaker with
    at least 3), against how far the corpus's angry clips sit from its neutral clips on the same
    class. Where the second is within about two of the first, a calm speaker who sounds angry and
    an angry speaker are the same numbers to any per-speaker normalisation."""
    labels = [str(x) for x in d["labels"]]
    y, corpus, speaker = d["y"], d["corpus"], d["speaker"]
    neutral, angry = labels.index("neutral"), labels.index("angry")
    print(f"\nspeakers' calm voices (sd over speakers of their neutral centre) against anger (angry clips' "
          f"centre minus neutral clips'), log-probability after temperature {temperature:g}, centred:")
    print(f"  {'corpus':8s} {'line':13s} {'speakers':>8s} {'sd angry':>9s} {'sd max':>7s} {'anger on angry':>15s}")
    for line in LINES:
        L = np.log(np.clip(apply_temperature(d[line], temperature), 1e-12, 1.0))
        L -= L.mean(1, keepdims=True)
        for c in sorted(set(corpus)):
            m = (corpus == c) & (y == neutral)
            centres = np.array([L[m & (speaker == s)].mean(0) for s in sorted(set(speaker[m]))
                                if (m & (speaker == s)).sum() >= 3])
            sd = centres.std(0)
            anger = L[(corpus == c) & (y == angry)].mean(0) - L[m].mean(0)
            print(f"  {c:8s} {line:13s} {len(centres):8d} {sd[angry]:9.2f} {sd.max():7.2f} {anger[angry]:15.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("oof", help="out-of-fold answers kept by benchmarks/train_conditions.py --out")
    ap.add_argument("--calls", type=int, default=64, help="calls per corpus and line (default 64)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--spread", action="store_true",
                    help="only the table of speakers' calm voices against anger (see spread())")
    args = ap.parse_args(argv)
    d = dict(np.load(args.oof, allow_pickle=True))
    if args.spread:
        corpora = sorted(set(d["corpus"]))
        spread(d, choose_settings(d, corpora)["temperature"])
        return 0
    labels = [str(x) for x in d["labels"]]
    y, corpus, speaker = d["y"], d["corpus"], d["speaker"]
    neutral, angry = labels.index("neutral"), labels.index("angry")
    high = np.array([lab in HIGH_AROUSAL for lab in labels])
    corpora = sorted(set(corpus))
    variants = [("as shipped", None, 0)] + [(c, c, k) for c in ("mean", "neutral") for k in (1, 2, 4, 8, 16)]
    rows = {}   # (variant index, corpus, line) -> metrics
    for c in corpora:
        keep = [x for x in corpora if x != c]
        st = choose_settings(d, keep)
        T, prior = st["temperature"], st["prior"]["neutral"]
        rng = np.random.default_rng(args.seed)
        calls = build_calls(y, corpus, speaker, labels, c, args.calls, rng)
        idx = np.flatnonzero(corpus == c)
        angry_sets, mostly_sets = [], []
        for s in sorted(set(speaker[idx])):
            mine = idx[speaker[idx] == s]
            a = mine[y[mine] == angry]
            if len(a) >= 4:
                angry_sets.append(rng.choice(a, min(8, len(a)), replace=False))
            n_, e_ = mine[y[mine] == neutral], mine[y[mine] != neutral]
            if len(n_) >= 8 and len(e_) >= 2:
                mostly_sets.append(np.concatenate([rng.choice(n_, 8, replace=False), rng.choice(e_, 2, replace=False)]))
        for line in LINES:
            P = d[line]
            ref_rows = np.isin(corpus, keep) & (y == neutral)
            reference = np.log(np.clip(apply_temperature(P[ref_rows], T), 1e-12, 1.0)).mean(0)
            for i, (_, centre, k) in enumerate(variants):
                kw = dict(temperature=T, prior=prior, reference=None if centre is None else reference,
                          centre=centre or "mean", k=k)
                fa = np.concatenate([answers(P[ag], labels, **kw) != neutral for ag, _ in calls])
                truth = np.concatenate([y[cu] for _, cu in calls])
                pred = np.concatenate([answers(P[cu], labels, **kw) for _, cu in calls])
                m = {"customer": uar(truth, pred), "agent FA": float(fa.mean()),
                     "all-angry": (float(np.mean(np.concatenate([answers(P[a], labels, **kw) == angry
                                                                 for a in angry_sets])))
                                   if angry_sets else np.nan),
                     "mostly-neutral FA": (float(np.mean(np.concatenate([answers(P[r], labels, **kw)[:8] != neutral
                                                                         for r in mostly_sets])))
                                           if mostly_sets else np.nan),
                     "arousal": uar(high[truth].astype(int), high[pred].astype(int))}
                rows[(i, c, line)] = m
    keys = list(next(iter(rows.values())))
    print(f"{args.oof}: {args.calls} calls per corpus and line; mean over {', '.join(corpora)} x {', '.join(LINES)}")
    print(f"{'variant':22s} " + " ".join(f"{k:>17s}" for k in keys))
    for i, (name, centre, k) in enumerate(variants):
        label = name if centre is None else f"{centre}, k={k}"
        vals = [np.nanmean([rows[(i, c, line)][key] for c in corpora for line in LINES]) for key in keys]
        print(f"{label:22s} " + " ".join(f"{v:17.3f}" for v in vals))
    print("\nper corpus and line, customer UAR / agent FA / all-angry:")
    for c in corpora:
        for line in LINES:
            cells = "  ".join(
                f"{(n if ce is None else f'{ce[0]}{k}')}: {rows[(i, c, line)]['customer']:.2f}/"
                f"{rows[(i, c, line)]['agent FA']:.2f}/{rows[(i, c, line)]['all-angry']:.2f}"
                for i, (n, ce, k) in enumerate(variants) if ce is None or k in (2, 4))
            print(f"  {c:8s} {line:13s} {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
