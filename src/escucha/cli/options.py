"""Options several commands share, defined once so that they read the same everywhere."""

from __future__ import annotations


def add_model_option(p, *, what: str = "model or run folder") -> None:
    """``--model``: a folder, or a bundled model by name (:data:`escucha.inference.BUNDLED_MODELS`)."""
    p.add_argument("--model", help=f"{what}, or a bundled model: default, fast (default: default)")


def add_engine_options(p, *, where: str) -> None:
    """``--engine local|ray`` and ``--address`` (the Ray engine, :mod:`escucha.longaudio.ray_engine`)."""
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help=f"where {where}: this machine (default) or a Ray cluster (needs escucha[ray]; "
                        "the same outputs)")
    p.add_argument("--address", metavar="HOST:PORT",
                   help="with --engine ray: the cluster's head (ray start --head); default: RAY_ADDRESS, "
                        "else a local Ray instance")


def add_labels_option(p) -> None:
    """``--labels``: answer among these emotions only (:mod:`escucha.inference.answers`)."""
    p.add_argument("--labels", metavar="LABELS",
                   help="answer among these emotions only, comma-separated (e.g. neutral,happy,sad,angry): the "
                        "model's probabilities of the others are left out and the rest renormalised")


def add_calibration_option(p) -> None:
    """``--no-calibration``: the model's raw probabilities (:mod:`escucha.inference.priors`)."""
    p.add_argument("--no-calibration", action="store_true",
                   help="answer with the model's raw class-balanced probabilities instead of its deployment "
                        "settings (temperature fitted on unseen corpora, mostly-neutral prior, 'uncertain' flag)")


def add_audio_option(p) -> None:
    """``--audio``: how an HTML report's players reach their audio (:class:`escucha.reports.html.HtmlReport`)."""
    p.add_argument("--audio", choices=("auto", "embed", "folder", "link"), default="auto",
                   help="report players: embed small copies in the HTML (it plays wherever it is sent), folder "
                        "(copies in audio/ beside it), link (the original files, by relative paths); default auto: "
                        "embed up to 400 clips, else folder")


def add_threads_option(p) -> None:
    """``--threads``: threads for the model's networks (:func:`escucha.runtime.set_num_threads`)."""
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads for the model (default: ESCUCHA_THREADS, else ONNX Runtime's and torch's own); "
                        "the same answers, to rounding")


def apply_threads(args) -> None:
    """Set ``--threads`` before any model is loaded (a bad value: one line, exit 2)."""
    if getattr(args, "threads", None) is not None:
        from ..runtime import set_num_threads

        set_num_threads(args.threads)
