#!/usr/bin/env python3
"""The speakers benchmark: who said what in mono calls built from speakers the models never heard.

Calls are built as in ``benchmarks/calls.py`` (an agent with neutral turns, a customer with turns
of every emotion, short pauses of faint hiss, wide-band 16 kHz PCM and telephone 8 kHz mu-law),
on two channels; the **mono** call is the same stereo file mixed to one channel (what a mono
archive holds). ``--parties 3`` adds a third speaker (neutral turns, after every third turn).
Each mono call is analysed with the defaults (``escucha analyze CALL``: speakers estimated, no
``--speakers``), each stereo call with ``--channels split`` as the calls benchmark does. Scores:

- **attribution**: the share of turns whose most-overlapping segments' speaker is the turn's
  party, after the best one-to-one mapping of found speakers to parties (a turn no segment
  overlaps counts as wrong);
- **DER** (diarization error rate, ``pyannote.metrics``; missed speech + false alarm + speaker
  confusion over the reference speech; collar 0 and 0.25 s);
- **speakers found**: how often the estimated number of speakers is right;
- **customer UAR**: mono (speakers mapped as for attribution) and split stereo, turn by turn as
  ``benchmarks/calls.py`` scores them.

    python benchmarks/speakers.py [--data ../shared/data/nemo ../shared/data/korean] [--calls 6]
        [--parties 2 3] [--lines wide telephone] [--model default] [--out runs/speakers]

``--sweep`` also prints attribution and speakers-found against the clustering threshold (the
embeddings are computed once per call). Not run in CI.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from calls import RATE, load_turn, plan_calls, score, telephone_line, turn_answers  # noqa: E402

#: the lines a call is heard on; every call is analysed mixed to one channel (calls.py's own
#: "-mono" lines are these two, mixed)
LINES = ("wide", "telephone")

from escucha.corpora import scan_corpus  # noqa: E402
from escucha.inference import load_model  # noqa: E402
from escucha.longaudio import analyze_file  # noqa: E402


def add_third_party(plan: dict, by_speaker: dict, rng) -> dict | None:
    """A third speaker (neutral turns, or any) after every third turn."""
    others = [s for s in sorted(by_speaker) if s not in (plan["agent"], plan["customer"])]
    if not others:
        return None
    third = others[int(rng.integers(len(others)))]
    pool = [r for r in by_speaker[third] if r.emotion == "neutral"] or by_speaker[third]
    turns = []
    for k, t in enumerate(plan["turns"]):
        turns.append(t)
        if k % 3 == 2:
            turns.append(("third", pool[int(rng.integers(len(pool)))]))
    return {**plan, "third": third, "turns": turns}


def build_call(folder: Path, name: str, plan: dict, seed: int) -> tuple[dict, list[tuple]]:
    """Stereo (one party per channel; a third party on both) and mono mixes of one call, on each
    line; and the truth ``(party, start, end, emotion)``."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    blocks, truth, t = [], [], 0
    for party, rec in plan["turns"]:
        gap = np.zeros((int(rng.uniform(0.4, 1.2) * RATE), 2), np.float32)
        y = load_turn(rec.path)
        block = np.zeros((len(y), 2), np.float32)
        if party == "third":
            block[:, 0] = block[:, 1] = y
        else:
            block[:, 0 if party == "agent" else 1] = y
        blocks += [gap, block]
        t += len(gap)
        truth.append((party, t / RATE, (t + len(y)) / RATE, rec.emotion))
        t += len(y)
    call = np.concatenate(blocks + [np.zeros((RATE // 2, 2), np.float32)])
    call += (10 ** (-60 / 20) * rng.standard_normal(call.shape)).astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for line in LINES:
        st = folder / f"{name}.{line}.stereo.wav"
        mo = folder / f"{name}.{line}.mono.wav"
        if line == "wide":
            sf.write(st, np.clip(call, -1, 1), RATE, subtype="PCM_16")
            z, _ = sf.read(st, dtype="float32")
            sf.write(mo, z.mean(axis=1), RATE, subtype="PCM_16")
        else:
            z, sr = telephone_line(call, RATE)
            sf.write(st, z, sr, subtype="ULAW")
            z, _ = sf.read(st, dtype="float32")
            sf.write(mo, z.mean(axis=1), sr, subtype="ULAW")
        paths[line] = {"stereo": st, "mono": mo}
    (folder / f"{name}.truth.json").write_text(json.dumps(truth))
    return paths, truth


def speaker_of_turns(segments, truth) -> list[str | None]:
    """The speaker with the most overlap with each truth turn (``None``: no segment overlaps)."""
    out = []
    for _party, a, b, _e in truth:
        ov: dict = {}
        for s in segments:
            d = min(b, s.end) - max(a, s.start)
            if d > 0:
                ov[s.speaker] = ov.get(s.speaker, 0.0) + d
        out.append(max(ov, key=ov.get) if ov else None)
    return out


def best_mapping(found: list[str | None], parties: list[str]) -> dict:
    """Found speaker -> party, one to one, maximising the turns attributed right."""
    from scipy.optimize import linear_sum_assignment

    spk = sorted({f for f in found if f is not None})
    ps = sorted(set(parties))
    if not spk:
        return {}
    m = np.zeros((len(spk), len(ps)))
    for f, p in zip(found, parties):
        if f is not None:
            m[spk.index(f), ps.index(p)] += 1
    r, c = linear_sum_assignment(-m)
    return {spk[i]: ps[j] for i, j in zip(r, c)}


def der(segments, truth) -> tuple[float, float]:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref, hyp = Annotation(), Annotation()
    for k, (party, a, b, _e) in enumerate(truth):
        ref[Segment(a, b), k] = party
    for k, s in enumerate(segments):
        hyp[Segment(s.start, s.end), k] = s.speaker or "?"
    return (float(DiarizationErrorRate(collar=0.0)(ref, hyp)), float(DiarizationErrorRate(collar=0.25)(ref, hyp)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = REPO.parent / "shared" / "data"
    ap.add_argument("--data", nargs="+", default=[str(shared / c) for c in ("nemo", "korean")])
    ap.add_argument("--model", default="default")
    ap.add_argument("--calls", type=int, default=6)
    ap.add_argument("--turns", type=int, default=8)
    ap.add_argument("--parties", nargs="+", type=int, default=[2, 3], choices=(2, 3))
    ap.add_argument("--lines", nargs="+", choices=LINES, default=list(LINES))
    ap.add_argument("--no-stereo", action="store_true", help="skip the split-stereo comparison")
    ap.add_argument("--sweep", action="store_true", help="attribution against the clustering threshold")
    ap.add_argument("--out", default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--any-speaker", action="store_true",
                    help="also build calls from speakers the emotion model was trained on (e.g. RAVDESS, EmoDB, "
                         "SAVEE for the bundled model): attribution, DER and the speaker count stay fair, the "
                         "speaker encoder never heard these corpora; the customer UAR does not")
    args = ap.parse_args(argv)
    from escucha.runtime import set_num_threads

    set_num_threads(1)
    out = Path(args.out or tempfile.mkdtemp(prefix="speakers-"))
    model = load_model(args.model)
    rows, sweep = [], {}
    for data in args.data:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            records = scan_corpus(data)
        corpus = records[0].corpus
        unseen = [r for r in records if args.any_speaker or r.speaker_key not in model.trained_speakers]
        if not unseen:
            print(f"{corpus}: every speaker was heard in training; --any-speaker builds calls from them anyway",
                  file=sys.stderr)
            continue
        by_speaker: dict = {}
        for r in unseen:
            by_speaker.setdefault(r.speaker_key, []).append(r)
        plans = plan_calls(unseen, args.calls, args.turns, args.seed)
        rng = np.random.default_rng(args.seed)
        for parties in args.parties:
            for k, plan in enumerate(plans):
                if parties == 3:
                    plan = add_third_party(plan, by_speaker, rng)
                    if plan is None:
                        continue
                name = f"{corpus}-{parties}p-{k:02d}"
                paths, truth = build_call(out / corpus, name, plan, args.seed + k)
                for line in args.lines:
                    t0 = time.time()
                    res = analyze_file(paths[line]["mono"], model)
                    el = time.time() - t0
                    found = speaker_of_turns(res.segments, truth)
                    parts = [p for p, *_ in truth]
                    mapping = best_mapping(found, parts)
                    right = [mapping.get(f) == p for f, p in zip(found, parts)]
                    d0, d25 = der(res.segments, truth)
                    n_found = len(res.speakers or [])
                    row = {"corpus": corpus, "parties": parties, "line": line, "call": name,
                           "attribution": float(np.mean(right)), "der": d0, "der_collar": d25,
                           "speakers_found": n_found, "right_count": n_found == parties,
                           "overlap_marked": sum(1 for s in res.segments if s.overlap),
                           "rtf": el / res.duration, "channel_choice": (res.channel_choice or {}).get("mode")}
                    # customer emotion, mono (found speakers mapped to parties) vs split stereo
                    for s in res.segments:
                        s.channel = mapping.get(s.speaker, "?")
                    labels = list(model.labels)
                    tr = [(p, a, b, e, "") for p, a, b, e in truth]
                    row["mono_turns"] = [(p, e, a) for (p, _a, _b, e, _), a in zip(tr, turn_answers(res, tr, labels))]
                    if parties == 2 and not args.no_stereo:
                        st = analyze_file(paths[line]["stereo"], model, channels="split",
                                          channel_names="agent,customer", speakers="off")
                        row["split_turns"] = [(p, e, a) for (p, _a, _b, e, _), a in
                                              zip(tr, turn_answers(st, tr, labels))]
                        auto = analyze_file(paths[line]["stereo"], model, speakers="off")
                        row["stereo_auto_choice"] = (auto.channel_choice or {}).get("mode")
                    if args.sweep:
                        sweep.setdefault((parties, line), []).append((str(paths[line]["mono"]), truth))
                    rows.append(row)
                    print(f"{name} {line}: attribution {row['attribution']:.3f} DER {d0:.3f} "
                          f"speakers {n_found}/{parties} RTF {row['rtf']:.4f}", flush=True)
    print("\nparties line       calls attribution  DER  DER(0.25) right-count  cust-UAR mono  split  stereo-auto")
    summary = {}
    for parties in args.parties:
        for line in args.lines:
            rs = [r for r in rows if r["parties"] == parties and r["line"] == line]
            if not rs:
                continue
            mono = score([t for r in rs for t in r["mono_turns"]])["customer_uar"]
            split = (score([t for r in rs for t in r["split_turns"]])["customer_uar"]
                     if all("split_turns" in r for r in rs) else None)
            auto = [r.get("stereo_auto_choice") for r in rs if r.get("stereo_auto_choice")]
            s = {"calls": len(rs), "attribution": float(np.mean([r["attribution"] for r in rs])),
                 "der": float(np.mean([r["der"] for r in rs])), "der_collar": float(np.mean([r["der_collar"] for r in rs])),
                 "right_count": float(np.mean([r["right_count"] for r in rs])), "customer_uar_mono": mono,
                 "customer_uar_split": split, "stereo_auto_split": (auto.count("split") / len(auto)) if auto else None,
                 "rtf": float(np.mean([r["rtf"] for r in rs]))}
            summary[f"{parties}p-{line}"] = s
            f = lambda v: "  n/a" if v is None else f"{v:.3f}"  # noqa: E731
            print(f"{parties:7d} {line:10s} {len(rs):5d} {f(s['attribution']):>11s} {f(s['der'])} {f(s['der_collar']):>9s} "
                  f"{f(s['right_count']):>11s} {f(mono):>14s} {f(split):>6s} {f(s['stereo_auto_split']):>12s}")
    if args.sweep:
        _sweep(sweep, model)
    out.mkdir(parents=True, exist_ok=True)
    (out / "speakers.json").write_text(json.dumps({"summary": summary, "calls": [
        {k: v for k, v in r.items() if not k.endswith("_turns")} for r in rows]}, indent=2))
    print(f"\ncalls and results: {out}")
    return 0


def _sweep(calls: dict, model) -> None:
    """Attribution against the threshold and the piece size, the embeddings computed once per call."""
    from escucha.longaudio import attribution
    from escucha.speakers import SpeakerOptions

    tracks = []
    init = attribution.SpeakerTrack.__init__

    def keep(self, *a, **k):
        init(self, *a, **k)
        tracks.append(self)

    attribution.SpeakerTrack.__init__ = keep
    ths = [0.9, 0.93, 0.95, 0.97, 1.01]
    groups = [1, 3]
    done = {}
    for key, items in calls.items():
        done[key] = []
        for path, truth in items:
            tracks.clear()
            analyze_file(path, model)
            done[key].append((tracks[0], truth))
    attribution.SpeakerTrack.__init__ = init
    print("\nsweep: attribution / share of calls with the right number of speakers")
    for g in groups:
        attribution.GROUP = g
        print(f"pieces of {g} embeddings\nparties line      " + " ".join(f"{t:>11.2f}" for t in ths))
        for (parties, line), items in done.items():
            cells = []
            for th in ths:
                acc, cnt = [], []
                for track, truth in items:
                    track.options = SpeakerOptions(threshold=th)
                    segs, names = track.finish()
                    found = speaker_of_turns(segs, truth)
                    parts = [p for p, *_ in truth]
                    m = best_mapping(found, parts)
                    acc.append(np.mean([m.get(f) == p for f, p in zip(found, parts)]))
                    cnt.append(len(names) == parties)
                cells.append(f"{np.mean(acc):.3f}/{np.mean(cnt):.2f}")
            print(f"{parties:7d} {line:9s} " + " ".join(f"{c:>11s}" for c in cells), flush=True)
    attribution.GROUP = 1


if __name__ == "__main__":
    sys.exit(main())
