"""Telephone robustness: accuracy and UAR on held-out RAVDESS actors, clean vs telephone-simulated.

Each held-out clip is scored as recorded (48 kHz) and after a telephone channel made with real
codecs: resampled to 8 kHz (soxr, anti-aliased), band-passed to 300-3400 Hz (FFT mask with
100 Hz cosine edges, as in ``escucha.train.augment.telephone_channel``), peak set to -6 dBFS, then
written as an 8 kHz WAV (16-bit PCM, G.711 mu-law or A-law, encoded by libsndfile) and decoded
again. The model sees each version through its normal input path (resampled to its own rate).

    python benchmarks/telephone.py --model runs/cnn_fold0          # test actors of that run
    python benchmarks/telephone.py --model M --fold 0 --folds 5     # a fold of speaker_folds
    python benchmarks/telephone.py --model M --actors 05,09 --limit 20

Not run in CI. Record results in docs/long_audio.md (telephone section).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ravdess"

CONDITIONS = {
    "clean (as recorded)": None,
    "8 kHz, 300-3400 Hz, 16-bit PCM": "PCM_16",
    "8 kHz, 300-3400 Hz, mu-law": "ULAW",
    "8 kHz, 300-3400 Hz, A-law": "ALAW",
}


def band_pass(y: np.ndarray, sr: int, low: float = 300.0, high: float = 3400.0) -> np.ndarray:
    """FFT band-pass ``(T,)`` with 100 Hz cosine edges (the mask of ``telephone_channel``)."""
    spec = np.fft.rfft(y)
    f = np.fft.rfftfreq(len(y), d=1.0 / sr)
    lo = np.clip((f - (low - 100)) / 100, 0, 1)
    hi = np.clip(((high + 100) - f) / 100, 0, 1)
    mask = np.sin(lo * np.pi / 2) * np.sin(hi * np.pi / 2)
    return np.fft.irfft(spec * mask, n=len(y)).astype(np.float32)


def telephone(y: np.ndarray, sr: int, subtype: str) -> tuple[np.ndarray, int]:
    """Mono float ``y`` at ``sr`` -> what an 8 kHz ``subtype`` WAV of it decodes to, and 8000."""
    import soundfile as sf

    from escucha.audio import resample

    x = band_pass(resample(y, sr, 8000), 8000)
    x = 0.5 * x / max(1e-6, float(np.abs(x).max()))
    buf = io.BytesIO()
    sf.write(buf, x, 8000, format="WAV", subtype=subtype)
    buf.seek(0)
    out, rate = sf.read(buf, dtype="float32")
    return out, rate


def held_out_actors(args, records) -> list[str]:
    from escucha.data.splits import speaker_folds

    if args.actors:
        return [a.strip().zfill(2) for a in args.actors.split(",")]
    if args.fold is not None:
        return speaker_folds(records, k=args.folds, seed=args.seed)[args.fold]
    run_cfg = Path(args.model) / "config.json"
    if run_cfg.is_file():
        cfg = json.loads(run_cfg.read_text())
        test = cfg.get("split", {}).get("speakers", {}).get("test")
        if test:
            return list(test)
    sys.exit("telephone.py: say which actors are held out: --actors, --fold, or a run folder whose "
             "config.json lists its test speakers")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="run folder (its test actors are used) or checkpoint folder")
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="RAVDESS folder or manifest CSV")
    ap.add_argument("--actors", help="held-out actors, e.g. 05,09,10,12")
    ap.add_argument("--fold", type=int, help="use fold K of escucha's speaker folds as the held-out actors")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, help="at most this many clips per actor (random, fixed seed)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)

    import soundfile as sf
    import torch

    import escucha
    from escucha.corpora import scan_corpus
    from escucha.evaluate.metrics import classification_report
    from escucha.train.checkpoint import resolve_checkpoint_dir

    torch.set_num_threads(args.threads)
    model_dir = Path(args.model)
    ckpt = model_dir / "checkpoint" if (model_dir / "checkpoint" / "config.json").is_file() else model_dir
    predictor = escucha.load_model(resolve_checkpoint_dir(ckpt))
    records = scan_corpus(args.data)
    actors = held_out_actors(args, records)
    rng = np.random.default_rng(args.seed)
    picked = []
    for a in actors:
        recs = [r for r in records if r.speaker == a and r.emotion in predictor.labels]
        if args.limit:
            recs = [recs[i] for i in sorted(rng.permutation(len(recs))[:args.limit])]
        picked += recs
    if not picked:
        sys.exit(f"telephone.py: no clips of actors {','.join(actors)} with labels the model knows")
    t0 = time.time()
    li = {lab: i for i, lab in enumerate(predictor.labels)}
    y_true = [li[r.emotion] for r in picked]
    preds = {c: [] for c in CONDITIONS}
    for r in picked:
        y, sr = sf.read(r.path, dtype="float32", always_2d=True)
        y = y.mean(axis=1)
        for cond, subtype in CONDITIONS.items():
            x, rate = (y, sr) if subtype is None else telephone(y, sr, subtype)
            w = predictor.prepare(x, rate, name=r.path)
            preds[cond].append(int(np.argmax(predictor.predict_proba_waveforms([w])[0])))
    reports = {c: classification_report(y_true, p, predictor.labels) for c, p in preds.items()}
    clean = reports["clean (as recorded)"]
    if args.json:
        print(json.dumps({"actors": actors, "n": len(picked), "model": str(args.model),
                          "conditions": {c: {k: r[k] for k in ("accuracy", "uar", "macro_f1")}
                                         for c, r in reports.items()}}))
        return 0
    print(f"\ntelephone robustness of {args.model} on held-out actors {','.join(actors)} "
          f"({len(picked)} clips, {time.time() - t0:.0f} s)\n")
    print("| condition | accuracy | UAR | macro-F1 | UAR change vs clean |")
    print("|---|---|---|---|---|")
    for c, r in reports.items():
        print(f"| {c} | {r['accuracy']:.1%} | {r['uar']:.1%} | {r['macro_f1']:.1%} | "
              f"{(r['uar'] - clean['uar']) * 100:+.1f} pts |")
    print(f"\nchance UAR: {1 / len(predictor.labels):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
