"""Long-audio benchmark: speed, memory and segment accuracy of ``escucha analyze`` on synthetic calls.

Builds stereo "calls" from RAVDESS utterances of known emotion (two actors taking turns, one per
channel, 1-2.5 s of faint noise between turns), analyses each in a fresh subprocess on one
thread (VAD included) and prints:

* real-time factor (analysis seconds / audio seconds; the issue's target is <= 0.01), both wall
  clock and CPU time of the single-threaded analysis process (CPU time is what one core spends;
  wall time also counts waiting for a busy core),
* peak RSS of the 10-minute and the 60-minute call (target: within 10 % of each other, <= 500 MB),
* voice activity: share of true utterances found, start/end errors, false alarms,
* segment-level emotion accuracy and UAR against the utterance each segment overlaps most.

    python benchmarks/long_audio.py --model /tmp/run1/checkpoint
    python benchmarks/long_audio.py --model M --minutes 10 60 --rate 8000 --subtype ULAW

Not run in CI. Record results in docs/long_audio.md with the command and the machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ravdess"


# -- building a call ---------------------------------------------------------------------------------
def load_pool(data: Path, rate: int, n: int, seed: int) -> list[dict]:
    """Decode ``n`` random RAVDESS utterances at ``rate`` (mono float32) with their speech extent."""
    import soundfile as sf

    from escucha.audio import resample, trim_silence
    from escucha.corpora import scan_corpus

    recs = scan_corpus(data)
    rng = np.random.default_rng(seed)
    pool = []
    for i in rng.permutation(len(recs))[:n]:
        r = recs[i]
        y, sr = sf.read(r.path, dtype="float32", always_2d=True)
        y = resample(y.mean(axis=1), sr, rate)
        _, (a, b) = trim_silence(y, top_db=35.0)
        pool.append({"y": y, "speech": (a, b), "emotion": r.emotion, "speaker": r.speaker, "path": r.path})
    return pool


def build_call(path: Path, minutes: float, pool: list[dict], *, rate: int, subtype: str, seed: int) -> Path:
    """Write a stereo call of ``minutes`` block by block; truth rows go to ``<path>.truth.csv``
    (channel, start, end of the utterance's speech in seconds, emotion)."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * rate)
    speakers = sorted({p["speaker"] for p in pool})
    by_spk = {s: [p for p in pool if p["speaker"] == s] for s in speakers}
    truth, t = [], 0
    names = ["agent", "customer"]
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=2, subtype=subtype) as f:
        spk = list(rng.choice(speakers, 2, replace=False))
        turn = 0
        while t < total:
            if turn % 40 == 0 and turn:                       # new pair of speakers now and then
                spk = list(rng.choice(speakers, 2, replace=False))
            ch = turn % 2
            gap = int(rng.uniform(1.0, 2.5) * rate)
            clip = by_spk[spk[ch]][rng.integers(len(by_spk[spk[ch]]))]
            n = min(gap + len(clip["y"]), total - t)
            block = (rng.standard_normal((n, 2)) * 3e-4).astype(np.float32)   # -70 dBFS line noise
            seg = clip["y"][: max(0, n - gap)]
            block[gap:gap + len(seg), ch] += 0.7 * seg / max(1e-6, float(np.abs(clip["y"]).max()))
            a, b = clip["speech"]
            if gap + b <= n:
                truth.append((names[ch], (t + gap + a) / rate, (t + gap + b) / rate, clip["emotion"]))
            f.write(np.clip(block, -1, 1))
            t += n
            turn += 1
    with open(str(path) + ".truth.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["channel", "start", "end", "emotion"])
        w.writerows(truth)
    return path


# -- child: analyse one call in a fresh process ------------------------------------------------------------
def child(args) -> None:
    import resource

    import torch

    torch.set_num_threads(1)
    import escucha
    from escucha.longaudio import SileroVAD, VADConfig, analyze_file

    predictor = escucha.load_model(args.model)
    vad = SileroVAD(threads=1)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    rss0 = ru0.ru_maxrss / 1024
    t0 = time.perf_counter()
    res = analyze_file(args.child, predictor, channels="split", channel_names=["agent", "customer"], vad_model=vad,
                       vad=VADConfig(sample_rate=args.vad_rate or 16000))
    dt = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru.ru_utime + ru.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    rss = ru.ru_maxrss / 1024
    out = {"seconds": dt, "cpu_seconds": cpu, "duration": res.duration, "rtf": dt / res.duration,
           "rtf_cpu": cpu / res.duration, "rss_mb": rss, "rss_before_mb": rss0,
           "segments": [s.to_dict() for s in res.segments], "labels": res.labels}
    Path(args.result).write_text(json.dumps(out))


def run_child(call: Path, model: str, result: Path, vad_rate: int | None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "ESCUCHA_PROGRESS": "0"}
    cmd = [sys.executable, __file__, "--child", str(call), "--model", model, "--result", str(result)]
    if vad_rate:
        cmd += ["--vad-rate", str(vad_rate)]
    subprocess.run(cmd, check=True, env=env)
    return json.loads(result.read_text())


# -- scoring -------------------------------------------------------------------------------------------------
def score(segments: list[dict], truth: list[tuple], labels: list[str]) -> dict:
    from escucha.evaluate.metrics import classification_report

    found, start_err, end_err = 0, [], []
    for ch, a, b, _ in truth:
        hits = [s for s in segments if s["channel"] == ch and s["start"] < b and s["end"] > a]
        if hits:
            found += 1
            if len(hits) == 1:
                start_err.append(abs(hits[0]["start"] - a))
                end_err.append(abs(hits[0]["end"] - b))
    y_true, y_pred, false_alarms = [], [], 0
    for s in segments:
        best, emo = 0.0, None
        for ch, a, b, e in truth:
            ov = min(b, s["end"]) - max(a, s["start"])
            if ch == s["channel"] and ov > best:
                best, emo = ov, e
        if emo is None:
            false_alarms += 1
        elif emo in labels:
            y_true.append(labels.index(emo))
            y_pred.append(labels.index(s["label"]))
    rep = classification_report(y_true, y_pred, labels) if y_true else {"accuracy": float("nan"), "uar": float("nan")}
    return {"utterances": len(truth), "recall": found / max(1, len(truth)),
            "start_err": float(np.median(start_err)) if start_err else float("nan"),
            "end_err": float(np.median(end_err)) if end_err else float("nan"),
            "segments": len(segments), "false_alarms": false_alarms,
            "accuracy": rep["accuracy"], "uar": rep["uar"], "n_scored": len(y_true)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model or checkpoint folder")
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="RAVDESS folder or manifest CSV")
    ap.add_argument("--minutes", type=float, nargs="+", default=[10, 60], help="call lengths (default 10 60)")
    ap.add_argument("--rate", type=int, default=8000, help="sample rate of the calls (default 8000, telephone)")
    ap.add_argument("--subtype", default="PCM_16", help="WAV subtype: PCM_16 (default), ULAW, ALAW")
    ap.add_argument("--pool", type=int, default=300, help="distinct utterances drawn from the corpus")
    ap.add_argument("--work", default="/tmp/escucha-long-audio", help="folder for the calls")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vad-rate", type=int, choices=(8000, 16000), help="VAD rate (default 16000; 8000: Silero's "
                    "narrow-band mode)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args)
        return 0

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    pool = load_pool(Path(args.data), args.rate, args.pool, args.seed)
    rows = []
    for m in args.minutes:
        call = work / f"call_{m:g}min_{args.rate}Hz_{args.subtype}.wav"
        build_call(call, m, pool, rate=args.rate, subtype=args.subtype, seed=args.seed + int(m))
        truth = [(r["channel"], float(r["start"]), float(r["end"]), r["emotion"])
                 for r in csv.DictReader(open(str(call) + ".truth.csv"))]
        res = run_child(call, args.model, work / f"result_{m:g}.json", args.vad_rate)
        sc = score(res["segments"], truth, res["labels"])
        rows.append({"minutes": m, **{k: res[k] for k in ("seconds", "cpu_seconds", "rtf", "rtf_cpu", "rss_mb",
                                                            "rss_before_mb")}, **sc})
        print(f"  {m:g} min done: RTF {res['rtf']:.4f} (CPU {res['rtf_cpu']:.4f}), peak RSS {res['rss_mb']:.0f} MB",
              file=sys.stderr)

    print(f"\nescucha long-audio benchmark  ({platform.processor() or platform.machine()}, {os.cpu_count()} cores "
          f"visible, 1 thread; calls: stereo {args.rate} Hz {args.subtype}; model {args.model})\n")
    print("| call | wall time | CPU time | RTF (wall) | RTF (CPU, 1 thread) | peak RSS | RSS after model load | "
          "utterances found | median start / end error | false-alarm segments | segments | segment accuracy | "
          "segment UAR |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['minutes']:g} min | {r['seconds']:.1f} s | {r['cpu_seconds']:.1f} s | {r['rtf']:.4f} | "
              f"{r['rtf_cpu']:.4f} | {r['rss_mb']:.0f} MB | {r['rss_before_mb']:.0f} MB | "
              f"{r['recall']:.1%} of {r['utterances']} | {r['start_err']:.2f} / {r['end_err']:.2f} s | "
              f"{r['false_alarms']} | {r['segments']} | {r['accuracy']:.1%} | {r['uar']:.1%} |")
    if len(rows) >= 2:
        a, b = rows[0]["rss_mb"], rows[-1]["rss_mb"]
        print(f"\npeak RSS {rows[-1]['minutes']:g} min vs {rows[0]['minutes']:g} min: {b / a - 1:+.1%} "
              f"(target within 10 %, <= 500 MB); worst RTF {max(r['rtf'] for r in rows):.4f} wall, "
              f"{max(r['rtf_cpu'] for r in rows):.4f} CPU (target <= 0.01)")
    print(f"(total benchmark wall time {time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
