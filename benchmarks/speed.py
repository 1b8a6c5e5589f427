#!/usr/bin/env python3
"""Speed and memory of escucha's models on one core, in one run: one table.

For each model — the bundled model of commit 53a5560 (6 members: 3 M5 + eGeMAPS + 2 telephone
M5, torch), today's bundled model on torch and on ONNX Runtime, the eGeMAPS + SVM peer (that
bundle's eGeMAPS member alone) and the ``fast`` model where ``load_model("fast")`` works — it
measures, each in a fresh process pinned to one CPU with one thread:

* throughput: ``predict`` end to end (decode, resample, gate, features, all members) over N
  RAVDESS clips (48 kHz, ~3.7 s), the median of R passes after a warm-up, files/s;
* cold start: wall time of ``escucha predict clip.wav`` (median of K) and its peak RSS;

and, as references, decoding + resampling the same files alone (the limit) and
``python -c "import torch"``. Ratios: throughput over the peer's, and how many times slower than
decoding alone. A second table gives peak RSS and speed of ``escucha analyze`` on 10- and
60-minute synthetic calls (memory must stay flat in duration).

    python benchmarks/speed.py [--n 200] [--repeats 3] [--cold 5] [--format wav|flac] [--cpu 0]

RAVDESS is stored here as FLAC; ``--format wav`` (default) decodes 48 kHz WAV copies of the same
samples, as the issue's measurements did. Results: docs/speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
OLD_COMMIT = "53a5560"


# -- children ------------------------------------------------------------------------------------
def child_throughput(model: str, runtime: str, filelist: str, repeats: int) -> dict:
    """Files/s of predict over the listed files, median of ``repeats`` passes (in this process)."""
    files = Path(filelist).read_text().split("\n")
    if model == "decode":
        from escucha.audio import load_audio, resample

        def one(f):
            y, sr = load_audio(f)
            return resample(y, sr, 16000)
    else:
        import escucha

        m = escucha.load_model(None if model == "bundled" else model, runtime=None if runtime == "auto" else runtime)

        def one(f):
            return m.predict(f)
    for f in files[:3]:
        one(f)
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        for f in files:
            one(f)
        rates.append(len(files) / (time.perf_counter() - t))
    out = {"files_per_s": float(np.median(rates)), "passes": rates}
    if model != "decode":
        out["runtime"] = m.runtime
        out["torch_imported"] = "torch" in sys.modules
    return out


STAGES = ("decode", "resample to 16 kHz", "gate (level + VAD)", "loudness (and trim)", "band routing", "window + log-mel",
          "encoder (and pooling)", "heads")


def child_stages(runtime: str, filelist: str, model: str | None = None) -> dict:
    """Milliseconds per file of each step of a model's ``predict`` (the bundled one by default),
    done one by one."""
    from collections import defaultdict

    import escucha
    from escucha.audio import load_audio, resample
    from escucha.data.waveforms import preprocess
    from escucha.features.spectral import loudest_window
    from escucha.inference.gate import judge

    files = Path(filelist).read_text().split("\n")
    m = escucha.load_model(model, runtime=runtime)
    members = getattr(m, "members", None) or [m]
    bands = getattr(m, "bands", None) or ["any"]
    fc = members[0].feature_config
    window = int(round(fc.max_seconds * 16000)) if fc.max_seconds else None
    if runtime == "torch":
        import torch

        from escucha.features.whisper import load_whisper_encoder, whisper_log_mel

        from escucha.features.whisper import pool_mean_std, speech_frames

        enc = load_whisper_encoder(fc.encoder_path)   # the model's own encoder, layers and pooling
        layers = fc.whisper_layers

        def log_mel(z):
            return whisper_log_mel(torch.from_numpy(z)[None])

        def encoder(mel):
            with torch.inference_mode():
                st = enc(mel, depth=max(layers))
                w = None if fc.pool_floor_db is None else speech_frames(mel, fc.pool_floor_db)
                return torch.cat([t for i in layers for t in pool_mean_std(st[i], w)], -1)[..., None]

        def head(k, x):
            with torch.inference_mode():
                return torch.softmax(members[k].models[0](x), -1)
    else:
        from escucha.features.spectral import whisper_log_mel

        first = members[0]

        def log_mel(z):
            return whisper_log_mel(z[None])

        def encoder(mel):
            return first._run(first.encoder, mel)

        def head(k, x):
            return members[k]._run(members[k].graph, x)

    T = defaultdict(float)
    for rep in range(2):   # the first pass warms up
        for f in files:
            t = time.perf_counter()
            y, sr = load_audio(f)
            t1 = time.perf_counter()
            y16 = resample(y, sr, 16000)
            t2 = time.perf_counter()
            judge(y, sr, y16=y16)
            t3 = time.perf_counter()
            z = preprocess(y16, 16000, m.preprocess_config)
            t4 = time.perf_counter()
            band = m.band_of(z) if hasattr(m, "band_of") else "any"
            t5 = time.perf_counter()
            if window:   # the fast model hears the loudest stretch only
                z = loudest_window(z[None], window)[0]
            mel = log_mel(z)
            t6 = time.perf_counter()
            x = encoder(mel)
            t7 = time.perf_counter()
            for k, b in enumerate(bands):
                if b in (band, "any"):
                    head(k, x)
            t8 = time.perf_counter()
            if rep:
                for name, a, b in zip(STAGES, (t, t1, t2, t3, t4, t5, t6, t7), (t1, t2, t3, t4, t5, t6, t7, t8)):
                    T[name] += (b - a) * 1000 / len(files)
    return dict(T)


def _env(runtime: str | None = None) -> dict:
    env = {**os.environ, "ESCUCHA_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "ESCUCHA_PROGRESS": "0"}
    env.pop("ESCUCHA_RUNTIME", None)
    if runtime and runtime != "auto":
        env["ESCUCHA_RUNTIME"] = runtime
    return env


def timed(cmd: list[str], env: dict) -> tuple[float, float, int]:
    """``(wall seconds, peak RSS in MB, exit status)`` of one command (its own rusage, via wait4)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        print(f"  {' '.join(cmd[:4])}...: exit {p.returncode}: {p.stderr.read().decode()[-400:]}", file=sys.stderr)
    p.stderr.close()
    return dt, ru.ru_maxrss / 1024, p.returncode


