"""Model folders are untrusted input: config schema, confined paths, weights checked before use."""

import copy
import json
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escucha.checkpoint import load_checkpoint, read_checkpoint_config, save_checkpoint
from escucha.checkpoint_schema import FORMAT, VERSION, validate_config
from escucha.data.waveforms import PreprocessConfig
from escucha.errors import ModelError
from escucha.features import FeatureConfig
from escucha.inference import EnsemblePredictor, Predictor, bundled_model_dir, load_model
from escucha.models import create_model

LABELS = ["angry", "calm", "happy"]


def base_config():
    return {"model": {"name": "m5", "args": {}, "in_channels": 1}, "labels": list(LABELS),
            "features": {"kind": "raw", "sample_rate": 8000},
            "preprocess": {"sample_rate": 8000, "trim_db": None, "loudness_db": -23.0},
            "clip_seconds": 1.0, "trained_on": {"speakers": ["ravdess:01"]}}


def tiny_model(seed=0, **args):
    torch.manual_seed(seed)
    return create_model("m5", n_classes=len(LABELS), in_channels=1, **args)


@pytest.fixture()
def model_dir(tmp_path):
    return save_checkpoint(tmp_path / "model", tiny_model(), base_config())


@pytest.fixture()
def ensemble_dir(tmp_path):
    root = tmp_path / "ens"
    for i in range(2):
        save_checkpoint(root / f"member-{i}", tiny_model(seed=i), base_config())
    cfg = {"format": FORMAT, "version": VERSION, "labels": list(LABELS), "clip_seconds": 1.0,
           "ensemble": [{"path": "member-0", "weight": 1.0, "band": "any"},
                        {"path": "member-1", "weight": 3.0, "band": "any"}]}
    (root / "config.json").write_text(json.dumps(cfg))
    return root


def edit_config(d, mutate):
    p = d / "config.json"
    cfg = json.loads(p.read_text())
    mutate(cfg)
    p.write_text(json.dumps(cfg))
    return p


def setp(path, value):
    """A mutation setting ``cfg[a][b]... = value`` for ``path`` "a.b"."""
    def mutate(cfg):
        *head, last = path.split(".")
        node = cfg
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[int(last) if isinstance(node, list) else last] = value
    return mutate


def delp(path):
    def mutate(cfg):
        *head, last = path.split(".")
        node = cfg
        for k in head:
            node = node[k]
        del node[last]
    return mutate


# -- the good cases ------------------------------------------------------------------------

def test_bundled_model_passes_the_schema_and_loads():
    pred = load_model(calibrate=False)
    members = json.loads((bundled_model_dir() / "config.json").read_text())["ensemble"]
    assert isinstance(pred, EnsemblePredictor) and len(pred.members) == len(members) >= 2
    for m in members:
        member = bundled_model_dir() / m["path"]
        d, cfg = read_checkpoint_config(member)
        assert d == member and cfg["labels"][0] == "neutral" and cfg["model"]["name"] == m["model"]


def test_saved_checkpoint_round_trips(model_dir):
    models, cfg = load_checkpoint(model_dir)
    want = tiny_model().state_dict()
    assert set(models[0].state_dict()) == set(want)
    for k, v in models[0].state_dict().items():
        assert torch.equal(v, want[k]), k
    assert cfg["labels"] == LABELS and cfg["weights"] == ["model.safetensors"] and cfg["format"] == FORMAT


def test_good_ensemble_loads_with_normalised_weights(ensemble_dir):
    ens = load_model(ensemble_dir)
    assert isinstance(ens, EnsemblePredictor)
    assert ens.weights.tolist() == pytest.approx([0.25, 0.75])


# -- one table of bad single-model configs: mutation -> what the message must say ------------

