"""Command line: ``escucha <command> ...``. Thin: parse, call the library, print.

Each command lives in its own module with ``register(subparsers)``; errors from the library
(:class:`escucha.EscuchaError`) are printed as one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from .. import __version__
from ..errors import EscuchaError

#: command modules (escucha.cli.<name>), in the order shown by --help
COMMAND_MODULES = ["data", "train", "evaluate", "predict", "ensemble", "models", "explore", "report", "analyze"]


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
    try:
        rc = args.func(args)
    except EscuchaError as e:
        print(f"escucha: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("escucha: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
