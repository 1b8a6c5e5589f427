"""What ``analyze`` hears, simulated on a training clip: lines, codecs, rooms and VAD cuts.

A model learns from corpus clips: studio recordings with silence around them. ``escucha
analyze`` hands it something else: voice-activity segments with no silence margin, often through
a telephone line (8 kHz, 300-3400 Hz, G.711), a lossy codec or a room. Each function here turns a
clean 16-kHz clip into one of those, with real codecs (libsndfile's G.711, Opus and MP3 round
trips, not a numerical imitation), and returns 16-kHz float32 again, as ``analyze`` resamples
what it reads. :func:`listen` applies a named *condition*, the unit a training recipe lists
(``"conditions": ["clip", "cut", "telephone-mu", ...]``), chosen by measurement
(``benchmarks/train_conditions.py``, ``docs/results.md``).
"""

from __future__ import annotations

import io

import numpy as np

from ..audio import resample

__all__ = ["CONDITIONS", "listen", "telephone_line", "codec_round_trip", "room", "cut_to_speech"]

RATE = 16000

#: condition name -> what it does (the name a recipe's ``conditions`` list uses)
CONDITIONS = {
    "clip": "the clip as recorded (silence margins kept), as `predict` hears a corpus clip",
    "cut": "cut to its speech the way analyze's voice activity detection cuts a segment (no margins)",
    "telephone-mu": "300-3400 Hz, 8 kHz, G.711 mu-law round trip, then cut to its speech",
    "telephone-a": "300-3400 Hz, 8 kHz, G.711 A-law round trip, then cut to its speech",
    "opus": "Ogg Opus at its lowest bit rate (16 kHz mono), then cut to its speech",
    "mp3": "MP3 at 8 kHz near its lowest bit rate (compression 0.9; 1.0 is refused by LAME at 8 kHz), then cut to its speech",
    "room": "room reverberation (RT60 0.2-0.7 s) and noise at 5-25 dB SNR, then cut to its speech",
    "room-mild": "a room heard from nearer: reverberation (RT60 0.2-0.6 s, direct-to-reverberant ratio 0-10 dB) "
                 "and noise at 10-30 dB SNR, then cut to its speech",
    "room-mild-telephone-mu": "a speakerphone on a telephone call: the room-mild room, then the 300-3400 Hz "
                              "G.711 mu-law line, then cut to its speech",
}

#: (RT60 range in seconds, SNR range in dB, direct-to-reverberant ratio range in dB or None) of
#: each room condition; ``room``'s reverberation (no ratio: a direct path of 3 against a unit
#: noise tail) is far more than its direct sound, as in a hall heard from afar
ROOMS = {"room": ((0.2, 0.7), (5.0, 25.0), None), "room-mild": ((0.2, 0.6), (10.0, 30.0), (0.0, 10.0))}


def _round_trip(y: np.ndarray, sr: int, *, format: str, subtype: str, compression: float | None = None) -> np.ndarray:
    import soundfile as sf

    buf = io.BytesIO()
    kw = {"compression_level": compression} if compression is not None else {}
    sf.write(buf, np.clip(y, -1, 1).astype(np.float32), sr, format=format, subtype=subtype, **kw)
    buf.seek(0)
    out, _ = sf.read(buf, dtype="float32")
    return out[: len(y)] if len(out) >= len(y) else np.pad(out, (0, len(y) - len(out)))


def telephone_line(y: np.ndarray, sr: int = RATE, *, law: str = "mu") -> np.ndarray:
    """A narrow-band telephone line: 4th-order Butterworth 300-3400 Hz band, 8 kHz, G.711
    (``law``: ``"mu"`` or ``"a"``) encoded and decoded by libsndfile; back at ``sr``."""
    from scipy.signal import butter, sosfiltfilt

    if law not in ("mu", "a"):
        raise ValueError(f"law must be 'mu' or 'a', got {law!r}")
    sos = butter(4, [300, 3400], btype="bandpass", fs=sr, output="sos")
    z = resample(sosfiltfilt(sos, y).astype(np.float32), sr, 8000)
    peak = float(np.abs(z).max()) if z.size else 0.0
    if peak > 0.99:  # a line clips; keep the level but never wrap around
        z = z * (0.99 / peak)
    z = _round_trip(z, 8000, format="WAV", subtype="ULAW" if law == "mu" else "ALAW")
    return resample(z, 8000, sr)


