"""``escucha analyze FILE | DIR | -``: emotions over a whole call, a folder of calls, or a live stream.

    escucha analyze call.wav                       # segments and summary as text
    escucha analyze call.wav --json                # the result as JSON on stdout
    escucha analyze call.wav -o out/ --plot        # out/call.wav.json, .segments.csv, .timeline.png
    escucha analyze stereo.wav --channel-names agent,customer   # channels that differ: split by itself
    escucha analyze mono.wav --agent-voice agent.wav --transcribe   # who said what, and the words
    escucha analyze calls/ -o out/ --jobs 4        # resumable batch, out/summary.csv, out/errors.csv
    escucha analyze calls/ -o out/ --engine ray --address HEAD:6379   # the same batch on a Ray cluster
    escucha analyze calls/ --db sqlite:///calls.db   # into the store (resumable); escucha serve --db shows them
    arecord -q -t raw -f S16_LE -r 16000 -c 1 | escucha analyze - --rate 16000

Nothing existing is replaced without --force: a file's <name>.json, .segments.csv or
.timeline.png already in -o is an error. A folder's -o belongs to one batch (see
escucha.longaudio.batch): the same folder and settings resume; other settings, or results not
made by a batch, need --force (which starts over, deleting only escucha's own outputs there);
a folder holding other files is refused even with --force. Ctrl-C or SIGTERM stops the batch
(exit 130) with only complete results written; the next run resumes.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

from ..longaudio.settings import BASELINE_DEFAULT
from .options import add_engine_options, add_calibration_option, add_labels_option, add_model_option


def register(sub):
    import argparse

    p = sub.add_parser("analyze", help="emotions over time in long recordings, folders of calls, or live audio",
                       description="Voice activity (Silero VAD), emotion windows over speech, smoothing and a "
                                   "per-call summary. INPUT is an audio file, a folder (batch) or - (raw PCM on stdin).",
                       epilog="examples:\n" + __doc__.split("\n\n", 1)[1].split('"""')[0].rstrip(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="INPUT", help="audio file, folder of audio files, or - for raw PCM on stdin")
    add_model_option(p)
    add_labels_option(p)
    add_calibration_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout (file and stdin input)")
    p.add_argument("-o", "--out", metavar="DIR", help="write <name>.json and <name>.segments.csv here "
                                                      "(a folder input also gets summary.csv and errors.csv)")
    p.add_argument("--plot", action="store_true", help="also write <name>.timeline.png (needs -o)")
    p.add_argument("--db", metavar="URL", help="store the results in a database instead of files: sqlite:///PATH or "
                                               "postgresql://USER@HOST/DB (a folder resumes from what is stored; "
                                               "see docs/store.md)")
    p.add_argument("--window", type=float, metavar="S", help="analysis window in seconds (default: the model's clip)")
    p.add_argument("--hop", type=float, metavar="S", help="seconds between windows (default: half a window)")
    p.add_argument("--smooth", type=float, default=3.0, metavar="S",
                   help="average window probabilities over this many seconds (0: off; default 3)")
    p.add_argument("--channels", choices=("auto", "mono", "split"), default="auto",
                   help="auto: a stereo call whose channels carry different voices is analysed per channel, "
                        "one signal stored twice once (default); mono: mix channels down; split: each channel "
                        "is its own speaker")
    p.add_argument("--speakers", default="auto", metavar="N",
                   help="speakers on a mono channel: auto (estimate, default), a number, or off")
    p.add_argument("--agent-voice", metavar="WAV",
                   help="an enrolment clip of the agent: the closest speaker (or channel) is named agent")
    p.add_argument("--transcribe", action="store_true",
                   help="words with timestamps per segment and their lexical sentiment (pip install 'escucha[asr]')")
    p.add_argument("--asr-model", metavar="DIR",
                   help="a faster-whisper (CTranslate2) model folder for --transcribe (default: tiny.en from "
                        "escucha[asr])")
    p.add_argument("--channel-names", metavar="A,B", help="names of the analysed channels, e.g. agent,customer")
    p.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=BASELINE_DEFAULT,
                   help="hear each speaker (channel, or speaker found) against their own neutral voice, once the "
                        "whole recording is heard: fewer false alarms on calm voices, but a speaker angry "
                        "throughout is heard as angry less often (default: off; docs/calls.md)")
    p.add_argument("--max-segment", type=float, default=10.0, metavar="S",
                   help="cut longer speech turns into pieces of at most this length (default 10)")
    p.add_argument("--vad-threshold", type=float, default=0.5, metavar="P", help="Silero speech threshold (default 0.5)")
    p.add_argument("--crosstalk-db", type=float, default=15.0, metavar="DB",
                   help="channels analysed apart: not speech on a channel while another is louder by more than DB "
                        "(the other party's echo or crosstalk; default 15, 0: off)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="parallel worker processes for a folder (default 1; with --engine ray: one per "
                        "--threads CPUs of the cluster)")
    add_engine_options(p, where="a folder's files are analysed (resumable either way)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="threads per worker (default 1)")
    p.add_argument("--force", action="store_true",
                   help="replace existing results in -o (a folder input: start over, analysing every file again)")
    p.add_argument("--rate", type=int, metavar="HZ", help="sample rate of raw PCM on stdin (required with -)")
    p.add_argument("--format", default="s16le", choices=("s16le", "s32le", "f32le"),
                   help="sample format of raw PCM on stdin (default s16le)")
    p.add_argument("--channels-in", type=int, default=1, metavar="N", help="interleaved channels on stdin (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_analyze)


def _fmt_segment(seg) -> str:
    top = sorted(seg.probability_dict().items(), key=lambda kv: -kv[1])[:3]
    probs = "  ".join(f"{k} {v:.2f}" for k, v in top)
    # a speaker of the one mono channel is named alone ("speaker 1", not "mono/speaker 1")
    who = (seg.channel if seg.speaker in (None, seg.channel) else seg.speaker if seg.channel == "mono"
           else f"{seg.channel}/{seg.speaker}")
    unsure = ", uncertain" if seg.uncertain else ""
    line = f"{seg.start:8.2f} {seg.end:8.2f}  {who:<10} {seg.label:<10} ({seg.confidence:.0%}{unsure})   {probs}"
    if seg.overlap:
        line += f"   [overlap: {', '.join(seg.overlap)}]"
    if seg.words is not None:
        text = " ".join(w["word"] for w in seg.words)
        mood = f" (text {seg.text_sentiment['label']})" if seg.text_sentiment else ""
        line += f"\n{'':19s}\"{text}\"{mood}"
    return line


def _fmt_summary(res) -> str:
    s = res.summary
    both = " of the call, all channels added" if len(s.get("channels") or {}) > 1 else ""  # may pass 100 %
    n = s["segments"]
    lines = [f"{res.file or 'stdin'}: {res.duration:.1f} s, speech {s['speech_seconds']:.1f} s "
             f"({s['speech_ratio']:.0%}{both}), {n} segment{'s' if n != 1 else ''}, dominant {s['dominant'] or 'n/a'}"]
    outcome, reason = res.outcome
    if outcome is not None:
        lines[0] += f"; {outcome} ({reason})"

    def block(name, b):
        shares = ", ".join(f"{k} {v:.0%}" for k, v in sorted(b["emotion_share"].items(), key=lambda kv: -kv[1]) if v > 0)
        first, last = b["first_third"]["dominant"] or "n/a", b["last_third"]["dominant"] or "n/a"
        return f"  {name}: {shares or 'no speech'}; first third {first} -> last third {last}"

    if res.channel_choice:
        lines.append(f"  channels: {res.channel_choice['reason']}")
    if res.speakers is not None and res.channel_mode == "mono":
        lines.append(f"  speakers: {len(res.speakers)} found ({', '.join(res.speakers)}); --speakers N to fix the number")
    if res.baseline:
        lines.append(f"  baseline: each speaker heard against their own neutral voice ({', '.join(res.baseline)})")
    elif res.baseline is not None and res.segments:
        lines.append("  baseline: this model has no neutral reference (calibration.json 'baseline'): answers as heard")
    lines.append(block("all", s))
    for ch, b in s.get("channels", {}).items():
        lines.append(block(ch, b))
    return "\n".join(lines)


def _check_outputs(out: Path, name: str, *, force: bool) -> None:
    """Refuse, before any work, to replace one file's results in ``out`` without ``force``."""
    from ..errors import ConfigError
    from ..utils.io import check_writable

    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder; give a folder for the results with -o")
    check_writable(out, folder=True)
    for suffix in (".json", ".segments.csv", ".timeline.png"):
        p = out / f"{name}{suffix}"
        if p.is_dir():
            raise ConfigError(f"{p}: is a folder; cannot write a result there")
        if p.exists() and not force:
            raise ConfigError(f"{p}: already exists; pass --force to replace it")


@contextmanager
def _sigterm_interrupts():
    """SIGTERM stops a batch as Ctrl-C does (workers stopped, complete results kept, exit 130)."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def run_analyze(args) -> int:
    import json

    from ..errors import ConfigError
    from ..inference import load_model
    from ..longaudio import VADConfig, analyze_file, analyze_folder, analyze_stream
    from ..runtime import set_num_threads

    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    if args.channels_in < 1:
        raise ConfigError(f"--channels-in must be >= 1 (interleaved channels on stdin), got {args.channels_in}")
    set_num_threads(args.threads)  # torch or ONNX Runtime, whichever runs the model
    if args.plot and not args.out:
        raise ConfigError("--plot writes a PNG file: give an output folder with -o DIR")
    vad = VADConfig(threshold=args.vad_threshold, max_segment=args.max_segment, crosstalk_db=args.crosstalk_db)
    from ..speakers import speaker_options

    # the agent's voice is enrolled once, for every call of a batch
    speakers = speaker_options(args.speakers, agent_voice=args.agent_voice)
    transcribe = None
    if args.transcribe or args.asr_model:
        from ..asr import load_transcriber

        transcribe = load_transcriber(args.asr_model)
    opts = dict(window=args.window, hop=args.hop, smooth=args.smooth, channels=args.channels,
                channel_names=args.channel_names, vad=vad, speakers=speakers, transcribe=transcribe,
                baseline=args.baseline)
    src = args.input
    if (args.engine != "local" or args.address) and (src == "-" or not Path(src).is_dir()):
        raise ConfigError("--engine ray and --address spread a folder's files over a cluster; give a folder "
                          "(a single file or stdin is analysed here)")
    if src != "-" and not Path(src).is_dir():
        from ..audio.io import check_audio_path

        check_audio_path(src)  # missing, a link loop, empty: the same one line (exit 1) as predict
    if args.db is not None:
        from .db import analyze_into_store

        return analyze_into_store(args, src, opts, interrupts=_sigterm_interrupts)
    if src != "-" and Path(src).is_dir():
        if not args.out:
            raise ConfigError(f"{src} is a folder: give an output folder with -o DIR")
        if args.json:
            raise ConfigError(f"{src} is a folder: --json prints one recording's analysis; a folder's are written "
                              "to -o DIR (a JSON file per recording, and summary.csv)")
        predictor = load_model(args.model, labels=args.labels, calibrate=not args.no_calibration)
        try:
            with _sigterm_interrupts():
                rep = analyze_folder(src, predictor, args.out, jobs=args.jobs, force=args.force, plot=args.plot,
                                     show_progress=not args.quiet, threads=args.threads, engine=args.engine,
                                     address=args.address, **opts)
        except KeyboardInterrupt:
            from ..longaudio.outdir import MARKER_NAME

            kept = sum(1 for f in Path(args.out).rglob("*.json") if f.name != MARKER_NAME and not f.name.startswith("."))
            print(f"escucha: interrupted; {kept} finished analyses are kept in {args.out} (summary.csv lists "
                  "them): run the same command again to go on", file=sys.stderr)
            return 130
        for f, msg in rep.errors:
            print(f"escucha: error: {msg}", file=sys.stderr)
        if rep.duplicates:
            n = len(rep.duplicates)
            pairs = "; ".join(f"{f} = {of}" for f, of in rep.duplicates[:3]) + ("; ..." if n > 3 else "")
            print(f"escucha: warning: {n} file{'s are copies' if n > 1 else ' is a copy'} of another file of the "
                  f"folder (the same bytes), each copy counted in summary.csv, whose column duplicate_of names the "
                  f"first: {pairs}", file=sys.stderr)
        print(f"analysed {len(rep.analysed)} file(s) ({rep.audio_seconds / 3600:.2f} h of audio) in {rep.seconds:.0f} s, "
              f"skipped {len(rep.skipped)} already done, {len(rep.errors)} failed; "
              f"summary: {rep.summary_csv}, errors: {rep.errors_csv}")
        return 1 if rep.errors else 0

    if args.out:
        _check_outputs(Path(args.out), "stdin" if src == "-" else Path(src).name, force=args.force)
    predictor = load_model(args.model, labels=args.labels, calibrate=not args.no_calibration)
    if src == "-":
        if not args.rate:
            raise ConfigError("reading raw PCM from stdin needs --rate HZ (and --format, --channels-in if not "
                              "s16le mono)")

        def show(seg):
            if not args.json:
                print(_fmt_segment(seg), flush=True)

        res = analyze_stream(sys.stdin.buffer, predictor, sample_rate=args.rate, sample_format=args.format,
                             channels_in=args.channels_in, on_segment=show, stop_on_interrupt=True, **opts)
    else:
        from ..audio import audio_info
        from ..utils.progress import progress

        seconds = audio_info(src)["duration"]
        bar = progress(total=round(seconds), desc="analysing", unit="s audio",
                       disable=True if args.quiet or seconds < 120 else None,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}]")
        with bar:
            res = analyze_file(src, predictor, on_progress=lambda t: bar.update(min(t, bar.total) - bar.n), **opts)
        if not args.json:
            for seg in res.segments:
                print(_fmt_segment(seg))
    if args.out:
        paths = res.write(args.out, plot=args.plot)
        stale = Path(args.out) / f"{paths['json'].name[:-len('.json')]}.timeline.png"
        if not args.plot and stale.is_file():  # --force: no plot of an earlier analysis beside this one
            stale.unlink()
    if args.json:
        print(json.dumps(res.to_dict(), allow_nan=False))
    else:
        print(_fmt_summary(res))
    return 0