BAD_MODEL_CONFIGS = [
    ("clip-str", setp("clip_seconds", "abc"), "clip_seconds is 'abc'; expected a number in (0, 60] seconds"),
    ("clip-huge", setp("clip_seconds", 1e9), "clip_seconds is 1000000000.0; expected a number in (0, 60]"),
    ("clip-zero", setp("clip_seconds", 0), "clip_seconds is 0"),
    ("clip-nan", setp("clip_seconds", math.nan), "clip_seconds is nan"),
    ("clip-inf", setp("clip_seconds", math.inf), "clip_seconds is inf"),
    ("sr-huge", setp("features.sample_rate", 10 ** 9),
     "features.sample_rate is 1000000000; expected an integer from 4000 to 96000 (Hz)"),
    ("sr-float", setp("features.sample_rate", 8000.5), "features.sample_rate is 8000.5"),
    ("sr-str", setp("features.sample_rate", "8000"), "features.sample_rate is '8000'"),
    ("sr-bool", setp("features.sample_rate", True), "features.sample_rate is True"),
    ("sr-missing", delp("features.sample_rate"), "missing field features.sample_rate"),
    ("labels-int", setp("labels", 5), "labels is 5; expected a list of 2 to 1000 unique, non-empty strings"),
    ("labels-empty", setp("labels", []), "labels is []"),
    ("labels-one", setp("labels", ["angry"]), "labels is ['angry']"),
    ("labels-dup", setp("labels", ["angry", "calm", "angry"]), "'angry' repeated"),
    ("labels-nonstr", setp("labels", ["angry", 3, "x"]), "labels[1] is 3"),
    ("labels-blank", setp("labels", ["angry", " ", "x"]), "labels[1] is ' '"),
    ("labels-missing", delp("labels"), "missing field labels"),
    ("n-channel-huge", setp("model.args", {"n_channel": 10 ** 6}),
     "model.args.n_channel is 1000000; expected an integer from 0 to 4096"),
    ("n-channel-float", setp("model.args", {"n_channel": 1e6}), "model.args.n_channel is 1000000.0"),
    ("n-channel-params", setp("model.args", {"n_channel": 4096}), "parameters; at most 100000000"),
    ("arg-nested", setp("model.args", {"n_channel": {"a": 1}}), "model.args.n_channel is {'a': 1}"),
    ("arg-list-long", setp("model.args", {"channels": list(range(100))}), "model.args.channels is [0, 1"),
    ("arg-n-classes", setp("model.args", {"n_classes": 8}), "no n_classes in args"),
    ("arg-unknown", setp("model.args", {"wings": 2}), "model 'm5': bad arguments {'wings': 2}"),
    ("arg-stride-zero", setp("model.args", {"stride": 0}), "with args {'stride': 0} cannot process 1 s at 8000 Hz"),
    ("arg-dropout", setp("model.args", {"dropout": 1.5}), "model.args.dropout is 1.5; expected a number in [0, 1)"),
    ("arg-dropout-int", setp("model.args", {"head_dropout": 2}), "model.args.head_dropout is 2"),
    ("args-list", setp("model.args", [1, 2]), "model.args is [1, 2]; expected an object"),
    ("model-unknown", setp("model.name", "nope"), "unknown model 'nope'; known models:"),
    ("model-missing", delp("model"), "missing field model"),
    ("model-str", setp("model", "m5"), "model is 'm5'; expected an object"),
    ("in-channels-huge", setp("model.in_channels", 10 ** 6), "model.in_channels is 1000000"),
    ("in-channels-mismatch", setp("model.in_channels", 64), "expected 1 (what features of kind 'raw' give)"),
    ("kind-unknown", setp("features.kind", "mp3"), "features.kind is 'mp3'; expected one of 'raw'"),
    ("kind-list", setp("features.kind", ["raw"]), "features.kind is ['raw']"),
    ("features-missing", delp("features"), "missing field features"),
    ("n-fft-huge", setp("features", {"kind": "logmel", "sample_rate": 16000, "n_fft": 10 ** 7}),
     "features.n_fft is 10000000"),
    ("win-over-nfft", setp("features", {"kind": "raw", "sample_rate": 8000, "n_fft": 256}),
     "features.win_length is 400; expected an integer from 1 to 256 (n_fft)"),
    ("hop-tiny", setp("features", {"kind": "logmel", "sample_rate": 16000, "hop_length": 1}),
     "features.hop_length is 1; expected a hop giving at most 4000000 spectrogram values"),
    ("n-mels-huge", setp("features", {"kind": "logmel", "sample_rate": 16000, "n_mels": 10 ** 5}),
     "features.n_mels is 100000"),
    ("n-mfcc-over-mels", setp("features", {"kind": "mfcc", "sample_rate": 16000, "n_mels": 20, "n_mfcc": 40}),
     "features.n_mfcc is 40; expected an integer from 1 to 20 (n_mels)"),
    ("fmax-over-nyquist", setp("features", {"kind": "logmel", "sample_rate": 8000, "fmax": 6000.0}),
     "features.fmax is 6000.0"),
    ("top-db-negative", setp("features.top_db", -5.0), "features.top_db is -5.0"),
    ("normalize-bad", setp("features.normalize", "max"), "features.normalize is 'max'"),
    ("pool-floor-logmel", setp("features.pool_floor_db", 30.0), "features.pool_floor_db is 30.0"),
    ("pool-floor-huge", setp("features", {"kind": "whisper", "sample_rate": 16000, "pool_floor_db": 500.0}),
     "features.pool_floor_db is 500.0"),
    ("encoder-no-path", setp("features", {"kind": "encoder", "sample_rate": 16000}),
     "features.encoder_path is None"),
    ("loudness-bad", setp("preprocess.loudness_db", 20.0), "preprocess.loudness_db is 20.0"),
    ("trim-bad", setp("preprocess.trim_db", "loud"), "preprocess.trim_db is 'loud'"),
    ("preprocess-sr", setp("preprocess.sample_rate", 10 ** 9), "preprocess.sample_rate is 1000000000"),
    ("format-bad", setp("format", "pickle"), "not an escucha checkpoint (format is 'pickle'"),
    ("version-new", setp("version", 99), "checkpoint version 99 is newer"),
    ("version-str", setp("version", "1"), "version is '1'"),
    ("speakers-bad", setp("trained_on", {"speakers": [1, 2]}), "trained_on.speakers is [1, 2]"),
    ("weights-str", setp("weights", "model.safetensors"), "weights is 'model.safetensors'"),
    ("weights-empty", setp("weights", []), "weights is []"),
    ("weights-absolute", setp("weights", ["/etc/passwd.safetensors"]), "weights[0] is '/etc/passwd.safetensors'"),
    ("weights-dotdot", setp("weights", ["../model.safetensors"]), "weights[0] is '../model.safetensors'"),
    ("weights-backslash", setp("weights", ["..\\model.safetensors"]), "weights[0] is"),
    ("weights-pickle", setp("weights", ["model.pt"]), "relative path of a .safetensors file"),
    ("weights-dup", setp("weights", ["model.safetensors", "model.safetensors"]), "distinct file names"),
    ("weights-missing-file", setp("weights", ["other.safetensors"]), "other.safetensors: weights file missing"),
    ("only-format", lambda cfg: (cfg.clear(), cfg.update({"format": FORMAT})),
     "missing field labels"),
]


