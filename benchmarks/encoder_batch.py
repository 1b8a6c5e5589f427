#!/usr/bin/env python3
"""Does batching clips help the ONNX Whisper encoder on one thread? Each bundled model's encoder graph
on 16 copies of a random log-mel input, one at a time against one batch of 16 (fast: 150 frames,
its 1.5 s; default: 370 frames, a 3.7-s clip).

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/encoder_batch.py
"""
from pathlib import Path
import sys, time, numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'src'))
from escucha.runtime.sessions import session

for name, frames in (("fast", 150), ("model", 370)):
    s = session(Path(__file__).resolve().parents[1] / 'src' / 'escucha' / 'assets' / name / 'onnx' / 'frontend-0-encoder.onnx', 1)
    inp = s.get_inputs()[0].name
    x1 = np.random.default_rng(0).standard_normal((1, 80, frames)).astype(np.float32)
    xb = np.repeat(x1, 16, 0)
    for _ in range(3): s.run(None, {inp: x1}); s.run(None, {inp: xb})
    t = time.perf_counter()
    for _ in range(10):
        for i in range(16): s.run(None, {inp: x1})
    one = (time.perf_counter() - t) / 160
    t = time.perf_counter()
    for _ in range(10): s.run(None, {inp: xb})
    batch = (time.perf_counter() - t) / 160
    print(f"{name}: {frames} mel frames, one clip at a time {one*1000:.2f} ms/clip, batches of 16 {batch*1000:.2f} ms/clip ({one/batch:.2f}x)")
