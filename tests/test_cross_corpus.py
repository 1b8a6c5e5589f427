"""benchmarks/cross_corpus.py on two tiny synthetic corpora: RAVDESS layout and a folder per label."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest
import soundfile as sf

from .conftest import REPO, make_fake_ravdess, synth_clip

pytestmark = pytest.mark.slow

# the shipped eGeMAPS + linear SVM recipe: one feature pass and one fit per run
CONFIG = REPO / "configs" / "egemaps-svm.json"

# folder name -> RAVDESS emotion code used to synthesise the clip
MINE = {"neutral": 1, "happy": 3, "Sad": 4, "anger": 5, "fear": 6}


def _load_script():
    spec = importlib.util.spec_from_file_location("cross_corpus", REPO / "benchmarks" / "cross_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_fake_folders(root, *, speakers=("s1", "s2", "s3"), takes=2, sr=16000):
    """SPEAKER/LABEL/take.wav, label folder names as a user would write them."""
    for k, spk in enumerate(speakers):
        for name, code in MINE.items():
            d = root / spk / name
            d.mkdir(parents=True, exist_ok=True)
            for t in range(takes):
                sf.write(d / f"take{t}.wav", synth_clip(code, 30 + k, sr=sr, seed=t), sr)
    return root


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    base = tmp_path_factory.mktemp("xc")
    rav = make_fake_ravdess(base / "ravdess", actors=(1, 2, 3, 4), emotions=(1, 3, 4, 5, 8))
    mine = make_fake_folders(base / "mine")
    out = base / "out"
    xc = _load_script()
    argv = ["--config", str(CONFIG), "--data", str(rav), str(mine), "--out", str(out), "--threads", "1", "--quiet"]
    assert xc.main(argv) == 0
    return xc, argv, out


def test_every_cell_is_filled_with_a_uar_and_its_chance(matrix, capsys):
    _, _, out = matrix
    res = json.loads((out / "cross_corpus.json").read_text())
    assert res["columns"] == ["ravdess", "mine"]
    assert res["rows"] == ["ravdess", "mine", "all others (LOCO)", "bundled model"]
    cells = {(c["trained_on"], c["tested_on"]): c for c in res["cells"]}
    assert set(cells) == {(r, c) for r in res["rows"] for c in res["columns"]}
    # labels per cell: each corpus has 5; they share neutral, happy, sad, angry
    expect = {("ravdess", "ravdess"): 5, ("mine", "mine"): 5, ("ravdess", "mine"): 4, ("mine", "ravdess"): 4,
              ("all others (LOCO)", "ravdess"): 4, ("all others (LOCO)", "mine"): 4,
              ("bundled model", "ravdess"): 5, ("bundled model", "mine"): 5}
    for key, n in expect.items():
        c = cells[key]
        assert c["n_labels"] == n, key
        assert math.isfinite(c["uar"]) and 0.0 <= c["uar"] <= 1.0, key
        assert c["chance"] == pytest.approx(1 / n), key
        assert c["clips"] > 0, key
    assert cells[("ravdess", "mine")]["labels"] == "neutral happy sad angry"
    # the synthetic emotions are tones of distinct pitch: every trained row learns them, across corpora too
    for key in expect:
        if key[0] != "bundled model":
            assert cells[key]["uar"] > 0.6, (key, cells[key]["uar"])
    assert cells[("ravdess", "ravdess")]["folds"] == 4 and cells[("mine", "mine")]["folds"] == 3
    # LOCO cannot score a label no training corpus has: surprised (ravdess) and fearful (mine)
    assert "surprised" not in cells[("all others (LOCO)", "ravdess")]["labels"]
    assert "fearful" not in cells[("all others (LOCO)", "mine")]["labels"]
    # the bundled model heard RAVDESS actors 01-20: those cells are "seen", the user's are not
    assert cells[("bundled model", "ravdess")]["seen"] == "all"
    assert cells[("bundled model", "mine")]["seen"] == ""
    table = (out / "table.md").read_text()
    assert "| all others (LOCO)" in table and "seen: " in table
    assert (out / "cross_corpus.csv").read_text().count("\n") == 1 + len(expect)
    # 3 speakers, 3 folds: no room for the recipe's 2 validation speakers, and the benchmark says so
    assert any(n.startswith("mine: validation speakers 2 -> 0") for n in res["notes"])


def test_rerun_with_the_same_out_reuses_the_runs(matrix):
    xc, argv, out = matrix
    runs = sorted(p.name for p in (out / "runs").iterdir())
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("summary.json")}
    before = json.loads((out / "cross_corpus.json").read_text())
    assert xc.main(argv) == 0
    assert sorted(p.name for p in (out / "runs").iterdir()) == runs
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("summary.json")} == stamps
    after = json.loads((out / "cross_corpus.json").read_text())
    assert [c["uar"] for c in after["cells"]] == [c["uar"] for c in before["cells"]]


def test_an_out_folder_of_other_files_is_refused(tmp_path, capsys):
    (tmp_path / "precious.txt").write_text("keep")
    assert _load_script().main(["--out", str(tmp_path), "--data", str(tmp_path)]) == 2
    assert "not written by this benchmark" in capsys.readouterr().err
    assert (tmp_path / "precious.txt").read_text() == "keep"
