#!/usr/bin/env python3
"""Could the speech gate start its VAD later? For every clip of the shared corpora, the gate's
verdict heard from the start (what escucha.inference.gate does, as ``analyze`` hears a clip)
against the verdict heard from ``--margin`` samples before the first 32-ms frame within ``--db``
dB of the loudest (rounded down to a VAD frame), and the VAD frames each needs.

    python benchmarks/gate_lead_in.py [--data ../shared/data] [--db 40] [--margin 8192 12288]

Prints per corpus: clips, frames per clip from the start, and for each margin the verdicts that
change and the frames per clip. Results: docs/speed.md (a change of verdict is a disagreement with
``analyze``, so a margin is only worth anything with none).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from escucha.audio import load_audio  # noqa: E402
from escucha.audio.processing import frame_rms_db  # noqa: E402
from escucha.corpora import scan_corpus  # noqa: E402
from escucha.inference import gate  # noqa: E402
from escucha.longaudio.vad import SileroVAD, SpeechSegmenter, VADConfig, VADStream  # noqa: E402

CORPORA = ("ravdess", "emodb", "savee", "nemo", "korean")


def verdict_from(vad, y16: np.ndarray, start: int) -> tuple[bool, int]:
    """The gate's verdict on ``y16[start:]`` (its early stop included) and the VAD frames it heard."""
    stream, seg = VADStream(vad, sample_rate=16000, channels=1), SpeechSegmenter(VADConfig())
    n = 0
    for s in range(start, len(y16), gate._VAD_STEP):
        p = stream.process(y16[s:s + gate._VAD_STEP]).reshape(-1)
        n += p.size
        if seg.push(p) or seg.open_region() is not None:
            return True, n
    p = stream.flush().reshape(-1)
    return bool(seg.push(p) or seg.finish(len(y16) - start)), n + p.size


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--db", type=float, default=40.0, help="the loud part: frames within this many dB of the loudest")
    ap.add_argument("--margin", type=int, nargs="+", default=[8192, 12288], help="samples heard before it")
    args = ap.parse_args(argv)
    vad = SileroVAD()
    for corpus in CORPORA:
        recs = scan_corpus(Path(args.data) / corpus)
        base = 0
        changed = {m: 0 for m in args.margin}
        frames = {m: 0 for m in args.margin}
        for r in recs:
            y, _ = load_audio(r.path, sample_rate=16000)
            y = np.clip(y.astype(np.float32), -1, 1)
            v0, n0 = verdict_from(vad, y, 0)
            assert v0 == gate.speech_found(y)[0], f"{r.path}: this script no longer hears as the gate does"
            base += n0
            levels = frame_rms_db(y, frame_length=512, hop_length=256)
            first = int(np.argmax(levels >= levels.max() - args.db)) * 256
            for m in args.margin:
                start = max(0, first - m) // 512 * 512    # a whole number of 32-ms VAD frames
                v, n = verdict_from(vad, y, start)
                changed[m] += v != v0
                frames[m] += n
        k = len(recs)
        print(f"{corpus}: {k} clips, {base / k:.1f} frames a clip from the start; "
              + "; ".join(f"margin {m}: {changed[m]} verdicts changed, {frames[m] / k:.1f} frames" for m in args.margin),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
