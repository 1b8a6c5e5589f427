"""benchmarks/calls.py refuses, before it trains anything, a --calibration file it cannot use."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _calls(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "calls.py"), "--recipe", "bundled", *args],
                          capture_output=True, text=True, timeout=120)


def test_calibration_without_cut_or_telephone_answers_stops_at_once(tmp_path):
    oof = tmp_path / "oof.npz"
    np.savez(oof, labels=np.array(["neutral", "angry"]), y=np.zeros(4, int), corpus=np.array(["a"] * 4),
             speaker=np.array(["s"] * 4), clip=np.zeros((4, 2)), **{"room-mild-telephone-mu": np.zeros((4, 2))})
    r = _calls("--calibration", str(oof), "--out", str(tmp_path / "out"))
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert str(oof) in last and "cut, telephone-mu" in last and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()      # nothing was trained or written


def test_unreadable_calibration_file_is_named(tmp_path):
    bad = tmp_path / "not-answers.npz"
    bad.write_text("hello")
    r = _calls("--calibration", str(bad))
    assert r.returncode == 2 and str(bad) in r.stderr.strip().splitlines()[-1] and "Traceback" not in r.stderr
