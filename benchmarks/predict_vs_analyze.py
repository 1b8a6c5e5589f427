#!/usr/bin/env python3
"""Does ``analyze`` hear a clip as ``predict`` does? Neutral recall of the same clips, five ways.

For every 16th neutral clip of a corpus (default nEMO) and each model given: ``predict`` on the
clip, on the clip trimmed of its silent margins (35 dB), on the trimmed clip with 0.5 s of
digital silence around it plus a -60 dBFS hiss (a line's noise floor), and ``analyze`` (mono, no
speakers) on that padded clip with and without the hiss, its segments' probabilities weighted by
duration. Prints the share of clips answered "neutral" per way (uncalibrated models).

    python benchmarks/predict_vs_analyze.py MODEL [MODEL ...] [--corpus ../shared/data/nemo] [--window 3]

Measured (docs/calls.md, part 9): the part-9 recipe trained without nEMO keeps 0.63 of nEMO's
neutral clips neutral through predict, 0.25 through analyze; 0.08 with the hiss alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from escucha.audio import load_audio, trim_silence  # noqa: E402
from escucha.corpora import scan_corpus  # noqa: E402
from escucha.inference import load_model  # noqa: E402
from escucha.longaudio import analyze_file  # noqa: E402


def main(argv=None) -> int:
    import soundfile as sf

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--corpus", default=str(REPO.parent / "shared" / "data" / "nemo"))
    ap.add_argument("--window", type=float, default=None, help="analyze's window in seconds (default: its own)")
    args = ap.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recs = [r for r in scan_corpus(args.corpus) if r.emotion == "neutral"][::16]
    tmp = Path(tempfile.mkdtemp()) / "one.wav"
    for name in args.models:
        m = load_model(name, calibrate=False)
        rng = np.random.default_rng(0)
        res = {"predict clip": [], "predict trimmed": [], "predict padded+hiss": [], "analyze padded+hiss": [],
               "analyze padded": []}
        for r in recs:
            y, _ = load_audio(r.path, sample_rate=16000)
            t, _ = trim_silence(y, top_db=35.0)
            z = np.concatenate([np.zeros(8000), t, np.zeros(8000)]).astype(np.float32)
            zh = z + (1e-3 * rng.standard_normal(len(z))).astype(np.float32)
            res["predict clip"].append(m.predict(y, sample_rate=16000).label)
            res["predict trimmed"].append(m.predict(t, sample_rate=16000).label)
            res["predict padded+hiss"].append(m.predict(zh, sample_rate=16000).label)
            for key, sig in (("analyze padded+hiss", zh), ("analyze padded", z)):
                sf.write(tmp, sig, 16000, subtype="PCM_16")
                segs = analyze_file(tmp, m, channels="mono", speakers="off", window=args.window).segments
                p = sum(s.duration * np.asarray(s.probabilities) for s in segs) if segs else None
                res[key].append(m.labels[int(np.argmax(p))] if p is not None else None)
        print(f"{name} ({len(recs)} neutral clips): " + ", ".join(
            f"{k} {np.mean([x == 'neutral' for x in v]):.2f}" for k, v in res.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
