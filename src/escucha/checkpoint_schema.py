"""The schema of a checkpoint's ``config.json``, checked before anything is built or allocated.

A model folder is untrusted input: downloaded, hand-edited, truncated or made to do harm. Every
field that decides what is allocated (sample rate, clip length, model arguments, number of
labels) is checked here against the range escucha serves, and every path the config names must
stay inside the model folder. A failure is a :class:`~escucha.errors.ModelError` whose message
names the config file, the field, the bad value and what would be accepted. No other exception
escapes :func:`validate_config`, whatever JSON value it is given.

Accepted values (single model)
------------------------------
==================  ===========================================================================
format              ``"escucha.checkpoint"``
version             integer from 1 to :data:`VERSION`
labels              2 to 1000 unique, non-empty strings (at most 100 characters each)
clip_seconds        ``null`` (the model takes each input whole) or a number in (0, 60]
model.name          non-empty string (looked up in the model registry when loaded)
model.in_channels   integer from 1 to 4096; must match the features (1 for raw, ``n_mels`` for
                    log-mel, ``n_mfcc`` for MFCC, 88 for eGeMAPS)
model.args          ``{name: value}``; value: ``null``, a boolean, a string (<= 200 characters),
                    an integer from 0 to 4096, a finite number with ``|x| <= 1e4`` (names ending
                    in ``dropout``: 0 <= x < 1), or a list of at most 32 such numbers
features.kind       one of ``raw``, ``logmel``, ``mfcc``, ``egemaps``, ``encoder``, ``whisper``
features.*          sample_rate 4000..96000 Hz, n_fft 16..16384, win_length 1..n_fft,
                    hop_length 1..n_fft, n_mels 1..512 (and <= n_fft/2 + 1 for log-mel / MFCC),
                    n_mfcc 1..n_mels (MFCC), fmin in [0, Nyquist), fmax ``null`` or in
                    (fmin, Nyquist], top_db ``null`` or in (0, 200], normalize one of ``none``,
                    ``utterance``, ``clip``; encoder_path a string (needed for ``encoder``),
                    encoder_layer -1000..1000; max_seconds ``null`` or 0.5..3600 (whisper only);
                    pool_floor_db ``null`` or 1..80 (whisper only); missing fields take
                    :class:`FeatureConfig` defaults;
                    for log-mel / MFCC one clip's STFT is at most 4 000 000 values
preprocess          optional; sample_rate 4000..96000, trim_db ``null`` or in (0, 120],
                    loudness_db ``null`` or in [-100, 0]
weights             optional (default ``["model.safetensors"]``); 1 to 64 distinct relative
                    paths of ``.safetensors`` files inside the folder
==================  ===========================================================================

Accepted values (ensemble)
--------------------------
``ensemble`` is a list of 1 to 64 members ``{"path": "member-0", "weight": 1.0, "band": "any"}``:
``path`` a sub-folder of the ensemble folder, ``weight`` (default 1) a finite number > 0,
``band`` (default ``any``) one of ``any``, ``wide``, ``narrow``. ``labels`` (optional) and
``clip_seconds`` as above.

Other top-level fields (``trained_on``, ``selected``, ``escucha_version``, ...) are kept as they
are; ``trained_on.speakers``, when present, must be a list of strings.
"""

from __future__ import annotations

import math
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from .errors import ModelError

__all__ = ["FORMAT", "VERSION", "validate_config", "validate_model_config", "validate_ensemble_config",
           "check_relative_path", "LIMITS"]

FORMAT = "escucha.checkpoint"
VERSION = 1

