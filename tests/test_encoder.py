"""Bring-your-own encoder: a tiny randomly initialised wav2vec2 saved locally (no download)."""

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")

from escucha.corpora import scan_ravdess  # noqa: E402
from escucha.errors import ConfigError  # noqa: E402
from escucha.features import FeatureConfig, FeatureExtractor  # noqa: E402
from escucha.inference import load_model  # noqa: E402
from escucha.train import TrainConfig  # noqa: E402
from escucha.train.loop import fit  # noqa: E402


def test_encoder_features_shape(tiny_encoder):
    fc = FeatureConfig(kind="encoder", encoder_path=str(tiny_encoder), encoder_layer=1)
    assert fc.n_channels == 32
    x = FeatureExtractor(fc)(torch.randn(2, 16000))
    assert x.shape[:2] == (2, 32) and 700 < x.shape[2] < 820


def test_encoder_head_trains_and_reloads(tiny_encoder, fake_ravdess, tmp_path):
    recs = scan_ravdess(fake_ravdess)
    cfg = TrainConfig(model="encoder-head", features={"encoder_path": str(tiny_encoder)}, clip_seconds=1.0,
                      epochs=2, batch_size=8, folds=3, val_speakers=1, threads=1)
    s = fit(recs, cfg, tmp_path / "run", show_progress=False)
    assert s["test"]["n"] == 32
    ck = json.loads((tmp_path / "run" / "checkpoint" / "config.json").read_text())
    assert ck["features"]["encoder_path"] == str(tiny_encoder) and ck["features"]["kind"] == "encoder"
    row = (tmp_path / "run" / "predictions.csv").read_text().splitlines()[1].split(",")
    p = load_model(tmp_path / "run").predict(row[0])
    assert p.label == row[3]


@pytest.mark.parametrize("kw, message", [
    ({"kind": "encoder"}, "need encoder_path"),
    # the missing folder said so; it printed transformers' hub advice ("Repo id must be in the form ...")
    ({"kind": "encoder", "encoder_path": "/no/such/encoder"}, r"^/no/such/encoder: no such folder \(encoder_path "
                                                              r"names a local folder"),
    ({"kind": "encoder", "encoder_path": "/tmp"}, r"^/tmp: not a pretrained encoder folder \(no config.json in it\)$"),
])
def test_bad_encoder_config(kw, message):
    with pytest.raises(ConfigError, match=message):
        FeatureConfig(**kw).n_channels


def test_convert_whisper_names_what_it_converted_in_the_licence(tmp_path):
    """scripts/convert_whisper.py writes a LICENSE that says which model and source it converted:
    an unknown file is refused, and one accepted by --sha256 needs --model and --source."""
    import hashlib
    import subprocess
    import sys

    from .conftest import REPO

    junk = tmp_path / "model.bin"
    junk.write_bytes(b"not a ctranslate2 model")
    digest = hashlib.sha256(junk.read_bytes()).hexdigest()
    script = str(REPO / "scripts" / "convert_whisper.py")
    r = subprocess.run([sys.executable, script, str(junk), "-o", str(tmp_path / "out")], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode != 0 and "is not a known Whisper conversion" in r.stderr
    r = subprocess.run([sys.executable, script, str(junk), "-o", str(tmp_path / "out"), "--sha256", digest],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "needs --model and --source" in r.stderr
    assert not (tmp_path / "out").exists()

