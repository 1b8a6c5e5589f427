"""Prosodic, voice-quality and spectral functionals in numpy: the ``functionals`` feature kind.

The fast model's front end, and a torch-free, licence-free stand-in for the part of eGeMAPS that
carries its value across corpora. From one STFT (25 ms Hann windows, 20 ms hop at 16 kHz; the 512-point autocorrelation wraps only past the lag of 140 Hz, where the window has faded) it
takes, over the *active* frames (frame energy within 40 dB of the clip's loudest):

* ``mel``: mean and standard deviation of each of 40 log-mel bands, and the standard deviation
  of their frame-to-frame change (spectral envelope and its movement), 120 values;
* ``mfcc``: mean and standard deviation of 20 cepstral coefficients of the same bands, 40;
* ``energy``: mean, standard deviation, 10th/50th/90th percentile and 10-90 range of frame level
  (dB), the standard deviation of its change, and the share of active frames, 8;
* ``pitch``: from the normalised autocorrelation of each frame (the inverse FFT of its power
  spectrum, corrected for the window), F0 between 70 and 450 Hz (bins below 70 Hz left out: hum) where the peak exceeds 0.5:
  the voiced share, mean voicing strength, mean, standard deviation, 10th/50th/90th percentile
  and range of F0 in semitones (re 55 Hz), and the mean absolute change of F0 between voiced
  neighbours (a jitter-like roughness), 9;
* ``quality``: mean and standard deviation of spectral centroid (kHz), flatness, the alpha ratio
  (dB, 50-1000 Hz over 1-5 kHz) and the Hammarberg index (dB, peak 0-2 kHz over 2-5 kHz), 8.

185 values per clip, ``(B, 185, 1)`` like eGeMAPS. About 1.5 ms for a 4-s clip on one core.
Everything is a fixed function of the waveform (no learned parts); torch training wraps it.
"""

from __future__ import annotations

import numpy as np

from escucha.features.spectral import dct_matrix, hann_window, mel_filterbank, stft_power

__all__ = ["functionals", "N_FUNCTIONALS", "FUNCTIONAL_NAMES", "RATE"]

RATE = 16000
N_FFT, WIN, HOP = 512, 400, 320   # 20-ms hop: functionals need no finer grid, and it halves the cost
N_MELS, N_MFCC = 40, 20
ACTIVE_DB = 40.0
F0_MIN, F0_MAX, VOICING = 70.0, 450.0, 0.5


def _names() -> list[str]:
    names = [f"mel{i}_{s}" for s in ("mean", "std", "dstd") for i in range(N_MELS)]
    names += [f"mfcc{i}_{s}" for s in ("mean", "std") for i in range(N_MFCC)]
    names += ["energy_" + s for s in ("mean", "std", "p10", "p50", "p90", "range", "dstd", "active")]
    names += ["f0_" + s for s in ("voiced", "strength", "mean", "std", "p10", "p50", "p90", "range", "jitter")]
    names += [f"{q}_{s}" for s in ("mean", "std") for q in ("centroid", "flatness", "alpha", "hammarberg")]
    return names


FUNCTIONAL_NAMES = _names()
N_FUNCTIONALS = len(FUNCTIONAL_NAMES)

_CACHE: dict = {}


def _constants():
    if not _CACHE:
        freqs = np.fft.rfftfreq(N_FFT, 1.0 / RATE).astype(np.float32)
        w = hann_window(WIN, N_FFT).astype(np.float64)
        wac = np.fft.irfft(np.abs(np.fft.rfft(w)) ** 2, n=N_FFT)   # the window's own autocorrelation
        lags = np.arange(int(RATE / F0_MAX), int(RATE / F0_MIN) + 1)
        _CACHE.update(
            fb=mel_filterbank(sr=RATE, n_fft=N_FFT, n_mels=N_MELS), dct=dct_matrix(N_MFCC, N_MELS), freqs=freqs,
            lags=lags, wac=(wac[lags] / wac[0]).astype(np.float32),
            pitch_band=(freqs >= F0_MIN).astype(np.float32), lo=(freqs >= 50) & (freqs < 1000), hi=(freqs >= 1000) & (freqs < 5000),
            h_lo=(freqs > 0) & (freqs < 2000), h_hi=(freqs >= 2000) & (freqs < 5000))
    return _CACHE


