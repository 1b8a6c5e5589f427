"""``escucha report RUN_DIR``: the HTML report of a training run or a cross-validation.

A run folder (written by :func:`escucha.train.loop.fit`) holds ``config.json``, ``metrics.csv``,
``summary.json`` and, when it has a test set, ``test_metrics.json`` and ``predictions.csv``.
A cross-validation folder (:func:`escucha.train.cv.cross_validate`) holds ``fold-K/`` run folders,
``cv_summary.json`` and ``cv_predictions.csv``. The report is written to ``RUN_DIR/report.html``
with its figures in ``RUN_DIR/figures/``.
"""

from __future__ import annotations

import csv
import html
import json
import os
from pathlib import Path

from ..errors import ConfigError
from .html import HtmlReport, Raw, check_writable, emotion_tag, esc, kv_table, table

__all__ = ["write_run_report", "HTML_NAME"]

#: Name of the HTML file inside the run folder.
HTML_NAME = "report.html"


def write_run_report(run_dir: str | os.PathLike, *, force: bool = False,
                     out_dir: str | os.PathLike | None = None, audio: str = "auto") -> Path:
    """Write ``run_dir/report.html`` for a run folder or a cross-validation folder.

    Parameters
    ----------
    run_dir : path
        Folder written by ``escucha train`` (``metrics.csv`` ...) or ``escucha cv``
        (``cv_summary.json`` and ``fold-K/``).
    force : bool
        Replace an existing report; otherwise :class:`ConfigError`.
    out_dir : path, optional
        Write ``report.html`` and ``figures/`` here instead of into ``run_dir`` (e.g. when the run
        folder is read-only or shared).
    audio : str
        How the prediction table's players reach their audio (:class:`~escucha.reports.html.HtmlReport`
        ``audio_mode``): ``auto`` (default: small copies inside the report, or in ``audio/``
        beside it for many clips), ``embed``, ``folder`` or ``link``.

    Returns
    -------
    Path of the HTML file (figures are also written as PNGs in ``figures/`` beside it).

    Raises
    ------
    ConfigError
        If the folder is missing or is not a run folder, a file in it is unreadable, or a
        report exists and ``force`` is false.
    """
    run = Path(run_dir)
    if not run.exists():
        raise ConfigError(f"{run}: run folder not found")
    if not run.is_dir():
        raise ConfigError(f"{run}: not a folder (expected a run folder written by escucha train or cv)")
    dest = Path(out_dir) if out_dir is not None else run
    if dest.exists() and not dest.is_dir():
        raise ConfigError(f"{dest}: exists and is not a folder")
    html_path = dest / HTML_NAME
    check_writable(html_path, force=force)
    if (run / "cv_summary.json").is_file():
        rep = _cv_report(run, dest, audio)
    elif any((run / n).is_file() for n in ("metrics.csv", "summary.json", "test_metrics.json")):
        rep = _run_report(run, dest, audio)
    else:
        folds = sorted(p.name for p in run.glob("fold-*") if p.is_dir())
        if folds:
            raise ConfigError(f"{run}: cross-validation folder without cv_summary.json "
                              f"(unfinished? it has {', '.join(folds)})")
        raise ConfigError(f"{run}: not a run folder (no metrics.csv, summary.json or cv_summary.json)")
    from ..train.runs import add_unfinished_banner  # a killed run says so at the top

    add_unfinished_banner(rep, run)
    return rep.write(html_path, force=force)


# ------------------------------------------------------------------------------------ reading

def _json(path: Path, *, required: bool = False):
    if not path.is_file():
        if required:
            raise ConfigError(f"{path}: file not found")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from None


def _csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return rows


def _check_columns(path: Path, rows: list[dict], needed: set[str]) -> None:
    if rows and not needed <= set(rows[0]):
        missing = ", ".join(sorted(needed - set(rows[0])))
        raise ConfigError(f"{path}: missing column(s) {missing}")


def _pct(v) -> str:
    return "–" if v is None else f"{100 * float(v):.1f} %"


def _minutes(m) -> str:
    if m is None:
        return "–"
    return f"{m:.1f} min" if m >= 1 else f"{60 * m:.0f} s"


def _labels(*sources) -> list[str]:
    for s in sources:
        if s and s.get("labels"):
            return list(s["labels"])
    return []


# ------------------------------------------------------------------------------------ pieces

def is_closed_form(history: list[dict]) -> bool:
    """Was the run fitted in one closed-form pass (one ``metrics.csv`` row without training loss,
    e.g. whisper-lr, egemaps-svm) rather than trained in epochs?"""
    return len(history) == 1 and "train_loss" not in history[0]


