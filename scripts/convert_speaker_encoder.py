#!/usr/bin/env python3
"""Convert Resemblyzer's speaker encoder (``pretrained.pt``) to escucha's safetensors folder.

Run once by a maintainer; the result ships inside escucha (``src/escucha/assets/speakers/``), so
neither users nor escucha need torch or the ``resemblyzer`` package at run time: the GE2E
3-layer LSTM runs in numpy (:mod:`escucha.speakers.encoder`).

    pip download --no-deps resemblyzer==0.1.4             # Apache-2.0, weights inside the wheel
    unzip Resemblyzer-0.1.4-py3-none-any.whl 'resemblyzer/pretrained.pt' 'Resemblyzer-0.1.4.dist-info/LICENSE'
    python scripts/convert_speaker_encoder.py resemblyzer/pretrained.pt \
        --license Resemblyzer-0.1.4.dist-info/LICENSE -o src/escucha/assets/speakers/resemblyzer

The source's SHA-256 must match the known one. Needs torch (escucha[train]) to read the
checkpoint; with ``resemblyzer`` importable the script also checks that escucha's numpy encoder
reproduces ``VoiceEncoder.embed_utterance`` on a test signal.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

KNOWN = {"39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e":
         "the PyPI package resemblyzer==0.1.4 (file resemblyzer/pretrained.pt)"}

NOTICE = """Resemblyzer speaker encoder weights (GE2E d-vector: 3-layer LSTM, 40 mel bands, 256-d),
converted for escucha by scripts/convert_speaker_encoder.py.

Source: {source}, SHA-256 {sha}; https://github.com/resemble-ai/Resemblyzer
Copyright (c) Resemble AI. Licensed under the Apache License, Version 2.0 (the full text follows).
Changes: the PyTorch state dict was re-saved as float32 safetensors; nothing else.

"""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pretrained", type=Path, help="resemblyzer/pretrained.pt")
    ap.add_argument("--license", type=Path, required=True, help="the wheel's Apache-2.0 LICENSE file")
    ap.add_argument("-o", "--out", type=Path, required=True)
    args = ap.parse_args()
    digest = sha256(args.pretrained)
    if digest not in KNOWN:
        sys.exit(f"{args.pretrained}: SHA-256 {digest} is not the known resemblyzer==0.1.4 pretrained.pt")
    import torch
    from safetensors.numpy import save_file

    ck = torch.load(args.pretrained, map_location="cpu", weights_only=True)["model_state"]
    state = {k: np.ascontiguousarray(v.float().numpy()) for k, v in ck.items() if k.startswith(("lstm.", "linear."))}
    layers = 1 + max(int(k.split("_l")[-1]) for k in state if k.startswith("lstm.weight_ih_l"))
    cfg = {"architecture": "ge2e-lstm", "source": "resemblyzer==0.1.4", "source_sha256": digest,
           "sample_rate": 16000, "n_fft": 400, "hop_length": 160, "n_mels": 40, "partial_frames": 160,
           "hidden": int(state["lstm.weight_hh_l0"].shape[1]), "layers": layers,
           "embedding": int(state["linear.weight"].shape[0]), "norm_dbfs": -30.0}
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(args.out / "model.safetensors"), metadata={"format": "escucha.speaker-encoder"})
    (args.out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    (args.out / "LICENSE").write_text(NOTICE.format(source=KNOWN[digest], sha=digest) + args.license.read_text())
    print(f"{args.out}: {sum(a.size for a in state.values()) / 1e6:.2f} M parameters, {cfg}")
    try:
        from resemblyzer import VoiceEncoder
    except ImportError:
        print("resemblyzer not installed: parity check skipped")
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from escucha.speakers.encoder import SpeakerEncoder

    rng = np.random.default_rng(0)
    t = np.arange(16000 * 3) / 16000
    wav = (0.1 * np.sin(2 * np.pi * 140 * t * (1 + 0.1 * np.sin(3 * t))) + 0.01 * rng.standard_normal(len(t)))
    theirs = VoiceEncoder("cpu", verbose=False).embed_utterance(wav.astype(np.float32))
    ours = SpeakerEncoder(args.out).embed(wav.astype(np.float32))
    cos = float(ours @ theirs)
    print(f"cosine to resemblyzer's embedding: {cos:.4f}")
    return 0 if cos > 0.99 else 1


if __name__ == "__main__":
    sys.exit(main())
