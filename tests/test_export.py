"""escucha export: every registry model and ensembles as ONNX graphs, run on ONNX Runtime with
the torch model's probabilities (within 1e-4), the export folder checked as untrusted input."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
import torch

from escucha.checkpoint import save_checkpoint
from escucha.errors import ConfigError, ModelError
from escucha.export import export_model
from escucha.export.onnx import PARITY_ATOL, probe_signals
from escucha.features import FeatureConfig
from escucha.inference import load_model
from escucha.models import create_model, list_models, model_spec
from escucha.runtime import load_export, read_export_config

from .conftest import synth_clip

LABELS = ["angry", "calm", "happy", "sad"]


def make_checkpoint(root, name: str, *, seed: int = 0, weight_sets: int = 1, features: dict | None = None,
                    clip_seconds: float | None = 1.0):
    """A randomly initialised registry model saved as a checkpoint (no training)."""
    spec = model_spec(name)
    feats = {**spec.features, **(features or {})}
    fc = FeatureConfig.from_dict(feats)
    torch.manual_seed(seed)
    models = [create_model(name, n_classes=len(LABELS), in_channels=fc.n_channels) for _ in range(weight_sets)]
    for m in models:  # non-trivial batch-norm statistics and standardisation buffers
        for mod in m.modules():
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
        if hasattr(m, "scale"):
            m.scale.uniform_(0.5, 2.0)
    if name in ("egemaps-svm", "whisper-lr"):
        clip_seconds = None
    cfg = {"model": {"name": name, "args": {}, "in_channels": fc.n_channels}, "labels": list(LABELS),
           "features": fc.to_dict(), "preprocess": {"sample_rate": fc.sample_rate, "trim_db": None, "loudness_db": -23.0},
           "clip_seconds": clip_seconds}
    return save_checkpoint(root, models if weight_sets > 1 else models[0], cfg)


def waves(sr: int) -> list[np.ndarray]:
    """Preprocessed inputs of several lengths, one shorter than the 1-s clips of the test models."""
    from escucha.data.waveforms import PreprocessConfig, preprocess

    pre = PreprocessConfig(sample_rate=sr)
    return [preprocess(synth_clip(e, 1, sr=sr, seconds=s), sr, pre) for e, s in ((1, 0.7), (3, 1.6), (6, 2.3))]


def assert_parity(src, out):
    torch_model = load_model(src, runtime="torch")
    onnx_model = load_export(out)
    assert onnx_model.runtime == "onnx" and onnx_model.labels == torch_model.labels
    ys = waves(torch_model.sample_rate)
    a = torch_model.predict_proba_waveforms(ys)
    b = onnx_model.predict_proba_waveforms(ys)
    assert b.shape == (len(ys), len(LABELS))
    np.testing.assert_allclose(b, a, atol=PARITY_ATOL, rtol=0)
    return onnx_model


MODELS = [m for m in ("m5", "cnn", "crnn", "tdnn", "egemaps-svm", "whisper-lr", "encoder-head") if m in list_models()]


@pytest.mark.parametrize("name", MODELS)
def test_every_registry_model_exports_with_parity(name, tmp_path, request):
    features = None
    if name == "encoder-head":
        features = {"encoder_path": str(request.getfixturevalue("tiny_encoder"))}
    if name == "egemaps-svm":
        pytest.importorskip("opensmile")
    src = make_checkpoint(tmp_path / "model", name, features=features, weight_sets=2 if name == "m5" else 1)
    rep = export_model(src, tmp_path / "out")
    assert rep.max_abs_diff <= PARITY_ATOL and rep.labels_agree == 1.0
    d, cfg = read_export_config(tmp_path / "out")
    assert cfg["labels"] == LABELS and cfg["members"][0]["config"]["model"]["name"] == name
    kinds = {"raw": "numpy", "logmel": "numpy", "mfcc": "numpy", "whisper": "onnx", "encoder": "onnx",
             "egemaps": "opensmile"}
    assert cfg["frontends"][0]["computed_by"] == kinds[cfg["frontends"][0]["features"]["kind"]]
    assert all(g["precision"] == "fp32" for g in cfg["graphs"].values())
    assert_parity(src, tmp_path / "out")


def test_logmel_spectrogram_graph_and_mfcc_front_end(tmp_path):
    src = make_checkpoint(tmp_path / "model", "tdnn", features={"kind": "mfcc", "normalize": "utterance"})
    rep = export_model(src, tmp_path / "out")
    assert rep.spectrogram_max_abs_diff is not None and rep.spectrogram_max_abs_diff < 1e-3
    assert_parity(src, tmp_path / "out")


def test_ensemble_of_different_members_with_band_routing(tmp_path):
    """An 8-kHz raw-waveform member (narrow) and a 16-kHz log-mel member (wide), weights 1:3."""
    m0 = make_checkpoint(tmp_path / "m0", "m5")
    m1 = make_checkpoint(tmp_path / "m1", "cnn", seed=1)
    from escucha.inference import make_ensemble

    make_ensemble([m0, m1], tmp_path / "ens", weights=[1.0, 3.0], bands=["narrow", "wide"])
    export_model(tmp_path / "ens", tmp_path / "out")
    d, cfg = read_export_config(tmp_path / "out")
    assert [(m["weight"], m["band"]) for m in cfg["members"]] == [(1.0, "narrow"), (3.0, "wide")]
    assert cfg["sample_rate"] == 16000 and len(cfg["frontends"]) == 2
    onnx_model = assert_parity(tmp_path / "ens", tmp_path / "out")
    torch_model = load_model(tmp_path / "ens", runtime="torch")
    tel = probe_signals(16000)[2]  # band-limited: the narrow member answers
    assert onnx_model.band_of(tel) == torch_model.band_of(tel) == "narrow"
    np.testing.assert_allclose(onnx_model.predict_proba_waveforms([tel]),
                               torch_model.predict_proba_waveforms([tel]), atol=PARITY_ATOL)
    # the whole Predictor interface answers the same: a file through predict and predict_files
    import soundfile as sf

    f = tmp_path / "clip.wav"
    sf.write(f, synth_clip(4, 2, sr=22050, seconds=1.4), 22050)
    a, b = torch_model.predict(f), onnx_model.predict(f)
    assert a.label == b.label and abs(a.duration - b.duration) < 1e-9
    assert onnx_model.predict_files([f])[0][0].label == a.label
    assert onnx_model.trained_speakers == torch_model.trained_speakers and onnx_model.config == torch_model.config


def test_export_inside_the_model_folder_is_used_until_the_weights_change(tmp_path):
    src = make_checkpoint(tmp_path / "model", "m5")
    export_model(src)                                            # default: MODEL/onnx
    assert (src / "onnx" / "config.json").is_file()
    assert load_model(src).runtime == "onnx"
    assert load_model(src, runtime="torch").runtime == "torch"
    with pytest.raises(ConfigError, match="an export is already there"):
        export_model(src)
    export_model(src, force=True)
    # retrained (here: new weights written over the old): the export is stale
    save_checkpoint(src, create_model("m5", n_classes=len(LABELS), in_channels=1),
                    json.loads((src / "config.json").read_text()))
    with pytest.warns(UserWarning, match="exported from other weights.*model.safetensors changed"):
        assert load_model(src).runtime == "torch"
    with pytest.raises(ModelError, match="exported from other weights"):
        load_model(src, runtime="onnx")


def test_onnx_predictor_pickles_for_batch_workers(tmp_path):
    src = make_checkpoint(tmp_path / "model", "cnn")
    export_model(src, tmp_path / "out")
    m = load_export(tmp_path / "out")
    m.set_num_threads(2)
    m2 = pickle.loads(pickle.dumps(m))
    ys = waves(16000)
    np.testing.assert_array_equal(m2.predict_proba_waveforms(ys), m.predict_proba_waveforms(ys))


def test_dynamic_quantisation_keeps_int8_only_where_faster(tmp_path):
    src = make_checkpoint(tmp_path / "model", "tdnn")
    rep = export_model(src, tmp_path / "out", quantize="dynamic", spectrograms=False)
    _, cfg = read_export_config(tmp_path / "out")
    (member,) = [g for g in rep.graphs if g.role == "member"]
    assert member.ms_fp32 is not None and member.ms_int8 is not None
    kept = member.ms_int8 <= 0.9 * member.ms_fp32
    assert cfg["graphs"]["member-0.onnx"]["precision"] == ("int8-dynamic" if kept else "fp32")
    assert not list((tmp_path / "out").glob("*.int8.onnx")) and not list((tmp_path / "out").glob("*.pre.onnx"))
    p = load_export(tmp_path / "out").predict_proba_waveforms(waves(16000))
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("kwargs, out, error, message", [
    ({"quantize": "int4"}, "new", ConfigError, "quantize 'int4' is unknown"),
    ({"quantize": "static"}, "new", ConfigError, "static quantisation needs calibration audio"),
    ({}, "user-folder", ConfigError, "not an escucha ONNX export; refusing to replace it"),
    ({}, "model", ConfigError, "is or holds the model"),
    ({}, "file", ConfigError, "exists and is not a folder"),
])
def test_export_refuses(kwargs, out, error, message, tmp_path):
    src = make_checkpoint(tmp_path / "model", "m5")
    target = {"new": tmp_path / "new", "user-folder": tmp_path / "mine", "model": src, "file": tmp_path / "f"}[out]
    if out == "user-folder":
        target.mkdir()
        (target / "notes.txt").write_text("mine")
    if out == "file":
        target.write_text("x")
    with pytest.raises(error, match=message):
        export_model(src, target, **kwargs)
    if out == "user-folder":
        assert (target / "notes.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing left aside


def test_exporting_an_export_is_refused(tmp_path):
    src = make_checkpoint(tmp_path / "model", "m5")
    export_model(src, tmp_path / "out")
    with pytest.raises(ConfigError, match="already an ONNX export"):
        export_model(tmp_path / "out", tmp_path / "again")
    with pytest.raises(ModelError, match="runs on ONNX Runtime only"):
        load_model(tmp_path / "out", runtime="torch")


def _mutations():
    def setter(path, value):
        def f(cfg):
            node = cfg
            *head, last = path
            for k in head:
                node = node[k]
            node[last] = value
        return f

    return [
        ("format", setter(["format"], "escucha.checkpoint"), "not an escucha ONNX export"),
        ("version", setter(["version"], 99), "newer than this escucha understands"),
        ("graph outside", setter(["members", 0, "graph"], "../member-0.onnx"), "relative path of a .onnx file"),
        ("graph missing", setter(["members", 0, "graph"], "nope.onnx"), "missing from the export folder"),
        ("not a graph", setter(["members", 0, "graph"], "config.json"), "relative path of a .onnx file"),
        ("weight", setter(["members", 0, "weight"], -1.0), "members\\[0\\].weight is -1.0"),
        ("band", setter(["members", 0, "band"], "loud"), "members\\[0\\].band"),
        ("frontend", setter(["members", 0, "frontend"], 3), "members\\[0\\].frontend is 3"),
        ("labels", setter(["labels"], ["a", "b"]), "labels is \\['a', 'b'\\]"),
        ("member config", setter(["members", 0, "config", "features", "sample_rate"], 5), "features.sample_rate"),
        ("precision", setter(["graphs", "member-0.onnx", "precision"], "int3"), "precision is 'int3'"),
        ("computed by", setter(["frontends", 0, "computed_by"], "magic"), "computed_by is 'magic'"),
    ]


@pytest.mark.parametrize("what, mutate, message", _mutations(), ids=[m[0] for m in _mutations()])
def test_export_config_is_checked_as_untrusted_input(what, mutate, message, tmp_path_factory):
    base = tmp_path_factory.getbasetemp() / "export-base"
    if not base.exists():
        export_model(make_checkpoint(tmp_path_factory.mktemp("m") / "model", "m5"), base)
    d = tmp_path_factory.mktemp("bad") / "export"
    shutil.copytree(base, d)
    cfg = json.loads((d / "config.json").read_text())
    mutate(cfg)
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match=message):
        load_export(d)


def test_a_graph_onnxruntime_cannot_read_is_a_model_error(tmp_path):
    export_model(make_checkpoint(tmp_path / "model", "m5"), tmp_path / "out")
    (tmp_path / "out" / "member-0.onnx").write_bytes(b"not a graph")
    with pytest.raises(ModelError, match="member-0.onnx: not an ONNX graph ONNX Runtime can load"):
        load_model(tmp_path / "out")


def test_unknown_runtime_is_a_config_error(monkeypatch):
    monkeypatch.setenv("ESCUCHA_RUNTIME", "tensorflow")
    with pytest.raises(ConfigError, match="runtime 'tensorflow' is unknown; choose one of auto, torch, onnx"):
        load_model()
