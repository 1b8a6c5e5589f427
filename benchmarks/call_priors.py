#!/usr/bin/env python3
"""How would the calls benchmark score under another neutral prior? Re-scored from ``calls.json``.

``benchmarks/calls.py`` keeps every turn's probabilities (the overlap-weighted mean of its
segments' answers, deployment prior included). Re-weighting them by ``new prior / old prior``
(:func:`escucha.inference.priors.shift_priors`) shows the trade between the customer's UAR and
the agent's false alarms without analysing the calls again. It is exact for a turn heard as one
window and close for longer ones (``analyze`` applies the prior to each window before averaging),
and it reproduces the benchmark's own figures at the prior each fold was analysed with.

    python benchmarks/call_priors.py runs/calls32/calls.json --old nemo=0.25 korean=0.2 \
        [--priors 0.15 0.2 0.25 0.3 0.35 0.4 0.5]

``--old``: the neutral prior each corpus's fold model was analysed with (``calls.py`` prints it:
"calibrated without CORPUS: ... prior {'neutral': P}"; one value for every corpus, or
CORPUS=P each).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from escucha.inference.priors import Calibration, shift_priors  # noqa: E402


def rescore(turns: list[dict], labels: list[str], old: float, new: float) -> tuple[float, float]:
    """(customer UAR, agent false-alarm rate) of ``turns`` re-weighted from neutral prior ``old`` to ``new``."""
    answered = [t for t in turns if t.get("probabilities")]
    P = np.array([[t["probabilities"][lab] for lab in labels] for t in answered])
    vec = lambda p: Calibration(prior={"neutral": p}).prior_vector(labels)  # noqa: E731
    pred = np.array(labels)[shift_priors(P, vec(new), vec(old)).argmax(1)]
    truth = np.array([t["truth"] for t in answered])
    party = np.array([t["party"] for t in answered])
    cust = party == "customer"
    # a turn no segment overlaps is wrong, as calls.py scores it
    missed = {c: sum(1 for t in turns if not t.get("probabilities") and t["party"] == "customer" and t["truth"] == c)
              for c in set(truth[cust])}
    recalls = [np.sum(pred[cust & (truth == c)] == c) / (np.sum(cust & (truth == c)) + missed[c])
               for c in sorted(set(truth[cust]))]
    return float(np.mean(recalls)), float(np.mean(pred[party == "agent"] != "neutral"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("calls", help="calls.json written by benchmarks/calls.py --out")
    ap.add_argument("--old", nargs="+", required=True, metavar="[CORPUS=]P",
                    help="the neutral prior each corpus was analysed with")
    ap.add_argument("--priors", nargs="+", type=float, default=[0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5])
    args = ap.parse_args(argv)
    try:
        d = json.loads(Path(args.calls).read_text())
    except (OSError, ValueError) as e:
        ap.error(f"{args.calls}: cannot read calls.json ({e})")
    old = {}
    for item in args.old:
        corpus, _, p = item.rpartition("=")
        try:
            old[corpus or "*"] = float(p)
        except ValueError:
            ap.error(f"--old: {item!r} is not CORPUS=P or P")
    print(f"{args.calls}: customer UAR / agent false alarms with the neutral prior re-weighted to")
    print(f"{'model':24s} {'corpus':8s} {'line':15s} " + " ".join(f"{p:>11g}" for p in args.priors))
    for model, corpora in d["models"].items():
        for corpus, lines in corpora.items():
            if corpus not in old and "*" not in old:
                ap.error(f"--old: no prior given for {corpus}")
            o = old.get(corpus, old.get("*"))
            for line, x in lines.items():
                first = next((t for t in x.get("turns", []) if t.get("probabilities")), None)
                if first is None:   # written before calls.py kept them (December 2026)
                    ap.error(f"{args.calls}: no turn probabilities for {model} {corpus} {line}; "
                             "rerun benchmarks/calls.py")
                labels = list(first["probabilities"])
                cells = [rescore(x["turns"], labels, o, p) for p in args.priors]
                print(f"{model:24s} {corpus:8s} {line:15s} " + " ".join(f"{u:.3f}/{f:.2f}" for u, f in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
