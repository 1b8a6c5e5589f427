#!/usr/bin/env python3
"""The calls benchmark: two-party calls built from speakers a model never heard, analysed the way a
contact centre would (``escucha analyze CALL --channels split``), scored turn by turn.

Each call has an **agent** (one speaker, neutral turns only) and a **customer** (another speaker
of the same corpus, turns of every emotion the corpus has, in turn), alternating with short
pauses of faint noise, one party per channel. Turns are the corpus's clips trimmed of their
leading and trailing silence (a call's turns have none). Every call is written on four lines:

- ``wide``: 16 kHz, 16-bit PCM stereo;
- ``telephone``: 300-3400 Hz band, 8 kHz, G.711 mu-law stereo (a real codec round trip);
- ``wide-mono`` and ``telephone-mono``: the same with both parties on one channel, which
  ``analyze`` hears as a mono call (its speakers found: ``spkOK`` is the share of turns given their
  party's speaker).

Then ``analyze_file(call, model, channels="split")`` (what ``escucha analyze DIR --channels split``
runs; ``--compare-baseline`` also scores the same analysis with each speaker heard against their
own neutral voice, ``analyze --baseline``) and, for each turn, the segments of its channel (on a
mono call: every segment) that overlap it, their probabilities weighted by the overlap:

- **customer UAR**: mean recall over the emotions the corpus has (an answer outside them, or a
  turn with no segment, is wrong);
- **arousal UAR** and **negative UAR**: the same turns, truth mapped to high/low arousal and
  negative/not negative (:data:`escucha.labels.HIGH_AROUSAL`, :data:`escucha.labels.NEGATIVE`),
  answered by the summed probability of those emotions (at least one half: yes), as the
  ``arousal`` and ``negative`` outputs of predict and analyze;
- **agent false alarms**: the share of the agent's (neutral) turns given another emotion, and the
  share heard as negative;
- **missed**: turns no segment overlaps;
- **agree**: the share of turns whose ``analyze`` answer is the label ``predict`` gives the same
  speech (the turn cut from the call file: its party's channel, or the mono channel).

Only speakers the model was not trained on are used (a model folder records them): for today's
bundled models that is nEMO and the Korean corpus. Several models in one run share the calls::

    python benchmarks/calls.py --model default --model fast [--data ../shared/data/nemo ../shared/data/korean]
        [--calls 32] [--turns 8] [--lines wide telephone wide-mono telephone-mono] [--out runs/calls]
        [--threads 1] [--no-plot] [--no-predict]

``--recipe NAME`` (benchmarks/recipes.py) judges a *recipe* instead, leave-one-corpus-out: for each corpus of
``--data`` a model is trained by the recipe (benchmarks/bundle_cv.py's members and band routing) on
every other corpus of ``--train-data`` (default: the five shared corpora), and judged on calls
built from the held-out one::

    python benchmarks/calls.py --recipe bundled --data ../shared/data/nemo ../shared/data/korean --threads 2

``--folds speakers`` instead trains two folds per corpus, each without half of its speakers (every
other clip, that corpus's other speakers included), and builds the calls from the speakers left out.

Prints one table per line (rows: model x corpus; customer UAR and agent false alarms with their
standard errors over the calls, a bootstrap of whole calls) and writes ``calls.json`` (the scores
and every turn's answer) and the calls themselves (with ``.truth.csv``) to ``--out``. Not run in CI.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import pickle
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from escucha.audio import load_audio, resample, trim_silence  # noqa: E402
from escucha.corpora import scan_corpus  # noqa: E402
from escucha.inference import load_model  # noqa: E402
from escucha.labels import HIGH_AROUSAL, NEGATIVE, dimension_scores  # noqa: E402
from escucha.longaudio import analyze_file  # noqa: E402
from escucha.longaudio.analyzer import apply_baseline  # noqa: E402
from escucha.longaudio.settings import BASELINE_DEFAULT  # noqa: E402
from recipes import RECIPES  # noqa: E402

RATE = 16000
LINES = ("wide", "telephone", "wide-mono", "telephone-mono")


# -- building calls -----------------------------------------------------------------------------------
def telephone_line(y: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    """300-3400 Hz band (4th-order Butterworth), resampled to 8 kHz; the mu-law coding happens
    when the file is written (soundfile subtype ULAW)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [300, 3400], btype="bandpass", fs=sr, output="sos")
    z = sosfiltfilt(sos, y, axis=0).astype(np.float32)
    return np.clip(resample(z.T, sr, 8000).T if z.ndim == 2 else resample(z, sr, 8000), -1, 1), 8000