def _fit_part(run: Path, history) -> Raw:
    """What a closed-form fit reports instead of curves: its one row of ``metrics.csv``."""
    row = history[0]
    names = {"C": "regularisation C (chosen)", "val_uar": "validation UAR", "val_acc": "validation accuracy",
             "val_loss": "validation loss", "train_clips": "training clips (with augmented copies)",
             "temperature": "temperature", "seconds": "fit time (s)"}
    items = [(names.get(k, k), v) for k, v in row.items() if k != "epoch" and v not in (None, "")]
    return Raw(f'<p class="note">Fitted in one closed-form pass (no epochs, so no training curves); '
               f'the fit, from {esc(run / "metrics.csv")}:</p>' + kv_table(items))


def _curves_part(rep, plots, run: Path, history, *, best_epoch, n_classes, name="curves"):
    if not history:
        return Raw(f'<p class="note">{esc(run / "metrics.csv")} is missing or empty: no curves.</p>')
    if is_closed_form(history):
        return _fit_part(run, history)
    _check_columns(run / "metrics.csv", history, {"epoch", "train_loss", "train_acc"})
    fig = plots.training_curves(history, best_epoch=best_epoch, n_classes=n_classes)
    return rep.figure(name, plots.to_png(fig), caption=(
        "Per epoch: training (solid) and validation (dashed) loss and accuracy, and validation UAR "
        "(unweighted average recall, the selection metric). Training accuracy is measured on augmented "
        "random crops while the model changes during the epoch; validation on whole clips after it. "
        + (f"Dotted red line: the epoch whose weights were kept ({best_epoch})." if best_epoch else "")))


def _confusion_part(rep, plots, report: dict, *, name="confusion", what="test set"):
    labels = report["labels"]
    fig = plots.confusion_heatmaps(report["confusion"], labels)
    return rep.figure(name, plots.to_png(fig), caption=(
        f"Confusion matrix on the {what} ({report['n']} clips); rows: true emotion, columns: predicted. "
        "Right: each row divided by its total, so the diagonal is each emotion's recall."))


def _per_class_part(rep, plots, report: dict, *, name="per_class", what="test set"):
    labels = report["labels"]
    fig = plots.per_class_bars(report["per_class"], labels)
    rows = [[emotion_tag(lab), _pct(report["per_class"][lab]["precision"]), _pct(report["per_class"][lab]["recall"]),
             _pct(report["per_class"][lab]["f1"]), report["per_class"][lab]["support"]] for lab in labels]
    return "\n".join([
        rep.figure(name, plots.to_png(fig), caption=(
            f"Precision (solid) and recall (hatched) per emotion on the {what}; n = test clips of that emotion.")),
        table(["emotion", "precision", "recall", "F1", "support"], rows, numeric=(1, 2, 3, 4)),
    ])


def _predictions_part(rep, path: Path, rows: list[dict], *, with_fold: bool = False):
    if not rows:
        return Raw(f'<p class="note">{esc(path)} is missing or empty: no predictions to show.</p>')
    _check_columns(path, rows, {"file", "true", "predicted", "confidence"})
    header = ["#", "file", "speaker"] + (["fold"] if with_fold else []) + \
        ["true", "predicted", "confidence", "correct", "listen"]
    body, classes = [], []
    wrong = 0
    several = len({r.get("corpus", "") for r in rows}) > 1   # then a speaker is named with its corpus
    for i, r in enumerate(rows, start=1):
        ok = r["true"] == r["predicted"]
        wrong += not ok
        classes.append("ok" if ok else "wrong")
        try:
            conf = f"{100 * float(r['confidence']):.1f} %"
        except ValueError:
            conf = r["confidence"]
        name = Raw(f'<span title="{esc(r["file"])}">{esc(Path(r["file"]).name)}</span>')
        speaker = f"{r['corpus']}:{r.get('speaker', '')}" if several else r.get("speaker", "")
        body.append([i, name, speaker] + ([r.get("fold", "")] if with_fold else [])
                    + [emotion_tag(r["true"]), emotion_tag(r["predicted"]), conf, "✓" if ok else "✗ wrong",
                       rep.audio(r["file"])])
    n = len(rows)
    conf_col = header.index("confidence")
    return "\n".join([
        Raw(f'<p class="note">{n} test clips, {wrong} misclassified ({100 * wrong / n:.1f} %), highlighted in red. '
            f'Confidence: the probability of the predicted emotion. Each row plays its source file '
            f'(referenced, not embedded: it plays where that file is reachable). '
            f'<label class="filter"><input type="checkbox" data-filter="predictions-table"> '
            f'show only misclassified</label></p>'),
        Raw('<div class="scroll">'),
        table(header, body, id="predictions-table", numeric=(0, conf_col), row_classes=classes),
        Raw("</div>"),
    ])


