"""What the caller asks of speaker attribution (:class:`SpeakerOptions`), and enrolment
(:func:`enrol`): the embedding of a known voice, e.g. the agent's."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from ..errors import AudioError, ConfigError
from .cluster import DEFAULT_THRESHOLD

__all__ = ["SpeakerOptions", "speaker_options", "enrol", "SPEAKER_WINDOW"]

#: seconds of speech per embedding (the encoder's 1.6 s partials)
SPEAKER_WINDOW = 1.6


@dataclass(frozen=True)
class SpeakerOptions:
    """Speaker attribution settings.

    Attributes
    ----------
    enabled : bool
        Find who speaks when on a mono channel (default); ``False`` leaves one track ``mono``.
    count : int or None
        The number of speakers if known (``--speakers N``); ``None``: estimated.
    threshold : float
        When estimating the number of speakers: the cosine similarity at or above which the two
        halves of a recording's best split are one voice (:func:`escucha.speakers.cluster.estimate_count`).
    agent : np.ndarray or None, shape ``(256,)``
        The enrolled agent's embedding (:func:`enrol`): the closest speaker is named ``agent``.
    agent_source : str or None
        Where the enrolment came from (file name), for the settings.
    """

    enabled: bool = True
    count: int | None = None
    threshold: float = DEFAULT_THRESHOLD
    agent: np.ndarray | None = None
    agent_source: str | None = None

    def to_dict(self) -> dict:
        d = {"enabled": self.enabled, "count": self.count, "threshold": self.threshold, "encoder": "resemblyzer-0.1.4"}
        if self.agent is not None:
            d["agent_voice"] = {"file": self.agent_source,
                                "embedding_sha1": hashlib.sha1(np.asarray(self.agent, np.float32).tobytes()).hexdigest()[:12]}
        return d


def speaker_options(speakers: "SpeakerOptions | str | int | None" = "auto", *,
                    agent_voice: "str | os.PathLike | np.ndarray | None" = None,
                    agent_source: str | None = None) -> SpeakerOptions:
    """``speakers``: ``"auto"`` (estimate), ``"off"`` / ``0`` / ``None`` (no attribution), or a
    number of speakers; ``agent_voice``: an enrolment clip's path or its embedding (enrolled once
    with :func:`enrol`; ``agent_source`` then names the clip it came from)."""
    if isinstance(speakers, SpeakerOptions):
        opts = speakers
    elif speakers is None or (isinstance(speakers, str) and speakers.strip().lower() in ("off", "none", "0")):
        opts = SpeakerOptions(enabled=False)
    elif isinstance(speakers, str) and speakers.strip().lower() == "auto":
        opts = SpeakerOptions()
    else:
        try:
            n = int(speakers)
        except (TypeError, ValueError):
            n = -1
        if not 0 <= n <= 16:
            raise ConfigError(f"speakers must be 'auto', 'off' (or 0) or a number of speakers (1-16), "
                              f"got {speakers!r}")
        opts = SpeakerOptions(enabled=False) if n == 0 else SpeakerOptions(count=n)
    if agent_voice is not None:
        if isinstance(agent_voice, np.ndarray):
            emb, src = np.asarray(agent_voice, np.float32), agent_source or "embedding"
        else:
            emb, src = enrol(agent_voice), os.path.basename(os.fspath(agent_voice))
        opts = SpeakerOptions(enabled=opts.enabled, count=opts.count, threshold=opts.threshold, agent=emb,
                              agent_source=src)
    return opts


def enrol(path: "str | os.PathLike") -> np.ndarray:
    """The speaker embedding ``(256,)`` of an enrolment clip (its speech, as ``analyze`` cuts it).

    Raises
    ------
    AudioError
        The clip cannot be read, or holds less than half a second of speech.
    """
    from ..audio import load_audio
    from .encoder import load_speaker_encoder

    enc = load_speaker_encoder()
    y, _ = load_audio(path, sample_rate=enc.sample_rate)
    speech = _speech_only(y, enc.sample_rate)
    if len(speech) < enc.sample_rate // 2:
        raise AudioError(f"{os.fspath(path)}: the enrolment clip holds {len(speech) / enc.sample_rate:.1f} s of "
                         "speech; give at least a few seconds of the voice")
    return enc.embed(enc.normalize(speech))


def _speech_only(y: np.ndarray, sr: int) -> np.ndarray:
    """``y``'s speech as ``analyze``'s voice activity detection cuts a call's turns, the regions
    joined; empty when it hears none (a silent or noise-only clip is no voice to enrol)."""
    from ..audio import resample
    from ..inference.gate import speech_regions

    y16 = y if sr == 16000 else resample(y, sr, 16000)
    parts = [y[s * sr // 16000:e * sr // 16000] for s, e in speech_regions(y16)]
    return np.concatenate(parts) if parts else y[:0]