def load_turn(path: str) -> np.ndarray:
    y, _ = load_audio(path, sample_rate=RATE)
    t, _ = trim_silence(y, top_db=35.0)
    return t if len(t) >= int(0.3 * RATE) else y


def plan_calls(records, n_calls: int, n_turns: int, seed: int, emotions: list[str] | None = None) -> list[dict]:
    """Agent / customer pairs and their turns: ``[{"agent", "customer", "turns": [(party, record)]}]``;
    ``emotions``: the customer's turns only of these (e.g. a customer angry throughout)."""
    rng = np.random.default_rng(seed)
    by_speaker: dict[str, list] = {}
    for r in records:
        by_speaker.setdefault(r.speaker_key, []).append(r)
    agents = [s for s, rs in by_speaker.items() if sum(r.emotion == "neutral" for r in rs) >= 3]
    speakers = sorted(by_speaker)
    if len(speakers) < 2 or not agents:
        return []
    calls = []
    for c in range(n_calls):
        agent = agents[c % len(agents)]
        others = [s for s in speakers if s != agent
                  and (not emotions or any(r.emotion in emotions for r in by_speaker[s]))]
        if not others:
            return calls
        customer = others[(c * 7 + int(rng.integers(len(others)))) % len(others)]
        labels = [lab for lab in sorted({r.emotion for r in by_speaker[customer]}) if not emotions or lab in emotions]
        neutral = [r for r in by_speaker[agent] if r.emotion == "neutral"]
        turns = [("agent", neutral[int(rng.integers(len(neutral)))])]
        for k in range(n_turns):
            lab = labels[(k + c) % len(labels)]
            pool = [r for r in by_speaker[customer] if r.emotion == lab]
            turns.append(("customer", pool[int(rng.integers(len(pool)))]))
            turns.append(("agent", neutral[int(rng.integers(len(neutral)))]))
        calls.append({"agent": agent, "customer": customer, "turns": turns})
    return calls


