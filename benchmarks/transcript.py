#!/usr/bin/env python3
"""The transcript benchmark: word error rate of ``escucha analyze CALL --transcribe`` on calls
of sentences whose words are known, wide-band and telephone (``jiwer`` computes the WER).

- **RAVDESS**: its two fixed sentences ("Kids are talking by the door", "Dogs are sitting by the
  door"; statement code 01 / 02 in the file name), spoken in every emotion by held-out actors;
- **nEMO**: Polish sentences with their transcripts in ``data.tsv`` (tiny.en is English-only:
  this measures what an English model makes of another language, not a claim).

Each call strings ``--turns`` clips of two speakers with short pauses, as ``benchmarks/calls.py``
does, mixed to one channel; the reference is the clips' sentences in order, the hypothesis the
words of all segments in time order (text lower-cased, punctuation removed): **WER**. **Turn WER**
also asks that each word be in the right segment: each turn's sentence against the words of the
segments that overlap it most (a word given to the neighbouring turn counts twice: missing in one,
inserted in the other). **Bad times**: words whose end is before their start, or outside their
segment.

    python benchmarks/transcript.py [--corpora ravdess nemo] [--calls 4] [--turns 10] [--lines wide telephone]
        [--gap SECONDS] [--together]   # silence between segments; all in one Whisper window (the old way)
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from calls import RATE, load_turn, telephone_line  # noqa: E402

from escucha.corpora import scan_corpus  # noqa: E402
from escucha.inference import load_model  # noqa: E402
from escucha.longaudio import analyze_file  # noqa: E402

RAVDESS_SENTENCES = {"01": "kids are talking by the door", "02": "dogs are sitting by the door"}


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split())


def sentence_of(rec, corpus: str, nemo_text: dict) -> str | None:
    name = Path(rec.path).stem
    if corpus == "ravdess":
        parts = name.split("-")
        return RAVDESS_SENTENCES.get(parts[4]) if len(parts) >= 5 else None
    return nemo_text.get(name)


def main(argv=None) -> int:
    import jiwer
    import soundfile as sf

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = REPO.parent / "shared" / "data"
    ap.add_argument("--corpora", nargs="+", default=["ravdess", "nemo"])
    ap.add_argument("--calls", type=int, default=4)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--lines", nargs="+", default=["wide", "telephone"])
    ap.add_argument("--model", default="default")
    ap.add_argument("--out", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gap", type=float, default=None,
                    help="seconds of silence between two segments in one Whisper call (escucha.longaudio.transcript)")
    ap.add_argument("--beam", type=int, default=1, help="Whisper's beam size (escucha's: 1, greedy)")
    ap.add_argument("--together", action="store_true",
                    help="decode the gathered segments in one Whisper window, as escucha did before December 2026 "
                         "(escucha.longaudio.transcript.PER_SEGMENT = False)")
    args = ap.parse_args(argv)
    import escucha.longaudio.transcript as tq

    if args.together:
        tq.PER_SEGMENT = False
    if args.gap is not None:
        tq._GAP = args.gap

    from escucha.asr import load_transcriber
    from escucha.runtime import set_num_threads

    set_num_threads(1)
    out = Path(args.out or tempfile.mkdtemp(prefix="transcript-"))
    out.mkdir(parents=True, exist_ok=True)
    model, asr = load_model(args.model), load_transcriber(beam_size=args.beam)
    print(f"{'corpus':8s} {'line':10s} {'calls':>5s} {'WER':>6s} {'turn WER':>8s} {'bad times':>9s} {'RTF (CPU)':>9s}")
    for corpus in args.corpora:
        nemo_text = {}
        if corpus == "nemo":
            with open(shared / "nemo" / "data.tsv", newline="") as f:
                for r in csv.DictReader(f, delimiter="\t"):
                    nemo_text[Path(r["file_id"]).stem] = r["raw_text"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            records = scan_corpus(shared / corpus)
        unseen = [r for r in records if r.speaker_key not in model.trained_speakers] or records
        by_spk: dict = {}
        for r in unseen:
            if sentence_of(r, corpus, nemo_text):
                by_spk.setdefault(r.speaker_key, []).append(r)
        spk = sorted(by_spk)
        rng = np.random.default_rng(args.seed)
        for line in args.lines:
            refs, hyps, el, dur = [], [], 0.0, 0.0
            turn_refs, turn_hyps, bad, n_words = [], [], 0, 0
            for c in range(args.calls):
                a, b = spk[(2 * c) % len(spk)], spk[(2 * c + 1) % len(spk)]
                blocks, words, spans, pos = [], [], [], 0
                for k in range(args.turns):
                    pool = by_spk[a if k % 2 == 0 else b]
                    rec = pool[int(rng.integers(len(pool)))]
                    pause, turn = np.zeros(int(rng.uniform(0.4, 1.2) * RATE), np.float32), load_turn(rec.path)
                    blocks += [pause, turn]
                    spans.append(((pos + len(pause)) / RATE, (pos + len(pause) + len(turn)) / RATE))
                    pos += len(pause) + len(turn)
                    words.append(sentence_of(rec, corpus, nemo_text))
                y = np.concatenate(blocks + [np.zeros(RATE // 2, np.float32)])
                y += (10 ** (-60 / 20) * rng.standard_normal(len(y))).astype(np.float32)
                p = out / f"{corpus}-{c:02d}.{line}.wav"
                if line == "wide":
                    sf.write(p, np.clip(y, -1, 1), RATE, subtype="PCM_16")
                else:
                    z, sr = telephone_line(y, RATE)
                    sf.write(p, z, sr, subtype="ULAW")
                t0 = time.process_time()    # CPU time: the machine may be shared
                res = analyze_file(p, model, transcribe=asr)
                el += time.process_time() - t0
                dur += res.duration
                hyp = " ".join(w["word"] for s in sorted(res.segments, key=lambda s: s.start) for w in (s.words or []))
                refs.append(normalize(" ".join(words)))
                hyps.append(normalize(hyp))
                # each segment's words go to the turn it overlaps most
                per_turn = [[] for _ in spans]
                for s in sorted(res.segments, key=lambda s: s.start):
                    ov = [max(0.0, min(s.end, e) - max(s.start, b)) for b, e in spans]
                    if max(ov) > 0:
                        per_turn[int(np.argmax(ov))] += [w["word"] for w in (s.words or [])]
                    for w in s.words or []:
                        n_words += 1
                        bad += w["end"] < w["start"] or w["start"] < s.start - 1e-3 or w["end"] > s.end + 1e-3
                turn_refs += [normalize(t) for t in words]
                turn_hyps += [normalize(" ".join(ws)) for ws in per_turn]
            wer = jiwer.wer(refs, hyps)
            twer = jiwer.wer(turn_refs, turn_hyps)
            print(f"{corpus:8s} {line:10s} {args.calls:5d} {wer:6.3f} {twer:8.3f} {bad:4d}/{n_words:<4d} {el / dur:9.4f}",
                  flush=True)
            print(f"    e.g. ref: {refs[0][:100]}\n         hyp: {hyps[0][:100]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
