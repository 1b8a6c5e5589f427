"""Shared fixtures: small synthetic corpora in the real RAVDESS layout, and the real data path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("ESCUCHA_PROGRESS", "0")

# Property tests are derandomised so that CI judges the same examples every run; set
# ESCUCHA_HYPOTHESIS=explore to draw fresh examples (and keep hunting) while developing.
try:
    from hypothesis import settings as _hyp_settings

    _hyp_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
    _hyp_settings.register_profile("explore", derandomize=False, print_blob=True)
    _hyp_settings.load_profile("explore" if os.environ.get("ESCUCHA_HYPOTHESIS") == "explore" else "ci")
except ImportError:  # hypothesis is a test extra; only the property tests need it
    pass

REPO = Path(__file__).resolve().parents[1]
SHARED_RAVDESS = REPO.parent / "shared" / "data" / "ravdess"


def ravdess_name(emotion: int, actor: int, *, intensity: int = 1, statement: int = 1, repetition: int = 1,
                 modality: int = 3, channel: int = 1) -> str:
    return f"{modality:02d}-{channel:02d}-{emotion:02d}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}"


#: formants (Hz) of five vowels, for the speech-like synthetic clips
_VOWELS = [(730, 1090, 2440), (270, 2290, 3010), (530, 1840, 2480), (300, 870, 2240), (570, 840, 2410)]


def _resonator(x: np.ndarray, f: float, bw: float, sr: int) -> np.ndarray:
    from scipy.signal import lfilter

    r = np.exp(-np.pi * bw / sr)
    th = 2 * np.pi * f / sr
    return lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], x)


def synth_clip(emotion: int, actor: int, *, sr: int = 16000, seconds: float = 1.2, seed: int = 0) -> np.ndarray:
    """A speech-like clip: a glottal pulse train whose pitch depends on the emotion code (with a
    slight speaker-dependent shift and a gentle contour) through the formants of a vowel per
    0.25-s syllable (the same vowels in every clip), between short silences. Speech enough for the voice activity detection that
    gates every prediction (a plain harmonic tone is not: it is refused as "no speech found")."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed + 1000 * emotion + actor)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    f0 = (100.0 + 45.0 * emotion + 3.0 * (actor % 5)) * (1 + 0.08 * np.sin(2 * np.pi * 1.5 * t + rng.uniform(0, 6)))
    pulses = (np.diff(np.floor(np.cumsum(f0 / sr)), prepend=0) > 0).astype(float)
    src = lfilter([1], [1, -0.97], pulses) + 0.02 * rng.standard_normal(n)
    y = np.zeros(n)
    syl = int(0.25 * sr)
    for k, a in enumerate(range(0, n, syl)):
        b = min(n, a + syl)
        formants = _VOWELS[k % len(_VOWELS)]  # every clip says the same "sentence", as in RAVDESS
        v = sum(_resonator(src[a:b], f, 80 + 40 * i, sr) / (i + 1) for i, f in enumerate(formants))
        y[a:b] = v * np.sin(np.pi * np.linspace(0, 1, b - a)) ** 0.7
    env = np.clip(np.minimum(t - 0.15, seconds - 0.15 - t) * 20, 0, 1)
    y = 0.5 * y * env / (np.abs(y * env).max() + 1e-9) + 0.003 * rng.standard_normal(n)
    return y.astype(np.float32)


def make_fake_ravdess(root: Path, *, actors=(1, 2, 3, 4, 5, 6), emotions=(1, 2, 3, 4, 5, 6, 7, 8),
                      reps=(1, 2), sr: int = 16000, ext: str = "wav", layout: str = "actors") -> Path:
    for a in actors:
        for e in emotions:
            for r in reps:
                name = ravdess_name(e, a, repetition=r) + f".{ext}"
                d = root / f"Actor_{a:02d}" if layout == "actors" else root
                d.mkdir(parents=True, exist_ok=True)
                sf.write(d / name, synth_clip(e, a, sr=sr, seed=r), sr)
    return root


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    """A randomly initialised two-layer wav2vec2 saved as a local pretrained folder (needs transformers)."""
    transformers = pytest.importorskip("transformers")
    import torch

    cfg = transformers.Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                      intermediate_size=64, conv_dim=(16, 16), conv_stride=(5, 4),
                                      conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                                      num_conv_pos_embedding_groups=2, vocab_size=10)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("enc") / "tiny-wav2vec2"
    transformers.Wav2Vec2Model(cfg).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def fake_ravdess(tmp_path_factory) -> Path:
    """6 actors x 8 emotions x 2 repetitions = 96 synthetic clips, Actor_XX layout, WAV 16 kHz."""
    return make_fake_ravdess(tmp_path_factory.mktemp("fake_ravdess"))


@pytest.fixture(scope="session")
def real_ravdess() -> Path:
    if not (SHARED_RAVDESS / "Actor_01").is_dir():
        pytest.skip(f"real RAVDESS data not found at {SHARED_RAVDESS}")
    return SHARED_RAVDESS


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("ESCUCHA_CACHE", str(tmp_path_factory.getbasetemp() / "escucha-cache"))