def write_call(folder: Path, name: str, plan: dict, seed: int) -> dict[str, Path]:
    """Both lines of one planned call, and its truth (``party, start, end, emotion``)."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    blocks, truth, t = [], [], 0
    for party, rec in plan["turns"]:
        gap = np.zeros((int(rng.uniform(0.4, 1.2) * RATE), 2), np.float32)
        y = load_turn(rec.path)
        block = np.zeros((len(y), 2), np.float32)
        block[:, 0 if party == "agent" else 1] = y
        blocks += [gap, block]
        t += len(gap)
        truth.append((party, t / RATE, (t + len(y)) / RATE, rec.emotion, rec.path))
        t += len(y)
    call = np.concatenate(blocks + [np.zeros((RATE // 2, 2), np.float32)])
    call += (10 ** (-60 / 20) * rng.standard_normal(call.shape)).astype(np.float32)  # a line's hiss
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for line in LINES:
        p = folder / f"{name}.{line}.wav"
        y = call.sum(axis=1) if line.endswith("-mono") else call   # mono: both parties on one channel
        if line.startswith("wide"):
            sf.write(p, np.clip(y, -1, 1), RATE, subtype="PCM_16")
        else:
            z, sr = telephone_line(y, RATE)
            sf.write(p, z, sr, subtype="ULAW")
        out[line] = p
    with open(folder / f"{name}.truth.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["party", "start", "end", "emotion", "source"])
        w.writerows(truth)
    return out


# -- scoring ------------------------------------------------------------------------------------------
def turn_answers(result, truth: list[tuple], labels: list[str], *, mono: bool = False) -> list[dict | None]:
    """Each truth turn's answer: the overlap-weighted probabilities of its channel's segments (on a
    ``mono`` call: of every segment it overlaps), as ``{"label", "arousal", "negative",
    "probabilities"}`` (:func:`escucha.labels.dimension_scores`) and, on a mono call, the ``speaker`` heard most in
    it; ``None`` for a turn no segment overlaps."""
    out = []
    for party, start, end, _emotion, _src in truth:
        p = np.zeros(len(labels))
        heard: dict[str, float] = {}
        for s in result.segments:
            if not mono and s.channel != party:
                continue
            ov = min(end, s.end) - max(start, s.start)
            if ov > 0:
                p += ov * np.asarray(s.probabilities, dtype=np.float64)
                heard[str(s.speaker)] = heard.get(str(s.speaker), 0.0) + ov
        if p.sum() > 0:
            q = p / p.sum()
            out.append({"label": labels[int(np.argmax(p))], **dimension_scores(dict(zip(labels, p))),
                        "probabilities": {lab: round(float(v), 4) for lab, v in zip(labels, q)},
                        **({"speaker": max(heard, key=heard.get)} if mono else {})})
        else:
            out.append(None)
    return out


def add_predict(answers: list[dict | None], call: Path, truth: list[tuple], model) -> None:
    """Give each answered turn ``predict``'s label for the same speech: the turn cut from its
    party's channel of the call file (the whole of a mono call's one channel), as
    ``model.predict`` hears a clip (``None`` when the gate refuses it)."""
    import soundfile as sf

    y, sr = sf.read(call, dtype="float32", always_2d=True)
    for a, (party, start, end, _e, _src) in zip(answers, truth):
        if a is None:
            continue
        ch = 0 if y.shape[1] == 1 else (0 if party == "agent" else 1)
        a["predict"] = model.predict(y[int(start * sr):int(end * sr), ch], sample_rate=sr).label


def predict_agreement(rows: list[tuple[int, str, str, dict | None]]) -> float | None:
    """The share of turns ``analyze`` answers with the label ``predict`` gives the same speech."""
    both = [a for _k, _p, _t, a in rows if a is not None and "predict" in a]
    return float(np.mean([a["label"] == a["predict"] for a in both])) if both else None


def speakers_right(rows: list[tuple[int, str, str, dict | None]]) -> float | None:
    """Mono calls: the share of turns given their party's speaker, where each call's agent and
    customer are the speakers heard most in their turns; a call whose agent and customer are heard
    as one speaker counts as all wrong (``None``: no turns)."""
    from collections import Counter

    by_call: dict[int, list] = {}
    for k, party, _t, a in rows:
        by_call.setdefault(k, []).append((party, a.get("speaker") if a else None))
    right = total = 0
    for turns in by_call.values():
        major = {}
        for party in ("agent", "customer"):
            said = [sp for pt, sp in turns if pt == party and sp is not None]
            major[party] = Counter(said).most_common(1)[0][0] if said else None   # a tie: the first heard
        distinct = major["agent"] is not None and major["agent"] != major["customer"]
        right += sum(distinct and sp == major[pt] for pt, sp in turns)
        total += len(turns)
    return right / total if total else None


def binary_uar(truth: list[bool], pred: list[bool | None]) -> float | None:
    t, p = np.array(truth), np.array([x if x is not None else (not y) for x, y in zip(pred, truth)])
    rec = [np.mean(p[t == v] == v) for v in (True, False) if (t == v).any()]
    return float(np.mean(rec)) if len(rec) == 2 else None


def score(rows: list[tuple[str, str, dict | None]]) -> dict:
    """``rows``: (party, truth, answer) for every turn of a corpus's calls on one line. Arousal and
    negative: the answer's probability of high arousal / negative valence at least one half."""
    cust = [(t, a) for p, t, a in rows if p == "customer"]
    agent = [(t, a) for p, t, a in rows if p == "agent"]
    present = sorted({t for t, _ in cust})
    label = {id(a): (a["label"] if a else None) for _, a in cust + agent}
    recalls = [np.mean([label[id(a)] == t for tt, a in cust if tt == t]) for t in present]
    heard = [a["label"] for _, a in agent if a is not None]
    return {
        "customer_turns": len(cust), "agent_turns": len(agent),
        "customer_uar": float(np.mean(recalls)) if recalls else None,
        "arousal_uar": binary_uar([t in HIGH_AROUSAL for t, _ in cust],
                                  [None if a is None else a["arousal"] >= 0.5 for _, a in cust]),
        "negative_uar": binary_uar([t in NEGATIVE for t, _ in cust],
                                   [None if a is None else a["negative"] >= 0.5 for _, a in cust]),
        "agent_false_alarm": float(np.mean([a != "neutral" for a in heard])) if heard else None,
        "agent_negative": float(np.mean([a["negative"] >= 0.5 for _, a in agent if a])) if heard else None,
        "agent_answers": {lab: heard.count(lab) for lab in sorted(set(heard))},
        "missed": float(np.mean([a is None for _, a in cust + agent])),
    }


