"""Is there anything to judge? The checks every input passes before a model labels it.

A model always answers *something*: three seconds of digital silence get a confident label and a
20-ms click gets NaN. escucha answers only when the input can carry an emotion, and otherwise
says why, with one of these outcomes:

``"too short"``
    less than :data:`MIN_SECONDS` of audio.
``"no speech found"``
    the loudest frame is below :data:`SILENCE_DB` dBFS (silence, a muted channel), or the voice
    activity detection of ``escucha analyze`` finds no speech region in it.

One speech gate: a clip is speech exactly when ``escucha analyze`` would find a speech segment in
it — Silero VAD frames at or above the default threshold (0.5) for at least 0.25 s
(:class:`~escucha.longaudio.vad.VADConfig`, :class:`~escucha.longaudio.vad.SpeechSegmenter`), heard
the same way (16-kHz mono, from the start). So ``predict`` and ``analyze`` agree on what is speech:
music, tones, clicks, hum and noise are refused by both (Silero answers music's note onsets with
brief spikes, never 0.25 s of speech). The price, measured by ``benchmarks/gate_check.py``: Silero
hears some screamed speech as too unsure: 13 of the 1,200 shared RAVDESS clips (strong-intensity
angry, fearful and happy clips of actors 06, 18 and 20), none of the 5,715 EmoDB, SAVEE, nEMO and
Korean clips. They already had no segment in ``analyze``; now they are "no speech found" in both
commands rather than labelled in one. The gate costs 1.4-3.9 ms a clip on one core.
"""

from __future__ import annotations

import numpy as np

from ..audio import resample
from ..audio.processing import frame_rms_db

__all__ = ["judge", "speech_found", "speech_regions", "speech_span", "too_short_reason", "no_speech_reason", "silent_reason", "TOO_SHORT", "NO_SPEECH", "OUTCOMES", "MIN_SECONDS",
           "SILENCE_DB"]

TOO_SHORT = "too short"
NO_SPEECH = "no speech found"
OUTCOMES = (TOO_SHORT, NO_SPEECH)

#: shortest input that is labelled (seconds)
MIN_SECONDS = 0.25
#: a clip whose loudest 32-ms frame is quieter than this (dBFS) holds no speech
SILENCE_DB = -60.0
_VAD = None

#: the VAD hears the input in steps of this many samples (0.512 s) and stops as soon as a speech
#: region is certain (speech usually starts within the first second)
_VAD_STEP = 16 * 512


def speech_found(y16: np.ndarray) -> tuple[bool, float]:
    """Would ``escucha analyze`` find a speech segment in 16-kHz mono ``y16``? And the highest
    Silero speech probability heard (up to the moment the answer was certain).

    The same VAD, segmenter and default settings as the call analysis, over the signal from its
    start (the VAD has memory: a look at the loudest moment alone, as the earlier gate took,
    disagreed with the call analysis on 1 of the 6,915 shared clips); it stops at the first
    region that is sure to be reported."""
    global _VAD
    from ..longaudio.vad import SileroVAD, SpeechSegmenter, VADConfig, VADStream

    if _VAD is None:
        _VAD = SileroVAD()
    stream = VADStream(_VAD, sample_rate=16000, channels=1)
    seg = SpeechSegmenter(VADConfig())
    best = 0.0
    for start in range(0, len(y16), _VAD_STEP):
        probs = stream.process(y16[start:start + _VAD_STEP]).reshape(-1)
        best = max(best, float(probs.max()) if probs.size else 0.0)
        if seg.push(probs) or seg.open_region() is not None:
            return True, best
    probs = stream.flush().reshape(-1)
    best = max(best, float(probs.max()) if probs.size else 0.0)
    return bool(seg.push(probs) or seg.finish(len(y16))), best


def speech_regions(y16: np.ndarray, config=None) -> list[tuple[int, int]]:
    """Every speech region ``escucha analyze`` cuts from 16-kHz mono ``y16``: ``(start, end)`` in
    samples, end exclusive, in order (the default :class:`~escucha.longaudio.vad.VADConfig`: 0.1 s
    of padding, pauses under 0.4 s kept inside a region, regions cut at ``max_segment``)."""
    global _VAD
    from ..longaudio.vad import SileroVAD, SpeechSegmenter, VADConfig, VADStream

    if _VAD is None:
        _VAD = SileroVAD()
    y16 = np.clip(np.asarray(y16, dtype=np.float32), -1, 1)
    stream = VADStream(_VAD, sample_rate=16000, channels=1)
    seg = SpeechSegmenter(config or VADConfig())
    regions = list(seg.push(stream.process(y16).reshape(-1)))
    regions += seg.push(stream.flush().reshape(-1))
    regions += seg.finish(len(y16))
    return [(int(s), int(min(e, len(y16)))) for s, e in regions if min(e, len(y16)) > s]


def speech_span(y16: np.ndarray) -> tuple[int, int] | None:
    """From the start of the first speech region to the end of the last (``None``: no speech):
    the part of a clip a model trained on ``analyze``'s segments should hear."""
    regions = speech_regions(y16)
    return (regions[0][0], regions[-1][1]) if regions else None


def too_short_reason(seconds: float) -> str:
    """Why ``seconds`` of audio are too short, for a person (one sample is not "0 ms")."""
    ms = seconds * 1000
    have = f"{ms:.0f} ms" if ms >= 1 or ms == 0 else f"{ms:.2g} ms"
    return f"{have} of audio, need at least {MIN_SECONDS * 1000:.0f} ms"


def silent_reason(peak_db: float) -> str:
    return f"silent: loudest frame {max(peak_db, -100.0):.0f} dBFS"


def no_speech_reason(seconds: float, peak_db: float | None = None) -> str:
    """Why ``seconds`` of analysed audio (a call, a long file) have no speech, in the words
    :func:`judge` uses for a clip: silent, or speech the voice activity detection does not hear."""
    if peak_db is not None and peak_db < SILENCE_DB:
        return silent_reason(peak_db)
    return f"voice activity detection finds no speech in {seconds:.1f} s"


def judge(y: np.ndarray, sample_rate: int, *, vad: bool = True,
          y16: np.ndarray | None = None) -> tuple[str | None, str]:
    """Decide whether mono ``y`` ``(T,)`` at ``sample_rate`` Hz can be labelled.

    ``y16``, when the caller has it, is ``y`` already resampled to 16 kHz (as
    :func:`escucha.audio.resample` gives it): the VAD hears it instead of resampling again.

    Returns
    -------
    outcome : str or None
        ``None`` when the input can be labelled, else one of :data:`OUTCOMES`.
    reason : str
        A short explanation for a person (empty when ``outcome`` is ``None``).
    """
    seconds = y.shape[-1] / float(sample_rate)
    if seconds < MIN_SECONDS:
        return TOO_SHORT, too_short_reason(seconds)
    if vad and y16 is None:
        y16 = resample(np.asarray(y, dtype=np.float32), int(sample_rate), 16000)
    # levels of 32-ms frames (512 samples at 16 kHz; the input's own rate without the VAD)
    levels = frame_rms_db(y if y16 is None else y16, frame_length=512, hop_length=256)
    loudest = int(levels.argmax())
    peak_db = float(levels[loudest])
    if peak_db < SILENCE_DB:
        return NO_SPEECH, silent_reason(peak_db)
    if vad:
        found, prob = speech_found(np.clip(np.asarray(y16, dtype=np.float32), -1, 1))
        if not found:
            return NO_SPEECH, (f"voice activity detection finds no speech (no 0.25 s of it; highest speech "
                               f"probability {prob:.2f})")
    return None, ""
