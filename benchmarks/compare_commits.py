#!/usr/bin/env python3
"""``predict`` throughput of the bundled models at two commits, in one run, on one core.

Each commit is checked out into a temporary git worktree; for each commit and model a fresh
process pinned to one CPU with one thread predicts the same N RAVDESS clips (48 kHz WAV copies,
as benchmarks/speed.py uses) end to end — decode, resample, speech gate, features, network —
R times after a warm-up, and the median pass gives files/s. The table gives each row's ratio to
the first commit's row of the same model.

    python benchmarks/compare_commits.py [--base dc8ce5b] [--head HEAD] [--models default fast] [--n 200]
        [--repeats 3] [--rounds 1] [--cpu 0]

``--rounds K`` alternates the commits K times (base, head, base, head, ...) and reports the median
round and each round's ratio: on a shared machine whose speed drifts by 20 % within minutes, an
interleaved comparison is what tells a real change from the drift.

Not run in CI. Results: docs/speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, os.path.join(sys.argv[1], "src"))
import escucha
from escucha.runtime import set_num_threads
set_num_threads(1)
files = json.loads(open(sys.argv[3]).read())
m = escucha.load_model(sys.argv[2])
for f in files[:5]:
    m.predict(f)
times = []
for _ in range(int(sys.argv[4])):
    t = time.perf_counter()
    for f in files:
        m.predict(f)
    times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"files_per_s": len(files) / times[len(times) // 2], "runtime": m.runtime}))
"""


def clips(data: Path, n: int, folder: Path) -> list[str]:
    import soundfile as sf

    from escucha.corpora import scan_corpus

    recs = scan_corpus(data / "ravdess")
    step = max(1, len(recs) // n)
    out = []
    for r in recs[::step][:n]:
        y, sr = sf.read(r.path, dtype="float32")
        p = folder / (Path(r.path).stem + ".wav")
        sf.write(p, y, sr, subtype="PCM_16")
        out.append(str(p))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="dc8ce5b", help="the commit to compare against (default dc8ce5b)")
    ap.add_argument("--head", default="HEAD")
    ap.add_argument("--models", nargs="+", default=["default", "fast"])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1, help="alternate the commits this many times (median round)")
    ap.add_argument("--cpu", type=int, default=None)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="compare-") as tmp:
        tmp = Path(tmp)
        (tmp / "clips").mkdir()
        files = clips(Path(args.data), args.n, tmp / "clips")
        (tmp / "files.json").write_text(json.dumps(files))
        trees = {}
        for name in (args.base, args.head):
            sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", name], capture_output=True,
                                 text=True, check=True).stdout.strip()
            wt = tmp / f"tree-{sha}"
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(wt), sha], check=True,
                           capture_output=True)
            trees[sha] = wt
        (tmp / "child.py").write_text(CHILD)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "ESCUCHA_PROGRESS": "0"}
        rows = []
        try:
            for model in args.models:
                for rnd, (sha, wt) in ((k, t) for k in range(max(1, args.rounds)) for t in trees.items()):
                    r = subprocess.run(["taskset", "-c", str(cpu), sys.executable, str(tmp / "child.py"), str(wt),
                                        model, str(tmp / "files.json"), str(args.repeats)],
                                       capture_output=True, text=True, env=env, timeout=3600)
                    if r.returncode != 0:
                        print(f"{model} at {sha}: failed: {r.stderr.strip().splitlines()[-1:]}")
                        continue
                    rows.append({"model": model, "commit": sha, "round": rnd,
                                 **json.loads(r.stdout.strip().splitlines()[-1])})
        finally:
            for wt in trees.values():
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(wt)], capture_output=True)
    import statistics

    print(f"\n{len(files)} RAVDESS clips (48 kHz WAV), one core (CPU {cpu}), one thread, median of {args.repeats}"
          f"{f' passes; {args.rounds} interleaved rounds (median round, then each)' if args.rounds > 1 else ''}")
    print(f"{'model':8s} {'commit':9s} {'runtime':8s} {'files/s':>8s} {'x base':>7s}  rounds")
    for model in args.models:
        base = None
        for sha in trees:
            mine = [r for r in rows if r["model"] == model and r["commit"] == sha]
            if not mine:
                continue
            fps = [r["files_per_s"] for r in mine]
            med = statistics.median(fps)
            base = base or med
            print(f"{model:8s} {sha:9s} {mine[0]['runtime']:8s} {med:8.1f} {med / base:7.2f}  "
                  + " ".join(f"{v:.0f}" for v in fps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
