"""Is there anything to judge? The checks every input passes before a model labels it.

A model always answers *something*: three seconds of digital silence get a confident label and a
20-ms click gets NaN. escucha answers only when the input can carry an emotion, and otherwise
says why, with one of these outcomes:

``"too short"``
    less than :data:`MIN_SECONDS` of audio.
``"no speech found"``
    the loudest frame is below :data:`SILENCE_DB` dBFS (silence, a muted channel), or Silero
    VAD gives no frame of it a speech probability of :data:`MAX_VAD_PROB` or more (tones, clicks,
    hum, white noise).

The checks are deliberately lenient: they must never drop real speech. Silero VAD is unsure of
shouted and screamed speech (the lowest clip-wise maximum over the 2,134 RAVDESS, EmoDB and
SAVEE clips is 0.10, and a "0.1 s above 0.3" rule would drop 9 strong-intensity RAVDESS clips),
while tones, clicks and white noise stay below 0.05; so only inputs that are clearly not speech
are refused. Coloured noise can still pass. They are not a quality score.
"""

from __future__ import annotations

import numpy as np

from ..audio import resample
from ..audio.processing import frame_rms_db

__all__ = ["judge", "too_short_reason", "TOO_SHORT", "NO_SPEECH", "OUTCOMES", "MIN_SECONDS", "SILENCE_DB", "MAX_VAD_PROB"]

TOO_SHORT = "too short"
NO_SPEECH = "no speech found"
OUTCOMES = (TOO_SHORT, NO_SPEECH)

#: shortest input that is labelled (seconds)
MIN_SECONDS = 0.25
#: a clip whose loudest 32-ms frame is quieter than this (dBFS) holds no speech
SILENCE_DB = -60.0
#: at least one 32-ms frame must reach this Silero VAD speech probability
MAX_VAD_PROB = 0.05

_VAD = None


#: the VAD hears the input in steps of this many samples (0.512 s) and stops at the first frame
#: that reaches :data:`MAX_VAD_PROB`: speech usually starts within the first second
_VAD_STEP = 16 * 512
#: the first look, around the loudest frame, is shorter (0.128 s): loud speech is recognised at once
_FIRST_STEP = 4 * 512


def _max_speech_prob(y16: np.ndarray, *, stop_at: float | None = None, first: int | None = None) -> float:
    """Highest Silero VAD speech probability over the frames of 16-kHz mono ``y16``; with
    ``stop_at``, the first step's maximum that reaches it (the VAD is causal: the frames heard
    so far have the probabilities they get when the whole input is heard).

    ``first`` (a sample index, with ``stop_at``): hear 0.128 s around it first, on its own, and
    stop there if it reaches ``stop_at``; else hear the whole input from the start as usual. The
    loudest moment is where speech is, so most clips are decided by four VAD frames."""
    global _VAD
    from ..longaudio.vad import SileroVAD, VADStream

    if _VAD is None:
        _VAD = SileroVAD()
    if stop_at is not None and first is not None and len(y16) > _FIRST_STEP:
        start = min(max(0, first - _FIRST_STEP // 2), len(y16) - _FIRST_STEP) // 512 * 512
        probs = VADStream(_VAD, sample_rate=16000, channels=1).process(y16[start:start + _FIRST_STEP])
        if probs.size and float(probs.max()) >= stop_at:
            return float(probs.max())
    stream = VADStream(_VAD, sample_rate=16000, channels=1)
    best = 0.0
    for start in range(0, len(y16), _VAD_STEP):
        probs = stream.process(y16[start:start + _VAD_STEP])
        best = max(best, float(probs.max()) if probs.size else 0.0)
        if stop_at is not None and best >= stop_at:
            return best
    probs = stream.flush()
    return max(best, float(probs.max()) if probs.size else 0.0)


def too_short_reason(seconds: float) -> str:
    """Why ``seconds`` of audio are too short, for a person (one sample is not "0 ms")."""
    ms = seconds * 1000
    have = f"{ms:.0f} ms" if ms >= 1 or ms == 0 else f"{ms:.2g} ms"
    return f"{have} of audio, need at least {MIN_SECONDS * 1000:.0f} ms"


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
        return NO_SPEECH, f"silent: loudest frame {max(peak_db, -100.0):.0f} dBFS"
    if vad:
        # the VAD needs a normal level: bring the loudest frame to -20 dBFS (quiet speech is speech)
        y16 = y16 * np.float32(10 ** ((-20.0 - peak_db) / 20))
        prob = _max_speech_prob(np.clip(y16, -1, 1), stop_at=MAX_VAD_PROB, first=loudest * 256 + 256)
        if prob < MAX_VAD_PROB:
            return NO_SPEECH, f"voice activity detection finds no speech (highest speech probability {prob:.2f})"
    return None, ""
