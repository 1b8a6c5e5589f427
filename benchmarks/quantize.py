#!/usr/bin/env python3
"""int8 against fp32 for the bundled model on ONNX Runtime, one thread: speed and accuracy.

Three exports of the bundled model (``escucha export``): fp32, int8 dynamic and int8 static QDQ
(calibrated on 64 EmoDB clips). For each:

- throughput of ``predict`` end to end (decode, resample, gate, features, both members) and the
  encoder graph alone, one thread;
- the bundled model on 200 RAVDESS + 200 SAVEE clips (seed 0): UAR and agreement with fp32 (these
  speakers are in its training data: it shows what int8 changes, not how well it generalises);
- leave-one-corpus-out, the measure that matters: a whisper-lr member (as configs/whisper-lr.json)
  trained on the fp32 features of two corpora, tested on the third with each export's features,
  clean and through a simulated telephone line.

    taskset -c 0 python benchmarks/quantize.py [--data /work/shared/data] [--n 200]

Prints a markdown table (recorded in docs/speed.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from escucha.audio import load_audio  # noqa: E402
from escucha.corpora import scan_emodb, scan_ravdess, scan_savee  # noqa: E402
from escucha.data.waveforms import PreprocessConfig, preprocess  # noqa: E402
from escucha.export import export_model  # noqa: E402
from escucha.features.spectral import whisper_log_mel  # noqa: E402
from escucha.inference import bundled_model_dir, load_model  # noqa: E402
from escucha.runtime.sessions import session, set_num_threads  # noqa: E402
from escucha.utils.progress import progress  # noqa: E402

VARIANTS = ("none", "dynamic", "static")


def corpus_uar(truth, pred, labels, present) -> float:
    """Mean recall over the labels ``present`` in the corpus; a prediction outside them (e.g.
    "calm" on SAVEE) or no label at all counts as wrong."""
    truth, pred = np.asarray(truth), np.asarray(pred)
    return float(np.mean([np.mean(pred[truth == labels.index(e)] == labels.index(e)) for e in present]))


def telephone(y: np.ndarray, sr: int) -> np.ndarray:
    import torch

    from escucha.train.augment import telephone_channel

    return telephone_channel(torch.from_numpy(y)[None], sr)[0].numpy()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--n", type=int, default=200, help="clips per corpus for the bundled model")
    ap.add_argument("--no-loco", action="store_true", help="skip leave-one-corpus-out")
    args = ap.parse_args(argv)
    set_num_threads(1)
    data = Path(args.data)
    rav, sav, emo = scan_ravdess(data / "ravdess"), scan_savee(data / "savee"), scan_emodb(data / "emodb")
    rng = np.random.default_rng(0)
    sel = [rav[i] for i in sorted(rng.choice(len(rav), args.n, replace=False))] + \
          [sav[i] for i in sorted(rng.choice(len(sav), args.n, replace=False))]
    calib = [r.path for r in emo[::max(1, len(emo) // 64)]][:64]
    tmp = Path(tempfile.mkdtemp(prefix="escucha-quant-"))
    exports = {}
    for q in VARIANTS:
        exports[q] = tmp / q
        rep = export_model(bundled_model_dir(), exports[q], quantize=q, calibration=calib if q == "static" else None)
        print(rep.table(), file=sys.stderr)

    rows = {}
    ref_pred = None
    for q in VARIANTS:
        model = load_model(exports[q])
        labels = model.labels
        model.predict(sel[0].path)
        t = time.perf_counter()
        preds = [model.predict(r.path) for r in progress(sel, desc=f"predict {q}", unit="clip")]
        fps = len(sel) / (time.perf_counter() - t)
        pred = np.array([labels.index(p.label) if p.label else -1 for p in preds])
        truth = np.array([labels.index(r.emotion) for r in sel])
        probs = np.array([p.probabilities_array(labels) for p in preds])
        n = args.n
        row = {"files/s": fps,
               "uar_ravdess": corpus_uar(truth[:n], pred[:n], labels, sorted({r.emotion for r in sel[:n]})),
               "uar_savee": corpus_uar(truth[n:], pred[n:], labels, sorted({r.emotion for r in sel[n:]}))}
        if ref_pred is None:
            ref_pred, ref_probs = pred, probs
        row["agree"] = float(np.mean(pred == ref_pred))
        row["max_dp"] = float(np.nanmax(np.abs(probs - ref_probs)))
        enc = next(m for m in model.members if m.encoder).encoder
        s = session(exports[q] / enc, 1)
        mel = whisper_log_mel(np.zeros((1, 16000 * 37 // 10), np.float32) + 0.01 * rng.standard_normal(
            (1, 16000 * 37 // 10)).astype(np.float32))
        s.run(None, {"mel": mel})
        ts = []
        for _ in range(30):
            t = time.perf_counter()
            s.run(None, {"mel": mel})
            ts.append(time.perf_counter() - t)
        row["encoder_ms"] = float(np.median(ts) * 1000)
        row["size_mb"] = (exports[q] / enc).stat().st_size / 1e6
        rows[q] = row

    loco = {}
    if not args.no_loco:
        from sklearn.linear_model import LogisticRegression

        corpora = {"ravdess": rav, "emodb": emo, "savee": sav}
        pre = PreprocessConfig(sample_rate=16000, loudness_db=-23.0)
        sessions = {q: session(exports[q] / "frontend-0-encoder.onnx", 1) for q in VARIANTS}
        feats = {q: {} for q in VARIANTS}
        tel = {q: {} for q in VARIANTS}
        for name, recs in corpora.items():
            for q in VARIANTS:
                feats[q][name], tel[q][name] = [], []
            for r in progress(recs, desc=f"features {name}", unit="clip"):
                y, _ = load_audio(r.path, sample_rate=16000)
                y = preprocess(y, 16000, pre)
                yt = preprocess(telephone(y, 16000), 16000, pre)
                for q in VARIANTS:
                    s = sessions[q]
                    feats[q][name].append(s.run(None, {"mel": whisper_log_mel(y[None])})[0].ravel())
                    tel[q][name].append(s.run(None, {"mel": whisper_log_mel(yt[None])})[0].ravel())
        labels = load_model(exports["none"]).labels
        for held in corpora:
            train = [c for c in corpora if c != held]
            X = np.concatenate([np.stack(feats["none"][c]) for c in train]).astype(np.float64)
            y = np.array([labels.index(r.emotion) for c in train for r in corpora[c]])
            mean, scale = X.mean(0), X.std(0) + 1e-6
            clf = LogisticRegression(C=0.1, max_iter=3000, class_weight="balanced", random_state=0)
            clf.fit((X - mean) / scale, y)
            truth = np.array([labels.index(r.emotion) for r in corpora[held]])
            present = sorted({r.emotion for r in corpora[held]})
            for q in VARIANTS:
                for cond, F in (("clean", feats), ("telephone", tel)):
                    pred = clf.predict((np.stack(F[q][held]) - mean) / scale)
                    loco[(held, q, cond)] = corpus_uar(truth, pred, labels, present)

    names = {"none": "fp32", "dynamic": "int8 dynamic", "static": "int8 static (QDQ)"}
    print("| export | encoder graph | encoder ms (3.7 s) | predict files/s | UAR RAVDESS | UAR SAVEE | "
          "same label as fp32 | max Δp |")
    print("|---|---|---|---|---|---|---|---|")
    for q in VARIANTS:
        r = rows[q]
        print(f"| {names[q]} | {r['size_mb']:.1f} MB | {r['encoder_ms']:.1f} | {r['files/s']:.0f} | "
              f"{r['uar_ravdess']:.3f} | {r['uar_savee']:.3f} | {r['agree']:.1%} | {r['max_dp']:.3f} |")
    if loco:
        print()
        print("| held-out corpus | condition | " + " | ".join(names[q] for q in VARIANTS) + " |")
        print("|---|---|" + "---|" * len(VARIANTS))
        for held in ("ravdess", "emodb", "savee"):
            for cond in ("clean", "telephone"):
                print(f"| {held} | {cond} | " + " | ".join(f"{loco[(held, q, cond)]:.3f}" for q in VARIANTS) + " |")
        for cond in ("clean", "telephone"):
            print(f"| mean | {cond} | " + " | ".join(
                f"{np.mean([loco[(h, q, cond)] for h in ('ravdess', 'emodb', 'savee')]):.3f}" for q in VARIANTS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
