"""``escucha explore DIR [-o OUT] [--clip CLIP] [--force]``."""

from __future__ import annotations

from pathlib import Path

from .options import add_audio_option


def register(sub):
    p = sub.add_parser("explore", help="write an HTML report of what a corpus holds (durations, balance, cues)")
    p.add_argument("dir", help="a corpus folder (any layout data index reads) or a manifest / label CSV")
    p.add_argument("-o", "--output", help="folder for explore.html, figures/ and cues.csv "
                                          "(default: explore-<name of DIR>)")
    p.add_argument("--clip", help="clip shown as waveform and mel spectrogram: a path, or a file name "
                                  "such as 03-01-05-01-01-01-01.flac (default: the first clip)")
    p.add_argument("--trim-db", type=float, default=40.0,
                   help="silence-trimming threshold in dB below each clip's loudest frame (default 40)")
    p.add_argument("--pitch-clips", type=int, default=None,
                   help="estimate pitch (pYIN, slow) on at most N clips, stratified by emotion (default: all; 0: none)")
    p.add_argument("--jobs", type=int, default=None, help="worker processes reading audio (default: up to 4)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing report (explore.html, cues.csv and its figures/)")
    add_audio_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_explore)


def run_explore(args) -> int:
    from ..reports import write_explore_report

    out = Path(args.output) if args.output else Path(f"explore-{Path(args.dir).resolve().stem}")
    path = write_explore_report(args.dir, out, clip=args.clip, force=args.force, trim_db=args.trim_db,
                                pitch_clips=args.pitch_clips, jobs=args.jobs, show_progress=not args.quiet,
                                audio=args.audio)
    print(path)
    return 0
