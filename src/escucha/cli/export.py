"""``escucha export MODEL [-o OUT] [--format onnx] [--quantize none|dynamic|static]``.

Writes the model (or ensemble) as ONNX graphs plus a self-describing ``config.json``
(:mod:`escucha.export`), checked against the torch model before it is put in place. By default
the export goes into the model folder itself (``MODEL/onnx``), where ``escucha predict`` and
``escucha analyze`` then use it through ONNX Runtime, without torch.
"""

from __future__ import annotations

import sys

from .options import add_threads_option, apply_threads

#: the library's choices (escucha.export.QUANTIZE), not imported here so that building the parser
#: does not load torch
QUANTIZE = ("none", "dynamic", "static")


def register(sub):
    p = sub.add_parser("export", help="export a model to ONNX, to run it without torch",
                       description="Export a trained model or ensemble to ONNX graphs with a config.json that "
                                   "describes them (labels, sample rate, features, band routing, weights). The export "
                                   "is run against the torch model before it is written. Written into MODEL/onnx by "
                                   "default, where predict and analyze use it through ONNX Runtime.")
    p.add_argument("model", metavar="RUN_OR_MODEL", help="model, run or ensemble folder")
    p.add_argument("-o", "--out", help="export folder (default: RUN_OR_MODEL's checkpoint folder/onnx)")
    p.add_argument("--format", choices=("onnx",), default="onnx", help="export format (onnx)")
    p.add_argument("--quantize", choices=QUANTIZE, default="none",
                   help="int8 encoder and member graphs, each kept only where it runs faster on one thread: "
                        "'dynamic' (weights int8, activations quantised on the fly) or 'static' (QDQ, calibrated "
                        "on --calibration audio); default none (fp32)")
    p.add_argument("--calibration", nargs="+", metavar="FILE_OR_DIR",
                   help="audio that calibrates --quantize static (up to 64 files are used)")
    p.add_argument("--no-spectrograms", dest="spectrograms", action="store_false",
                   help="do not write the spectral front ends as graphs (escucha computes them in numpy; the graphs "
                        "serve runtimes without escucha)")
    p.add_argument("--force", action="store_true", help="replace an existing export in the output folder")
    add_threads_option(p)
    p.set_defaults(func=run_export)


def run_export(args) -> int:
    apply_threads(args)
    from ..export import export_model

    rep = export_model(args.model, args.out, quantize=args.quantize, calibration=args.calibration,
                       force=args.force, spectrograms=args.spectrograms)
    print(rep.table(), file=sys.stderr)
    agree = f", same label on {rep.labels_agree:.0%}" if rep.labels_agree < 1 or rep.max_abs_diff > 1e-4 else ""
    print(f"wrote {rep.out}: probabilities within {rep.max_abs_diff:.1e} of torch on the probe signals{agree}",
          file=sys.stderr)
    return 0
