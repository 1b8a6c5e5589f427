"""benchmarks/fusion.py on train_conditions.py's out-of-fold answers: one fold per corpus, the
chosen condition's answers, and the fused probabilities scored, not the inputs'."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _fusion(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "fusion.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def _oof(path, right_in: str, test="cut"):
    """Eight clips of two corpora; the answers to ``test`` clips are right only in corpus ``right_in``
    (the other condition's answers are always wrong)."""
    y = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    corpus = np.array(["a"] * 4 + ["b"] * 4)
    sure = np.eye(2)[y] * 0.9 + 0.05
    wrong = sure[:, ::-1]
    answers = np.where((corpus == right_in)[:, None], sure, wrong)
    np.savez(path, labels=np.array(["neutral", "angry"]), y=y, corpus=corpus, speaker=corpus,
             **{test: answers, "clip": wrong})
    return path


def _uar_rows(out: str) -> list[float]:
    return [float(line.split("|")[3].split("±")[0]) for line in out.splitlines()
            if line.startswith("| ") and "±" in line]


def test_fuses_the_chosen_condition_fold_by_corpus(tmp_path):
    a, b = _oof(tmp_path / "a.npz", "a"), _oof(tmp_path / "b.npz", "b")
    r = _fusion(a, b, "--test", "cut", "--weights", "2", "1")
    assert r.returncode == 0, r.stderr
    # each input is right on one corpus of two (fold UARs 1 and 0 -> 0.5); fused 2:1, a outweighs b
    # everywhere, so the fusion is right on a's corpus only -> 0.5
    assert _uar_rows(r.stdout) == [0.5, 0.5, 0.5]
    r = _fusion(a, b, "--test", "clip")           # the other condition: always wrong
    assert _uar_rows(r.stdout) == [0.0, 0.0, 0.0]


def test_fusion_can_beat_both_inputs(tmp_path):
    a = _oof(tmp_path / "a.npz", "a")
    b = tmp_path / "b.npz"
    d = dict(np.load(a))
    d["cut"] = np.where((d["corpus"] == "b")[:, None], np.eye(2)[d["y"]], 0.5)   # sure on b, undecided on a
    np.savez(b, **d)
    r = _fusion(a, b, "--test", "cut")
    assert r.returncode == 0, r.stderr
    ua, ub, fused = _uar_rows(r.stdout)
    assert ua == 0.5 and fused == 1.0      # b's certainty on its corpus, a's on the other


def test_a_condition_the_answers_lack_is_named(tmp_path):
    a = _oof(tmp_path / "a.npz", "a")
    r = _fusion(a, a, "--test", "telephone-mu")
    assert r.returncode != 0 and str(a) in r.stderr and "telephone-mu" in r.stderr and "Traceback" not in r.stderr