def fold_model(args, held_out: str, out: Path, group: list[str] | None = None, tag: str = ""):
    """The recipe trained on ``--train-data`` without ``held_out`` (bundle_cv's training); with
    ``group`` (speaker keys of ``held_out``), without those speakers only: a speaker fold."""
    import torch

    import bundle_cv
    from escucha.corpora import scan_corpora
    from escucha.data.splits import corpus_split

    bundle_cv.use_recipe(args.recipe)
    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        records = scan_corpora(args.train_data)
    if group is not None:
        from escucha.data.splits import Split

        gone = set(group)
        test = [i for i, r in enumerate(records) if r.speaker_key in gone]
        split = Split([i for i, r in enumerate(records) if r.speaker_key not in gone], [], test, kind="actors",
                      speakers={"test": sorted(gone)})
        n, what = len(split.train), f"{held_out} speakers {', '.join(sorted(gone))}"
    elif held_out in {r.corpus for r in records}:
        split = corpus_split(records, test_corpus=held_out, val_speakers=0)
        n, what = len(split.train), held_out
    else:   # a corpus outside the training data: train on all of it
        split, n, what = None, len(records), held_out
    model = bundle_cv.train_fold(records, split, out / "folds" / f"without-{held_out}{tag}", args.threads)
    print(f"{args.recipe} recipe trained without {what}: {n} clips", flush=True)
    if args.calibration:  # deployment settings chosen from the other corpora's out-of-fold answers only
        import calibration
        from escucha.inference.answers import calibrated
        from escucha.inference.priors import Calibration

        d = np.load(args.calibration, allow_pickle=True)
        keep = sorted(set(d["corpus"]) - {held_out})   # (a speaker fold: the other corpora's answers too)
        cal = Calibration.from_dict(calibration.choose_settings(d, keep))
        print(f"  calibrated without {held_out}: temperature {cal.temperature:.2f}, prior {cal.prior}, "
              f"uncertain below {cal.uncertain_below}", flush=True)
        model = calibrated(model, cal)
    return model


def spread(rows: list[tuple[int, str, str, dict | None]], seed: int, n: int = 500) -> dict:
    """Standard errors of the customer UAR and the agent's false alarms over the calls: the
    spread of :func:`score` over ``n`` bootstrap resamples of whole calls (``rows``: call index,
    party, truth, answer), since turns of one call share a speaker pair and are not independent."""
    rng = np.random.default_rng(seed)
    by_call: dict[int, list] = {}
    for k, *r in rows:
        by_call.setdefault(k, []).append(tuple(r))
    calls = list(by_call.values())
    cust, fa = [], []
    for _ in range(n):
        s = score([r for i in rng.integers(len(calls), size=len(calls)) for r in calls[i]])
        if s["customer_uar"] is not None:
            cust.append(s["customer_uar"])
        if s["agent_false_alarm"] is not None:
            fa.append(s["agent_false_alarm"])
    return {"customer_uar_se": float(np.std(cust)) if cust else None,
            "agent_false_alarm_se": float(np.std(fa)) if fa else None}


def plot_confusions(results: dict, out: Path) -> list[Path]:
    """One PNG per model and corpus: the customers' turns, truth (rows) against answer, per line."""
    from escucha.evaluate.metrics import confusion_matrix
    from escucha.reports.plots import confusion_heatmaps, to_png
    from escucha.utils.io import atomic_write_bytes

    files = []
    for name, per in results["models"].items():
        for corpus, by_line in per.items():
            for line, r in by_line.items():
                turns = [t for t in r["turns"] if t["party"] == "customer"]
                labels = sorted({t["truth"] for t in turns} | {t["label"] for t in turns if t["label"]})
                idx = {lab: i for i, lab in enumerate(labels)}
                answered = [t for t in turns if t["label"]]
                cm = confusion_matrix([idx[t["truth"]] for t in answered], [idx[t["label"]] for t in answered],
                                      len(labels))
                fig = confusion_heatmaps(cm, labels, title=f"{name}, {corpus}, {line} line: customer turns "
                                         f"(UAR {r['customer_uar']:.3f})")
                f = out / f"confusion-{name.replace(' ', '_').replace('/', '-')}-{corpus}-{line}.png"
                atomic_write_bytes(f, to_png(fig))
                files.append(f)
    return files


def fmt(v) -> str:
    return "   -  " if v is None else f"{v:6.3f}"


