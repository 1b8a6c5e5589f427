"""Killed runs resume to exactly the uninterrupted result; --force replaces a run as a whole;
unfinished runs say so; bad settings stop before anything is written."""

from __future__ import annotations

import csv
import json
import re
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from escucha.cli import main
from escucha.corpora import scan_ravdess
from escucha.errors import ConfigError
from escucha.train import TrainConfig, run_status, unfinished_note
from escucha.train import loop, state
from escucha.train.cv import cross_validate
from escucha.train.loop import fit

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

#: tiny runs that still use every random-number source: batch order and crops (numpy), waveform
#: augmentation and SpecAugment (the trainer's torch generator), dropout (torch's global RNG),
#: mixup and the class-balanced sampler (numpy)
M5 = dict(model="m5", clip_seconds=1.0, batch_size=8, lr=0.01, weight_decay=1e-4, folds=3, val_speakers=1,
          threads=1, epochs=4, label_smoothing=0.1,
          augment={"gain_db": 6.0, "noise_prob": 0.5, "speed_prob": 0.5, "mixup_alpha": 0.2})
CNN = dict(model="cnn", model_args={"channels": [4, 8]}, features={"sample_rate": 8000, "n_mels": 32},
           clip_seconds=1.0, batch_size=8, lr=0.01, weight_decay=1e-4, folds=3, val_speakers=1, threads=1,
           epochs=4, balance="sampler", select="last",
           augment={"noise_prob": 0.5, "reverb_prob": 0.5, "freq_masks": 1, "time_masks": 1})


@pytest.fixture(scope="module")
def recs(fake_ravdess):
    return scan_ravdess(fake_ravdess)


def _metrics(run: Path) -> list[dict]:
    """metrics.csv without the wall-clock column."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(open(run / "metrics.csv"))]


def assert_same_run(a: Path, b: Path) -> None:
    wa, wb = load_file(str(a / "checkpoint/model.safetensors")), load_file(str(b / "checkpoint/model.safetensors"))
    assert wa.keys() == wb.keys()
    for k in wa:
        assert (wa[k] == wb[k]).all(), k  # bit for bit
    assert _metrics(a) == _metrics(b)
    if (a / "predictions.csv").exists():
        assert (a / "predictions.csv").read_text() == (b / "predictions.csv").read_text()
        ta, tb = json.loads((a / "test_metrics.json").read_text()), json.loads((b / "test_metrics.json").read_text())
        assert ta == tb


class Crash:
    """Raise KeyboardInterrupt inside the training step ``steps_in`` steps after epoch ``after``'s
    state was saved: the run dies mid-epoch, with that epoch's random numbers half drawn."""

    def __init__(self, monkeypatch, *, after: int, steps_in: int = 2):
        self.after, self.steps_in, self.saved, self.calls = after, steps_in, 0, 0
        orig_save, orig_forward = loop.save_state, loop.Trainer.forward

        def save(*a, **kw):
            orig_save(*a, **kw)
            self.saved = kw["epoch"]

        def forward(trainer, *a, **kw):
            if self.saved >= self.after:
                self.calls += 1
                if self.calls > self.steps_in:
                    raise KeyboardInterrupt
            return orig_forward(trainer, *a, **kw)

        monkeypatch.setattr(loop, "save_state", save)
        monkeypatch.setattr(loop.Trainer, "forward", forward)


