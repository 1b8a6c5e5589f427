"""Old vs new bundled model, per-clip predict time on one torch thread, alternating passes.

The previous bundle:  mkdir -p /tmp/old && git archive 53a5560 src/escucha/assets/model | tar -x -C /tmp/old
    OLD_BUNDLE=/tmp/old/src/escucha/assets/model .venv/bin/python benchmarks/screening/speed_old_new.py
"""
import glob
import os
import sys
import time

os.environ["OMP_NUM_THREADS"] = "1"
import torch  # noqa: E402

torch.set_num_threads(1)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src"))
import escucha  # noqa: E402

OLD = os.environ.get("OLD_BUNDLE", "/tmp/old/src/escucha/assets/model")
files = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "../../../shared/data/ravdess/Actor_0[2-3]/*.flac")))[:60]
for name, path in [("old", OLD), ("new", None), ("old", OLD), ("new", None)]:
    m = escucha.load_model(path)
    m.predict(files[0])
    t = time.perf_counter()
    for f in files:
        m.predict(f)
    print(f"{name}: {(time.perf_counter() - t) / len(files) * 1000:.1f} ms/clip", flush=True)
