"""``escucha adapt DIR [DIR...] -o OUT_MODEL [--model PATH] [--strength N0] [--force]``.

Learns the normalisation statistics of your own recordings (no labels needed) and writes a copy
of the model that uses them; see :mod:`escucha.inference.adapt`. Use the copy like any model::

    escucha adapt calls/ -o my-model
    escucha predict --model my-model new-call.wav
"""

from __future__ import annotations

import sys

from .options import add_model_option, add_threads_option, apply_threads


#: shown in --help; the library's values (escucha.inference.adapt), not imported here so that
#: building the parser does not load torch (tests check that they agree)
DEFAULT_STRENGTH, MIN_FILES = 200.0, 20


def register(sub):
    p = sub.add_parser(
        "adapt", help="fit a copy of the model to your own recordings (no labels needed)",
        description="Measure the model's features on your recordings (no labels needed; a mix of emotions is "
                    "assumed) and write a copy of the model whose feature normalisation uses them, shrunk "
                    "towards the trained statistics. Only models with standardised features (whisper-lr, "
                    f"egemaps-svm) can be adapted; at least {MIN_FILES} usable recordings are needed.")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="folders of your recordings (searched recursively for "
                                                          ".wav, .flac, .ogg, .mp3)")
    p.add_argument("-o", "--out", required=True, metavar="OUT_MODEL", help="folder for the adapted model")
    add_model_option(p, what="model or run folder to adapt")
    add_threads_option(p)
    p.add_argument("--strength", type=float, metavar="N0",
                   help="how many recordings the trained statistics count for: the new statistics are "
                        f"n/(n+N0) of the way to yours (default {DEFAULT_STRENGTH:g}; 0: all the way)")
    p.add_argument("--force", action="store_true", help="replace OUT_MODEL if it is a model escucha adapt made")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_adapt)


def run_adapt(args) -> int:
    apply_threads(args)
    from ..inference.adapt import adapt

    kw = {} if args.strength is None else {"strength": args.strength}

    def report(file: str, msg: str):
        print(f"escucha: error: {msg}", file=sys.stderr)

    res = adapt(args.model, args.dirs, args.out, force=args.force, show_progress=not args.quiet, on_error=report, **kw)
    skipped = []
    if res.errors:
        skipped.append(f"{len(res.errors)} unreadable")
    if res.not_judged:
        skipped.append(f"{len(res.not_judged)} too short or without speech")
    print(f"read {res.usable} of {res.files} recordings" + (f" ({', '.join(skipped)}; left out)" if skipped else ""))
    for m in res.members:
        if m.adapted:
            print(f"  {m.name}: adapted on {m.files} recordings (lambda {m.lam:.2f})")
        elif m.adaptable:
            print(f"  {m.name}: kept as trained (heard {m.files} recordings)")
        else:
            print(f"  {m.name}: kept as trained (no normalisation statistics)")
    print(f"wrote {res.out}; use it with: escucha predict --model {res.out} ...")
    return 1 if res.errors else 0