@pytest.mark.parametrize("settings", [M5, CNN], ids=["m5-mixup", "cnn-dropout-specaugment-sampler"])
def test_run_killed_mid_epoch_resumes_to_the_uninterrupted_result(recs, tmp_path, monkeypatch, settings):
    cfg = TrainConfig(**settings)
    whole = fit(recs, cfg, tmp_path / "whole", show_progress=False)
    with monkeypatch.context() as m:
        Crash(m, after=2)
        with pytest.raises(KeyboardInterrupt):
            fit(recs, cfg, tmp_path / "killed", show_progress=False)
    run = tmp_path / "killed"
    assert run_status(run) == "unfinished" and run_status(run / "checkpoint") in ("unfinished", None)
    assert (run / "UNFINISHED").is_file() and not (run / "summary.json").exists()
    assert json.loads((run / "state/state.json").read_text())["epoch"] == 2
    assert "2 of 4 epochs" in unfinished_note(run) and f"--resume {run}" in unfinished_note(run)
    # predicting with its partial checkpoint works, but says the model is not final
    # (the m5 run has saved a best checkpoint by epoch 2; the cnn run not yet)
    if settings is M5 or (run / "checkpoint" / "config.json").is_file():
        import escucha
        with pytest.warns(UserWarning, match=rf"unfinished training run.*--resume {re.escape(str(run))}"):
            escucha.load_model(run / "checkpoint")
    else:   # no model yet: said so, with the way on (it said its config.json was no checkpoint)
        assert not (run / "checkpoint" / "config.json").is_file()
        import escucha
        from escucha.errors import ModelError

        with pytest.raises(ModelError, match=rf"^{re.escape(str(run))}: unfinished training run without a model yet.*"
                                             rf"--resume {re.escape(str(run))}$"):
            escucha.load_model(run)
    # the state is safetensors + JSON only: nothing is pickled
    assert {p.suffix for p in (run / "state").iterdir()} == {".json", ".safetensors"}

    resumed = fit(recs, cfg, run, show_progress=False, resume=True)
    assert resumed["test"] == whole["test"] and resumed["best_epoch"] == whole["best_epoch"]
    assert_same_run(tmp_path / "whole", run)
    assert run_status(run) == "finished" and unfinished_note(run) is None
    assert not (run / "state").exists() and not (run / "UNFINISHED").exists()