def codec_round_trip(y: np.ndarray, sr: int = RATE, *, codec: str = "opus") -> np.ndarray:
    """A lossy codec at its lowest bit rate: ``"opus"`` (Ogg Opus, 16 kHz) or ``"mp3"`` (8 kHz)."""
    if codec == "opus":
        return resample(_round_trip(resample(y, sr, 16000), 16000, format="OGG", subtype="OPUS", compression=1.0),
                        16000, sr)
    if codec == "mp3":
        return resample(_round_trip(resample(y, sr, 8000), 8000, format="MP3", subtype="MPEG_LAYER_III",
                                    compression=0.9), 8000, sr)
    raise ValueError(f"codec must be 'opus' or 'mp3', got {codec!r}")


def room(y: np.ndarray, sr: int = RATE, *, rng: np.random.Generator, rt60: tuple[float, float] = (0.2, 0.7),
         snr_db: tuple[float, float] = (5.0, 25.0), drr_db: tuple[float, float] | None = None) -> np.ndarray:
    """Reverberation (an exponentially decaying noise response, RT60 drawn from ``rt60`` seconds,
    direct path kept; ``drr_db``: the direct sound that many dB above the reverberant tail, else a
    direct path of 3 against the unit-variance tail) and white or pink noise at an SNR drawn from
    ``snr_db``."""
    from scipy.signal import fftconvolve

    rt60 = rng.uniform(*rt60)
    n = int(0.8 * sr)
    t = np.arange(n) / sr
    rir = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)
    if drr_db is None:
        rir[0] = 3.0
    else:
        rir[0] = 0.0
        rir *= np.sqrt(10 ** (-rng.uniform(*drr_db) / 10) / max(float(np.sum(rir ** 2)), 1e-12))
        rir[0] = 1.0
    rir /= np.linalg.norm(rir)
    wet = fftconvolve(y, rir)[: len(y)]
    wet *= np.linalg.norm(y) / max(np.linalg.norm(wet), 1e-9)
    noise = rng.standard_normal(len(y))
    if rng.random() < 0.5:  # pink
        spec = np.fft.rfft(noise)
        spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1))
        noise = np.fft.irfft(spec, n=len(y))
    snr = rng.uniform(*snr_db)
    p_sig = max(float(np.mean(y ** 2)), 1e-10)
    noise *= np.sqrt(p_sig / (max(float(np.mean(noise ** 2)), 1e-12) * 10 ** (snr / 10)))
    return np.clip(wet + noise, -1, 1).astype(np.float32)


def cut_to_speech(y16: np.ndarray) -> np.ndarray:
    """The part of a 16-kHz clip ``analyze`` would hear as speech: from the start of its first
    voice-activity region to the end of its last (the clip unchanged when none is found)."""
    from ..inference.gate import speech_span

    span = speech_span(y16)
    return y16 if span is None else y16[span[0]:span[1]]


def listen(y16: np.ndarray, condition: str, *, rng: np.random.Generator | None = None) -> np.ndarray:
    """``y16`` (a clean 16-kHz mono clip) as heard under ``condition`` (a :data:`CONDITIONS` name)."""
    if condition not in CONDITIONS:
        raise ValueError(f"unknown listening condition {condition!r}; known: {', '.join(CONDITIONS)}")
    y16 = np.asarray(y16, dtype=np.float32)
    if condition == "clip":
        return y16
    line = None   # a room heard through a telephone line ("room-mild-telephone-mu")
    if condition.endswith("-telephone-mu") and condition.removesuffix("-telephone-mu") in ROOMS:
        condition, line = condition.removesuffix("-telephone-mu"), "mu"
    if condition.startswith("telephone-"):
        y16 = telephone_line(y16, RATE, law=condition.split("-", 1)[1])
    elif condition in ("opus", "mp3"):
        y16 = codec_round_trip(y16, RATE, codec=condition)
    elif condition in ROOMS:
        rt60, snr_db, drr_db = ROOMS[condition]
        y16 = room(y16, RATE, rng=rng if rng is not None else np.random.default_rng(0), rt60=rt60, snr_db=snr_db,
                   drr_db=drr_db)
        if line:
            y16 = telephone_line(y16, RATE, law=line)
    return cut_to_speech(np.clip(y16, -1, 1).astype(np.float32))
