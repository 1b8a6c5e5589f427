"""``escucha predict FILE... [--model PATH] [--json]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .options import add_engine_options, add_model_option


def register(sub):
    p = sub.add_parser("predict", help="say which emotion each recording expresses")
    p.add_argument("files", nargs="+", help="audio files, or folders (searched for .wav, .flac, .ogg, .mp3)")
    add_model_option(p)
    p.add_argument("--json", action="store_true",
                   help='print a JSON list of {"file", "label", "probabilities", "duration"} (strict JSON; '
                        'inputs that cannot be judged have "label": null and an "outcome")')
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
    probs = "  ".join(f"{k} {v:.2f}" for k, v in sorted(p.probabilities.items(), key=lambda kv: -kv[1]))
    what = "of speech time" if p.long else ""
    return f"{p.file}: {p.label} ({p.confidence:.0%}{' ' + what if what else ''})   {probs}"


def run_predict(args) -> int:
    from ..inference import load_model
    from ..inference.predictor import LONG_SECONDS

    if args.address and args.engine != "ray":
        from ..errors import ConfigError

        raise ConfigError("--address names a Ray cluster: it needs --engine ray")
    if args.engine == "ray":
        from ..longaudio.ray_engine import require_ray

        require_ray()
    predictor = load_model(args.model)
    files, empty = expand_inputs(args.files)  # a folder without audio among other inputs: one error line
    show = len(files) > 20 and not args.quiet
    if args.engine == "ray":
        from ..longaudio.ray_engine import predict_files

        preds, errors = predict_files(predictor, files, address=args.address, show_progress=show)
    else:
        preds, errors = predictor.predict_files(files, show_progress=show)
    errors = empty + errors
    for f, msg in errors:
        print(f"escucha: error: {msg}", file=sys.stderr)
    for p in preds:
        if p.long:
            print(f"escucha: note: {p.file} is {p.duration:.0f} s long (over {LONG_SECONDS:.0f} s): scored over its "
                  "speech segments; 'escucha analyze' shows how the emotion changes over time", file=sys.stderr)
    if args.json:
        print(json.dumps([p.to_dict() for p in preds], allow_nan=False))
    else:
        for p in preds:
            print(format_prediction(p))
    return 1 if errors else 0