@pytest.mark.parametrize("mutate, message", [r[1:] for r in BAD_MODEL_CONFIGS], ids=[r[0] for r in BAD_MODEL_CONFIGS])
def test_bad_model_config_is_a_one_line_model_error(model_dir, mutate, message):
    path = edit_config(model_dir, mutate)
    with pytest.raises(ModelError) as err:
        load_model(model_dir)
    text = str(err.value)
    assert message in text
    assert str(model_dir) in text and "\n" not in text


@pytest.mark.parametrize("content, message", [
    (b"[1, 2, 3]", "expected a JSON object"),
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe garbage", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    (b'{"x": ' + b"9" * 10_000 + b"}", "not valid JSON"),
])
def test_config_that_is_not_a_json_object(model_dir, content, message):
    (model_dir / "config.json").write_bytes(content)
    with pytest.raises(ModelError, match=message):
        load_model(model_dir)


def test_oversized_config_is_refused_unread(model_dir, monkeypatch):
    import escucha.checkpoint as ck

    monkeypatch.setattr(ck, "MAX_CONFIG_BYTES", 100)
    with pytest.raises(ModelError, match="too large for a checkpoint config"):
        load_model(model_dir)


# -- paths confined to the model folder ----------------------------------------------------

def test_weights_symlink_leading_outside_is_refused(model_dir, tmp_path):
    outside = tmp_path / "elsewhere.safetensors"
    (model_dir / "model.safetensors").rename(outside)
    (model_dir / "model.safetensors").symlink_to(outside)
    with pytest.raises(ModelError, match="leads outside the model folder"):
        load_model(model_dir)


