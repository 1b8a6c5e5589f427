"""numba-compiled code (librosa's pYIN) in worker processes, immune to a damaged on-disk cache.

librosa compiles its numba kernels with ``cache=True`` into its own ``__pycache__`` folders.
Several processes compiling at once (two ``escucha explore`` runs, each with a worker pool) can
leave those files in a state that crashes every later process that loads them — a segmentation
fault in a worker, "BrokenProcessPool" in the parent, run after run. escucha therefore:

1. points numba at a cache folder of its own (``$ESCUCHA_CACHE/numba/<versions>``, or the
   user's ``NUMBA_CACHE_DIR``), before librosa is imported, in the parent and so in the workers;
2. warms it under a file lock in a throw-away child process before any worker starts, so that
   workers only read a cache that one process wrote and that has been loaded once without
   crashing; when the child dies, the folder is emptied and warmed again, and if that fails too
   the run compiles into a fresh private folder instead;
3. (:func:`escucha.reports.explore.compute_cues`) treats a worker's death as a recoverable event:
   the cache is cleared and the clips are read in the parent process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Iterator

__all__ = ["use_private_cache", "warm_pitch_cache", "clear_cache", "WARM_PITCH_CODE"]

#: the pYIN call the explore report makes, on one second of a harmonic tone (same dtype, rate,
#: frame and hop as :func:`escucha.reports.explore.clip_cues`, so workers find what they need)
WARM_PITCH_CODE = """
import numpy as np, librosa
from escucha.reports.explore import CUE_SAMPLE_RATE as sr, PITCH_FMIN, PITCH_FMAX, PITCH_FRAME, PITCH_HOP, PITCH_RESOLUTION
t = np.arange(sr) / sr
y = (0.3 * np.sin(2 * np.pi * 150 * t) + 0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
librosa.pyin(y, fmin=PITCH_FMIN, fmax=PITCH_FMAX, sr=sr, frame_length=PITCH_FRAME, hop_length=PITCH_HOP,
             resolution=PITCH_RESOLUTION)
"""


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "none"


def use_private_cache() -> Path:
    """Set ``NUMBA_CACHE_DIR`` (unless the user did) to escucha's own folder and return it.

    Takes effect for numba code defined after this call in this process (librosa not yet
    imported) and in every process started after it (workers inherit the environment)."""
    given = os.environ.get("NUMBA_CACHE_DIR")
    if given:
        return Path(given)
    from ..data.waveforms import default_cache_dir

    tag = f"py{sys.version_info[0]}{sys.version_info[1]}-numba{_version('numba')}-librosa{_version('librosa')}"
    d = default_cache_dir() / "numba" / tag
    d.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(d)
    return d


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    import fcntl

    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def clear_cache(folder: Path) -> None:
    """Remove the compiled files in ``folder`` (the lock file stays)."""
    for p in Path(folder).iterdir():
        if p.name == ".lock":
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def _warm_in_child(folder: Path, timeout: float) -> tuple[bool, str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(folder)}
    try:
        r = subprocess.run([sys.executable, "-c", WARM_PITCH_CODE], env=env, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"no answer in {timeout:g} s"
    if r.returncode == 0:
        return True, ""
    why = f"signal {-r.returncode}" if r.returncode < 0 else f"exit status {r.returncode}"
    last = (r.stderr.strip().splitlines() or [""])[-1][:200]
    return False, f"{why}{': ' + last if last else ''}"


def warm_pitch_cache(*, timeout: float = 300.0) -> Path:
    """Make sure the numba cache holds a working compiled pYIN before workers start; the folder
    in use (it may be a fresh private one when the shared one cannot be repaired).

    Serialised across processes by a lock on the folder, so that two runs never write the same
    files at once."""
    import warnings

    folder = use_private_cache()
    with _locked(folder):
        ok, why = _warm_in_child(folder, timeout)
        if ok:
            return folder
        clear_cache(folder)  # a damaged cache: start it again
        ok, why2 = _warm_in_child(folder, timeout)
        if ok:
            warnings.warn(f"the compiled-code cache {folder} was damaged ({why}); it was cleared and rebuilt")
            return folder
    fresh = Path(tempfile.mkdtemp(prefix="escucha-numba-"))
    os.environ["NUMBA_CACHE_DIR"] = str(fresh)
    warnings.warn(f"the compiled-code cache {folder} cannot be used ({why2}); this run compiles into {fresh}")
    return fresh
