"""The command line as a user runs it: exit codes, one-line errors, JSON shapes."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from escucha.corpora import scan_ravdess
from escucha.inference import bundled_model_dir
from escucha.train import TrainConfig
from escucha.train.loop import fit

from .test_train import SMOKE

ENV = {**os.environ, "ESCUCHA_PROGRESS": "0"}


def escucha(*args, input=None):
    return subprocess.run([sys.executable, "-m", "escucha", *map(str, args)], capture_output=True, text=True,
                          env=ENV, input=input, timeout=300)


@pytest.fixture(scope="module")
def tiny_model(fake_ravdess, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    fit(scan_ravdess(fake_ravdess), TrainConfig(**SMOKE, epochs=20), out, show_progress=False)
    return out


def test_help_lists_commands():
    r = escucha("--help")
    assert r.returncode == 0
    for cmd in ("data", "train", "cv", "evaluate", "predict", "models"):
        assert cmd in r.stdout


def test_data_index_writes_manifest(fake_ravdess, tmp_path):
    r = escucha("data", "index", fake_ravdess, "-o", tmp_path / "m.csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(tmp_path / "m.csv")))
    assert len(rows) == 96 and rows[0]["emotion"] == "neutral" and rows[0]["gender"] == "male"
    assert "96 clips, 6 speakers" in r.stderr


@pytest.mark.parametrize("args, message", [
    (["data", "index", "/no/such/dir", "-o", "x.csv"], "no such file or folder"),
    (["predict", "--model", "/no/such/model", "x.wav"], "model not found"),
    (["train", "--data", "/no/such/dir"], "no such file or folder"),
    (["train", "--data", "{fake}", "--model", "resnet", "--epochs", "1"], "unknown model 'resnet'"),
    (["train", "--data", "{fake}", "--model", "m5", "--features", "mfcc"], "takes raw features"),
    (["predict", "--model", "/no/such/model", "."], "model not found"),
    (["predict", "{empty}"], "no audio files found"),
    (["train", "--data", "{fake}", "--model", "m5", "--folds", "9"], "use --folds 6 or fewer"),
    (["analyze", "{fake}", "-o", "out", "--json"], "--json prints one recording's analysis"),
    (["analyze", "-", "--rate", "16000", "--channels-in", "0"], "--channels-in must be >= 1"),
    (["analyze", "{fake}", "-o", "{fake}"], "is the folder being analysed"),
    (["db", "status", "--db", "sqlite:///nothere.db"], "nothere.db: no such database"),
    (["analyze", "{fake}", "-o", "out", "--smooth", "nan"], "smooth must be a finite number >= 0"),   # once,
    (["analyze", "{fake}", "-o", "out", "--window", "0.01"], "window must be between 0.1 and 60"),   # not per file
    (["analyze", "{fake}", "-o", "out", "--max-segment", "inf"], "max_segment must be between 1 and 3600"),
])
def test_bad_input_is_one_line_not_a_traceback(args, message, fake_ravdess, tmp_path):
    (tmp_path / "empty").mkdir()
    args = [a.replace("{fake}", str(fake_ravdess)).replace("{empty}", str(tmp_path / "empty")) for a in args]
    r = subprocess.run([sys.executable, "-m", "escucha", *args], capture_output=True, text=True, env=ENV,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("escucha: error:")]
    assert len(errors) == 1 and message in errors[0]
    assert not list(tmp_path.glob("runs/*")), "a failed run left a folder behind"
    assert not (tmp_path / "out").exists() and not (tmp_path / "nothere.db").exists(), "nothing is made"


def test_predict_json_and_bad_file_among_good(tiny_model, fake_ravdess, tmp_path):
    good = sorted(Path(fake_ravdess).rglob("*.wav"))[:2]
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    r = escucha("predict", "--model", tiny_model, "--json", good[0], bad, good[1])
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert [o["file"] for o in out] == [str(good[0]), str(bad), str(good[1])]
    failed = out.pop(1)  # the failed file is in the output too, with its one-line reason
    assert failed["label"] is None and failed["outcome"] == "error" and str(bad) in failed["reason"]
    for o in out:
        assert set(o) == {"file", "label", "probabilities", "arousal", "negative", "duration"}
        assert sum(o["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert o["label"] == max(o["probabilities"], key=o["probabilities"].get)
    assert "broken.wav" in r.stderr and "Traceback" not in r.stderr


def test_train_cli_writes_run_folder(fake_ravdess, tmp_path):
    r = escucha("train", "--data", fake_ravdess, "--model", "m5", "--features", "raw", "--epochs", "2",
                "--clip-seconds", "1", "--val-speakers", "1", "--folds", "3", "--out", tmp_path / "run",
                "--no-report", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["test"]["n"] == 32 and (tmp_path / "run" / "checkpoint" / "model.safetensors").is_file()


def test_train_ends_with_lines_a_person_reads_and_cv_takes_json(fake_ravdess, tmp_path):
    """train ended with a JSON dump where cv ends with a table; --json now asks for JSON on both."""
    r = escucha("train", "--data", fake_ravdess, "--config", "whisper-lr", "--folds", "3", "--out", tmp_path / "run",
                "--no-report", "--quiet")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("trained whisper-lr (") and lines[0].endswith(str(tmp_path / "run"))
    assert lines[1] == "  test: 32 clips of speakers it did not train on (--fold 0, 3 folds)"
    t = json.loads((tmp_path / "run" / "summary.json").read_text())["test"]
    assert lines[2] == f"  accuracy {t['accuracy']:.3f}   UAR {t['uar']:.3f}   macro-F1 {t['macro_f1']:.3f}"
    r = escucha("train", "--data", fake_ravdess, "--config", "whisper-lr", "--split", "all", "--out", tmp_path / "all",
                "--no-report", "--quiet")
    assert r.stdout.splitlines()[-1] == "  no test set (--split all: every speaker was trained on)"
    r = escucha("cv", "--data", fake_ravdess, "--config", "whisper-lr", "--folds", "3", "--out", tmp_path / "cv",
                "--no-report", "--quiet", "--json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["mean_std"]["uar"]["folds"]) == 3


def test_evaluate_json(tiny_model, fake_ravdess):
    r = escucha("evaluate", fake_ravdess, "--model", tiny_model, "--json")
    assert r.returncode == 0, r.stderr
    assert "speakers evaluated were in the model's training data" in r.stderr
    rep = json.loads(r.stdout)
    for key in ("n", "accuracy", "uar", "macro_f1", "labels", "confusion", "per_class"):
        assert key in rep
    assert rep["n"] == 96 and len(rep["confusion"]) == 8 and sum(map(sum, rep["confusion"])) == 96
    assert set(rep["per_class"]["angry"]) >= {"precision", "recall", "f1"}
    # the model trained on 4 of these 6 speakers: well above chance on the folder
    assert rep["accuracy"] > 0.5


def test_clips_without_speaker_ids_are_said_to_be_unchecked(tiny_model, fake_ravdess, tmp_path):
    """A label CSV without a speaker column scored the model's own training clips with no word of
    it; data index counted the missing id as one speaker."""
    rows = ["file,label"] + [f"{r.path},{r.emotion}" for r in scan_ravdess(fake_ravdess)[:8]]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    r = escucha("evaluate", tmp_path / "labels.csv", "--model", tiny_model, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "8 of the 8 clips have no speaker id, so escucha cannot tell whether the model heard" in r.stderr
    r = escucha("data", "index", tmp_path / "labels.csv", "-o", tmp_path / "ix.csv")
    assert r.returncode == 0 and "8 clips, 0 speakers (8 clips without a speaker id)" in r.stderr


def test_evaluate_names_the_labels_each_average_is_over():
    """UAR averages the labels in the truth; macro-F1 (as sklearn's) also those only answered. One
    stray answer outside the truth's labels made the two disagree without a word."""
    from sklearn.metrics import f1_score

    from escucha.cli.evaluate import format_report
    from escucha.evaluate.metrics import classification_report

    labels = ["neutral", "happy", "sad", "angry", "fearful"]
    truth = [0] * 5 + [1] * 5 + [2] * 5 + [3] * 5
    answers = [0] * 5 + [1] * 5 + [2] * 5 + [3] * 4 + [4]   # one "fearful" the data do not have
    rep = {**classification_report(truth, answers, labels), "labels_present": labels[:4]}
    first = format_report(rep).splitlines()[0]
    assert "UAR 0.950 (over the 4 labels present)" in first
    assert f"macro-F1 {f1_score(truth, answers, average='macro'):.3f} (over the 5 labels present or answered)" in first


needs_bundle = pytest.mark.skipif(not (bundled_model_dir() / "config.json").is_file(), reason="no bundled model")


@needs_bundle
def test_bundled_model_predicts_sample_clip():
    sample = bundled_model_dir().parent / "samples" / "sample.wav"
    r = escucha("predict", sample, "--json")
    assert r.returncode == 0, r.stderr
    [o] = json.loads(r.stdout)
    assert len(o["probabilities"]) == 8


@needs_bundle
@pytest.mark.integration
def test_bundled_model_on_real_clips(real_ravdess, tmp_path):
    """The bundled model was trained on actors 01-20, so on their clips it must be far above
    chance (1/8); this catches a broken bundle or a broken front end, not generalisation."""
    from escucha.corpora import write_manifest

    recs = [r for r in scan_ravdess(real_ravdess / "Actor_03") + scan_ravdess(real_ravdess / "Actor_16")
            if r.repetition == 1 and r.statement.startswith("Kids")]
    write_manifest(recs, tmp_path / "m.csv")
    r = escucha("evaluate", tmp_path / "m.csv", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["n"] == len(recs) == 30
    assert rep["accuracy"] > 0.5


@pytest.mark.parametrize("command", [["data", "index", "{data}", "-o", "{out}"],
                                     ["evaluate", "{data}", "--predictions", "{out}"]])
def test_an_output_under_a_file_is_refused_before_work_naming_it(command, fake_ravdess, tmp_path):
    """``-o afile/x.csv`` used to end in 'afile: File exists' after the scan (or the evaluation)."""
    (tmp_path / "afile").write_text("not a folder\n")
    out = tmp_path / "afile" / "x.csv"
    r = escucha(*[str(c).format(data=fake_ravdess, out=out) for c in command])
    assert r.returncode == 2
    assert r.stderr.strip() == f"escucha: error: {out}: cannot be written: {tmp_path / 'afile'} is not a folder"


def test_atomic_writes_name_the_file_asked_for_when_its_folder_cannot_be_made(tmp_path):
    from escucha.utils.io import atomic_write_json

    (tmp_path / "afile").write_text("")
    with pytest.raises(OSError) as e:
        atomic_write_json(tmp_path / "afile" / "sub" / "x.json", {})
    assert e.value.filename == str(tmp_path / "afile" / "sub" / "x.json")   # not afile, not a hidden temp
    assert str(e.value.strerror).startswith("cannot be written (")


def test_data_index_names_every_unreadable_file(fake_ravdess, tmp_path):
    """The reader's summary names the first bad file; index now lists each, so all can be fixed."""
    import shutil

    d = tmp_path / "ravdess" / "Actor_01"
    d.mkdir(parents=True)
    for f in sorted(fake_ravdess.glob("Actor_01/*.wav"))[:4]:
        shutil.copy(f, d / f.name)
    (d / "03-01-01-01-02-01-01.wav").write_bytes(b"")
    (d / "03-01-01-01-02-02-01.wav").write_bytes(b"not audio at all\n" * 40)
    r = escucha("data", "index", tmp_path / "ravdess", "-o", tmp_path / "ix.csv")
    assert r.returncode == 0, r.stderr
    skipped = [ln for ln in r.stderr.splitlines() if ln.startswith("escucha: warning: skipped /")]
    assert [ln.split(": ")[2].removeprefix("skipped ") for ln in skipped] == [str(d / "03-01-01-01-02-01-01.wav"),
                                                    str(d / "03-01-01-01-02-02-01.wav")]
    assert "wrote " in r.stderr and "4 clips, 1 speaker, " in r.stderr


@needs_bundle
@pytest.mark.parametrize("command", ["predict", "evaluate", "adapt", "export"])
def test_inference_commands_take_threads(command, fake_ravdess, tmp_path):
    """predict, evaluate, adapt and export had no --threads (only ESCUCHA_THREADS); a bad count is one line."""
    target = {"predict": [str(sorted(fake_ravdess.glob("Actor_01/*.wav"))[0])], "evaluate": [str(fake_ravdess)],
              "adapt": [str(fake_ravdess), "-o", str(tmp_path / "adapted")],
              "export": [str(tmp_path / "no-such-model")]}[command]
    r = escucha(command, *target, "--threads", "0")
    assert r.returncode == 2 and r.stderr.strip() == "escucha: error: threads must be an integer >= 1 (--threads N, or threads= in Python), got 0"
    assert "--threads N" in escucha(command, "--help").stdout
    if command == "predict":
        assert escucha(command, *target, "--threads", "1").returncode == 0