def test_symlink_inside_the_folder_is_fine(model_dir):
    (model_dir / "model.safetensors").rename(model_dir / "real.safetensors")
    (model_dir / "model.safetensors").symlink_to("real.safetensors")
    assert load_model(model_dir).labels == LABELS


@pytest.mark.parametrize("mutate, message", [
    (setp("ensemble.0.path", "/etc"), "ensemble[0].path is '/etc'"),
    (setp("ensemble.0.path", "../model"), "ensemble[0].path is '../model'"),
    (setp("ensemble.0.path", "member-0/../../x"), "ensemble[0].path is 'member-0/../../x'"),
    (setp("ensemble.0.path", "."), "ensemble[0].path is '.'"),
    (setp("ensemble.0.path", 3), "ensemble[0].path is 3"),
    (setp("ensemble.0.path", "member-1"), "distinct member paths"),
    (lambda cfg: cfg["ensemble"][0].pop("path"), "missing field ensemble[0].path"),
    (setp("ensemble", []), "ensemble is []; expected a list of 1 to 64 members"),
    (setp("ensemble", {"path": "member-0"}), "ensemble is {'path': 'member-0'}"),
    (setp("ensemble.0.weight", 0), "ensemble[0].weight is 0; expected a number in (0, 1e+06]"),
    (setp("ensemble.0.weight", -1.0), "ensemble[0].weight is -1.0"),
    (setp("ensemble.0.weight", math.nan), "ensemble[0].weight is nan"),
    (setp("ensemble.0.weight", math.inf), "ensemble[0].weight is inf"),
    (setp("ensemble.0.weight", "heavy"), "ensemble[0].weight is 'heavy'"),
    (lambda cfg: [m.update(weight=0.0) for m in cfg["ensemble"]], "ensemble[0].weight is 0.0"),
    (setp("ensemble.1.band", "telephone"), "ensemble[1].band is 'telephone'; expected one of 'any'"),
    (setp("labels", ["a", "b", "c"]), "labels ['a', 'b', 'c'] differ from the members'"),
    (setp("clip_seconds", 1e9), "clip_seconds is 1000000000.0"),
])
def test_bad_ensemble_config_is_refused(ensemble_dir, mutate, message):
    edit_config(ensemble_dir, mutate)
    with pytest.raises(ModelError) as err:
        load_model(ensemble_dir)
    assert message in str(err.value) and str(ensemble_dir) in str(err.value)


def test_member_folder_symlinked_outside_is_refused(ensemble_dir, tmp_path):
    (ensemble_dir / "member-1").rename(tmp_path / "stray")
    (ensemble_dir / "member-1").symlink_to(tmp_path / "stray")
    with pytest.raises(ModelError, match=r"ensemble\[1\].path 'member-1' leads outside the model folder"):
        load_model(ensemble_dir)


def test_nested_ensemble_member_is_refused(ensemble_dir):
    import shutil

    shutil.rmtree(ensemble_dir / "member-1")
    shutil.copytree(ensemble_dir, ensemble_dir.parent / "inner")
    shutil.move(str(ensemble_dir.parent / "inner"), ensemble_dir / "member-1")
    with pytest.raises(ModelError, match="is an ensemble, not a single model"):
        load_model(ensemble_dir)


@pytest.mark.parametrize("weights, message", [
    ([1.0, 0.0], "finite numbers > 0"), ([0.0, 0.0], "finite numbers > 0"), ([1.0, -2.0], "finite numbers > 0"),
    ([1.0, float("nan")], "finite numbers > 0"), ([float("inf"), 1.0], "finite numbers > 0"),
    ([1.0], "2 members but 1 weights"), (["a", 1.0], "must be numbers"),
])
def test_ensemble_predictor_refuses_bad_weights_from_the_api(ensemble_dir, weights, message):
    members = [Predictor.from_checkpoint(ensemble_dir / f"member-{i}") for i in range(2)]
    with pytest.raises(ModelError, match=message):
        EnsemblePredictor(members, weights, {"clip_seconds": 1.0})
    with pytest.raises(ModelError, match="at least one member"):
        EnsemblePredictor([], [], {})


