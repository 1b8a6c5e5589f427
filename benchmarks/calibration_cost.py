#!/usr/bin/env python3
"""What the shipped deployment settings cost on unseen speakers of a known corpus.

The settings (temperature, neutral prior) are chosen leave-one-corpus-out, where the model is
unsure; on voices of a corpus it knows it is surer and right more often, and the neutral prior
may then turn right answers into "neutral". This applies a model's ``calibration.json`` to
out-of-fold answers of speaker folds (``benchmarks/train_conditions.py --speaker-folds CORPUS
--out DIR`` keeps them) and prints, per way of hearing, UAR as trained and as shipped and how often
each answers neutral.

    python benchmarks/calibration_cost.py runs/conditions-room/spk-ravdess5-oof-....npz src/escucha/assets/model/calibration.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration import policy_probs, uar  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("oof", help="out-of-fold answers of speaker folds (an spk-*oof-*.npz of train_conditions.py)")
    ap.add_argument("calibration", help="a model's calibration.json")
    ap.add_argument("--corpus", default=None, help="the corpus whose speakers were held out (default: the file's)")
    args = ap.parse_args(argv)
    d = np.load(args.oof, allow_pickle=True)
    cal = json.loads(Path(args.calibration).read_text())
    labels, y = list(d["labels"]), d["y"]
    corpus = args.corpus or Path(args.oof).name.split("-")[1].rstrip("0123456789")
    rows = d["corpus"] == corpus
    if not rows.any():
        ap.error(f"no clip of corpus {corpus!r} in {args.oof}")
    neutral = labels.index("neutral")
    prior = (cal.get("prior") or {}).get("neutral")
    print(f"{corpus}: {rows.sum()} clips of unseen speakers; temperature {cal['temperature']:g}, neutral prior {prior}")
    print(f"{'heard as':14s} {'UAR trained':>11s} {'UAR shipped':>11s} {'neutral: truth':>14s} {'trained':>8s} {'shipped':>8s}")
    for t in (k for k in ("clip", "cut", "telephone-mu", "room-mild") if k in d.files):
        P, truth = d[t][rows], y[rows]
        Q = policy_probs(P, labels, temperature=cal["temperature"], prior=prior, strength=0)
        print(f"{t:14s} {uar(truth, P.argmax(1)):11.3f} {uar(truth, Q.argmax(1)):11.3f} {np.mean(truth == neutral):14.2f} "
              f"{np.mean(P.argmax(1) == neutral):8.2f} {np.mean(Q.argmax(1) == neutral):8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
