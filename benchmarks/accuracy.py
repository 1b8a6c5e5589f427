"""5-fold speaker cross-validation of each model on RAVDESS, one table.

    python benchmarks/accuracy.py --data ../shared/data/ravdess \
        --configs configs/m5.json configs/egemaps-svm.json configs/best.json --out runs/bench

For each config it runs ``escucha cv`` (or, with ``--reuse``, reads an existing
``OUT/<config>/cv_summary.json``) and prints accuracy, UAR and macro-F1 (mean ± std over
folds), parameters, training minutes (all folds) and inference milliseconds per 3-s clip on
one CPU core (features included; median of repeated runs, measured here, in this process).
Not run in CI: it trains 5 models per config.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/fusion.py


def inference_ms(model_dir: Path, *, seconds: float = 3.0, repeats: int = 30) -> float:
    import torch

    from escucha.inference import load_model

    torch.set_num_threads(1)
    pred = load_model(model_dir)
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(int(seconds * pred.sample_rate))).astype(np.float32)
    for _ in range(3):
        pred.predict(y, sample_rate=pred.sample_rate)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        pred.predict(y, sample_rate=pred.sample_rate)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--configs", nargs="+", required=True)
    ap.add_argument("--out", default="runs/bench")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--reuse", action="store_true", help="read existing cv_summary.json instead of training")
    ap.add_argument("--fusion", nargs="+", default=[], metavar="NAME=A,B,C",
                    help="also score an equal-weight ensemble of the listed configs' CV runs (late fusion, "
                         "fold by fold); its speed is measured on an ensemble of their fold-0 models")
    args = ap.parse_args(argv)

    from escucha.corpora import scan_corpus
    from escucha.train import load_config
    from escucha.train.cv import cross_validate

    records = None
    rows = []
    for cfg_path in args.configs:
        name = Path(cfg_path).stem
        out = Path(args.out) / name
        summary_path = out / "cv_summary.json"
        if args.reuse and summary_path.is_file():
            s = json.loads(summary_path.read_text())
        else:
            records = records or scan_corpus(args.data)
            s = cross_validate(records, load_config(cfg_path), out, folds=args.folds, overwrite=True)
        run_cfg = json.loads((out / "fold-0" / "config.json").read_text())
        ms = inference_ms(out / "fold-0")
        m = s["mean_std"]
        rows.append({"model": f"{name} ({s['model']})", "acc": m["accuracy"], "uar": m["uar"], "f1": m["macro_f1"],
                     "params": run_cfg["n_parameters"], "train_min": s["train_minutes_total"], "ms": ms})

    for spec in args.fusion:
        import tempfile

        from fusion import load, scores

        from escucha.inference import make_ensemble

        name, members = spec.split("=", 1)
        dirs = [Path(args.out) / m for m in members.split(",")]
        runs = [load(d) for d in dirs]
        labels = runs[0][1]

        def vec(r):
            return np.array([float(r[f"p_{lab}"]) for lab in labels])

        base = runs[0][0]
        m = scores(base, lambda k: sum(vec(by[k]) for by, _ in runs) / len(runs), labels)
        summaries = [json.loads((d / "cv_summary.json").read_text()) for d in dirs]
        params = sum(json.loads((d / "fold-0" / "config.json").read_text())["n_parameters"] for d in dirs)
        with tempfile.TemporaryDirectory() as tmp:
            make_ensemble([d / "fold-0" for d in dirs], Path(tmp) / "ens")
            ms = inference_ms(Path(tmp) / "ens")
        rows.append({"model": f"{name} (ensemble of {', '.join(members.split(','))})", "acc": m["accuracy"],
                     "uar": m["uar"], "f1": m["macro_f1"], "params": params,
                     "train_min": sum(s["train_minutes_total"] for s in summaries), "ms": ms})

    def pm(d):
        return f"{d['mean']:.3f} ± {d['std']:.3f}"

    print(f"\n{args.folds}-fold speaker-independent CV on {args.data} — {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, torch threads for training: default; inference on 1 thread\n")
    base = rows[0]["ms"]
    print(f"| model | accuracy | UAR | macro-F1 | parameters | training min (all folds) | ms / 3-s clip (1 core) "
          f"| inference time vs {rows[0]['model']} |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {pm(r['acc'])} | {pm(r['uar'])} | {pm(r['f1'])} | {r['params']:,} | "
              f"{r['train_min']:.1f} | {r['ms']:.1f} | {r['ms'] / base:.1f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
