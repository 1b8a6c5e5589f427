"""``escucha evaluate DIR [--model PATH] [--json]``."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from .options import add_calibration_option, add_labels_option, add_model_option, add_threads_option, apply_threads


def register(sub):
    p = sub.add_parser("evaluate", help="score a model on a folder (or manifest) of labelled clips")
    p.add_argument("dir", help="a corpus folder (any layout data index reads) or a manifest / label CSV")
    add_model_option(p)
    add_threads_option(p)
    add_labels_option(p)
    add_calibration_option(p)
    p.add_argument("--corpus", help="read DIR as this corpus instead of detecting it (see 'escucha data index --help')")
    p.add_argument("--label-map", metavar="FILE.json",
                   help='map the data\'s label names to escucha\'s, e.g. {"joy": "happy", "boredom": null} '
                        '(null: leave those clips out)')
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--predictions", metavar="FILE", help="also write a CSV of per-file predictions here "
                                                         "(an existing FILE needs --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --predictions FILE")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_evaluate)


def evaluate_records(predictor, records, *, show_progress=True, labels=None):
    """Predict every record through :meth:`Predictor.predict` (the same path as ``predict``).

    Returns ``(report, prediction rows, errors)``. The report's metrics cover the clips that
    could be judged; UAR is the mean recall over the labels present in the data, and a
    prediction outside them (e.g. "calm" on a corpus without calm) counts as an error. Clips too
    short or without speech are listed under ``not_judged``. With several corpora the report
    has one row per corpus in ``per_corpus``. ``labels`` restricts the evaluation to records
    with those labels.
    """
    import numpy as np

    from ..errors import CorpusError, EscuchaError
    from ..evaluate.metrics import classification_report
    from ..train.loop import prediction_rows
    from ..utils.progress import progress

    model_labels = list(predictor.labels)
    heard = {f"{r.corpus}:{r.speaker}" for r in records} & predictor.trained_speakers
    if heard:
        warnings.warn(f"{len(heard)} of the {len({(r.corpus, r.speaker) for r in records})} speakers evaluated were in "
                      f"the model's training data ({', '.join(sorted(heard)[:6])}{', ...' if len(heard) > 6 else ''}); "
                      "this score does not measure accuracy on new voices")
    anonymous = sum(not r.speaker for r in records)
    if anonymous and predictor.trained_speakers:
        warnings.warn(f"{anonymous} of the {len(records)} clips have no speaker id, so escucha cannot tell whether "
                      "the model heard their voices in training; a score on voices it heard does not measure "
                      "accuracy on new ones")
    if labels:
        records = [r for r in records if r.emotion in set(labels)]
        if not records:
            raise CorpusError(f"no clip has one of the labels {', '.join(labels)}")
    usable = [r for r in records if r.emotion in model_labels]
    if len(usable) < len(records):
        missing = sorted({r.emotion for r in records} - set(model_labels))
        warnings.warn(f"skipped {len(records) - len(usable)} clips whose labels the model does not know: "
                      f"{', '.join(missing)}")
    probs, kept, errors, unjudged = [], [], [], []
    for r in progress(usable, desc="evaluating", unit="clip", disable=not show_progress or None):
        try:
            pred = predictor.predict(r.path)
        except EscuchaError as e:
            errors.append((r.path, str(e)))
            continue
        if not pred.judged:
            unjudged.append({"file": r.path, "outcome": pred.outcome, "reason": pred.reason})
            continue
        probs.append(pred.probabilities_array(model_labels))
        kept.append(r)
    if not kept:
        raise CorpusError("no clip could be evaluated" + (f" (first error: {errors[0][1]})" if errors else "")
                          + (f" ({len(unjudged)} not judged: {unjudged[0]['outcome']})" if unjudged else ""))
    probs = np.stack(probs)
    li = {lab: i for i, lab in enumerate(model_labels)}
    truth = np.array([li[r.emotion] for r in kept])
    pred_idx = probs.argmax(1)
    report = classification_report(truth, pred_idx, model_labels)
    report["labels_present"] = [lab for lab in model_labels if (truth == li[lab]).any()]
    report["not_judged"] = unjudged
    corpora = sorted({r.corpus for r in kept})
    if len(corpora) > 1:
        report["per_corpus"] = {}
        for c in corpora:
            m = np.array([r.corpus == c for r in kept])
            rc = classification_report(truth[m], pred_idx[m], model_labels)
            report["per_corpus"][c] = {k: rc[k] for k in ("n", "accuracy", "uar", "macro_f1")}
            report["per_corpus"][c]["labels_present"] = [lab for lab in model_labels if (truth[m] == li[lab]).any()]
    return report, prediction_rows(kept, probs, model_labels), errors


def _check_predictions_path(path: Path, *, force: bool) -> None:
    """Refuse, before any work, a --predictions FILE that exists (without ``force``) or is a folder."""
    from ..errors import ConfigError

    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; give a file name for the predictions CSV")
    if path.exists() and not force:
        raise ConfigError(f"{path}: already exists; pass --force to replace it")
    from ..utils.io import check_writable

    check_writable(path)


#: reasons a corpus reader skips a file that count as a failed input here (not e.g. a stray file name)
_FAILED_INPUT_REASONS = ("unreadable or empty files", "listed files that do not exist")


def _failed_input(message: str, source: str) -> tuple[str, str]:
    """``(file, "<file>: <problem>")`` from a corpus reader's skip message, which is
    ``<file>: <problem>`` or, for a label CSV, ``<source>:<line>: <file>: <problem>``."""
    import os
    import re

    m = re.match(re.escape(source) + r":(\d+): ", message)
    rest = message[m.end():] if m else message
    parts = rest.split(": ")
    file = next((": ".join(parts[:k]) for k in range(len(parts) - 1, 0, -1)  # a path may hold ": "
                 if os.path.lexists(": ".join(parts[:k]))), parts[0])
    return file, rest + (f" (line {m.group(1)} of {source})" if m else "")


def scan_reporting_failures(source, *, corpus=None, label_map=None) -> tuple[list, list[tuple[str, str]]]:
    """``scan_corpus(source)`` and ``(file, message)`` for every file it skipped because it could
    not be read (each is a failed input; the reader's summary warning is shown as well)."""
    from ..corpora import scan_corpus
    from ..corpora.manifest import CorpusWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = scan_corpus(source, corpus=corpus, label_map=label_map)
    failed = []
    for w in caught:
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        if isinstance(w.message, CorpusWarning):
            failed += [_failed_input(m, str(source)) for reason, m in w.message.problems
                       if reason in _FAILED_INPUT_REASONS]
    return records, failed


def run_evaluate(args) -> int:
    apply_threads(args)
    from ..inference import load_model

    if args.predictions:
        _check_predictions_path(Path(args.predictions), force=args.force)
    from ..inference.answers import parse_labels

    labels = parse_labels(args.labels)
    predictor = load_model(args.model, labels=labels, calibrate=not args.no_calibration)
    records, unreadable = scan_reporting_failures(args.dir, corpus=args.corpus, label_map=args.label_map)
    present = sorted({r.emotion for r in records}, key=list(predictor.labels).index) \
        if all(r.emotion in predictor.labels for r in records) else None
    if labels is None and present and 2 <= len(present) < len(predictor.labels):
        print(f"escucha: note: the data has {len(present)} of the model's {len(predictor.labels)} emotions and "
              f"answers outside them count as wrong; --labels {','.join(present)} answers among them only",
              file=sys.stderr)
    report, rows, errors = evaluate_records(predictor, records, show_progress=not args.quiet, labels=labels)
    errors = unreadable + errors
    report["errors"] = [{"file": f, "error": m} for f, m in errors]
    for f, m in errors:
        print(f"escucha: error: {m}", file=sys.stderr)
    if args.predictions:
        from ..utils.io import atomic_write_csv

        atomic_write_csv(Path(args.predictions), rows)
    if args.json:
        print(json.dumps(report, allow_nan=False))
    else:
        print(format_report(report))
    return 1 if errors else 0


def format_report(rep: dict) -> str:
    labels = rep["labels"]
    w = max(9, max(len(lab) for lab in labels))
    present = rep.get("labels_present", labels)
    cm = rep["confusion"]   # macro-F1 averages the classes in the truth or the answers, as sklearn's does
    f1_over = sum(1 for i in range(len(cm)) if sum(cm[i]) + sum(row[i] for row in cm) > 0)
    def n_labels(n: int) -> str:
        return f"{n} label{'s' if n != 1 else ''}"
    lines = [f"clips {rep['n']}   accuracy {rep['accuracy']:.3f}   UAR {rep['uar']:.3f} (over the "
             f"{n_labels(len(present))} present)   macro-F1 {rep['macro_f1']:.3f} (over the {n_labels(f1_over)} "
             "present or answered)"]
    if rep.get("not_judged"):
        kinds = sorted({u["outcome"] for u in rep["not_judged"]})
        lines.append(f"not judged: {len(rep['not_judged'])} clips ({', '.join(kinds)}); not in the figures above")
    if rep.get("per_corpus"):
        lines += ["", f"{'corpus':{w}s} clips accuracy   UAR  labels"]
        for c, r in rep["per_corpus"].items():
            lines.append(f"{c:{w}s} {r['n']:5d} {r['accuracy']:8.3f} {r['uar']:5.3f}  {len(r['labels_present'])}")
    lines += ["", f"{'':{w}s} precision recall   f1  support"]
    for lab in labels:
        c = rep["per_class"][lab]
        lines.append(f"{lab:{w}s} {c['precision']:9.3f} {c['recall']:6.3f} {c['f1']:5.3f} {c['support']:7d}")
    lines += ["", "confusion (rows = true, columns = predicted)", " " * w + " " + " ".join(f"{lab[:5]:>5s}" for lab in labels)]
    for lab, row in zip(labels, rep["confusion"]):
        lines.append(f"{lab:{w}s} " + " ".join(f"{v:5d}" for v in row))
    return "\n".join(lines)