#: Ranges of the fields that decide allocations (inclusive unless stated otherwise).
LIMITS = {
    "sample_rate": (4000, 96000),
    "clip_seconds": 60.0,          # (0, 60]
    "labels": (2, 1000),
    "label_chars": 100,
    "in_channels": (1, 4096),
    "arg_int": (0, 4096),
    "arg_float": 1e4,
    "arg_list": 32,
    "arg_str": 200,
    "n_fft": (16, 16384),
    "n_mels": (1, 512),
    "spectrogram": 4_000_000,      # STFT values per clip: (n_fft / 2 + 1) x frames
    "encoder_layer": (-1000, 1000),
    "top_db": 200.0,               # (0, 200]
    "trim_db": 120.0,              # (0, 120]
    "loudness_db": (-100.0, 0.0),
    "weights": 64,
    "members": 64,
}

FEATURE_KINDS = ("raw", "logmel", "mfcc", "egemaps", "encoder", "whisper")
NORMALIZE = ("none", "utterance", "clip")
BANDS = ("any", "wide", "narrow")
EGEMAPS_CHANNELS = 88


def _show(value: Any) -> str:
    """A short ``repr`` of a bad value for a one-line message."""
    try:
        text = repr(value)
    except Exception:  # pragma: no cover - a JSON value always has a repr
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