# -- weights files ---------------------------------------------------------------------------

def _rewrite_weights(d, change):
    from safetensors.torch import load_file, save_file

    state = load_file(str(d / "model.safetensors"))
    change(state)
    save_file(state, str(d / "model.safetensors"))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused_naming_file_and_tensor(model_dir, value):
    def poison(state):
        state["features.0.weight"][0, 0, 3] = value

    _rewrite_weights(model_dir, poison)
    with pytest.raises(ModelError, match=r"model.safetensors: tensor 'features.0.weight' has non-finite values"):
        load_model(model_dir)


def test_shape_mismatch_names_tensor_and_both_shapes(model_dir, tmp_path):
    other = save_checkpoint(tmp_path / "wide", tiny_model(n_channel=16), base_config())
    (model_dir / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    with pytest.raises(ModelError) as err:
        load_model(model_dir)
    text = str(err.value)
    assert "weights do not fit model 'm5'" in text
    assert "has shape [16, 1, 80], the model expects [32, 1, 80]" in text
    assert "Error(s) in loading state_dict" not in text


def test_missing_and_unexpected_tensors_are_listed(model_dir):
    def change(state):
        state.pop("features.0.bias")
        state["extra.weight"] = torch.zeros(2)

    _rewrite_weights(model_dir, change)
    with pytest.raises(ModelError, match=r"missing tensors: features.0.bias; unexpected tensors: extra.weight"):
        load_model(model_dir)


@pytest.mark.parametrize("content", [b"", b"\x00" * 7, b"not safetensors at all", b"\xff" * 8 + b"{}"])
def test_weights_that_are_not_safetensors(model_dir, content):
    (model_dir / "model.safetensors").write_bytes(content)
    with pytest.raises(ModelError, match="not a readable safetensors weights file"):
        load_model(model_dir)


def test_zero_temperature_giving_nan_outputs_is_refused(tmp_path):
    torch.manual_seed(0)
    svm = create_model("egemaps-svm", n_classes=len(LABELS), in_channels=88)
    svm.temperature.zero_()
    cfg = {**base_config(), "model": {"name": "egemaps-svm", "args": {}, "in_channels": 88},
           "features": {"kind": "egemaps", "sample_rate": 16000}, "clip_seconds": None}
    svm.scale.zero_()
    d = save_checkpoint(tmp_path / "svm", svm, cfg)
    with pytest.raises(ModelError, match="non-finite outputs"):
        load_model(d)


def test_clip_too_short_for_the_model_is_refused_at_load(model_dir):
    edit_config(model_dir, setp("clip_seconds", 0.005))
    with pytest.raises(ModelError, match=r"cannot process 0.005 s at 8000 Hz"):
        load_model(model_dir)


def test_save_refuses_what_could_not_be_loaded(tmp_path):
    with pytest.raises(ModelError, match="clip_seconds is 1000000000.0"):
        save_checkpoint(tmp_path / "a", tiny_model(), {**base_config(), "clip_seconds": 1e9})
    m = tiny_model()
    with torch.no_grad():
        m.features[0].weight[0, 0, 0] = float("nan")
    with pytest.raises(ModelError, match="non-finite values"):
        save_checkpoint(tmp_path / "b", m, base_config())
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# -- property-based: any JSON value gives a config or a ModelError, never anything else ------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10 ** 20), max_value=10 ** 20)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)

FIELDS = ["format", "version", "labels", "clip_seconds", "model", "model.name", "model.args", "model.in_channels",
          "features", "features.kind", "features.sample_rate", "features.n_fft", "features.hop_length",
          "features.win_length", "features.n_mels", "features.n_mfcc", "features.fmin", "features.fmax",
          "features.top_db", "features.normalize", "features.encoder_path", "features.encoder_layer",
          "features.pool_floor_db",
          "preprocess", "preprocess.trim_db", "preprocess.loudness_db", "weights", "trained_on", "ensemble"]


def _full_config():
    cfg = {"format": FORMAT, "version": VERSION, **base_config(), "weights": ["model.safetensors"]}
    cfg["features"] = FeatureConfig(kind="raw", sample_rate=8000).to_dict()
    return cfg


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=json_values, extra=st.dictionaries(st.text(max_size=6), json_values,
                                                                                   max_size=2))
