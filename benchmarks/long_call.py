#!/usr/bin/env python3
"""A long mono call for timing ``escucha analyze``: two (or more) speakers of a shared corpus
taking turns (their clips, silence-trimmed, with 0.4-1.2 s pauses of faint hiss) for
``--minutes``, mixed to one channel, written as 8-kHz G.711 mu-law (``--line telephone``) or
16-kHz PCM (``--line wide``), block by block (memory stays small).

    python benchmarks/long_call.py --minutes 60 --out /tmp/call60.wav
    /usr/bin/time -v escucha analyze /tmp/call60.wav --threads 1 --quiet --speakers off > /dev/null
    /usr/bin/time -v escucha analyze /tmp/call60.wav --threads 1 --quiet > /dev/null
    /usr/bin/time -v escucha analyze /tmp/call60.wav --threads 1 --quiet --transcribe > /dev/null
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from calls import RATE, load_turn, telephone_line  # noqa: E402

from escucha.corpora import scan_corpus  # noqa: E402


def main(argv=None) -> int:
    import soundfile as sf

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "nemo"))
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--speakers", type=int, default=2)
    ap.add_argument("--line", choices=("telephone", "wide"), default="telephone")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recs = scan_corpus(args.data)
    by: dict = {}
    for r in recs:
        by.setdefault(r.speaker_key, []).append(r)
    spk = sorted(by)[:args.speakers]
    rng = np.random.default_rng(args.seed)
    sr = 8000 if args.line == "telephone" else RATE
    total = int(args.minutes * 60 * RATE)
    done, k = 0, 0
    with sf.SoundFile(args.out, "w", samplerate=sr, channels=1,
                      subtype="ULAW" if args.line == "telephone" else "PCM_16") as f:
        while done < total:
            block = []
            for _ in range(20):
                pool = by[spk[k % len(spk)]]
                block += [np.zeros(int(rng.uniform(0.4, 1.2) * RATE), np.float32),
                          load_turn(pool[int(rng.integers(len(pool)))].path)]
                k += 1
            y = np.concatenate(block)[:total - done]
            y = y + (10 ** (-60 / 20) * rng.standard_normal(len(y))).astype(np.float32)
            done += len(y)
            f.write(telephone_line(y, RATE)[0] if args.line == "telephone" else np.clip(y, -1, 1))
    print(f"{args.out}: {args.minutes:g} min, {len(spk)} speakers, {args.line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