class _Checker:
    """Type and range checks that raise :class:`ModelError` naming ``source`` and the field."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, field: str, value: Any, expected: str):
        raise ModelError(f"{self.source}: {field} is {_show(value)}; expected {expected}")

    def missing(self, field: str, expected: str):
        raise ModelError(f"{self.source}: missing field {field} ({expected})")

    def dict(self, field: str, value: Any) -> dict:
        if not isinstance(value, dict):
            self.fail(field, value, "an object {...}")
        return value

    def int(self, field: str, value: Any, lo: int, hi: int, unit: str = "") -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.fail(field, value, f"an integer from {lo} to {hi}{unit}")
        return value

    def number(self, field: str, value: Any, lo: float, hi: float, *, lo_open: bool = False,
               hi_open: bool = False, unit: str = "") -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if ok:
            ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
        if not ok:
            left, right = "(" if lo_open else "[", ")" if hi_open else "]"
            self.fail(field, value, f"a number in {left}{lo:g}, {hi:g}{right}{unit}")
        return value

    def optional_number(self, field: str, value: Any, lo: float, hi: float, **kw) -> float | None:
        return None if value is None else self.number(field, value, lo, hi, **kw)

    def choice(self, field: str, value: Any, choices: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in choices:
            self.fail(field, value, "one of " + ", ".join(repr(c) for c in choices))
        return value

    def string(self, field: str, value: Any, *, max_chars: int = 200) -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > max_chars or "\x00" in value:
            self.fail(field, value, f"a non-empty string of at most {max_chars} characters")
        return value


def check_relative_path(value: Any, *, field: str, source: str, suffix: str | None = None) -> str:
    """Check that ``value`` is a relative path that cannot leave its folder by its spelling.

    Absolute paths (POSIX or Windows), ``..`` components, backslashes and NUL bytes are refused.
    Symbolic links are checked where the path is resolved (:func:`escucha.checkpoint.inside`).
    """
    c = _Checker(source)
    expected = "a relative path inside the model folder (no leading '/', no '..')"
    if suffix:
        expected = f"a relative path of a {suffix} file inside the model folder (no leading '/', no '..')"
    if not isinstance(value, str) or not value or "\x00" in value or "\\" in value or len(value) > 255:
        c.fail(field, value, expected)
    if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute() or PureWindowsPath(value).drive:
        c.fail(field, value, expected)
    parts = PurePosixPath(value).parts
    if ".." in parts or not [p for p in parts if p != "."]:
        c.fail(field, value, expected)
    if suffix and not value.endswith(suffix):
        c.fail(field, value, expected)
    return value


def _check_common(cfg: Any, c: _Checker) -> dict:
    if not isinstance(cfg, dict):
        raise ModelError(f"{c.source}: expected a JSON object with the checkpoint fields, "
                         f"found {type(cfg).__name__}")
    if cfg.get("format") != FORMAT:
        raise ModelError(f"{c.source}: not an escucha checkpoint (format is {_show(cfg.get('format'))}; "
                         f"expected {FORMAT!r})")
    version = cfg.get("version", 1)
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise ModelError(f"{c.source}: checkpoint version {version} is newer than this escucha "
                         f"understands ({VERSION}); upgrade escucha")
    c.int("version", version, 1, VERSION)
    if "labels" in cfg or "ensemble" not in cfg:
        _check_labels(cfg.get("labels"), c, present="labels" in cfg)
    if cfg.get("clip_seconds") is not None:
        c.number("clip_seconds", cfg["clip_seconds"], 0.0, LIMITS["clip_seconds"], lo_open=True, unit=" seconds")
    trained = cfg.get("trained_on")
    if trained is not None:
        c.dict("trained_on", trained)
        speakers = trained.get("speakers", [])
        if not isinstance(speakers, list) or not all(isinstance(s, str) for s in speakers):
            c.fail("trained_on.speakers", speakers, "a list of speaker ids (strings)")
    return cfg


def _check_labels(labels: Any, c: _Checker, *, present: bool):
    lo, hi = LIMITS["labels"]
    expected = f"a list of {lo} to {hi} unique, non-empty strings"
    if not present:
        c.missing("labels", expected)
    if not isinstance(labels, list) or not lo <= len(labels) <= hi:
        c.fail("labels", labels, expected)
    for i, lab in enumerate(labels):
        c.string(f"labels[{i}]", lab, max_chars=LIMITS["label_chars"])
    if len(set(labels)) != len(labels):
        dup = sorted({lab for lab in labels if labels.count(lab) > 1})
        c.fail("labels", labels, f"{expected} ({', '.join(map(repr, dup))} repeated)")


def _check_arg(field: str, value: Any, c: _Checker):
    lo, hi = LIMITS["arg_int"]
    big = LIMITS["arg_float"]
    expected = (f"null, a boolean, a short string, an integer from {lo} to {hi}, a finite number with |x| <= {big:g}, "
                f"or a list of at most {LIMITS['arg_list']} such numbers")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if len(value) > LIMITS["arg_str"] or "\x00" in value:
            c.fail(field, value, expected)
        return
    if isinstance(value, list):
        if len(value) > LIMITS["arg_list"]:
            c.fail(field, value, expected)
        for i, v in enumerate(value):
            if isinstance(v, (list, str, dict)) or v is None or isinstance(v, bool):
                c.fail(f"{field}[{i}]", v, "a number")
            _check_arg(f"{field}[{i}]", v, c)
        return
    if field.endswith("dropout"):
        c.number(field, value, 0.0, 1.0, hi_open=True)
    elif isinstance(value, int):
        c.int(field, value, lo, hi)
    elif isinstance(value, float):
        c.number(field, value, -big, big)
    else:
        c.fail(field, value, expected)


def _check_model(model: Any, c: _Checker):
    if model is None:
        c.missing("model", "an object with name, args and in_channels")
    c.dict("model", model)
    if "name" not in model:
        c.missing("model.name", "the registered model name, e.g. 'm5'")
    c.string("model.name", model["name"], max_chars=100)
    if "in_channels" not in model:
        c.missing("model.in_channels", "the number of feature channels the model takes")
    c.int("model.in_channels", model["in_channels"], *LIMITS["in_channels"])
    args = c.dict("model.args", model.get("args", {}))
    for key, value in args.items():
        if not isinstance(key, str) or not key.isidentifier():
            c.fail("model.args", key, "argument names that are Python identifiers")
        if key in ("n_classes", "in_channels"):
            c.fail(f"model.args.{key}", value, f"no {key} in args (it comes from labels / model.in_channels)")
        _check_arg(f"model.args.{key}", value, c)


def _feature_defaults() -> dict:
    import dataclasses

    from .features import FeatureConfig

    return {f.name: f.default for f in dataclasses.fields(FeatureConfig)}


def _check_features(features: Any, c: _Checker) -> dict:
    if features is None:
        c.missing("features", "an object with kind, sample_rate and the front-end settings")
    c.dict("features", features)
    for key in ("kind", "sample_rate"):
        if key not in features:
            c.missing(f"features.{key}", "the front end the model was trained with")
    f = {**_feature_defaults(), **features}
    kind = c.choice("features.kind", f["kind"], FEATURE_KINDS)
    sr = c.int("features.sample_rate", f["sample_rate"], *LIMITS["sample_rate"], unit=" (Hz)")
    n_fft = c.int("features.n_fft", f["n_fft"], *LIMITS["n_fft"])
    c.int("features.win_length", f["win_length"], 1, n_fft, unit=" (n_fft)")
    c.int("features.hop_length", f["hop_length"], 1, n_fft, unit=" (n_fft)")
    lo, hi = LIMITS["n_mels"]
    if kind in ("logmel", "mfcc"):
        hi = min(hi, n_fft // 2 + 1)
    n_mels = c.int("features.n_mels", f["n_mels"], lo, hi)
    c.int("features.n_mfcc", f["n_mfcc"], 1, n_mels if kind == "mfcc" else LIMITS["n_mels"][1],
          unit=" (n_mels)" if kind == "mfcc" else "")
    nyquist = sr / 2
    fmin = c.number("features.fmin", f["fmin"], 0.0, nyquist, hi_open=True, unit=" Hz (below Nyquist)")
    c.optional_number("features.fmax", f["fmax"], fmin, nyquist, lo_open=True, unit=" Hz (above fmin, up to Nyquist)")
    c.optional_number("features.top_db", f["top_db"], 0.0, LIMITS["top_db"], lo_open=True, unit=" dB")
    c.choice("features.normalize", f["normalize"], NORMALIZE)
    if f["encoder_path"] is not None or kind == "encoder":
        c.string("features.encoder_path", f["encoder_path"], max_chars=4096)
    c.int("features.encoder_layer", f["encoder_layer"], *LIMITS["encoder_layer"])
    layers = f.get("whisper_layers")
    if layers is not None:
        if not isinstance(layers, list) or not 1 <= len(layers) <= 64:
            c.fail("features.whisper_layers", layers, "null or a list of 1 to 64 layer indices")
        for i, v in enumerate(layers):
            c.int(f"features.whisper_layers[{i}]", v, 0, 64)
    c.optional_number("features.max_seconds", f.get("max_seconds"), 0.5, 3600.0, unit=" s")
    if f.get("max_seconds") is not None and kind != "whisper":
        c.fail("features.max_seconds", f["max_seconds"], "null except for whisper features")
    c.optional_number("features.pool_floor_db", f.get("pool_floor_db"), 1.0, 80.0, unit=" dB")
    if f.get("pool_floor_db") is not None and kind != "whisper":
        c.fail("features.pool_floor_db", f["pool_floor_db"], "null except for whisper features")
    if kind == "whisper" and sr != 16000:
        c.fail("features.sample_rate", sr, "16000 for whisper features")
    return f


def _check_preprocess(pre: Any, c: _Checker):
    if pre is None:
        return
    c.dict("preprocess", pre)
    if "sample_rate" in pre:
        c.int("preprocess.sample_rate", pre["sample_rate"], *LIMITS["sample_rate"], unit=" (Hz)")
    c.optional_number("preprocess.trim_db", pre.get("trim_db"), 0.0, LIMITS["trim_db"], lo_open=True, unit=" dB")
    lo, hi = LIMITS["loudness_db"]
    c.optional_number("preprocess.loudness_db", pre.get("loudness_db"), lo, hi, unit=" dBFS")


def validate_model_config(cfg: Any, *, source: str = "config.json") -> dict:
    """Check the config of a single-model checkpoint; returns ``cfg`` unchanged.

    Parameters
    ----------
    cfg : object
        The parsed ``config.json`` (any JSON value).
    source : str
        Name of the file, used in messages.

    Raises
    ------
    ModelError
        Naming ``source``, the field, the bad value and the accepted range.
    """
    c = _Checker(str(source))
    _check_common(cfg, c)
    if "ensemble" in cfg:
        raise ModelError(f"{c.source}: is an ensemble, not a single model (nested ensembles are not supported)")
    _check_model(cfg.get("model"), c)
    f = _check_features(cfg.get("features"), c)
    _check_preprocess(cfg.get("preprocess"), c)
    clip = cfg.get("clip_seconds")
    if f["kind"] in ("logmel", "mfcc") and clip is not None:
        # the STFT of one clip, (n_fft / 2 + 1) x frames; inference holds a batch of them
        values = (f["n_fft"] // 2 + 1) * (1 + int(clip * f["sample_rate"]) // f["hop_length"])
        if values > LIMITS["spectrogram"]:
            c.fail("features.hop_length", f["hop_length"],
                   f"a hop giving at most {LIMITS['spectrogram']} spectrogram values per clip "
                   f"(n_fft {f['n_fft']}, {clip:g} s at {f['sample_rate']} Hz give {values})")
    in_ch = cfg["model"]["in_channels"]
    expect = {"raw": 1, "logmel": f["n_mels"], "mfcc": f["n_mfcc"], "egemaps": EGEMAPS_CHANNELS}.get(f["kind"])
    if expect is not None and in_ch != expect:
        c.fail("model.in_channels", in_ch, f"{expect} (what features of kind {f['kind']!r} give)")
    weights = cfg.get("weights", ["model.safetensors"])
    if not isinstance(weights, list) or not 1 <= len(weights) <= LIMITS["weights"]:
        c.fail("weights", weights, f"a list of 1 to {LIMITS['weights']} .safetensors file names")
    for i, w in enumerate(weights):
        check_relative_path(w, field=f"weights[{i}]", source=c.source, suffix=".safetensors")
    if len(set(weights)) != len(weights):
        c.fail("weights", weights, "distinct file names")
    return cfg


def validate_ensemble_config(cfg: Any, *, source: str = "config.json") -> dict:
    """Check the config of an ensemble folder; returns ``cfg`` unchanged.

    Raises
    ------
    ModelError
        An empty member list, a member path outside the folder, a weight that is not a finite
        number > 0, an unknown band, or any of the common fields out of range.
    """
    c = _Checker(str(source))
    _check_common(cfg, c)
    members = cfg.get("ensemble")
    n = LIMITS["members"]
    if not isinstance(members, list) or not 1 <= len(members) <= n:
        c.fail("ensemble", members, f"a list of 1 to {n} members {{path, weight, band}}")
    paths = []
    for i, m in enumerate(members):
        c.dict(f"ensemble[{i}]", m)
        if "path" not in m:
            c.missing(f"ensemble[{i}].path", "the member's sub-folder, e.g. 'member-0'")
        paths.append(check_relative_path(m["path"], field=f"ensemble[{i}].path", source=c.source))
        c.number(f"ensemble[{i}].weight", m.get("weight", 1.0), 0.0, 1e6, lo_open=True,
                 unit=" (a finite weight > 0)")
        c.choice(f"ensemble[{i}].band", m.get("band", "any"), BANDS)
    if len(set(paths)) != len(paths):
        c.fail("ensemble", paths, "distinct member paths")
    return cfg


def validate_config(cfg: Any, *, source: str = "config.json") -> dict:
    """Check a checkpoint config, single model or ensemble (has ``"ensemble"``); returns ``cfg``.

    Nothing but :class:`ModelError` is raised, for any JSON value.
    """
    if isinstance(cfg, dict) and "ensemble" in cfg:
        return validate_ensemble_config(cfg, source=source)
    return validate_model_config(cfg, source=source)