def se(v) -> str:
    return "   - " if v is None else f"{v:5.3f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = REPO.parent / "shared" / "data"
    ap.add_argument("--model", action="append", default=None,
                    help="a bundled model's name or a model folder (repeatable; default: default and fast)")
    ap.add_argument("--data", nargs="+", default=[str(shared / c) for c in ("nemo", "korean")],
                    help="corpus folders to build calls from (only speakers each model never heard are used)")
    ap.add_argument("--calls", type=int, default=32,
                    help="calls per corpus (default 32; 8 calls, 64 customer turns, left a corpus's UAR about "
                         "0.07 from 32 calls': docs/calls.md)")
    ap.add_argument("--turns", type=int, default=8, help="customer turns per call (default 8)")
    ap.add_argument("--lines", nargs="+", choices=LINES, default=list(LINES))
    ap.add_argument("--out", default=None, help="folder for the calls and calls.json (default: a temporary one)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folds", choices=("corpus", "speakers"), default="corpus",
                    help="with --recipe: leave the corpus out (default), or two speaker folds of it: each trained "
                         "on every other clip, the corpus's other speakers included (unseen speakers of a known "
                         "corpus, like RAVDESS actors 21-24)")
    ap.add_argument("--recipe", choices=sorted(RECIPES),
                    help="judge a recipe leave-one-corpus-out instead of --model: trained per held-out corpus")
    ap.add_argument("--calibration", metavar="OOF.npz",
                    help="with --recipe: calibrate each fold model with the settings benchmarks/calibration.py "
                         "chooses from these out-of-fold answers (benchmarks/train_conditions.py) of the other corpora")
    ap.add_argument("--no-plot", action="store_true", help="no confusion-matrix PNGs in --out")
    ap.add_argument("--customer-emotions", nargs="+", metavar="EMOTION",
                    help="customers' turns only of these emotions (e.g. angry: a customer angry throughout, "
                         "whose customer UAR is then the share of turns kept angry)")
    ap.add_argument("--compare-baseline", action="store_true",
                    help="also score every analysis with analyze's baseline (each speaker against their own "
                         "neutral voice, escucha.inference.baseline) switched the other way from its default "
                         "(rows named '... +baseline', or '... as heard' were it the default)")
    ap.add_argument("--crosstalk-db", type=float, default=None, metavar="DB",
                    help="split channels: silence a channel where another is this many dB louder "
                         "(VADConfig.crosstalk_db; default: analyze's; 0: off)")
    ap.add_argument("--no-predict", action="store_true",
                    help="skip predict on each turn's speech (the 'agree' column: analyze's answer = predict's)")
    ap.add_argument("--train-data", nargs="+",
                    default=[str(shared / c) for c in ("ravdess", "emodb", "savee", "nemo", "korean")],
                    help="with --recipe: the corpora the fold models are trained on (the held-out one left out)")
    args = ap.parse_args(argv)
    from escucha.longaudio.vad import VADConfig

    vad = VADConfig() if args.crosstalk_db is None else VADConfig(crosstalk_db=args.crosstalk_db)
    if args.calibration:   # before any model is trained: a file that cannot calibrate stops here
        import calibration

        try:
            missing = calibration.missing_answers(np.load(args.calibration, allow_pickle=True))
        except (OSError, ValueError, pickle.UnpicklingError) as e:
            ap.error(f"--calibration {args.calibration}: not readable as out-of-fold answers ({e})")
        if missing:
            ap.error(f"--calibration {args.calibration}: no answers for {', '.join(missing)}; "
                     f"rerun benchmarks/train_conditions.py with --tests clip cut telephone-mu")
    from escucha.runtime import set_num_threads

    set_num_threads(args.threads)
    out = Path(args.out or tempfile.mkdtemp(prefix="calls-"))
    names = args.model or ([] if args.recipe else ["default", "fast"])
    models = {n: load_model(n) for n in names}   # and with --recipe, one per held-out corpus, trained below
    results: dict = {"settings": {k: v for k, v in vars(args).items()}, "models": {}}
    for data in args.data:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            records = scan_corpus(data)
        corpus = records[0].corpus
        todo = list(models.items())
        if args.recipe and args.folds == "corpus":
            todo.append((f"{args.recipe} LOCO", fold_model(args, corpus, out)))
        elif args.recipe:   # speaker folds: the corpus's own other speakers are heard in training
            speakers = sorted({r.speaker_key for r in records})
            for k in range(2):
                group = speakers[k::2]
                todo.append((f"{args.recipe} spk {k + 1}/2",
                             fold_model(args, corpus, out, group=group, tag=f"-spk{k + 1}")))
        for name, model in todo:
            unseen = [r for r in records if r.speaker_key not in model.trained_speakers]
            if len(unseen) < len(records):
                print(f"{name} on {corpus}: {len(records) - len(unseen)} clips of speakers it was trained on left out")
            plans = plan_calls(unseen, args.calls, args.turns, args.seed, args.customer_emotions)
            if not plans:
                print(f"{name} on {corpus}: not enough unseen speakers for a call; skipped")
                continue
            folder = out / corpus / ("unseen-" + "-".join(sorted({p['agent'] for p in plans}))[:40].replace(":", "_"))
            # the answers analyze gives by default and, with --compare-baseline, the same analysis
            # with the baseline (each speaker against their own neutral voice) switched the other way
            other = f"{name} as heard" if BASELINE_DEFAULT else f"{name} +baseline"
            variants = [name] + ([other] if args.compare_baseline else [])
            rows = {(v, line): [] for v in variants for line in args.lines}
            t0, audio = time.time(), 0.0
            for k, plan in enumerate(plans):
                paths = write_call(folder, f"call-{k:02d}", plan, args.seed + k)
                with open(folder / f"call-{k:02d}.truth.csv") as f:
                    truth = [(r["party"], float(r["start"]), float(r["end"]), r["emotion"], r["source"])
                             for r in csv.DictReader(f)]
                for line in args.lines:
                    heard = analyze_file(paths[line], model, channels="split", channel_names="agent,customer",
                                         baseline=False, vad=vad)
                    audio += heard.duration
                    first = None
                    for v in variants:
                        res = heard
                        if (v == name) == BASELINE_DEFAULT:   # with the baseline
                            res = copy.deepcopy(heard)
                            apply_baseline(res.segments, model)
                        answers = turn_answers(res, truth, list(model.labels), mono=line.endswith("-mono"))
                        if not args.no_predict and first is None:
                            add_predict(answers, paths[line], truth, model)
                        elif not args.no_predict:   # predict's answer does not depend on analyze's
                            for a, a0 in zip(answers, first):
                                if a is not None and a0 is not None:
                                    a["predict"] = a0.get("predict")
                        first = first if first is not None else answers
                        rows[(v, line)] += [(k, p, e, a) for (p, _s, _e, e, _src), a in zip(truth, answers)]
            for v in variants:
                results["models"].setdefault(v, {})[corpus] = {
                    line: {**score([r[1:] for r in rows[(v, line)]]), **spread(rows[(v, line)], args.seed),
                           **({"speakers_right": speakers_right(rows[(v, line)])} if line.endswith("-mono") else {}),
                           "predict_agrees": predict_agreement(rows[(v, line)]),
                           "turns": [{"call": k, "party": p, "truth": e, **(a or {"label": None})}
                                     for k, p, e, a in rows[(v, line)]]}
                    for line in args.lines}
            rtf = (time.time() - t0) / max(audio, 1e-9)
            print(f"{name} on {corpus}: {len(plans)} calls, {audio / 60:.1f} min of call audio analysed, "
                  f"real-time factor {rtf:.4f}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "calls.json").write_text(json.dumps(results, indent=2))
    if not args.no_plot:
        for f in plot_confusions(results, out):
            print(f"customers' confusions: {f}")
    w = min(40, max([16] + [len(n) for n in results["models"]]))   # a model folder's path: its last w characters
    for line in args.lines:
        mono = line.endswith("-mono")
        print(f"\n{line} line: customer UAR, arousal UAR, negative UAR, agent false alarms (any emotion; "
              "negative), turns missed, turns where analyze and predict agree"
              + (", turns given their party's speaker" if mono else ""))
        print(f"{'model':{w}s} {'corpus':8s} {'cust':>6s} {'±se':>5s} {'arous':>6s} {'neg':>6s} {'agentFA':>7s} "
              f"{'±se':>5s} {'agtNeg':>6s} {'missed':>6s} {'agree':>6s}" + (f" {'spkOK':>6s}" if mono else ""))
        for name, per in results["models"].items():
            for corpus, r in per.items():
                s = r[line]
                print(f"{name[-w:]:{w}s} {corpus:8s} {fmt(s['customer_uar'])} {se(s['customer_uar_se'])} "
                      f"{fmt(s['arousal_uar'])} {fmt(s['negative_uar'])} {fmt(s['agent_false_alarm']):>7s} "
                      f"{se(s['agent_false_alarm_se'])} {fmt(s['agent_negative'])} {fmt(s['missed'])} "
                      f"{fmt(s['predict_agrees'])}" + (f" {fmt(s['speakers_right'])}" if mono else ""))
    print("±se: standard error over the calls (bootstrap of whole calls)")
    print(f"\ncalls and results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
