"""The built wheel, installed into a fresh virtual environment, predicts with the bundled model
from a folder outside the repository (the editable tree is not on the path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                        str(REPO)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = out.glob("escucha-*.whl")
    return whl


def test_wheel_carries_the_whole_bundled_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    model = REPO / "src" / "escucha" / "assets"
    expected = {str(p.relative_to(REPO / "src")) for p in model.rglob("*") if p.is_file()}
    missing = sorted(e for e in expected if e not in names)
    assert not missing, f"files missing from the wheel: {missing[:5]}"
    assert any(n.endswith("assets/model/member-0/model.safetensors") for n in names)


def test_wheel_carries_the_store_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    versions = REPO / "src" / "escucha" / "store" / "migrations"
    expected = {str(p.relative_to(REPO / "src")) for p in versions.rglob("*") if p.is_file()
                and "__pycache__" not in p.parts}
    assert expected and not sorted(expected - names), sorted(expected - names)[:5]


def test_wheel_is_small_and_needs_torch_only_for_training(wheel):
    # the Whisper base encoder (41 MB in float16, the default model's since part 9) is most of it;
    # PyPI takes files up to 100 MB
    assert wheel.stat().st_size < 85e6, f"{wheel.stat().st_size / 1e6:.1f} MB"
    meta = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA"))
    requires = [line for line in zipfile.ZipFile(wheel).read(meta).decode().splitlines()
                if line.startswith("Requires-Dist:")]
    torch_lines = [line for line in requires if line.split()[1].startswith("torch")]
    assert torch_lines and all('extra == "train"' in line for line in torch_lines), torch_lines
    core = {line.split()[1].split(">")[0].split("=")[0].split(";")[0] for line in requires if "extra ==" not in line}
    # scipy: speakers on one channel (clustering); the transcript's packages only with [asr]
    assert core == {"numpy", "soundfile", "soxr", "onnxruntime", "safetensors", "tqdm", "matplotlib", "scipy"}
    assert all('extra == "asr"' in line for line in requires if "faster-whisper" in line or "vadersentiment" in line)


#: packages of escucha[train] (and silero-vad, which needs torch): the wheel must predict without them
TRAIN_ONLY = ("torch", "sklearn", "opensmile", "librosa", "onnx", "silero_vad")


def test_wheel_in_fresh_venv_predicts_outside_the_repo(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    # dependencies come from this environment's site-packages (a path entry, so its editable
    # escucha finder is not activated); escucha itself only from the wheel; the training
    # packages cannot be imported (as after a plain `pip install escucha`)
    site = Path(sysconfig.get_paths()["purelib"])
    venv_site = next((env_dir / "lib").glob("python3*")) / "site-packages"
    (venv_site / "deps.pth").write_text(str(site) + "\n")
    (venv_site / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in TRAIN_ONLY))
    r = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    sample = REPO / "src" / "escucha" / "assets" / "samples" / "sample.wav"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    r = subprocess.run([str(env_dir / "bin" / "escucha"), "predict", str(sample), "--json"], cwd=work,
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    (pred,) = json.loads(r.stdout)
    assert pred["label"] in {"neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"}
    assert abs(sum(pred["probabilities"].values()) - 1.0) < 1e-3
    from escucha import load_model

    assert pred["label"] == load_model(runtime="torch").predict(sample).label
    # the fast bundled model too, by name
    r = subprocess.run([str(env_dir / "bin" / "escucha"), "predict", str(sample), "--json", "--model", "fast"],
                       cwd=work, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["label"] == load_model("fast", runtime="torch").predict(sample).label
    where = subprocess.run([str(py), "-c", "import escucha; print(escucha.__file__)"], cwd=work,
                           capture_output=True, text=True, env=env).stdout.strip()
    assert str(env_dir) in where and str(REPO) not in where

    # everything that only needs inference runs on the plain wheel: analyze, models, adapt, the recipes
    esc = str(env_dir / "bin" / "escucha")
    r = subprocess.run([esc, "analyze", str(sample), "--json"], cwd=work, capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["segments"] and res["summary"]["dominant"] in res["labels"] and "negative" in res["summary"]
    r = subprocess.run([esc, "models"], cwd=work, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and "whisper-lr-tel" in r.stdout and "escucha[train]" in r.stdout, r.stderr
    savee = REPO.parent / "shared" / "data" / "savee" / "ALL"
    if not savee.is_dir():
        pytest.skip(f"{savee} not found: adapt was not checked")
    clips = work / "my-calls"
    clips.mkdir()
    for f in sorted(savee.glob("*.flac"))[::12][:30]:
        (clips / f.name).symlink_to(f)
    r = subprocess.run([esc, "adapt", str(clips), "-o", "adapted", "--quiet"], cwd=work, capture_output=True,
                       text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    assert "adapted on" in r.stdout and (work / "adapted" / "onnx" / "config.json").is_file()
    r = subprocess.run([esc, "predict", str(sample), "--json", "--model", "adapted"], cwd=work,
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0 and "note" not in r.stderr, r.stderr
    from escucha.inference.adapt import adapt

    # the same adaptation on the development install (torch present) gives the same answer
    adapt(None, clips, tmp_path / "dev-adapted")
    assert json.loads(r.stdout)[0]["label"] == load_model(tmp_path / "dev-adapted").predict(sample).label
