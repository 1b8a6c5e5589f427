"""The settings that determine a call's result: channel mode and names, window and hop defaults
from the model, and the model's identity (stored in every result JSON and compared when a batch
resumes)."""

from __future__ import annotations

import hashlib
import json
from typing import Sequence

from .. import __version__
from ..errors import ConfigError
from .vad import VADConfig

__all__ = ["channel_names_for", "analysis_settings", "batch_settings", "default_window", "CHANNEL_MODES",
           "DEFAULT_WHOLE_INPUT_WINDOW"]

CHANNEL_MODES = ("auto", "mono", "split")


def channel_names_for(n_in: int, mode: str, names: Sequence[str] | str | None) -> list[str]:
    """Names of the analysed channels: ``["mono"]`` in mono mode, ``["left", "right"]`` for a
    split stereo call, ``["ch1", ...]`` otherwise, unless ``names`` are given (one per channel;
    a comma-separated string is accepted). Names for several channels do not apply to a
    one-channel file (its speakers are found and named instead): a folder of stereo and mono
    calls takes ``agent,customer`` for the stereo ones."""
    if mode not in CHANNEL_MODES:
        raise ConfigError(f"channels mode {mode!r} is unknown; choose one of {', '.join(CHANNEL_MODES)}")
    n = 1 if mode == "mono" else n_in   # "auto": named as if split (a mono decision names one "mono")
    if names is not None:
        if isinstance(names, str):
            names = [s.strip() for s in names.split(",")]
        names = list(names)
        if n_in == 1 and len(names) > 1:
            import warnings

            warnings.warn(f"channel names {','.join(names)!r} do not apply to a one-channel recording: its "
                          "speakers are found and named instead (--agent-voice names the agent)")
            return ["mono"]
        if len(names) != n or any(not s for s in names) or len(set(names)) != len(names):
            raise ConfigError(f"channel names {','.join(names)!r}: need {n} distinct non-empty name(s) for "
                              f"{n} analysed channel(s) ({mode} mode, {n_in} input channel(s))")
        return names
    if n == 1:
        return ["mono"]
    if n == 2:
        return ["left", "right"]
    return [f"ch{i + 1}" for i in range(n)]


def model_id(predictor, *, ignore: tuple[str, ...] = ()) -> str:
    """A short hash of the model's config (what it is and how it answers), less the ``ignore`` keys."""
    cfg = {k: v for k, v in predictor.config.items() if k not in ignore}
    blob = json.dumps(cfg, sort_keys=True, default=str).encode()
    return hashlib.blake2b(blob, digest_size=6).hexdigest()


DEFAULT_WHOLE_INPUT_WINDOW = 3.0


def default_window(predictor) -> float:
    """Default analysis window in seconds: the model's clip, or 3 s for whole-input models."""
    if predictor.clip_samples is None:
        return DEFAULT_WHOLE_INPUT_WINDOW
    return predictor.clip_samples / predictor.sample_rate


#: hear each speaker against their own neutral voice only when asked: on calls of corpora the
#: model never heard it halves the neutral agent's false alarms, but a customer angry throughout
#: is heard as angry far less often (docs/calls.md, "Each speaker against their own neutral voice")
BASELINE_DEFAULT = False


def has_baseline(predictor) -> bool:
    """Whether ``predictor`` can hear each speaker against their own neutral voice (its
    calibration has a ``"baseline"`` reference: :mod:`escucha.inference.baseline`)."""
    return bool(getattr(getattr(predictor, "calibration", None), "baseline", None)) and "neutral" in predictor.labels


def check_timing(window: float, hop: float, smooth: float) -> None:
    """Raise :class:`ConfigError` (one line) for an analysis window, hop or smoothing span out of
    range (NaN and infinity included: no NaN reaches a result's settings)."""
    if not 0.1 <= window <= 60:
        raise ConfigError(f"window must be between 0.1 and 60 seconds, got {window}")
    if not 0 < hop <= window:
        raise ConfigError(f"hop must be > 0 and <= window ({window} s), got {hop}")
    if not 0 <= smooth < float("inf"):
        raise ConfigError(f"smooth must be a finite number >= 0 seconds, got {smooth}")


def analysis_settings(predictor, *, window: float | None = None, hop: float | None = None, smooth: float = 3.0,
                      channels: str = "auto", vad: VADConfig | None = None, speakers="auto",
                      transcribe=None, baseline: bool = False) -> dict:
    """The settings that determine a result, as stored in its JSON (without channel names):
    window/hop/smooth in seconds after defaults, channel mode, VAD settings, model identity,
    speaker attribution (:class:`~escucha.speakers.SpeakerOptions`), when words are asked
    for, the transcriber's settings, and ``baseline`` when each speaker is heard against their own
    neutral voice (asked for, and the model has a reference)."""
    from ..speakers.options import speaker_options

    clip = default_window(predictor)
    window = float(window) if window is not None else clip
    hop = float(hop) if hop is not None else window / 2
    check_timing(window, hop, float(smooth))   # a batch refuses bad options once, before any file
    extra = {"speakers": speaker_options(speakers).to_dict()}
    if transcribe:
        extra["transcript"] = transcribe.settings if hasattr(transcribe, "settings") else {"model": str(transcribe)}
    if baseline and has_baseline(predictor):   # written only where it changes the answers
        extra["baseline"] = True
    return {**extra, "window": window, "hop": hop, "smooth": float(smooth),
            "channels": channels, "vad": (vad or VADConfig()).to_dict(),
            "model": {"id": model_id(predictor), "name": predictor.config.get("model", {}).get("name"),
                      "sample_rate": int(predictor.sample_rate), "clip_seconds": clip},
            "escucha_version": __version__}


def batch_settings(predictor, options: dict) -> dict:
    """:func:`analysis_settings` of a batch's keyword ``options`` (those of
    :func:`escucha.longaudio.analyze_folder`, the analyzer's defaults where one is not given): the
    settings its results are stored under, so that a rerun knows what it already did (an ``-o``
    folder's marker, the store's lookup)."""
    return analysis_settings(predictor, window=options.get("window"), hop=options.get("hop"),
                             smooth=options.get("smooth", 3.0), channels=options.get("channels", "auto"),
                             vad=options.get("vad"), speakers=options.get("speakers", "auto"),
                             transcribe=options.get("transcribe"), baseline=options.get("baseline", BASELINE_DEFAULT))
