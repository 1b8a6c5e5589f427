"""``escucha ensemble MODEL MODEL... -o OUT``: one model folder that averages several."""

from __future__ import annotations

import sys


def register(sub):
    p = sub.add_parser("ensemble", help="combine trained models (any architectures) into one averaged model")
    p.add_argument("models", nargs="+", help="model, run or CV fold folders")
    p.add_argument("-o", "--out", required=True, help="folder to write the ensemble into")
    p.add_argument("--weights", nargs="+", type=float, help="one weight per model (default: equal)")
    p.add_argument("--bands", nargs="+", choices=["any", "wide", "narrow"],
                   help="per model: answer for any input (default), only full-band ('wide') or only "
                        "telephone-band ('narrow', e.g. a model trained with telephone augmentation) input")
    p.add_argument("--force", action="store_true",
                   help="replace an existing ensemble folder (built aside, then swapped in; a folder holding "
                        "anything but an ensemble is never replaced)")
    p.set_defaults(func=run_ensemble)


def run_ensemble(args) -> int:
    from ..inference import make_ensemble

    ens = make_ensemble(args.models, args.out, weights=args.weights, bands=args.bands, force=args.force)
    names = ", ".join(f"{m.config['model']['name']} ×{w:.2f} ({b})" for m, w, b in zip(ens.members, ens.weights, ens.bands))
    print(f"wrote {args.out}: {names}", file=sys.stderr)
    return 0
