"""``escucha predict FILE... [--model PATH] [--json | --jsonl] [-o FILE]``.

Results reach the user as they are made: ``--jsonl`` prints each one as a line when it is done,
``-o FILE`` keeps each one on disk at once (:mod:`escucha.inference.results`: a killed run is
resumed by running it again), and an interrupted ``--json`` still prints every finished result.
Files that fail are results too (``"outcome": "error"`` and the one-line reason), as well as a
line on stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .options import (add_calibration_option, add_engine_options, add_labels_option, add_model_option,
                      add_threads_option, apply_threads)


def register(sub):
    p = sub.add_parser("predict", help="say which emotion each recording expresses")
    p.add_argument("files", nargs="+", help="audio files, or folders (searched for .wav, .flac, .ogg, .mp3)")
    add_model_option(p)
    add_threads_option(p)
    how = p.add_mutually_exclusive_group()
    how.add_argument("--json", action="store_true",
                     help='print a JSON list of {"file", "label", "probabilities", "duration"} (strict JSON; '
                          'inputs that cannot be judged or read have "label": null, an "outcome" and a "reason"; '
                          'recordings over 30 s have "speech_share" instead of "probabilities")')
    how.add_argument("--jsonl", action="store_true",
                     help="print one JSON object a line as each file is done (what --json lists), so that a "
                          "stopped run has printed everything it finished")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="also write the results to FILE (.jsonl, .json or .csv), each kept on disk as it is "
                        "made (FILE.partial); the same command again resumes a run that was stopped")
    p.add_argument("--force", action="store_true", help="replace an existing -o FILE, and start over when the "
                                                        "results kept in FILE.partial were made with other settings")
    add_labels_option(p)
    add_calibration_option(p)
    p.add_argument("--adapt", action="store_true",
                   help="first fit the model's feature normalisation to these recordings (what 'escucha adapt' "
                        "does, at least 20 needed, each heard twice). Off by default: measured, it lifts acted "
                        "corpora but calls natural conversation and one-sided folders more emotional "
                        "(docs/calibration.md, 'Adaptation')")
    add_engine_options(p, where="the files are predicted")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_predict)


def expand_inputs(items) -> tuple[list[str], list[tuple[str, str]]]:
    """Files to predict and ``(input, message)`` for each folder without audio.

    Folders are searched recursively (symbolic links to folders are not followed); a dangling or
    looping symbolic link with an audio name is kept, so that it is reported, not passed over.

    Raises
    ------
    CorpusError
        When no input yields any file at all (nothing to do).
    """
    from ..corpora.manifest import AUDIO_EXTENSIONS

    from ..errors import CorpusError

    exts = AUDIO_EXTENSIONS + (".ogg", ".mp3")
    out, empty = [], []
    for it in items:
        p = Path(it)
        if p.is_dir():
            found = sorted(str(f) for f in p.rglob("*") if f.suffix.lower() in exts
                           and (f.is_file() or (f.is_symlink() and not f.exists())))
            if not found:
                empty.append((str(p), f"{p}: no audio files found (.wav, .flac, .ogg, .mp3)"))
            out += found
        else:
            out.append(str(p))
    if not out:
        raise CorpusError(empty[0][1] if len(empty) == 1 else "no audio files found in "
                          + ", ".join(e[0] for e in empty) + " (.wav, .flac, .ogg, .mp3)")
    return out, empty


def format_prediction(p) -> str:
    """One line for a person: ``file: label (confidence)   probabilities`` or the outcome."""
    if p.label is None:
        return f"{p.file}: {p.outcome} ({p.reason})"
    from ..labels import dimension_scores

    probs = "  ".join(f"{k} {v:.2f}" for k, v in sorted(p.probabilities.items(), key=lambda kv: -kv[1]))
    what = "of speech time" if p.long else ""
    dims = dimension_scores(p.probabilities)
    tail = f"   | high arousal {dims['arousal']:.0%}, negative {dims['negative']:.0%}" if dims else ""
    unsure = ", uncertain" if p.uncertain else ""
    return f"{p.file}: {p.label} ({p.confidence:.0%}{' ' + what if what else ''}{unsure})   {probs}{tail}"


#: from this many inputs on, predict says that it did not adapt to them (and how it could): the
#: recordings adaptation needs (escucha.inference.adapt.MIN_FILES, not imported here: it costs
#: ~0.1 s at start-up)
ADAPT_NOTE_FILES = 20
#: more inputs than this get a progress bar
PROGRESS_FILES = 20


def _adapted(args, files: list[str]) -> str:
    """``--adapt``: an adapted copy of ``--model`` fitted to ``files``, in a temporary folder removed
    at exit; says what it did on stderr."""
    import atexit
    import shutil
    import tempfile

    from ..inference.adapt import adapt

    tmp = Path(tempfile.mkdtemp(prefix="escucha-adapt-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    res = adapt(args.model, files, tmp / "model", show_progress=len(files) > PROGRESS_FILES and not args.quiet,
                on_error=lambda f, msg: None)   # the same files fail again below, reported once there
    done = [f"{m.name} on {m.files} (lambda {m.lam:.2f})" for m in res.members if m.adapted]
    print(f"escucha: adapted to {res.usable} of {res.files} recordings: " + ("; ".join(done) or "nothing adapted"),
          file=sys.stderr)
    return str(res.out)


def _emit(args, record: dict) -> None:
    if args.jsonl:
        print(json.dumps(record, allow_nan=False), flush=True)


def run_predict(args) -> int:
    apply_threads(args)
    from ..inference import load_model
    from ..inference.predictor import LONG_SECONDS
    from ..inference.results import ResultsFile, error_record

    if args.address and args.engine != "ray":
        from ..errors import ConfigError

        raise ConfigError("--address names a Ray cluster: it needs --engine ray")
    if args.engine == "ray":
        from ..longaudio.ray_engine import require_ray

        require_ray()
    out = ResultsFile(args.output, force=args.force) if args.output else None
    predictor = None if args.adapt else load_model(args.model, labels=args.labels, calibrate=not args.no_calibration)
    files, empty = expand_inputs(args.files)  # a folder without audio among other inputs: one error line
    if args.adapt:
        predictor = load_model(_adapted(args, files), labels=args.labels, calibrate=not args.no_calibration)
    if out is not None:   # resume only what the same model, labels and calibration made
        from .. import __version__
        from ..longaudio.settings import model_id

        out.begin({"model": model_id(predictor, ignore=("adapted",)), "labels": list(predictor.labels),
                   "calibrated": not args.no_calibration, "adapted": bool(args.adapt), "escucha_version": __version__})
    if not args.adapt and len(files) >= ADAPT_NOTE_FILES and not args.quiet:
        print(f"escucha: note: {len(files)} recordings scored as the model was trained, not adapted to them "
              "(the measured default; --adapt fits them first)", file=sys.stderr)
    show = len(files) > PROGRESS_FILES and not args.quiet
    records: dict[str, dict] = {}   # file -> its JSON record, as finished
    n_errors = 0
    for f, msg in empty:
        print(f"escucha: error: {msg}", file=sys.stderr)
    todo = files
    if out is not None:
        for f in files:
            r = out.done(f)
            if r is not None:
                records[f] = r
                _emit(args, r)
        todo = [f for f in files if f not in records]
        if records:
            print(f"escucha: {len(records)} of {len(files)} files already done in {out.partial}; predicting the "
                  f"other {len(todo)}", file=sys.stderr)

    def finished(f, pred, err):
        nonlocal n_errors
        if err is not None:
            n_errors += 1
            print(f"escucha: error: {err}", file=sys.stderr)
            record = error_record(f, err)
        else:
            record = pred.to_dict()
            if pred.long:
                print(f"escucha: note: {pred.file} is {pred.duration:.0f} s long (over {LONG_SECONDS:.0f} s): scored "
                      "over its speech segments; 'escucha analyze' shows how the emotion changes over time",
                      file=sys.stderr)
            if not args.json and not args.jsonl:
                print(format_prediction(pred), flush=True)
        records[f] = record
        if out is not None:
            out.add(f, record)
        _emit(args, record)

    try:
        if args.engine == "ray":
            from ..longaudio.ray_engine import predict_files

            preds, errors = predict_files(predictor, todo, address=args.address, show_progress=show)
            by_file = {p.file: p for p in preds}
            failed = dict(errors)
            for f in todo:
                finished(f, by_file.get(f), failed.get(f))
        else:
            for f, pred, err in predictor.iter_predictions(todo, show_progress=show):
                finished(f, pred, err)
    except KeyboardInterrupt:
        if args.json:  # what is finished is printed, in input order
            print(json.dumps([records[f] for f in files if f in records], allow_nan=False))
        if out is not None:
            out.close()
            print(f"escucha: {len(records)} of {len(files)} results kept in {out.partial}; run the same command "
                  "again to finish", file=sys.stderr)
        raise
    if args.json:
        print(json.dumps([records[f] for f in files if f in records]
                         + [error_record(i, m) for i, m in empty], allow_nan=False))
    if out is not None:
        out.finish(files, predictor.labels)
        print(f"escucha: wrote {out.path}", file=sys.stderr)
    return 1 if n_errors or empty else 0
