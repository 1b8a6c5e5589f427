"""Command line: ``escucha <command> ...``. Thin: parse, call the library, print.

Each command lives in its own module with ``register(subparsers)``; errors from the library
(:class:`escucha.EscuchaError`) are printed as one line, never as a traceback.

Exit status, the same for every command:

====  =====================================================================================
0     every input was handled (inputs that cannot be judged, e.g. "no speech found", count)
1     some inputs failed (each named on stderr); the others got their results
2     usage or configuration error (bad option, model, corpus or config); nothing was done
130   interrupted (Ctrl-C or SIGTERM); finished outputs are kept, partial ones are not written
3     internal error (a bug: please report it; ``ESCUCHA_DEBUG=1`` shows the traceback)
====  =====================================================================================
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
import warnings

from .. import __version__
from ..errors import AudioError, EscuchaError

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

#: errors with which the system refuses a write (reported in one line, not as an internal error)
_REFUSALS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}

#: import names of the packages that come with escucha[train] (predict and analyze run without them)
TRAIN_PACKAGES = {"torch": "torch", "safetensors": "safetensors", "sklearn": "scikit-learn", "opensmile": "opensmile",
                  "librosa": "librosa", "onnx": "onnx"}

#: command modules (escucha.cli.<name>), in the order shown by --help
COMMAND_MODULES = ["data", "train", "evaluate", "predict", "ensemble", "models", "explore", "report", "analyze", "adapt", "serve", "db", "export"]


def _showwarning(message, category, filename, lineno, file=None, line=None):
    print(f"escucha: warning: {message}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="escucha", description="Speech emotion recognition, measured on speakers it has never heard.")
    parser.add_argument("--version", action="version", version=f"escucha {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _showwarning
    if getattr(args, "quiet", False):
        import os

        os.environ["ESCUCHA_PROGRESS"] = "0"  # every bar, including the library's own
    import os
    import signal

    def _term(signum, frame):
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _term)  # a clean stop on SIGTERM too: no partial outputs
    try:
        rc = args.func(args)
    except AudioError as e:
        print(f"escucha: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except EscuchaError as e:
        print(f"escucha: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("escucha: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except MemoryError:
        print("escucha: error: out of memory (try a smaller --batch-size, fewer --jobs, or shorter inputs)",
              file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # a bug: one line, the traceback only on request
        if os.environ.get("ESCUCHA_DEBUG"):
            raise
        if isinstance(e, OSError) and (e.filename is not None or e.errno in _REFUSALS):   # not a bug: the
            where = f"{e.filename}: " if e.filename is not None else ""                  # system refused a file
            print(f"escucha: error: {where}{e.strerror or e}", file=sys.stderr)
            return EXIT_USAGE
        top = (getattr(e, "name", None) or "").split(".")[0] if isinstance(e, ModuleNotFoundError) else ""
        if top in TRAIN_PACKAGES:  # not a bug: a plain install lacks the training packages
            print(f"escucha: error: {args.command} needs {TRAIN_PACKAGES[top]}, which is not installed here: "
                  "pip install 'escucha[train]'", file=sys.stderr)
            return EXIT_USAGE
        where = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        print(f"escucha: internal error ({where}); please report it, ESCUCHA_DEBUG=1 shows the traceback",
              file=sys.stderr)
        return EXIT_INTERNAL
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
