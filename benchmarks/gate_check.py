#!/usr/bin/env python3
"""The speech gate's shortcut (hear 0.128 s around the loudest frame first) against the full scan:
verdicts on every shared clip (RAVDESS, EmoDB without boredom, SAVEE) and on white noise, a tone,
hum and clicks, and the gate's milliseconds per clip both ways.

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/gate_check.py [--data ../shared/data]
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
from escucha.corpora import scan_corpora  # noqa: E402
from escucha.inference import gate  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    args = ap.parse_args(argv)
    recs = [r for r in scan_corpora([str(Path(args.data) / c) for c in ("ravdess", "emodb", "savee")])]
    full = gate._max_speech_prob

    def judge(y, sr, z, shortcut):
        gate._max_speech_prob = full if shortcut else (lambda y16, stop_at=None, first=None: full(y16, stop_at=stop_at))
        t = time.perf_counter()
        r = gate.judge(y, sr, y16=z)[0]
        return r, time.perf_counter() - t

    rng = np.random.default_rng(0)
    t = np.arange(48000 * 3) / 48000
    noise = {"white noise": (0.1 * rng.standard_normal(t.size)).astype(np.float32),
             "440 Hz tone": (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
             "50 Hz hum": (0.3 * np.sin(2 * np.pi * 50 * t)).astype(np.float32),
             "clicks": np.where(np.arange(t.size) % 4800 == 0, 0.9, 0).astype(np.float32)}
    for name, y in noise.items():
        z = resample(y, 48000, 16000)
        print(f"{name}: full scan {judge(y, 48000, z, False)[0]!r}, shortcut {judge(y, 48000, z, True)[0]!r}")
    differ = rejected = 0
    t_full = t_short = 0.0
    for r in recs:
        y, sr = load_audio(r.path)
        z = resample(y, sr, 16000)
        a, ta = judge(y, sr, z, False)
        b, tb = judge(y, sr, z, True)
        differ += a != b
        rejected += b is not None
        t_full += ta
        t_short += tb
    gate._max_speech_prob = full
    n = len(recs)
    print(f"{n} clips: verdicts differ on {differ}, rejected {rejected}; gate {t_full / n * 1000:.2f} ms per clip "
          f"with the full scan, {t_short / n * 1000:.2f} ms with the shortcut")
    return 0


if __name__ == "__main__":
    sys.exit(main())
