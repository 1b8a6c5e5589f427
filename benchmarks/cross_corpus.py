"""Cross-corpus matrix: train on one corpus, test on another, for one model config.

    python benchmarks/cross_corpus.py                                   # whisper-lr, the shared corpora
    python benchmarks/cross_corpus.py --config configs/egemaps-svm.json --threads 1 --out runs/xc-egemaps
    python benchmarks/cross_corpus.py --data DIR_A DIR_B --baseline runs/mine --baseline-name mine

Rows are what a model was trained on, columns the corpus it is tested on; each cell is
"UAR (chance)", UAR being the mean recall over the labels scored in that cell and chance one
over their number.

- Diagonal: in-corpus speaker-independent cross-validation (``cross_validate(by="speaker")``,
  min(5, speakers) folds; the mean of the folds' UAR over the corpus's labels).
- Off the diagonal, row A, column B: trained on every speaker of A (``split="all"``) on the
  labels A and B share, tested on B's clips with those labels through
  ``evaluate_records`` (the path of ``escucha evaluate``; a clip too short or without speech is
  not judged, see the CSV's ``not_judged``).
- "all others (LOCO)": leave-one-corpus-out (``cross_validate(by="corpus")``): trained on the
  other corpora with all their labels, tested through ``evaluate_records`` on the held-out
  corpus's clips whose label the training corpora have (RAVDESS's calm is not scored when
  RAVDESS is held out); any other answer (e.g. "calm" on EmoDB) counts as an error.
- Baseline: the bundled model (``escucha.load_model()``, or ``--baseline PATH``), measured in
  the same run on every corpus over the labels present. A corpus whose speakers the model was
  trained on is marked "seen": that figure is not a generalisation figure.

Training runs go under ``OUT/runs/`` in folders named by a hash of their settings and data;
rerunning with the same ``--out`` reuses finished runs (and resumes unfinished ones), and the
decoded-audio and feature cache (``--cache``, default ``$ESCUCHA_CACHE`` or ``~/.cache/escucha``)
makes a fresh ``--out`` cheaper too. ``OUT/cross_corpus.csv`` (one row per cell),
``OUT/cross_corpus.json`` (cells, settings, notes) and ``OUT/table.md`` hold the results.
Not run in CI: it trains (speakers + corpora + 1) models per corpus set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "configs" / "whisper-lr.json"
SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_DATA = [SHARED_DATA / name for name in ("ravdess", "emodb", "savee")]
LOCO = "all others (LOCO)"
RESULT_FILES = ("cross_corpus.json", "cross_corpus.csv", "table.md")
MAX_FOLDS = 5


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _label_order(labels) -> list[str]:
    from escucha.labels import EMOTIONS

    s = set(labels)
    return [e for e in EMOTIONS if e in s] + sorted(s - set(EMOTIONS))


def _labels_of(records) -> list[str]:
    return _label_order({r.emotion for r in records})


def read_corpora(roots, *, labels=None) -> dict:
    """``{corpus name: records}`` in the order of ``roots``, each root read (and detected) on its
    own; with ``labels`` only the clips with one of those labels are kept.

    Raises
    ------
    ConfigError
        Two roots read as the same corpus name, or a corpus with no clip of ``labels``.
    """
    from escucha.corpora import CorpusWarning, scan_corpus
    from escucha.errors import ConfigError

    out: dict[str, list] = {}
    where: dict[str, str] = {}
    for root in roots:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CorpusWarning)
            recs = scan_corpus(root)
        for w in caught:
            _say(f"note: {w.message}")
        by: dict[str, list] = {}
        for r in recs:
            by.setdefault(r.corpus, []).append(r)
        for name, rs in by.items():
            if name in out:
                raise ConfigError(f"{root}: reads as corpus {name!r}, as {where[name]} does; give each corpus once")
            if labels is not None:
                rs = [r for r in rs if r.emotion in set(labels)]
                if not rs:
                    raise ConfigError(f"{root}: no clip has one of the labels {', '.join(labels)}")
            out[name], where[name] = rs, str(root)
    return out


def _run_key(kind: str, config, records, **extra) -> str:
    blob = json.dumps({"kind": kind, "config": config.to_dict(), "files": sorted(r.path for r in records),
                       "labels": sorted(f"{r.path}={r.emotion}" for r in records), **extra},
                      sort_keys=True, default=str)
    return hashlib.blake2b(blob.encode(), digest_size=6).hexdigest()


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _trained(run_dir: Path, train, *, summary_file: str):
    """Reuse a finished run in ``run_dir``, resume an unfinished one, or train it
    (``train(resume=bool)`` returns the summary)."""
    from escucha.train.runs import run_status

    status = run_status(run_dir)
    if status == "finished":
        return json.loads((run_dir / summary_file).read_text()), "reused"
    return train(resume=status == "unfinished"), "resumed" if status == "unfinished" else "trained"


def _evaluate(predictor, records, *, labels=None, show_progress=True):
    """``evaluate_records`` with its warnings kept as notes rather than printed."""
    from escucha.cli.evaluate import evaluate_records

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report, _, errors = evaluate_records(predictor, records, labels=labels, show_progress=show_progress)
    notes = [str(w.message) for w in caught if "in the model's training data" not in str(w.message)]
    return report, errors, notes


def _cell(row: str, col: str, kind: str, report: dict, labels: list[str], **extra) -> dict:
    present = report.get("labels_present", labels)
    return {"trained_on": row, "tested_on": col, "kind": kind, "uar": float(report["uar"]),
            "chance": 1.0 / len(present), "n_labels": len(present), "labels": " ".join(present),
            "clips": int(report["n"]), "not_judged": len(report.get("not_judged", [])),
            "accuracy": float(report["accuracy"]), "macro_f1": float(report["macro_f1"]), **extra}


def _na(row: str, col: str, kind: str, why: str) -> dict:
    return {"trained_on": row, "tested_on": col, "kind": kind, "uar": None, "chance": None, "n_labels": 0,
            "labels": "", "clips": 0, "not_judged": 0, "accuracy": None, "macro_f1": None, "note": why}


def cross_corpus(corpora: dict, config, out: Path, *, baseline: str | os.PathLike | None = None,
                 baseline_name: str | None = None, cache=True, show_progress: bool = True,
                 threads: int = 2) -> dict:
    """Fill the train -> test matrix (see the module docstring); runs go under ``out/runs``.

    Parameters
    ----------
    corpora : dict
        ``{corpus name: list of Utterance}`` (:func:`read_corpora`).
    config : TrainConfig
        The model recipe every row trains.
    out : Path
        Folder for the training runs (``out/runs/``).
    baseline : path, optional
        Model folder of the baseline row (``None``: the bundled model).
    baseline_name : str, optional
        Row name of the baseline (default ``"bundled model"`` or the folder's name).

    Returns
    -------
    dict
        ``{"rows", "columns", "cells", "notes", ...}``; a cell is one dict per (row, column).
    """
    from escucha.errors import ConfigError
    from escucha.inference import load_model
    from escucha.inference.predictor import bundled_model_dir
    from escucha.train.cv import cross_validate
    from escucha.train.loop import fit
    from escucha.train.runs import CV_SUMMARY, RUN_SUMMARY

    names = list(corpora)
    if not names:
        raise ConfigError("no corpus given")
    config = config.replace(threads=threads)
    runs = out / "runs"
    labels = {c: _labels_of(rs) for c, rs in corpora.items()}
    notes: list[str] = []
    cells: list[dict] = []
    n_cells = len(names) ** 2 + (len(names) if len(names) > 1 else 0) + len(names)
    t0 = time.time()

    def step(what: str) -> None:
        _say(f"[{len(cells) + 1}/{n_cells} cells, {(time.time() - t0) / 60:.1f} min] {what}")

    # rows: one per corpus (diagonal: in-corpus CV; off it: train on all of A, shared labels)
    for a in names:
        for b in names:
            if a == b:
                step(f"{a}: speaker-independent cross-validation")
                cells.append(_diagonal(a, corpora[a], config, runs, notes, cache=cache,
                                       show_progress=show_progress, cross_validate=cross_validate,
                                       summary_file=CV_SUMMARY))
                continue
            shared = [lab for lab in labels[a] if lab in set(labels[b])]
            step(f"train {a} -> test {b} ({len(shared)} shared labels)")
            if len(shared) < 2:
                cells.append(_na(a, b, "cross", f"{a} and {b} share fewer than two labels"))
                continue
            cfg = config.replace(split="all", labels=shared)
            run_dir = runs / f"train-{_slug(a)}-{_run_key('all', cfg, corpora[a])}"
            _trained(run_dir, lambda resume, cfg=cfg, a=a, run_dir=run_dir: fit(
                corpora[a], cfg, run_dir, cache=cache, show_progress=show_progress, resume=resume),
                summary_file=RUN_SUMMARY)
            report, errors, ns = _evaluate(load_model(run_dir), corpora[b], labels=shared,
                                           show_progress=show_progress)
            notes += [f"{a} -> {b}: {n}" for n in ns]
            cells.append(_cell(a, b, "cross", report, shared, errors=len(errors), run=str(run_dir)))

    # leave one corpus out: one cross-validation by corpus, each fold's model scored on its corpus
    if len(names) > 1:
        all_recs = [r for c in names for r in corpora[c]]
        _say(f"leave-one-corpus-out cross-validation over {', '.join(sorted(names))}")
        cv_dir = runs / f"loco-{_run_key('loco', config, all_recs)}"
        summary, how = _trained(cv_dir, lambda resume: cross_validate(
            all_recs, config, cv_dir, cache=cache, show_progress=show_progress, resume=resume, by="corpus"),
            summary_file=CV_SUMMARY)
        by_corpus = {f["test_corpus"]: f for f in summary["per_fold"]}
        for c in names:
            fold = by_corpus[c]
            others = {lab for o in names if o != c for lab in labels[o]}
            scored = [lab for lab in labels[c] if lab in others]
            if len(scored) < 2:
                cells.append(_na(LOCO, c, "loco", f"the other corpora share fewer than two labels with {c}"))
                continue
            step(f"leave {c} out: trained on the others, scored on {c} ({len(scored)} labels)")
            fold_dir = cv_dir / f"fold-{fold['fold']}"
            report, errors, ns = _evaluate(load_model(fold_dir), corpora[c], labels=scored,
                                           show_progress=show_progress)
            notes += [f"{LOCO} -> {c}: {n}" for n in ns]
            dropped = [lab for lab in labels[c] if lab not in others]
            if dropped:
                notes.append(f"{LOCO} -> {c}: {', '.join(dropped)} not scored (no training corpus has it)")
            cells.append(_cell(LOCO, c, "loco", report, scored, errors=len(errors), run=str(fold_dir),
                               cv_fold_uar=float(fold["uar"])))

    # the baseline: a model made elsewhere, on every corpus over the labels present
    path = Path(baseline) if baseline is not None else bundled_model_dir()
    name = baseline_name or ("bundled model" if baseline is None else path.name)
    predictor = load_model(baseline)
    heard_all = predictor.trained_speakers
    for c in names:
        step(f"baseline {name} on {c}")
        speakers = {r.speaker_key for r in corpora[c]}
        heard = speakers & heard_all
        report, errors, ns = _evaluate(predictor, corpora[c], show_progress=show_progress)
        notes += [f"{name} -> {c}: {n}" for n in ns]
        seen = "" if not heard else ("all" if heard == speakers else f"{len(heard)}/{len(speakers)}")
        if heard:
            notes.append(f"{name} -> {c}: the model was trained on {len(heard)} of the {len(speakers)} speakers "
                         f"({', '.join(sorted(heard)[:3])}{', ...' if len(heard) > 3 else ''}): not a generalisation figure")
        cells.append(_cell(name, c, "baseline", report, report.get("labels_present", []), errors=len(errors),
                           seen=seen, run=str(path)))
    return {"rows": names + ([LOCO] if len(names) > 1 else []) + [name], "columns": names, "cells": cells,
            "notes": notes, "baseline": {"name": name, "path": str(path),
                                         "trained_on_speakers": len(heard_all)},
            "config": config.to_dict(), "minutes": round((time.time() - t0) / 60, 2)}


def _diagonal(c, records, config, runs: Path, notes: list, *, cache, show_progress, cross_validate,
              summary_file) -> dict:
    speakers = sorted({r.speaker_key for r in records})
    labs = _labels_of(records)
    if len(speakers) < 2 or len(labs) < 2:
        return _na(c, c, "in-corpus", f"{c} has {len(speakers)} speaker(s) and {len(labs)} label(s): "
                                     "no speaker-independent cross-validation")
    k = min(MAX_FOLDS, len(speakers))
    cfg = config
    rest = len(speakers) - math.ceil(len(speakers) / k)      # speakers left beside the largest test fold
    if cfg.val_speakers > max(0, rest - 2):                  # keep at least two training speakers
        cap = max(0, rest - 2)
        notes.append(f"{c}: validation speakers {cfg.val_speakers} -> {cap} in its {k}-fold cross-validation "
                     f"(so that at least two of its {len(speakers)} speakers train)")
        cfg = cfg.replace(val_speakers=cap)
    cv_dir = runs / f"cv-{_slug(c)}-{_run_key('cv', cfg, records, folds=k)}"
    summary, _ = _trained(cv_dir, lambda resume: cross_validate(
        records, cfg, cv_dir, folds=k, cache=cache, show_progress=show_progress, resume=resume, by="speaker"),
        summary_file=summary_file)
    m = summary["mean_std"]["uar"]
    rep = {"uar": m["mean"], "n": summary["n"], "accuracy": summary["mean_std"]["accuracy"]["mean"],
           "macro_f1": summary["mean_std"]["macro_f1"]["mean"],
           "labels_present": [lab for lab in summary["pooled"]["labels"]
                              if summary["pooled"]["per_class"][lab]["support"] > 0]}
    return _cell(c, c, "in-corpus", rep, labs, folds=k, uar_std=float(m["std"]),
                 pooled_uar=float(summary["pooled"]["uar"]), run=str(cv_dir))


# ----------------------------------------------------------------------------------- the table

def _fmt(cell: dict | None) -> str:
    if cell is None or cell["uar"] is None:
        return "–"
    s = f"{cell['uar']:.3f} ({cell['chance']:.3f})"
    if cell.get("seen"):
        s = f"seen: {s}" if cell["seen"] == "all" else f"{s}, seen {cell['seen']}"
    return s


def format_table(result: dict, *, what=_fmt) -> str:
    """A Markdown table: rows = trained on, columns = tested on."""
    cols = result["columns"]
    at = {(c["trained_on"], c["tested_on"]): c for c in result["cells"]}
    head = ["trained on \\ tested on"] + cols
    rows = [[r] + [what(at.get((r, c))) for c in cols] for r in result["rows"]]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "| " + " | ".join(x.ljust(w) for x, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def format_result(result: dict) -> str:
    """Both tables (UAR (chance); labels / clips per cell) and the notes."""
    counts = format_table(result, what=lambda c: "–" if c is None or c["uar"] is None
                          else f"{c['n_labels']} / {c['clips']}")
    diag = {c["tested_on"]: c for c in result["cells"] if c["kind"] == "in-corpus" and c["uar"] is not None}
    folds = ", ".join(f"{k} {v['folds']}" for k, v in diag.items())
    out = [f"UAR (chance), model config {result.get('config_file', result['config']['model'])}:", "",
           format_table(result), "",
           f"Diagonal: in-corpus speaker-independent cross-validation, mean UAR over folds ({folds}). "
           "Off the diagonal: trained on every speaker of the row's corpus, on the labels the two corpora "
           f"share. {LOCO}: trained on the other corpora. \"seen\": the model was trained on those speakers.",
           "", "labels / clips scored per cell:", "", counts]
    if result["notes"]:
        out += ["", "notes:"] + [f"- {n}" for n in result["notes"]]
    return "\n".join(out)


def write_result(result: dict, out: Path) -> None:
    from escucha.utils.io import atomic_write_csv, atomic_write_json, atomic_write_text

    keys = ["trained_on", "tested_on", "kind", "uar", "chance", "n_labels", "labels", "clips", "not_judged",
            "errors", "accuracy", "macro_f1", "seen", "folds", "uar_std", "pooled_uar", "cv_fold_uar", "note", "run"]
    rows = [{k: ("" if c.get(k) is None else (f"{c[k]:.4f}" if isinstance(c[k], float) else c[k])) for k in keys}
            for c in result["cells"]]
    atomic_write_csv(out / "cross_corpus.csv", rows, fieldnames=keys)
    atomic_write_json(out / "cross_corpus.json", result)
    atomic_write_text(out / "table.md", format_result(result) + "\n")


def _check_out(out: Path) -> None:
    """``out`` must be new, empty, or a folder this script wrote before (its runs are reused)."""
    from escucha.errors import ConfigError

    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not ((out / "runs").is_dir() or (out / RESULT_FILES[0]).is_file()):
        raise ConfigError(f"{out}: is not empty and was not written by this benchmark; choose another --out")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="model recipe (default: %(default)s)")
    ap.add_argument("--data", nargs="+", default=[str(p) for p in DEFAULT_DATA], metavar="DIR",
                    help="corpus folders or manifest CSVs, one corpus each (default: the shared ravdess, emodb, savee)")
    ap.add_argument("--out", help="folder for runs and results (default: a new temporary folder); "
                                  "rerunning with the same --out reuses its finished runs")
    ap.add_argument("--baseline", metavar="PATH", help="model folder of the baseline row (default: the bundled model)")
    ap.add_argument("--baseline-name", help="row name of the baseline")
    ap.add_argument("--cache", metavar="DIR", help="decoded audio and feature cache "
                                                   "(default: $ESCUCHA_CACHE or ~/.cache/escucha)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (default: %(default)s)")
    ap.add_argument("--quiet", action="store_true", help="no progress bars (the per-cell lines stay)")
    args = ap.parse_args(argv)

    from escucha.data.waveforms import WaveformCache
    from escucha.errors import EscuchaError
    from escucha.train import load_config

    try:
        if args.threads < 1:
            raise EscuchaError(f"--threads must be at least 1, got {args.threads}")
        out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="escucha-cross-corpus-"))
        _check_out(out)
        config = load_config(args.config)
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        with threadpool_limits(args.threads):
            corpora = read_corpora(args.data, labels=config.labels)
            result = cross_corpus(corpora, config, out, baseline=args.baseline, baseline_name=args.baseline_name,
                                  cache=WaveformCache(args.cache), show_progress=not args.quiet,
                                  threads=args.threads)
    except EscuchaError as e:
        print(f"escucha: error: {e}", file=sys.stderr)
        return 2
    result["config_file"] = args.config
    result["data"] = list(args.data)
    result["command"] = " ".join(["python benchmarks/cross_corpus.py", *(argv if argv is not None else sys.argv[1:])])
    out.mkdir(parents=True, exist_ok=True)
    write_result(result, out)
    print(format_result(result))
    _say(f"results in {out}/ ({', '.join(RESULT_FILES)}; runs in {out / 'runs'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
