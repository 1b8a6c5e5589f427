"""Progress bars that show rate and ETA on a terminal and stay quiet in logs."""

from __future__ import annotations

import os
import sys
from typing import Iterable, TypeVar

T = TypeVar("T")


def progress(iterable: Iterable[T] | None = None, *, desc: str = "", total: int | None = None,
             unit: str = "it", leave: bool = True, disable: bool | None = None, **kw):
    """Wrap ``iterable`` in a tqdm bar (rate, ETA) written to stderr.

    Disabled when ``ESCUCHA_PROGRESS=0`` is set; otherwise shown even when stderr is not a
    terminal, at a low refresh rate, so that batch logs still show how far a job got.
    """
    from tqdm.auto import tqdm

    if disable is None:
        disable = os.environ.get("ESCUCHA_PROGRESS", "1") == "0"
    mininterval = 0.2 if sys.stderr.isatty() else 5.0
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, disable=disable,
                mininterval=mininterval, dynamic_ncols=True, file=sys.stderr, **kw)
