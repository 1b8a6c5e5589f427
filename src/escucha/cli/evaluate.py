"""``escucha evaluate DIR [--model PATH] [--json]``."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path


def register(sub):
    p = sub.add_parser("evaluate", help="score a model on a folder (or manifest) of labelled clips")
    p.add_argument("dir", help="RAVDESS folder or manifest CSV")
    p.add_argument("--model", help="model or run folder (default: the bundled model)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--predictions", metavar="FILE", help="also write a CSV of per-file predictions here "
                                                         "(an existing FILE needs --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --predictions FILE")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_evaluate)


def evaluate_records(predictor, records, *, show_progress=True):
    """Predict every record; returns (report dict, prediction rows, errors)."""
    import numpy as np

    from ..errors import EscuchaError
    from ..evaluate.metrics import classification_report
    from ..train.loop import prediction_rows
    from ..utils.progress import progress

    labels = predictor.labels
    heard = {f"{r.corpus}:{r.speaker}" for r in records} & predictor.trained_speakers
    if heard:
        warnings.warn(f"{len(heard)} of the {len({(r.corpus, r.speaker) for r in records})} speakers evaluated were in "
                      f"the model's training data ({', '.join(sorted(heard)[:6])}{', ...' if len(heard) > 6 else ''}); "
                      "this score does not measure accuracy on new voices")
    usable = [r for r in records if r.emotion in labels]
    if len(usable) < len(records):
        missing = sorted({r.emotion for r in records} - set(labels))
        warnings.warn(f"skipped {len(records) - len(usable)} clips whose labels the model does not know: "
                      f"{', '.join(missing)}")
    probs, kept, errors = [], [], []
    for r in progress(usable, desc="evaluating", unit="clip", disable=not show_progress or None):
        try:
            y = predictor.load(r.path)
        except EscuchaError as e:
            errors.append((r.path, str(e)))
            continue
        probs.append(predictor.predict_proba_waveforms([y])[0])
        kept.append(r)
    if not kept:
        from ..errors import CorpusError

        raise CorpusError("no clip could be evaluated" + (f" (first error: {errors[0][1]})" if errors else ""))
    probs = np.stack(probs)
    li = {lab: i for i, lab in enumerate(labels)}
    report = classification_report([li[r.emotion] for r in kept], probs.argmax(1), labels)
    return report, prediction_rows(kept, probs, labels), errors


def _check_predictions_path(path: Path, *, force: bool) -> None:
    """Refuse, before any work, a --predictions FILE that exists (without ``force``) or is a folder."""
    from ..errors import ConfigError

    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a file name for the predictions CSV")
    if path.exists() and not force:
        raise ConfigError(f"{path}: already exists; pass --force to replace it")


def run_evaluate(args) -> int:
    from ..corpora import scan_corpus
    from ..inference import load_model

    if args.predictions:
        _check_predictions_path(Path(args.predictions), force=args.force)
    predictor = load_model(args.model)
    records = scan_corpus(args.dir)
    report, rows, errors = evaluate_records(predictor, records, show_progress=not args.quiet)
    report["errors"] = [{"file": f, "error": m} for f, m in errors]
    for f, m in errors:
        print(f"escucha: skipped {m}", file=sys.stderr)
    if args.predictions:
        from ..utils.io import atomic_write_csv

        atomic_write_csv(Path(args.predictions), rows)
    if args.json:
        print(json.dumps(report))
    else:
        print(format_report(report))
    return 1 if errors else 0


def format_report(rep: dict) -> str:
    labels = rep["labels"]
    w = max(9, max(len(lab) for lab in labels))
    lines = [f"clips {rep['n']}   accuracy {rep['accuracy']:.3f}   UAR {rep['uar']:.3f}   macro-F1 {rep['macro_f1']:.3f}",
             "", f"{'':{w}s} precision recall   f1  support"]
    for lab in labels:
        c = rep["per_class"][lab]
        lines.append(f"{lab:{w}s} {c['precision']:9.3f} {c['recall']:6.3f} {c['f1']:5.3f} {c['support']:7d}")
    lines += ["", "confusion (rows = true, columns = predicted)", " " * w + " " + " ".join(f"{lab[:5]:>5s}" for lab in labels)]
    for lab, row in zip(labels, rep["confusion"]):
        lines.append(f"{lab:{w}s} " + " ".join(f"{v:5d}" for v in row))
    return "\n".join(lines)