def cold(cmd: list[str], env: dict, k: int) -> dict:
    runs = [timed(cmd, env) for _ in range(k)]
    return {"seconds": float(np.median([r[0] for r in runs])), "rss_mb": float(np.median([r[1] for r in runs])),
            "ok": all(r[2] == 0 for r in runs), "all_seconds": [r[0] for r in runs]}


def throughput(model: str, runtime: str, filelist: Path, repeats: int) -> dict:
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    cmd = [sys.executable, __file__, "--child", model, runtime, str(filelist), str(repeats), str(out)]
    r = subprocess.run(cmd, env=_env(runtime), capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"throughput of {model} ({runtime}) failed: {r.stderr[-800:]}")
    res = json.loads(out.read_text())
    out.unlink()
    return res


# -- setup -----------------------------------------------------------------------------------------
def old_bundle(tmp: Path) -> Path | None:
    """The bundled model of :data:`OLD_COMMIT`, extracted with git archive (None without git)."""
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        tar = subprocess.run(["git", "-C", str(REPO), "archive", OLD_COMMIT, "src/escucha/assets/model"],
                             capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=tar, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"old bundle unavailable ({e}); its rows are skipped", file=sys.stderr)
        return None
    return tmp / "src" / "escucha" / "assets" / "model"


def clips(data: Path, n: int, fmt: str, tmp: Path) -> list[str]:
    import soundfile as sf

    from escucha.corpora import scan_ravdess

    recs = scan_ravdess(data / "ravdess")
    rng = np.random.default_rng(0)
    chosen = [recs[i].path for i in sorted(rng.choice(len(recs), min(n, len(recs)), replace=False))]
    if fmt == "flac":
        return chosen
    out = []
    (tmp / "wav").mkdir()
    for p in chosen:
        y, sr = sf.read(p, dtype="int16")
        dst = tmp / "wav" / (Path(p).stem + ".wav")
        sf.write(dst, y, sr, subtype="PCM_16")
        out.append(str(dst))
    return out