def test_any_field_value_gives_a_config_or_a_model_error(field, value, extra):
    cfg = _full_config()
    setp(field, value)(cfg)
    cfg["model"] = cfg["model"] if not isinstance(cfg.get("model"), dict) else {**cfg["model"], **extra}
    try:
        validate_config(cfg, source="x/config.json")
    except ModelError as e:
        assert str(e).startswith("x/config.json: ") and "\n" not in str(e)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_any_json_value_as_a_whole_config_or_ensemble_member(value):
    for cfg in (value, {"format": FORMAT, "ensemble": [value]}, {"format": FORMAT, "ensemble": value},
                {**_full_config(), "model": {"name": "m5", "in_channels": 1, "args": {"n_channel": value}}}):
        try:
            validate_config(cfg)
        except ModelError:
            pass


valid_features = st.fixed_dictionaries({
    "kind": st.sampled_from(["raw", "logmel", "mfcc"]),
    "sample_rate": st.integers(4000, 96000),
    "n_fft": st.sampled_from([256, 512, 1024, 2048]),
    "normalize": st.sampled_from(["none", "utterance", "clip"]),
    "top_db": st.none() | st.floats(1.0, 200.0),
    "fmin": st.floats(0.0, 1000.0),
}).flatmap(lambda f: st.fixed_dictionaries({
    **{k: st.just(v) for k, v in f.items()},
    "win_length": st.integers(1, f["n_fft"]),
    "hop_length": st.integers(f["n_fft"] // 4, f["n_fft"]),
    "n_mels": st.integers(1, min(512, f["n_fft"] // 2 + 1)),
}).flatmap(lambda g: st.fixed_dictionaries({**{k: st.just(v) for k, v in g.items()},
                                            "n_mfcc": st.integers(1, g["n_mels"])})))

valid_configs = st.fixed_dictionaries({
    "labels": st.lists(st.text(min_size=1, max_size=10).filter(lambda t: t.strip() and "\x00" not in t), min_size=2, max_size=10, unique=True),
    "features": valid_features,
    "clip_seconds": st.none() | st.floats(0.1, 10.0),
    "preprocess": st.fixed_dictionaries({"trim_db": st.none() | st.floats(1.0, 120.0),
                                         "loudness_db": st.none() | st.floats(-100.0, 0.0)}),
    "args": st.dictionaries(st.sampled_from(["n_channel", "stride", "flag", "channels"]),
                            st.integers(0, 4096) | st.booleans() | st.lists(st.integers(1, 512), max_size=4),
                            max_size=3),
})


@settings(max_examples=150, deadline=None)
@given(v=valid_configs)
def test_valid_configs_pass_and_round_trip(v):
    f = v["features"]
    in_ch = {"raw": 1, "logmel": f["n_mels"], "mfcc": f["n_mfcc"]}[f["kind"]]
    cfg = {"format": FORMAT, "version": VERSION, "model": {"name": "m5", "args": v["args"], "in_channels": in_ch},
           "labels": v["labels"], "features": f, "preprocess": {"sample_rate": f["sample_rate"], **v["preprocess"]},
           "clip_seconds": v["clip_seconds"], "weights": ["model.safetensors"]}
    if f["kind"] != "raw" and v["clip_seconds"] is not None:
        frames = 1 + int(v["clip_seconds"] * f["sample_rate"]) // f["hop_length"]
        if (f["n_fft"] // 2 + 1) * frames > 4_000_000:
            return
    before = copy.deepcopy(cfg)
    assert validate_config(cfg) is cfg and cfg == before  # validation never edits the config
    again = json.loads(json.dumps(cfg))
    assert validate_config(again) == cfg
    # what the schema accepts, the front end and preprocessing accept too
    fc = FeatureConfig.from_dict(again["features"])
    assert fc.sample_rate == f["sample_rate"] and fc.n_channels == in_ch
    PreprocessConfig.from_dict(again["preprocess"])