def _held_out(fold: dict) -> str:
    """What a fold tested on: ``corpus emodb (10 speakers)`` or ``speakers 01, 05``."""
    spk = fold.get("test_speakers", [])
    if fold.get("test_corpus"):
        return f"corpus {fold['test_corpus']} ({len(spk)} speakers)"
    return "speakers " + ", ".join(spk)


def _cv_data(run: Path) -> str:
    """Where a cross-validation's clips came from, as its cv_config.json records it (older summaries
    lack it)."""
    return str((_json(run / "cv_config.json") or {}).get("data") or "not recorded")


def _config_part(config) -> Raw:
    return Raw(f"<pre>{html.escape(json.dumps(config, indent=2), quote=False)}</pre>")


# ------------------------------------------------------------------------------------ reports

def _run_report(run: Path, dest: Path, audio: str = "auto") -> HtmlReport:
    from . import plots  # matplotlib is imported here, when a report is made

    config = _json(run / "config.json") or {}
    summary = _json(run / "summary.json") or {}
    test = _json(run / "test_metrics.json")
    history = _csv(run / "metrics.csv")
    labels = _labels(config, test)
    train = config.get("train", {})
    model = summary.get("model") or train.get("model", "?")
    best_epoch = summary.get("best_epoch") or (test or {}).get("best_epoch")
    rep = HtmlReport(f"Run: {run.name}" + (f" ({model})" if model != run.name else ""), subtitle=str(run.resolve()), base_dir=dest,
                     audio_mode=audio)

    split = config.get("split", {})
    sizes = split.get("sizes", {})
    speakers = split.get("speakers", {})
    n_params = summary.get("n_parameters", config.get("n_parameters"))
    items = [("model", f"{model} ({n_params:,} parameters)" if isinstance(n_params, int) else model),
             ("features", config.get("features", {}).get("kind", "?")),
             ("split", f"{split.get('kind', '?')}: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))]
    for side in ("test", "val"):
        if speakers.get(side):
            items.append((f"{side} speakers", ", ".join(speakers[side])))
    items += [("epochs", "none (fitted in closed form)" if is_closed_form(history)
               else f"{len(history)} of {train.get('epochs', '?')}"),
              ("selected epoch", f"{best_epoch} (validation UAR {_pct(summary.get('best_val_uar'))})"
               if best_epoch else "–"),
              ("training time", _minutes(summary.get("train_minutes")))]
    if test:
        items += [("test clips", test["n"]), ("test accuracy", _pct(test["accuracy"])),
                  ("test UAR", _pct(test["uar"])), ("test macro-F1", _pct(test["macro_f1"])),
                  ("chance (UAR)", _pct(1 / len(test["labels"])) if test.get("labels") else "–")]
    rep.add("summary", "Summary", kv_table(items),
            Raw('<p class="note">UAR: unweighted average recall (the mean of per-emotion recalls), '
                'the headline metric since classes are unbalanced.</p>'))
    rep.add("curves", "Training curves",
            _curves_part(rep, plots, run, history, best_epoch=best_epoch, n_classes=len(labels)), nav="Curves")
    if test:
        rep.add("confusion", "Confusion matrix", _confusion_part(rep, plots, test), nav="Confusion")
        rep.add("per-class", "Precision and recall per class", _per_class_part(rep, plots, test), nav="Per class")
    else:
        note = Raw('<p class="note">This run has no test set (split "all"): no test figures.</p>')
        rep.add("confusion", "Confusion matrix", note)
        rep.add("per-class", "Precision and recall per class", note)
    rep.add("predictions", "Test predictions", _predictions_part(rep, run / "predictions.csv",
                                                                 _csv(run / "predictions.csv")), nav="Predictions")
    rep.add("config", "Configuration", Raw(f'<p class="note">{esc(run / "config.json")}</p>'), _config_part(config))
    return rep


def _cv_report(run: Path, dest: Path, audio: str = "auto") -> HtmlReport:
    from . import plots  # matplotlib is imported here, when a report is made

    s = _json(run / "cv_summary.json", required=True)
    for key in ("per_fold", "mean_std", "pooled"):
        if key not in s:
            raise ConfigError(f"{run / 'cv_summary.json'}: missing {key!r}; not a cv_summary written by escucha cv")
    model = s.get("model", "?")
    pooled = s["pooled"]
    labels = pooled.get("labels", [])
    ms = s["mean_std"]
    rep = HtmlReport(f"Cross-validation: {run.name} ({model}, {s.get('folds', len(s['per_fold']))} folds)",
                     subtitle=str(run.resolve()), base_dir=dest, audio_mode=audio)
    ms_rows = [[name, f"{100 * ms[k]['mean']:.1f} ± {100 * ms[k]['std']:.1f} %",
                "  ".join(f"{100 * v:.1f}" for v in ms[k]["folds"]), _pct(pooled.get(k))]
               for k, name in (("accuracy", "accuracy"), ("uar", "UAR"), ("macro_f1", "macro-F1")) if k in ms]
    fold_rows = [[r.get("fold", i), _held_out(r), r.get("n", ""), _pct(r.get("accuracy")),
                  _pct(r.get("uar")), _pct(r.get("macro_f1")), r.get("best_epoch", ""),
                  f"{r['train_minutes']:.1f}" if "train_minutes" in r else ""]
                 for i, r in enumerate(s["per_fold"])]
    rep.add("summary", "Summary",
            kv_table([("model", model), ("data", s.get("data") or _cv_data(run)),
                      ("folds", f"{s.get('folds', len(s['per_fold']))}, "
                                + ("one per corpus held out" if s.get("by") == "corpus" else "by speaker")),
                      ("clips tested", f"{s.get('n', pooled.get('n'))} (every clip once, by a model that never "
                                       "heard its speaker)"),
                      ("training time", _minutes(s.get("train_minutes_total")) + " in all")]),
            Raw("<h3>Mean ± standard deviation over folds</h3>"),
            table(["metric", "mean ± std", "per fold (%)", "pooled over all clips"], ms_rows),
            Raw("<h3>Folds</h3>"),
            table(["fold", "held out", "clips", "accuracy", "UAR", "macro-F1", "selected epoch", "minutes"],
                  fold_rows, numeric=(2, 3, 4, 5, 6, 7)))
    rep.add("folds", "Scores per fold",
            rep.figure("folds", plots.to_png(plots.fold_metrics(s["per_fold"], ms)), caption=(
                "Each fold's test score on its held-out speakers; the spread between folds is how much "
                "the result depends on which speakers are tested.")), nav="Fold scores")
    rep.add("confusion", "Pooled confusion matrix",
            _confusion_part(rep, plots, pooled, what="pooled test sets of all folds"), nav="Confusion")
    rep.add("per-class", "Precision and recall per class (pooled)",
            _per_class_part(rep, plots, pooled, what="pooled test sets of all folds"), nav="Per class")
    fold_parts = []
    for i, r in enumerate(s["per_fold"]):
        f = int(r.get("fold", i))
        d = run / f"fold-{f}"
        hist = _csv(d / "metrics.csv")
        test = _json(d / "test_metrics.json")
        fold_parts.append(Raw(f'<h3 id="fold-{f}">Fold {f}: {esc(_held_out(r))}'
                              f' — UAR {_pct(r.get("uar"))}</h3>'))
        if not hist and not test:
            fold_parts.append(Raw(f'<p class="note">{esc(d)}: no metrics.csv or test_metrics.json.</p>'))
            continue
        closed = is_closed_form(hist)
        if closed:
            fold_parts.append(_fit_part(d, hist))
            hist = []
        else:
            _check_columns(d / "metrics.csv", hist, {"epoch", "train_loss", "train_acc"})
        fig = plots.fold_panel(hist, test["confusion"] if test else None, _labels(test, pooled) or labels,
                               best_epoch=r.get("best_epoch"), title=f"Fold {f}")
        fold_parts.append(rep.figure(f"fold-{f}", plots.to_png(fig), caption=(
            f"Fold {f}: " + ("" if closed else "loss and accuracy / validation UAR per epoch (train solid, "
                             "validation dashed), and ") + "the confusion matrix on its test speakers in % of each "
            "true emotion.")))
    rep.add("per-fold", "Each fold", *fold_parts, nav="Folds in detail")
    rep.add("predictions", "Test predictions (all folds)",
            _predictions_part(rep, run / "cv_predictions.csv", _csv(run / "cv_predictions.csv"), with_fold=True),
            nav="Predictions")
    rep.add("config", "Configuration", Raw(f'<p class="note">The training options shared by every fold '
                                           f'({esc(run / "cv_summary.json")}).</p>'), _config_part(s.get("config", {})))
    return rep