def describe(model: str | None) -> str:
    """What a model is, from its own config: members, encoder, layers, input window."""
    import escucha

    m = escucha.load_model(model, runtime="onnx")
    members = getattr(m, "members", None) or [m]
    fc = members[0].feature_config
    if fc.kind != "whisper":
        return f"{len(members)} member(s), {fc.kind}"
    enc = fc.encoder_path or "whisper-tiny.en"
    layers = fc.whisper_layers or ()
    span = f"layers {layers[0]}-{layers[-1]}" if len(layers) > 1 else f"layer {layers[0]}" if layers else "all layers"
    window = f", loudest {fc.max_seconds:g} s" if fc.max_seconds else ""
    return f"{len(members)} member(s), {enc} {span}{window}"


def fast_model_works() -> bool:
    r = subprocess.run([sys.executable, "-c", "import escucha; escucha.load_model('fast')"], env=_env(),
                       capture_output=True, text=True)
    return r.returncode == 0


def long_calls(minutes: list[float], data: Path, tmp: Path) -> list[dict]:
    """Peak RSS and speed of ``escucha analyze`` (default model, split channels) per call length."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("long_audio", REPO / "benchmarks" / "long_audio.py")
    la = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(la)
    pool = la.load_pool(data / "ravdess", 8000, 300, 0)
    rows = []
    for m in minutes:
        call = tmp / f"call_{m:g}min.wav"
        la.build_call(call, m, pool, rate=8000, subtype="PCM_16", seed=int(m))
        cmd = [str(Path(sys.executable).with_name("escucha")), "analyze", str(call), "--channels", "split",
               "--json", "--threads", "1", "--quiet"]
        dt, rss, rc = timed(cmd, _env())
        rows.append({"minutes": m, "seconds": dt, "rss_mb": rss, "rtf": dt / (60 * m), "ok": rc == 0})
        call.unlink()
    return rows


# -- main --------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--n", type=int, default=200, help="RAVDESS clips for throughput (default 200)")
    ap.add_argument("--repeats", type=int, default=3, help="passes over the clips per model (median)")
    ap.add_argument("--cold", type=int, default=5, help="cold starts per model (median)")
    ap.add_argument("--format", choices=("wav", "flac"), default="wav")
    ap.add_argument("--cpu", type=int, help="CPU to pin to (default: the first this process may use)")
    ap.add_argument("--long", type=float, nargs="*", default=[10, 60], help="call minutes for analyze (none: skip)")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        model, runtime, filelist, repeats, out = args.child
        if model in ("stages", "stages-fast"):
            Path(out).write_text(json.dumps(child_stages(runtime, filelist, "fast" if model == "stages-fast" else None)))
        else:
            Path(out).write_text(json.dumps(child_throughput(model, runtime, filelist, int(repeats))))
        return 0

    cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})            # children inherit the one core
    data = Path(args.data)
    tmp = Path(tempfile.mkdtemp(prefix="escucha-speed-"))
    files = clips(data, args.n, args.format, tmp)
    filelist = tmp / "files.txt"
    filelist.write_text("\n".join(files))
    one = files[len(files) // 2]
    old = old_bundle(tmp / "old")
    escucha_bin = str(Path(sys.executable).with_name("escucha"))

    rows = []   # (name, model arg, runtime)
    if old is not None:
        rows.append((f"bundled model of {OLD_COMMIT} (3 M5 + eGeMAPS + 2 telephone M5), torch", str(old), "torch"))
    what = describe(None)
    rows += [(f"bundled model ({what}), torch", "bundled", "torch"),
             (f"bundled model ({what}), ONNX Runtime int8", "bundled", "onnx")]
    if old is not None:
        rows.append(("eGeMAPS + SVM peer (openSMILE; torch head)", str(old / "member-3"), "torch"))
    if fast_model_works():
        what = describe("fast")
        rows += [(f"fast model ({what}), torch", "fast", "torch"),
                 (f"fast model ({what}), ONNX Runtime int8", "fast", "onnx")]
    else:
        print("load_model('fast') does not work here: no fast row", file=sys.stderr)

    print(f"# {len(files)} RAVDESS clips ({args.format}), CPU {cpu} only, 1 thread, {platform.processor() or ''} "
          f"{platform.python_version()}", file=sys.stderr)
    results = {}
    t0 = time.time()
    results["decode"] = throughput("decode", "auto", filelist, args.repeats)
    for name, model, runtime in rows:
        r = throughput(model, runtime, filelist, args.repeats)
        cmd = [escucha_bin, "predict", one] + ([] if model == "bundled" else ["--model", model])
        r["cold"] = cold(cmd, _env(runtime), args.cold)
        results[name] = r
        print(f"  {name}: {r['files_per_s']:.1f} files/s, cold {r['cold']['seconds']:.2f} s, "
              f"{r['cold']['rss_mb']:.0f} MB", file=sys.stderr)
    torch_cold = cold([sys.executable, "-c", "import torch"], _env(), args.cold)
    stages = {rt: throughput("stages", rt, filelist, 1) for rt in ("onnx", "torch")}
    if any(n.startswith("fast model") for n, _, _ in rows):
        stages["fast"] = throughput("stages-fast", "onnx", filelist, 1)
    long_rows = long_calls(args.long, data, tmp) if args.long else []

    peer_name = next((n for n, _, _ in rows if n.startswith("eGeMAPS")), None)
    peer = results[peer_name]["files_per_s"] if peer_name else None
    limit = results["decode"]["files_per_s"]
    print(f"\n{len(files)} RAVDESS clips (48 kHz {args.format.upper()}, ~3.7 s), one core (CPU {cpu}), one thread; "
          f"medians of {args.repeats} passes / {args.cold} cold starts; {time.time() - t0:.0f} s in all\n")
    print("| | files/s/core | × peer | × slower than decode | cold `escucha predict clip.wav` | peak RSS, one clip | "
          "runtime |")
    print("|---|---|---|---|---|---|---|")
    for name, _, _ in rows:
        r = results[name]
        fps = r["files_per_s"]
        ratio = f"{fps / peer:.1f}" if peer else "-"
        print(f"| {name} | {fps:.1f} | {ratio} | {limit / fps:.1f} | {r['cold']['seconds']:.2f} s | "
              f"{r['cold']['rss_mb']:.0f} MB | {r['runtime']}{' (torch imported)' if r['torch_imported'] else ''} |")
    print(f"| decode + resample to 16 kHz alone (the limit) | {limit:.0f} | "
          f"{f'{limit / peer:.1f}' if peer else '-'} | 1.0 | - | - | soundfile + soxr |")
    print(f"| `python -c \"import torch\"` | - | - | - | {torch_cold['seconds']:.2f} s | {torch_cold['rss_mb']:.0f} MB | - |")
    cols = [("bundled, ONNX Runtime int8", stages["onnx"]), ("bundled, torch", stages["torch"])]
    if "fast" in stages:
        cols.append(("fast, ONNX Runtime int8", stages["fast"]))
    print("\n| per file (ms) | " + " | ".join(c for c, _ in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name in STAGES:
        print(f"| {name} | " + " | ".join(f"{st[name]:.2f}" for _, st in cols) + " |")
    print("| sum of the steps | " + " | ".join(f"{sum(st.values()):.2f}" for _, st in cols) + " |")
    if long_rows:
        print("\n| `escucha analyze` call (8 kHz stereo, split) | wall | real-time factor | peak RSS |")
        print("|---|---|---|---|")
        for r in long_rows:
            print(f"| {r['minutes']:g} min | {r['seconds']:.0f} s | {r['rtf']:.4f} | {r['rss_mb']:.0f} MB"
                  f"{'' if r['ok'] else ' (failed)'} |")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
