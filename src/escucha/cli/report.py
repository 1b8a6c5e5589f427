"""``escucha report RUN_DIR [-o OUT] [--force]``."""

from __future__ import annotations

from .options import add_audio_option


def register(sub):
    p = sub.add_parser("report", help="write the HTML report of a training run or cross-validation folder")
    p.add_argument("run_dir", help="folder written by 'escucha train' or 'escucha cv'")
    p.add_argument("-o", "--output", help="folder for report.html and figures/ (default: RUN_DIR itself)")
    p.add_argument("--force", action="store_true", help="replace an existing report.html")
    add_audio_option(p)
    p.set_defaults(func=run_report)


def run_report(args) -> int:
    from ..reports import write_run_report

    print(write_run_report(args.run_dir, force=args.force, out_dir=args.output, audio=args.audio))
    return 0
