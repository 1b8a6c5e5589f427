#!/usr/bin/env python3
"""Calibration and prior correction, chosen leave-one-corpus-out on out-of-fold answers.

Reads the out-of-fold probabilities ``benchmarks/train_conditions.py --out DIR`` keeps (every
clip of each shared corpus answered by a model trained on the other corpora, heard as a clip,
cut to its speech, and through a telephone line) and measures what a deployment would see under
each policy of :mod:`escucha.inference.priors`:

- **calibration**: ECE of the top answer before and after a temperature fitted on the *other*
  corpora (so each corpus is judged by a temperature that never saw it); a reliability diagram;
- **calls**: two-party calls simulated from held-out speakers (an agent: 9 neutral turns of one
  speaker; a customer: 8 turns of another, every emotion of the corpus in turn), each channel
  corrected on its own: agent false alarms, customer UAR, arousal UAR;
- **folders**: the whole held-out corpus as one batch (balanced, acted), a *mostly neutral*
  folder (every neutral clip plus a fifth as many emotional ones: the natural-conversation
  proxy), and an *all-angry* folder (must stay angry).

    python benchmarks/calibration.py runs/conditions/oof-NNN.npz [--plot docs/img/reliability.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from escucha.inference.baseline import neutral_reference  # noqa: E402
from escucha.inference.priors import (apply_temperature, em_priors, expected_calibration_error,  # noqa: E402
                                      fit_temperature, shift_priors)
from escucha.labels import HIGH_AROUSAL  # noqa: E402


def policy_probs(P, labels, *, temperature, prior, strength, only=False, ratio=4.0):
    """One channel's (or folder's) answers under a policy: temperature, deployment prior, EM
    (``only``: of the neutral share alone)."""
    q = apply_temperature(P, temperature)
    start = prior_vec(labels, prior)
    pri = (em_priors(q, start, strength=strength, ratio=ratio, only=labels.index("neutral") if only else None)
           if strength else start)
    return shift_priors(q, pri)


def prior_vec(labels, neutral_share):
    if neutral_share is None:
        return np.full(len(labels), 1 / len(labels))
    v = np.full(len(labels), (1 - neutral_share) / (len(labels) - 1))
    v[labels.index("neutral")] = neutral_share
    return v


def uar(truth, pred):
    return float(np.mean([np.mean(pred[truth == c] == c) for c in sorted(set(truth))]))


def build_calls(y, corpus, speaker, labels, c, n_calls, rng):
    """[(agent row indices, customer row indices)] for corpus ``c``."""
    neutral = labels.index("neutral")
    idx = np.flatnonzero(corpus == c)
    spk = sorted(set(speaker[idx]))
    emos = sorted(set(y[idx]))
    calls = []
    for k in range(n_calls):
        a, b = rng.choice(len(spk), 2, replace=False)
        ag = idx[(speaker[idx] == spk[a]) & (y[idx] == neutral)]
        if len(ag) == 0:
            continue
        ag = rng.choice(ag, min(9, len(ag)), replace=False)
        cu = []
        for t in range(8):
            pool = idx[(speaker[idx] == spk[b]) & (y[idx] == emos[(t + k) % len(emos)])]
            if len(pool):
                cu.append(rng.choice(pool))
        calls.append((ag, np.array(cu, dtype=int)))
    return calls


def missing_answers(d) -> list[str]:
    """The test conditions :func:`choose_settings` needs that the out-of-fold answers ``d`` lack
    (a wide call's turns are cut, a telephone call's heard through the G.711 line)."""
    return [c for c in ("cut", "telephone-mu") if c not in d]


def choose_settings(d, keep, *, max_false_alarms=0.30, uncertain_share=0.25, n_calls=40, seed=0) -> dict:
    """The deployment settings chosen from the out-of-fold answers of corpora ``keep`` only
    (so that a corpus left out of ``keep`` judges settings that never saw it): one temperature
    over every way of hearing; the smallest neutral prior of the grid whose simulated agent false
    alarms stay at or under ``max_false_alarms`` on wide and telephone calls; "uncertain" under
    the top probability of the least confident ``uncertain_share`` of the answers."""
    missing = missing_answers(d)
    if missing:
        raise ValueError(f"these out-of-fold answers lack the test conditions {', '.join(missing)} (rerun "
                         f"benchmarks/train_conditions.py with --tests clip cut telephone-mu)")
    labels = [str(x) for x in d["labels"]]
    y, corpus, speaker = d["y"], d["corpus"], d["speaker"]
    conds = [k for k in ("clip", "cut", "telephone-mu") if k in d]
    m = np.isin(corpus, list(keep))
    T = fit_temperature(np.concatenate([d[c][m] for c in conds]), np.concatenate([y[m]] * len(conds)))
    rng = np.random.default_rng(seed)
    calls = {c: build_calls(y, corpus, speaker, labels, c, n_calls, rng) for c in keep}
    neutral = labels.index("neutral")
    grid = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
    prior = grid[-1]
    for pr in grid:
        fas = []
        for cond in ("cut", "telephone-mu"):
            for c in keep:
                pred = [policy_probs(d[cond][ag], labels, temperature=T, prior=pr, strength=0).argmax(1)
                        for ag, _ in calls[c]]
                if pred:
                    fas.append(float(np.mean(np.concatenate(pred) != neutral)))
        if fas and max(np.mean(fas[:len(fas) // 2]), np.mean(fas[len(fas) // 2:])) <= max_false_alarms:
            prior = pr
            break
    Q = np.concatenate([policy_probs(d[c][m], labels, temperature=T, prior=prior, strength=0) for c in conds])
    below = round(float(np.quantile(Q.max(1), uncertain_share)), 2)
    # each speaker against their own neutral voice: where the model puts neutral speech it never
    # heard, per band (the wide member answers cut turns, the telephone member telephone ones)
    ref = {band: dict(zip(labels, np.round(neutral_reference(d[cond][m & (y == neutral)], T), 3).tolist()))
           for band, cond in (("wide", "cut"), ("narrow", "telephone-mu")) if cond in d}
    return {"temperature": round(T, 3), "prior": {"neutral": prior}, "em_strength": 0.0, "em_ratio": 4.0,
            "uncertain_below": below,
            **({"baseline": {"strength": 4.0, "iterations": 3, "reference": ref}} if ref else {}),
            "source": f"benchmarks/calibration.py on out-of-fold answers of '{d['name']}' (leave-one-corpus-out over "
                      f"{', '.join(sorted(keep))}): temperature by log-likelihood; the smallest neutral prior with "
                      f"simulated agent false alarms <= {max_false_alarms} on wide and telephone calls; uncertain: "
                      f"the least confident {uncertain_share:.0%} of those answers"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("oof")
    ap.add_argument("--calls", type=int, default=40, help="simulated calls per corpus and line")
    ap.add_argument("--plot", default=None, help="write the reliability diagram here (PNG)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--max-false-alarms", type=float, default=0.30,
                    help="the neutral prior chosen keeps simulated agent false alarms at or under this")
    ap.add_argument("--uncertain-share", type=float, default=0.25,
                    help="flag as uncertain the least confident share of out-of-fold answers (under that top "
                         "probability)")
    ap.add_argument("--write", nargs="*", metavar="MODEL_DIR",
                    help="write the chosen settings to MODEL_DIR/calibration.json")
    args = ap.parse_args(argv)
    d = np.load(args.oof, allow_pickle=True)
    labels = [str(x) for x in d["labels"]]
    y, corpus = d["y"], d["corpus"]
    speaker = d["speaker"] if "speaker" in d else None
    if speaker is None:
        from escucha.corpora import scan_corpora

        shared = REPO.parent / "shared" / "data"
        recs = scan_corpora([str(shared / c) for c in ("ravdess", "emodb", "savee", "nemo", "korean")])
        speaker = np.array([r.speaker_key for r in recs])
    corpora = sorted(set(corpus))
    conds = [k for k in ("clip", "cut", "telephone-mu") if k in d]
    high = np.array([lab in HIGH_AROUSAL for lab in labels])
    neutral = labels.index("neutral")
    out = {"name": str(d["name"]), "calibration": {}, "calls": {}, "folders": {}}

    # 1. temperature, leave-one-corpus-out
    print(f"training set: {d['name']}\n\nCalibration (temperature fitted on the other corpora' out-of-fold answers)")
    print(f"{'condition':14s} {'corpus':10s} {'T':>5s} {'ECE before':>11s} {'ECE after':>10s} {'acc':>6s}")
    temps = {}
    for cond in conds:
        P = d[cond]
        before_all, after_all = [], []
        for c in corpora:
            te = corpus == c
            T = fit_temperature(P[~te], y[~te])
            temps[(cond, c)] = T
            e0, _ = expected_calibration_error(P[te], y[te])
            Q = apply_temperature(P[te], T)
            e1, _ = expected_calibration_error(Q, y[te])
            before_all.append(P[te])
            after_all.append(Q)
            acc = float(np.mean(P[te].argmax(1) == y[te]))
            print(f"{cond:14s} {c:10s} {T:5.2f} {e0:11.3f} {e1:10.3f} {acc:6.3f}")
            out["calibration"].setdefault(cond, {})[c] = {"T": T, "ece_before": e0, "ece_after": e1, "accuracy": acc}
        yy = np.concatenate([y[corpus == c] for c in corpora])
        e0, bins0 = expected_calibration_error(np.concatenate(before_all), yy)
        e1, bins1 = expected_calibration_error(np.concatenate(after_all), yy)
        Tall = fit_temperature(P, y)
        print(f"{cond:14s} {'all':10s} {Tall:5.2f} {e0:11.3f} {e1:10.3f}")
        out["calibration"][cond]["all"] = {"T_all": Tall, "ece_before": e0, "ece_after": e1, "bins_before": bins0,
                                           "bins_after": bins1}
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(conds), figsize=(4 * len(conds), 4), sharey=True)
        for ax, cond in zip(np.atleast_1d(axes), conds):
            cal = out["calibration"][cond]["all"]
            for key, name, style in (("bins_before", f"as trained (ECE {cal['ece_before']:.3f})", "o--"),
                                     ("bins_after", f"temperature (ECE {cal['ece_after']:.3f})", "s-")):
                b = cal[key]
                ax.plot([r["confidence"] for r in b], [r["accuracy"] for r in b], style, label=name)
            ax.plot([0, 1], [0, 1], ":", color="grey")
            ax.set_title(f"{cond}: unseen corpora")
            ax.set_xlabel("confidence of the top answer")
            ax.legend(loc="upper left", fontsize=8)
        np.atleast_1d(axes)[0].set_ylabel("accuracy")
        fig.tight_layout()
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=110)
        print(f"reliability diagram: {args.plot}")

    # 2. calls and folders under each policy
    policies = {"as trained": dict(T=False, prior=None, strength=0), "temperature": dict(T=True, prior=None, strength=0),
                "T, EM 16": dict(T=True, prior=None, strength=16)}
    for pr in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        policies[f"T, neutral prior {pr}"] = dict(T=True, prior=pr, strength=0)
        for s in (4, 8, 16):
            policies[f"T, neutral prior {pr}, EM-neutral {s}"] = dict(T=True, prior=pr, strength=s, only=True)
    rng = np.random.default_rng(0)
    calls = {c: build_calls(y, corpus, speaker, labels, c, args.calls, rng) for c in corpora}
    print("\nSimulated calls (per corpus mean) and folders; cut = wide-band turns, telephone-mu = telephone turns")
    hdr = (f"{'policy':36s} " + " ".join(f"{cond[:6]:>6s} cUAR  agFA  arUAR" for cond in ("cut", "telephone-mu"))
           + "   fold UAR  neutral-kept  angry-kept")
    print(hdr)
    for name, pol in policies.items():
        row = {}
        for cond in ("cut", "telephone-mu"):
            P = d[cond]
            cu_uar, fa, ar = [], [], []
            for c in corpora:
                T = temps[(cond, c)] if pol["T"] else 1.0
                tc, pc, ta, pa, pa_high, ta_high = [], [], [], [], [], []
                for ag, cu in calls[c]:
                    for rows, (tl, pl) in ((ag, (ta, pa)), (cu, (tc, pc))):
                        Q = policy_probs(P[rows], labels, temperature=T, prior=pol["prior"], strength=pol["strength"],
                                         only=pol.get("only", False))
                        tl += list(y[rows])
                        pl += list(Q.argmax(1))
                        pa_high += list(Q[:, high].sum(1) >= 0.5)
                        ta_high += list(high[y[rows]])
                if not tc:
                    continue
                cu_uar.append(uar(np.array(tc), np.array(pc)))
                fa.append(float(np.mean(np.array(pa) != neutral)))
                ar.append(uar(np.array(ta_high), np.array(pa_high)))
            row[cond] = {"customer_uar": float(np.mean(cu_uar)), "agent_fa": float(np.mean(fa)),
                         "arousal_uar": float(np.mean(ar))}
        # folders (clip condition: predict DIR)
        P = d["clip"]
        fu, nk, ak = [], [], []
        for c in corpora:
            T = temps[("clip", c)] if pol["T"] else 1.0
            te = np.flatnonzero(corpus == c)
            Q = policy_probs(P[te], labels, temperature=T, prior=pol["prior"], strength=pol["strength"],
                             only=pol.get("only", False))
            fu.append(uar(y[te], Q.argmax(1)))
            neu = te[y[te] == neutral]
            emo = te[y[te] != neutral]
            mix = np.concatenate([neu, rng.choice(emo, max(1, len(neu) // 5), replace=False)])
            Q = policy_probs(P[mix], labels, temperature=T, prior=pol["prior"], strength=pol["strength"],
                             only=pol.get("only", False))
            nk.append(float(np.mean(Q[: len(neu)].argmax(1) == neutral)))
            ang = te[y[te] == labels.index("angry")]
            if len(ang):
                Q = policy_probs(P[ang], labels, temperature=T, prior=pol["prior"], strength=pol["strength"],
                             only=pol.get("only", False))
                ak.append(float(np.mean(Q.argmax(1) == labels.index("angry"))))
        row["folders"] = {"uar": float(np.mean(fu)), "neutral_kept": float(np.mean(nk)), "angry_kept": float(np.mean(ak))}
        out["calls"][name] = row
        print(f"{name:36s} " + " ".join(
            f"{'':6s} {row[c]['customer_uar']:.3f} {row[c]['agent_fa']:.2f} {row[c]['arousal_uar']:.3f}"
            for c in ("cut", "telephone-mu"))
            + f"   {row['folders']['uar']:.3f}     {row['folders']['neutral_kept']:.3f}        "
              f"{row['folders']['angry_kept']:.3f}", flush=True)
    # 3. the settings to ship: one temperature over every way of hearing; the smallest neutral
    # prior whose simulated agent false alarms stay at or under --max-false-alarms on both lines;
    # "uncertain" under the top probability of the least confident --uncertain-share of the
    # out-of-fold answers
    chosen = choose_settings(d, corpora, max_false_alarms=args.max_false_alarms,
                             uncertain_share=args.uncertain_share, n_calls=args.calls)
    T, prior = chosen["temperature"], chosen["prior"]["neutral"]
    Q = np.concatenate([policy_probs(d[c][corpus == k], labels, temperature=T, prior=prior, strength=0)
                        for c in conds for k in corpora])
    yy = np.concatenate([y[corpus == k] for c in conds for k in corpora])
    conf, right = Q.max(1), Q.argmax(1) == yy
    print(f"\nwith T {T:.2f} and neutral prior {prior}: top probability vs accuracy on unseen corpora")
    print(f"{'below':>6s} {'share':>6s} {'acc below':>10s} {'acc above':>10s}")
    thresholds = np.round(np.arange(0.2, 0.65, 0.05), 2)
    below = chosen["uncertain_below"]
    for t in thresholds:
        m = conf < t
        acc_b = float(right[m].mean()) if m.any() else float("nan")
        print(f"{t:6.2f} {m.mean():6.3f} {acc_b:10.3f} {float(right[~m].mean()) if (~m).any() else float('nan'):10.3f}")
    m = conf < below
    print(f"uncertain below {below}: {m.mean():.3f} of the answers, right {right[m].mean():.3f} of the time "
          f"(the others {right[~m].mean():.3f})")
    out["uncertain"] = {"below": below, "share": float(m.mean()), "accuracy_uncertain": float(right[m].mean()),
                        "accuracy_others": float(right[~m].mean())}
    out["chosen"] = chosen
    print("chosen:", json.dumps(chosen))
    if args.write:
        from escucha.inference.priors import Calibration, write_calibration

        for m in args.write:
            write_calibration(m, Calibration.from_dict(chosen))
            print(f"wrote {Path(m) / 'calibration.json'}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
