#!/usr/bin/env python3
"""The one speech gate (escucha.inference.gate): its verdict on every shared clip and on
non-speech (noise, a tone, hum, clicks, struck chords, organ chords), whether it is the verdict of
``escucha analyze``'s segmentation over the whole clip, and its milliseconds per clip.

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/gate_check.py [--data ../shared/data] [--per-corpus N]

Prints, per corpus: clips, refused as "no speech found" (and which), disagreements with a full
segmentation pass (must be 0), and the gate's mean milliseconds per clip.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from escucha.audio import load_audio, resample  # noqa: E402
from escucha.corpora import scan_corpus  # noqa: E402
from escucha.inference import gate  # noqa: E402
from escucha.longaudio.vad import SileroVAD, SpeechSegmenter, VADConfig, VADStream  # noqa: E402

CORPORA = ("ravdess", "emodb", "savee", "nemo", "korean")


def full_pass(y16: np.ndarray) -> bool:
    """Does the segmentation of ``escucha analyze`` (default settings) find a region anywhere?"""
    stream, seg = VADStream(SileroVAD(), sample_rate=16000, channels=1), SpeechSegmenter(VADConfig())
    probs = np.concatenate([stream.process(y16).reshape(-1), stream.flush().reshape(-1)])
    return bool(seg.push(probs) + seg.finish(len(y16)))


def non_speech(sr: int = 16000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(sr * 3) / sr
    out = {"white noise": 0.1 * rng.standard_normal(t.size), "440 Hz tone": 0.3 * np.sin(2 * np.pi * 440 * t),
           "50 Hz hum": 0.3 * np.sin(2 * np.pi * 50 * t), "clicks": np.where(np.arange(t.size) % 1600 == 0, 0.9, 0.0)}
    chords = [[261.6, 329.6, 392.0], [220.0, 261.6, 329.6], [174.6, 220.0, 261.6], [196.0, 246.9, 293.7]]
    for seed in range(12):  # struck chords: a note onset every 0.75 s
        g = np.random.default_rng(seed)
        y = np.zeros_like(t)
        n = len(t) // 4
        for k in range(4):
            tt = t[k * n:(k + 1) * n] - t[k * n]
            env = np.minimum(1, tt * 50) * np.exp(-tt * g.uniform(0.5, 2))
            for f in chords[(k + seed) % 4]:
                for h in range(1, 6):
                    y[k * n:(k + 1) * n] += env * (0.3 / h) * np.sin(2 * np.pi * f * h * tt + g.uniform(0, 6))
        out[f"struck chords {seed}"] = 0.3 * y / np.abs(y).max()
    for seed in range(12):  # held organ chords with vibrato
        g = np.random.default_rng(100 + seed)
        f0s = g.choice([130.8, 146.8, 164.8, 174.6, 196.0, 220.0, 246.9], size=3, replace=False)
        vib = 1 + 0.01 * np.sin(2 * np.pi * 5.5 * t)
        y = sum((0.3 / h) * np.sin(2 * np.pi * f * h * np.cumsum(vib) / sr) for f in f0s for h in range(1, 8))
        out[f"organ chord {seed}"] = 0.3 * y / np.abs(y).max()
    return {k: v.astype(np.float32) for k, v in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--per-corpus", type=int, default=0, help="at most N clips of each corpus (0: all)")
    args = ap.parse_args(argv)
    accepted = [name for name, y in non_speech().items() if gate.judge(y, 16000)[0] is None]
    print(f"non-speech signals labelled as speech: {len(accepted)} of {len(non_speech())}"
          + (f" ({', '.join(accepted)})" if accepted else ""))
    print(f"{'corpus':8s} {'clips':>6s} {'refused':>8s} {'differ':>7s} {'ms/clip':>8s}")
    for corpus in CORPORA:
        root = Path(args.data) / corpus
        if not root.is_dir():
            continue
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recs = scan_corpus(root)
        if args.per_corpus:
            recs = recs[:: max(1, len(recs) // args.per_corpus)][: args.per_corpus]
        refused, differ, spent = [], 0, 0.0
        for r in recs:
            y, sr = load_audio(r.path)
            z = resample(y, sr, 16000)
            t0 = time.perf_counter()
            outcome = gate.judge(y, sr, y16=z)[0]
            spent += time.perf_counter() - t0
            if outcome is not None:
                refused.append(Path(r.path).name)
            differ += (outcome is None) != full_pass(np.clip(z, -1, 1))
        print(f"{corpus:8s} {len(recs):6d} {len(refused):8d} {differ:7d} {1000 * spent / max(1, len(recs)):8.2f}"
              + (f"   refused: {', '.join(refused[:12])}{' ...' if len(refused) > 12 else ''}" if refused else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