def _db(x):
    return 10.0 * np.log10(np.maximum(x, 1e-10))


def _ms(x, axis=0):
    return np.concatenate([x.mean(axis), x.std(axis)]) if len(x) else np.zeros(2 * x.shape[1 - axis], np.float32)


def _one(power: np.ndarray) -> np.ndarray:
    """Functionals of one clip's power spectrogram ``(frames, F)``."""
    k = _constants()
    e_db = _db(power.sum(1))
    active = e_db >= e_db.max() - ACTIVE_DB
    P = power[active]
    if len(P) < 2:                      # at least two frames, so that changes exist
        P, active = power[:2], np.zeros(len(power), bool)
        active[:2] = True
    mel = _db(P @ k["fb"].T)                                    # (n, 40)
    mel = np.maximum(mel, mel.max() - 80.0)
    out = [mel.mean(0), mel.std(0), np.diff(mel, axis=0).std(0)]
    out.append(_ms(mel @ k["dct"].T))
    e = e_db[active]
    p10, p50, p90 = np.percentile(e, [10, 50, 90])
    out.append(np.array([e.mean(), e.std(), p10, p50, p90, p90 - p10, np.diff(e).std(), active.mean()]))
    # pitch: normalised autocorrelation at the candidate lags, corrected for the Hann window
    ac = np.fft.irfft(P * k["pitch_band"], n=N_FFT, axis=1)   # below 70 Hz is hum, not voice
    r = ac[:, k["lags"]] / np.maximum(ac[:, :1], 1e-12) / k["wac"] ** 0.5
    best = r.argmax(1)
    strength = r[np.arange(len(r)), best]
    voiced = strength > VOICING
    if voiced.sum() >= 2:
        i = best[voiced]
        # parabolic interpolation of the peak lag
        rv = r[voiced]
        a, b, c = rv[np.arange(len(i)), np.maximum(i - 1, 0)], rv[np.arange(len(i)), i], \
            rv[np.arange(len(i)), np.minimum(i + 1, r.shape[1] - 1)]
        den = a - 2 * b + c
        shift = np.where(np.abs(den) > 1e-9, 0.5 * (a - c) / np.where(den == 0, 1, den), 0.0).clip(-0.5, 0.5)
        f0 = RATE / (k["lags"][i] + shift)
        st = 12.0 * np.log2(f0 / 55.0)
        q10, q50, q90 = np.percentile(st, [10, 50, 90])
        out.append(np.array([voiced.mean(), strength[voiced].mean(), st.mean(), st.std(), q10, q50, q90, q90 - q10,
                             np.abs(np.diff(st)).mean()]))
    else:
        out.append(np.array([voiced.mean(), 0.0, 0, 0, 0, 0, 0, 0, 0]))
    tot = P.sum(1) + 1e-10
    centroid = (P @ k["freqs"]) / tot / 1000.0
    flat = np.exp(np.log(P[:, 1:] + 1e-10).mean(1)) / (P[:, 1:].mean(1) + 1e-10)
    alpha = _db(P[:, k["lo"]].sum(1)) - _db(P[:, k["hi"]].sum(1))
    hamm = _db(P[:, k["h_lo"]].max(1)) - _db(P[:, k["h_hi"]].max(1))
    out.append(_ms(np.stack([centroid, flat, alpha, hamm], 1)))
    return np.concatenate(out).astype(np.float32)


def functionals(wav: np.ndarray, sample_rate: int = RATE) -> np.ndarray:
    """``(B, T)`` or ``(T,)`` waveforms at 16 kHz -> ``(B, N_FUNCTIONALS, 1)`` float32.

    Raises
    ------
    ValueError
        For a rate other than 16 kHz (resample first) or inputs shorter than one frame.
    """
    if sample_rate != RATE:
        raise ValueError(f"functionals need {RATE} Hz audio, got {sample_rate} Hz")
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim == 1:
        wav = wav[None]
    if wav.shape[-1] < WIN:
        raise ValueError(f"functionals need at least {WIN} samples, got {wav.shape[-1]}")
    power = stft_power(wav, n_fft=N_FFT, hop_length=HOP, win_length=WIN)
    return np.stack([_one(p) for p in power])[:, :, None]