def test_kill_while_saving_the_state_keeps_the_previous_epoch(recs, tmp_path, monkeypatch):
    """Killed between writing epoch 3's tensors and its state.json: epoch 2's state is intact."""
    cfg = TrainConfig(**{**M5, "epochs": 3})
    fit(recs, cfg, tmp_path / "whole", show_progress=False)
    orig = state.atomic_write_json

    def write(path, obj):
        if obj.get("epoch") == 3:
            raise KeyboardInterrupt
        return orig(path, obj)

    with monkeypatch.context() as m:
        m.setattr(state, "atomic_write_json", write)
        with pytest.raises(KeyboardInterrupt):
            fit(recs, cfg, tmp_path / "run", show_progress=False)
    st = json.loads((tmp_path / "run/state/state.json").read_text())
    assert st["epoch"] == 2 and (tmp_path / "run/state" / st["tensors"]).is_file()
    fit(recs, cfg, tmp_path / "run", show_progress=False, resume=True)
    assert_same_run(tmp_path / "whole", tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(
        p.name for p in (tmp_path / "whole").iterdir())


def test_sigkill_of_the_process_then_cli_resume(recs, fake_ravdess, tmp_path):
    """A real SIGKILL (no cleanup code runs) in the middle of epoch 3, then ``train --resume``."""
    args = ["train", "--data", str(fake_ravdess), "--model", "m5", "--epochs", "4", "--batch-size", "8",
            "--clip-seconds", "1", "--lr", "0.01", "--folds", "3", "--val-speakers", "1", "--threads", "1",
            "--no-cache", "--no-report", "--quiet"]
    killer = (
        "import os, signal, sys\n"
        "from escucha.train import loop\n"
        "seen = {'saved': 0, 'calls': 0}\n"
        "orig_save, orig_fwd = loop.save_state, loop.Trainer.forward\n"
        "def save(*a, **k):\n"
        "    orig_save(*a, **k); seen['saved'] = k['epoch']\n"
        "def fwd(self, *a, **k):\n"
        "    if seen['saved'] >= 2:\n"
        "        seen['calls'] += 1\n"
        "        if seen['calls'] > 2: os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return orig_fwd(self, *a, **k)\n"
        "loop.save_state, loop.Trainer.forward = save, fwd\n"
        "from escucha.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    env = {**os.environ, "ESCUCHA_PROGRESS": "0", "PYTHONPATH": str(REPO / "src")}
    r = subprocess.run([sys.executable, "-c", killer, *args, "--out", str(tmp_path / "run")], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert run_status(tmp_path / "run") == "unfinished"
    assert main(["train", "--resume", str(tmp_path / "run"), "--quiet", "--no-report"]) == 0
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    assert_same_run(tmp_path / "whole", tmp_path / "run")


def test_cli_interrupt_says_how_to_resume(recs, fake_ravdess, tmp_path, monkeypatch, capsys):
    args = ["train", "--data", str(fake_ravdess), "--epochs", "3", "--batch-size", "8", "--clip-seconds", "1",
            "--folds", "3", "--val-speakers", "1", "--threads", "1", "--no-cache", "--no-report", "--quiet"]
    with monkeypatch.context() as m:
        Crash(m, after=1, steps_in=0)
        assert main([*args, "--out", str(tmp_path / "run")]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"escucha train --resume {tmp_path / 'run'}" in err[0]
    # --resume takes the run's own settings; a training flag beside it is refused
    assert main(["train", "--resume", str(tmp_path / "run"), "--lr", "0.1"]) == 2
    assert "drop --lr" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "run"), "--quiet", "--no-report"]) == 0
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    assert_same_run(tmp_path / "whole", tmp_path / "run")
    assert main(["train", "--resume", str(tmp_path / "run")]) == 2
    assert "finished; nothing to resume" in capsys.readouterr().err


def test_interrupted_before_any_epoch_leaves_nothing_behind(recs, tmp_path, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(loop.Trainer, "forward", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
        with pytest.raises(KeyboardInterrupt):
            fit(recs, TrainConfig(**M5), tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run").exists()
    fit(recs, TrainConfig(**{**M5, "epochs": 1}), tmp_path / "run", show_progress=False)  # no --force needed
    assert run_status(tmp_path / "run") == "finished"


@pytest.mark.parametrize("case, message", [
    ("finished", "finished; nothing to resume"),
    ("missing", "no such run folder"),
    ("not-a-run", "not a run folder"),
    ("other-settings", "lr 0.01 -> 0.02"),
    ("other-data", "data are not the run's"),
    ("damaged-state", "cannot read the training state"),
])
def test_resume_refuses_what_it_cannot_continue_exactly(recs, tmp_path, monkeypatch, case, message):
    cfg = TrainConfig(**{**M5, "epochs": 2})
    run = tmp_path / "run"
    if case == "finished":
        fit(recs, cfg, run, show_progress=False)
    elif case == "not-a-run":
        run.mkdir()
        (run / "notes.txt").write_text("mine")
    elif case != "missing":
        with monkeypatch.context() as m:
            Crash(m, after=1)
            with pytest.raises(KeyboardInterrupt):
                fit(recs, cfg, run, show_progress=False)
    data = recs
    if case == "other-settings":
        cfg = TrainConfig(**{**M5, "epochs": 2, "lr": 0.02})
    elif case == "other-data":
        data = [r for r in recs if r.speaker != recs[0].speaker]
    elif case == "damaged-state":
        p = run / "state" / json.loads((run / "state/state.json").read_text())["tensors"]
        p.write_bytes(p.read_bytes()[:100])
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ConfigError, match=message):
        fit(data, cfg, run, show_progress=False, resume=True)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_force_replaces_the_run_as_a_whole(recs, tmp_path, monkeypatch):
    run = tmp_path / "run"
    fit(recs, TrainConfig(**{**M5, "epochs": 1}), run, show_progress=False)       # has a test set
    (run / "report.html").write_text("old report")
    assert (run / "predictions.csv").is_file()
    old_summary = (run / "summary.json").read_text()
    new = TrainConfig(**{**M5, "epochs": 2, "split": "all", "val_speakers": None, "select": None})

    # a forced run that is killed leaves the old run exactly as it was
    with monkeypatch.context() as m:
        Crash(m, after=1)
        with pytest.raises(KeyboardInterrupt):
            fit(recs, new, run, show_progress=False, overwrite=True)
    assert (run / "summary.json").read_text() == old_summary and run_status(run) == "finished"
    assert (run / "report.html").read_text() == "old report"
    # ... and --resume finishes the replacement and swaps it in
    s = fit(recs, new, run, show_progress=False, resume=True)
    assert s["run_dir"] == str(run) and "test" not in s
    names = {p.name for p in run.iterdir()}
    assert not names & {"predictions.csv", "test_metrics.json", "report.html", "state", "UNFINISHED"}
    assert json.loads((run / "config.json").read_text())["train"]["split"] == "all"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no .partial / .replaced left

    # an uninterrupted --force gives the same run as training into an empty folder
    fit(recs, TrainConfig(**{**M5, "epochs": 2}), run, show_progress=False, overwrite=True)
    fit(recs, TrainConfig(**{**M5, "epochs": 2}), tmp_path / "fresh", show_progress=False)
    assert_same_run(tmp_path / "fresh", run)
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in (tmp_path / "fresh").iterdir())


def test_force_refuses_to_delete_a_foreign_folder_in_its_way(recs, tmp_path):
    run = tmp_path / "run"
    fit(recs, TrainConfig(**{**M5, "epochs": 1}), run, show_progress=False)
    (tmp_path / ".run.partial").mkdir()
    (tmp_path / ".run.partial" / "thesis.tex").write_text("mine")
    with pytest.raises(ConfigError, match="in the way"):
        fit(recs, TrainConfig(**{**M5, "epochs": 1}), run, show_progress=False, overwrite=True)
    assert (tmp_path / ".run.partial" / "thesis.tex").read_text() == "mine"


def test_cv_resume_keeps_finished_folds_and_matches_the_uninterrupted_cv(recs, tmp_path, monkeypatch):
    cfg = TrainConfig(**{**M5, "epochs": 2})
    whole = cross_validate(recs, cfg, tmp_path / "whole", show_progress=False)
    with monkeypatch.context() as m:
        Crash(m, after=1)           # fold 0 finishes epoch 1, then dies in epoch 2
        with pytest.raises(KeyboardInterrupt):
            cross_validate(recs, cfg, tmp_path / "cv", show_progress=False)
    assert run_status(tmp_path / "cv") == "unfinished" and "cv --resume" in unfinished_note(tmp_path / "cv")
    fit_calls = []
    orig = loop.fit

    def counting_fit(*a, **kw):
        fit_calls.append(kw.get("resume"))
        return orig(*a, **kw)

    monkeypatch.setattr("escucha.train.cv.fit", counting_fit)
    resumed = cross_validate(recs, cfg, tmp_path / "cv", show_progress=False, resume=True)
    assert fit_calls == [True, False, False]
    def strip(folds):
        return [{k: v for k, v in f.items() if k != "train_minutes"} for f in folds]

    assert strip(resumed["per_fold"]) == strip(whole["per_fold"])
    assert resumed["pooled"] == whole["pooled"]
    for f in range(3):
        assert_same_run(tmp_path / "whole" / f"fold-{f}", tmp_path / "cv" / f"fold-{f}")
    assert run_status(tmp_path / "cv") == "finished"
    # resuming again trains nothing
    fit_calls.clear()
    with pytest.raises(ConfigError, match="finished"):
        cross_validate(recs, cfg, tmp_path / "cv", show_progress=False, resume=True)
    assert fit_calls == []


def test_report_of_an_unfinished_run_says_so_first(recs, tmp_path, monkeypatch):
    from escucha.reports import write_run_report

    with monkeypatch.context() as m:
        Crash(m, after=1)
        with pytest.raises(KeyboardInterrupt):
            fit(recs, TrainConfig(**{**M5, "epochs": 3}), tmp_path / "run", show_progress=False)
    html = write_run_report(tmp_path / "run").read_text()
    sections = [s.split('"')[0] for s in html.split('<section id="')[1:]]
    assert sections[0] == "unfinished"
    assert "not finished" in html and "1 of 3 epochs" in html and "train --resume" in html


def test_finished_runs_and_other_folders_have_the_right_status(recs, tmp_path):
    fit(recs, TrainConfig(**{**M5, "epochs": 1}), tmp_path / "run", show_progress=False)
    assert run_status(tmp_path / "run") == "finished"
    assert run_status(tmp_path / "run" / "checkpoint") == "finished"
    assert run_status(tmp_path / "run" / "checkpoint" / "config.json") == "finished"
    assert run_status(REPO / "src/escucha/assets/model") is None      # a bundle, not a run
    assert run_status(tmp_path / "nowhere") is None


def test_cv_by_corpus_resumes_as_leave_one_corpus_out(recs, tmp_path, monkeypatch):
    """A killed leave-one-corpus-out CV continues as one, without --by; another --by is refused."""
    import dataclasses

    two = [dataclasses.replace(r, corpus="even" if int(r.speaker) % 2 == 0 else "odd") for r in recs]
    cfg = TrainConfig(**{**M5, "epochs": 2})
    whole = cross_validate(two, cfg, tmp_path / "whole", show_progress=False, by="corpus")
    with monkeypatch.context() as m:
        Crash(m, after=1)
        with pytest.raises(KeyboardInterrupt):
            cross_validate(two, cfg, tmp_path / "cv", show_progress=False, by="corpus")
    with pytest.raises(ConfigError, match="is a cross-validation by corpus; cannot resume it by speaker"):
        cross_validate(two, cfg, tmp_path / "cv", show_progress=False, resume=True, by="speaker")
    resumed = cross_validate(two, cfg, tmp_path / "cv", show_progress=False, resume=True)
    assert resumed["by"] == whole["by"] == "corpus" and resumed["pooled"] == whole["pooled"]
    assert [f.get("corpus") for f in resumed["per_fold"]] == [f.get("corpus") for f in whole["per_fold"]]
