"""Worker processes running numba code (librosa's pYIN in ``escucha explore``) cannot be
poisoned by a damaged or concurrently written on-disk cache: escucha keeps its own cache, warms
it under a lock before workers start, and rebuilds it when it is damaged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("librosa")

from .conftest import make_fake_ravdess  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_fake_ravdess(tmp_path_factory.mktemp("numba") / "c", actors=(1, 2), emotions=(1, 3, 4, 5))


def _explore(corpus, out, cache, **popen):
    env = {**os.environ, "ESCUCHA_PROGRESS": "0", "ESCUCHA_CACHE": str(cache)}
    env.pop("NUMBA_CACHE_DIR", None)
    return subprocess.Popen([sys.executable, "-m", "escucha", "explore", str(corpus), "-o", str(out), "--jobs", "2",
                             "--quiet"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _done(proc):
    out, err = proc.communicate(timeout=600)
    return proc.returncode, err


def test_two_runs_at_once_then_a_third_then_a_damaged_cache(corpus, tmp_path):
    cache = tmp_path / "cache"
    a, b = _explore(corpus, tmp_path / "a", cache), _explore(corpus, tmp_path / "b", cache)
    for rc, err in (_done(a), _done(b)):
        assert rc == 0, err
    rc, err = _done(_explore(corpus, tmp_path / "c", cache))
    assert rc == 0, err
    compiled = [p for p in (cache / "numba").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert compiled, "pYIN's compiled code is in escucha's own cache"
    assert all((tmp_path / d / "explore.html").is_file() for d in "abc")

    # then the cache is damaged (torn writes): the next run rebuilds it and succeeds
    damaged = [p for p in (cache / "numba").rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert damaged
    for p in damaged:  # torn writes: half of each file, then garbage
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2] + b"\x00garbage" * 8)
    rc, err = _done(_explore(corpus, tmp_path / "second", cache))
    assert rc == 0, err
    assert "internal error" not in err and (tmp_path / "second" / "explore.html").is_file()
