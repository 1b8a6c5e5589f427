#!/usr/bin/env python3
"""Cross-validate the bundled model's recipe (scripts/train_bundled_model.sh) as a whole
(``--recipe fast``: the fast model's, configs/fast.json, one member; ``--recipe bundled-tel25``: the
same pair with the telephone member also answering full-band input at a quarter weight, measured
and not shipped: docs/calls.md).

Each fold trains both members (configs/whisper-lr.json on the clips as recorded, cut and in a room; configs/whisper-lr-tel.json
on telephone versions), builds the same band-routed ensemble the bundle is, and scores the
held-out clips clean and through a simulated telephone line (300-3400 Hz, 8 kHz, G.711 mu-law):

- leave-one-corpus-out: train on two corpora, test on the third (the proxy for unseen corpora);
- speaker-independent CV inside each corpus, the other corpora wholly in training (the proxy for
  unseen speakers of a known corpus, e.g. RAVDESS actors 21-24).

UAR is the mean recall over the labels present in the test corpus; a prediction outside them
(e.g. "calm" outside RAVDESS) counts as wrong.

    python benchmarks/bundle_cv.py [--recipe NAME (benchmarks/recipes.py)] [--data DIR ...] [--out runs/bundle-cv] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from escucha.audio import load_audio  # noqa: E402
from escucha.corpora import scan_corpora  # noqa: E402
from escucha.data.splits import Split, corpus_split, speaker_folds  # noqa: E402
from escucha.evaluate.metrics import classification_report  # noqa: E402
from escucha.inference import EnsemblePredictor, load_model, make_ensemble  # noqa: E402
from escucha.train.augment import telephone_channel  # noqa: E402
from escucha.train.config import load_config  # noqa: E402
from escucha.train.loop import fit  # noqa: E402
from escucha.utils.progress import progress  # noqa: E402
from recipes import RECIPES, WEIGHTS  # noqa: E402


CONFIGS = RECIPES["bundled"]
WEIGHT = None


def use_recipe(name: str) -> None:
    """Train the members of recipe ``name`` (and combine them with its weights) from now on."""
    global CONFIGS, WEIGHT
    CONFIGS, WEIGHT = RECIPES[name], WEIGHTS.get(name)


def train_fold(records, split: Split, out: Path, threads: int) -> EnsemblePredictor:
    dirs = []
    for band, cfg_file in CONFIGS.items():
        cfg = load_config(cfg_file, threads=threads, split="all", val_speakers=0)
        d = out / f"member-{band}"
        fit(records, cfg, d, split=split, show_progress=False, overwrite=True)
        dirs.append(d)
    if len(dirs) == 1:
        return load_model(dirs[0], runtime="torch")
    return make_ensemble(dirs, out / "ensemble", bands=list(CONFIGS), weights=WEIGHT, force=True)


def score(model, records, idx, *, telephone: bool) -> dict:
    labels = model.labels
    li = {lab: i for i, lab in enumerate(labels)}
    truth, pred = [], []
    for i in progress(idx, desc="telephone" if telephone else "clean", unit="clip"):
        r = records[i]
        y, sr = load_audio(r.path, sample_rate=16000)
        if telephone:
            y = telephone_channel(torch.from_numpy(y)[None], 16000)[0].numpy()
            y = np.clip(y, -1, 1)
        p = model.predict(y, sample_rate=sr)
        if p.label is None:      # not judged: counted as wrong (never happens on these corpora)
            pred.append(-1)
        else:
            pred.append(li[p.label])
        truth.append(li[r.emotion])
    truth, pred = np.array(truth), np.array(pred)
    ok = pred >= 0
    rep = classification_report(truth[ok], pred[ok], labels)
    present = sorted(set(truth))
    rep["uar"] = float(np.mean([np.mean(pred[truth == c] == c) for c in present]))
    rep["not_judged"] = int((~ok).sum())
    return {k: rep[k] for k in ("n", "accuracy", "uar", "macro_f1", "not_judged")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = REPO.parent / "shared" / "data"
    ap.add_argument("--data", nargs="+", default=[str(shared / c) for c in ("ravdess", "emodb", "savee")])
    ap.add_argument("--out", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--recipe", choices=sorted(RECIPES), default="bundled",
                    help="bundled: scripts/train_bundled_model.sh's pair; fast: configs/fast.json alone")
    args = ap.parse_args(argv)
    use_recipe(args.recipe)
    torch.set_num_threads(args.threads)
    records = scan_corpora(args.data)
    corpora = sorted({r.corpus for r in records})
    out = Path(args.out or tempfile.mkdtemp(prefix="bundle-cv-"))
    results = {"loco": {}, "speaker_cv": {}}
    for c in corpora:
        split = corpus_split(records, test_corpus=c, val_speakers=0)
        model = train_fold(records, split, out / f"loco-{c}", args.threads)
        results["loco"][c] = {t: score(model, records, split.test, telephone=t == "telephone")
                              for t in ("clean", "telephone")}
        print(f"LOCO {c}: {json.dumps(results['loco'][c])}", flush=True)
    for c in corpora:
        sub = [r for r in records if r.corpus == c]
        k = min(args.folds, len({r.speaker for r in sub}))
        folds = speaker_folds(sub, k=k, seed=0)
        per = []
        for f, spk in enumerate(folds):
            test = [i for i, r in enumerate(records) if r.speaker_key in set(spk)]
            train = [i for i, r in enumerate(records) if r.speaker_key not in set(spk)]
            split = Split(train, [], test, kind="actors", speakers={"test": spk})
            model = train_fold(records, split, out / f"cv-{c}-{f}", args.threads)
            per.append({t: score(model, records, test, telephone=t == "telephone") for t in ("clean", "telephone")})
        results["speaker_cv"][c] = {
            t: {m: [float(np.mean([p[t][m] for p in per])), float(np.std([p[t][m] for p in per], ddof=1))]
                for m in ("accuracy", "uar", "macro_f1")} for t in ("clean", "telephone")}
        results["speaker_cv"][c]["folds"] = k
        print(f"speaker CV {c} ({k} folds): {json.dumps(results['speaker_cv'][c])}", flush=True)
    (out / "bundle_cv.json").write_text(json.dumps(results, indent=2))
    print(f"\n{'':24s} {'clean UAR':>12s} {'telephone UAR':>14s}")
    for c in corpora:
        lo = results["loco"][c]
        print(f"{'LOCO ' + c:24s} {lo['clean']['uar']:12.3f} {lo['telephone']['uar']:14.3f}")
    print(f"{'LOCO mean':24s} {np.mean([results['loco'][c]['clean']['uar'] for c in corpora]):12.3f} "
          f"{np.mean([results['loco'][c]['telephone']['uar'] for c in corpora]):14.3f}")
    for c in corpora:
        s = results["speaker_cv"][c]
        print(f"{'speaker CV ' + c:24s} {s['clean']['uar'][0]:6.3f} ± {s['clean']['uar'][1]:.3f} "
              f"{s['telephone']['uar'][0]:7.3f} ± {s['telephone']['uar'][1]:.3f}")
    print(f"results: {out / 'bundle_cv.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
