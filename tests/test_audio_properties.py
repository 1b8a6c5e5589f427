"""Properties of the audio front end, for any input hypothesis can think of.

``load_audio`` either returns finite float32 audio or raises :class:`AudioError` (for any bytes);
``valid_audio`` refuses exactly the unusable arrays; ``resample``, the signal processing, the
preprocessing and the gate keep every finite input finite, keep their stated shapes, and raise
nothing but :class:`AudioError`.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from escucha.audio import load_audio, normalize_loudness, pad_or_crop, resample, rms_db, trim_silence, valid_audio
from escucha.audio.processing import frame_rms_db
from escucha.data.waveforms import PreprocessConfig, preprocess
from escucha.errors import AudioError
from escucha.inference.gate import MIN_SECONDS, NO_SPEECH, OUTCOMES, SILENCE_DB, TOO_SHORT, judge

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
RATES = st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000])

#: any finite float32, tiny to huge (a float WAV may hold 1e30)
finite32 = st.floats(allow_nan=False, allow_infinity=False, width=32)
#: what decoders give for ordinary audio
unit32 = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False, width=32)


def signals(elements=unit32, *, min_size=0, max_size=4000):
    return hnp.arrays(np.float32, st.integers(min_size, max_size), elements=elements)


# -- load_audio -----------------------------------------------------------------------------------------------
@SETTINGS
@given(data=st.binary(max_size=400))
def test_load_audio_on_any_bytes_is_audio_or_one_audio_error(tmp_path, data):
    p = tmp_path / "x.wav"
    p.write_bytes(data)
    try:
        y, sr = load_audio(p, sample_rate=16000)
    except AudioError as e:
        assert str(e).startswith(f"{p}: ") and "\n" not in str(e)
    else:
        assert y.dtype == np.float32 and y.ndim == 1 and y.size and np.isfinite(y).all() and sr == 16000


def _wav_bytes(y: np.ndarray, sr: int, subtype: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


@SETTINGS
@given(n=st.integers(1, 3000), cut=st.integers(0, 12000), flip=st.integers(0, 12000), byte=st.integers(0, 255),
       subtype=st.sampled_from(["PCM_16", "PCM_24", "FLOAT", "ULAW", "ALAW"]))
def test_a_damaged_wav_is_audio_or_one_audio_error(tmp_path, n, cut, flip, byte, subtype):
    """A real WAV cut short anywhere and with one byte changed anywhere (header included)."""
    data = bytearray(_wav_bytes(np.sin(np.arange(n, dtype=np.float32)) * 0.5, 8000, subtype))
    if flip < len(data):
        data[flip] = byte
    p = tmp_path / "x.wav"
    p.write_bytes(bytes(data[:cut]))
    try:
        y, sr = load_audio(p, sample_rate=16000, mono=False)
    except AudioError as e:
        assert str(e).startswith(f"{p}: ") and "\n" not in str(e)
    else:
        assert y.dtype == np.float32 and y.ndim == 2 and y.shape[1] and np.isfinite(y).all()


@SETTINGS
@given(y=hnp.arrays(np.float32, st.tuples(st.integers(1, 2000), st.integers(1, 3)), elements=finite32),
       sr=RATES)
def test_float_wav_round_trips_exactly(tmp_path, y, sr):
    p = tmp_path / "x.wav"
    sf.write(p, y, sr, subtype="FLOAT")
    got, got_sr = load_audio(p, mono=False)
    assert got_sr == sr and got.shape == y.T.shape and got.flags.c_contiguous
    np.testing.assert_array_equal(got, y.T)
    mono, _ = load_audio(p)
    assert mono.shape == (len(y),) and np.isfinite(mono).all()   # a mean of huge values stays finite


@SETTINGS
@given(y=signals(min_size=1), sr=RATES, at=st.integers(0, 10_000), value=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_non_finite_samples_are_refused_with_their_time(tmp_path, y, sr, at, value):
    at = at % len(y)
    y = y.copy()
    y[at:] = value   # from `at` on: the first bad sample is at `at`
    p = tmp_path / "x.wav"
    sf.write(p, y, sr, subtype="FLOAT")
    with pytest.raises(AudioError) as e:
        load_audio(p)
    assert str(e.value) == f"{p}: audio contains NaN or infinite samples (the first at {at / sr:.3f} s)"


# -- valid_audio -------------------------------------------------------------------------------------------------
@SETTINGS
@given(y=hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)))
def test_valid_audio_accepts_exactly_finite_float_signals(y):
    usable = (y.ndim in (1, 2) and np.issubdtype(y.dtype, np.floating) and y.shape[-1] > 0
              and bool(np.isfinite(y).all()))
    if usable:
        assert valid_audio(y, name="x") is y
    else:
        with pytest.raises(AudioError, match="^x: "):
            valid_audio(y, name="x")


# -- resample ----------------------------------------------------------------------------------------------------
@SETTINGS
@given(y=signals(min_size=1), orig=RATES, target=RATES, channels=st.integers(0, 3))
def test_resample_keeps_duration_shape_and_finiteness(y, orig, target, channels):
    x = y if channels == 0 else np.stack([y * (c + 1) / channels for c in range(channels)])
    out = resample(x, orig, target)
    assert out.dtype == np.float32 and out.ndim == x.ndim and out.shape[:-1] == x.shape[:-1]
    assert abs(out.shape[-1] - x.shape[-1] * target / orig) <= 1
    assert np.isfinite(out).all()
    if orig == target:
        assert out is x
    if channels:
        np.testing.assert_allclose(out[0], resample(x[0], orig, target), atol=1e-6)


@SETTINGS
@given(y=signals(finite32, min_size=1, max_size=2000), orig=RATES, target=RATES)
def test_resample_never_turns_finite_audio_into_nan(y, orig, target):
    assert np.isfinite(resample(y, orig, target)).all()


@pytest.mark.parametrize("orig, target", [(0, 16000), (16000, -1), (-8000, 16000)])
def test_resample_refuses_rates_that_are_not_positive(orig, target):
    with pytest.raises(AudioError, match="sample rates must be positive"):
        resample(np.zeros(100, np.float32), orig, target)


# -- processing ----------------------------------------------------------------------------------------------------
@SETTINGS
@given(y=signals(finite32), hop=st.sampled_from([128, 256, 512]))
def test_frame_rms_db_is_finite_and_framed(y, hop):
    db = frame_rms_db(y, frame_length=4 * hop, hop_length=hop)
    assert db.shape == (1 + len(y) // hop,) and np.isfinite(db).all() and (db >= -100.0 - 1e-3).all()
    if len(y):
        peak = float(np.max(np.abs(y.astype(np.float64))))
        assert db.max() <= max(20 * np.log10(max(peak, 1e-30)), -100.0) + 1e-3


@SETTINGS
@given(y=signals(finite32), top_db=st.floats(1.0, 120.0))
def test_trim_silence_returns_the_slice_it_names(y, top_db):
    out, (s, e) = trim_silence(y, top_db=top_db)
    assert 0 <= s <= e <= len(y)
    np.testing.assert_array_equal(out, y[s:e])
    if len(y) and np.any(y):
        assert e > s   # something is always kept of a signal that is not all zeros


@SETTINGS
@given(y=hnp.arrays(np.float32, st.tuples(st.integers(1, 3), st.integers(0, 300)), elements=unit32),
       length=st.integers(0, 400), mode=st.sampled_from(["center", "random", "start"]), seed=st.integers(0, 9))
def test_pad_or_crop_gives_exactly_length_and_keeps_the_samples(y, length, mode, seed):
    x = y if y.shape[0] > 1 else y[0]
    out = pad_or_crop(x, length, mode=mode, rng=np.random.default_rng(seed))
    n = x.shape[-1]
    assert out.shape == x.shape[:-1] + (length,)
    # the output holds a contiguous run of the input at some offset, and zeros elsewhere
    k = min(n, length)
    offsets = [o for o in range(abs(n - length) + 1)
               if (np.array_equal(out[..., o:o + k], x[..., :k]) if n <= length
                   else np.array_equal(out, x[..., o:o + length]))]
    assert offsets
    if n < length:
        o = offsets[0]
        assert not np.any(out[..., :o]) and not np.any(out[..., o + n:])
        if mode == "start":
            assert o == 0 or not np.any(x)
    if mode != "random":
        np.testing.assert_array_equal(out, pad_or_crop(x, length, mode=mode))


@SETTINGS
@given(y=signals(finite32, max_size=3000))
def test_rms_db_is_a_finite_level(y):
    level = rms_db(y)
    assert np.isfinite(level) and level >= -120.0


@SETTINGS
@given(y=signals(finite32, max_size=6000), target=st.floats(-60.0, -3.0), active=st.booleans())
def test_normalize_loudness_is_finite_float32_below_full_scale(y, target, active):
    out = normalize_loudness(y, target_db=target, use_active=active)
    assert out.dtype == np.float32 and out.shape == y.shape and np.isfinite(out).all()
    assert (np.abs(out) <= 0.999 + 1e-6).all()
    if len(y) and np.any(y):
        assert np.any(out)   # audible stays audible: the gain is never 0


@SETTINGS
@given(y=signals(unit32, min_size=4000, max_size=6000), target=st.floats(-40.0, -10.0))
def test_normalize_loudness_reaches_its_target_when_it_can(y, target):
    level = rms_db(y)
    assume(level > -60 and np.max(np.abs(y)) > 0)
    out = normalize_loudness(y, target_db=target, use_active=False)
    if target - level <= 40 and np.max(np.abs(y)) * 10 ** ((target - level) / 20) < 0.999:
        assert rms_db(out) == pytest.approx(target, abs=0.05)
    else:
        assert rms_db(out) <= target + 0.05   # capped gain or peak limit: never louder than asked


# -- preprocess ----------------------------------------------------------------------------------------------------
@SETTINGS
@given(y=signals(finite32, min_size=1), trim=st.one_of(st.none(), st.floats(10.0, 80.0)),
       loud=st.one_of(st.none(), st.floats(-40.0, -10.0)))
def test_preprocess_is_finite_float32_or_one_audio_error(y, trim, loud):
    cfg = PreprocessConfig(sample_rate=16000, trim_db=trim, loudness_db=loud)
    try:
        out = preprocess(y, 16000, cfg, name="clip.wav")
    except AudioError as e:
        assert str(e).startswith("clip.wav: ")
        return
    assert out.dtype == np.float32 and out.ndim == 1 and 0 < len(out) <= len(y)
    if loud is not None:
        assert np.isfinite(out).all() and (np.abs(out) <= 0.999 + 1e-6).all()


# -- the gate ------------------------------------------------------------------------------------------------------
@SETTINGS
@given(y=signals(finite32, max_size=12000), sr=st.sampled_from([8000, 16000, 44100]))
def test_judge_without_vad_follows_its_rules(y, sr):
    outcome, reason = judge(y, sr, vad=False)
    assert outcome in OUTCOMES + (None,) and (outcome is None) == (reason == "")
    seconds = len(y) / sr
    if seconds < MIN_SECONDS:
        assert outcome == TOO_SHORT and f"need at least {MIN_SECONDS * 1000:.0f} ms" in reason
    elif frame_rms_db(y, frame_length=512, hop_length=256).max() < SILENCE_DB:
        assert outcome == NO_SPEECH and reason.startswith("silent")
    else:
        assert outcome is None


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 1000), scale=st.sampled_from([1e-2, 1.0, 1e6, 1e30]))
def test_judge_finds_no_speech_in_white_noise_at_any_level(seed, scale):
    """A float WAV may hold huge values: the level must not decide, nor overflow into NaN."""
    x = (np.random.default_rng(seed).standard_normal(8000) * 0.1 * scale).astype(np.float32)
    assert judge(x, 16000)[0] == NO_SPEECH


@settings(max_examples=12, deadline=None)
@given(y=signals(finite32, min_size=4000, max_size=8000))
def test_judge_with_vad_answers_any_finite_input(y):
    outcome, reason = judge(y, 16000)
    assert outcome in OUTCOMES + (None,) and (outcome is None) == (reason == "")
