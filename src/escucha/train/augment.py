"""Batched augmentation in torch: waveforms ``(B, T)`` and features ``(B, F, T)``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import AugmentConfig

__all__ = ["augment_waveforms", "spec_augment", "telephone_channel", "mu_law", "a_law"]


def _uniform(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def mu_law(x: torch.Tensor, mu: int = 255) -> torch.Tensor:
    """G.711 mu-law encode then decode (8-bit): the quantisation a telephone line applies."""
    x = x.clamp(-1, 1)
    y = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
    y = torch.round((y + 1) / 2 * mu) / mu * 2 - 1
    return torch.sign(y) * ((1 + mu) ** y.abs() - 1) / mu


def a_law(x: torch.Tensor, a: float = 87.6) -> torch.Tensor:
    """G.711 A-law encode then decode (8-bit)."""
    x = x.clamp(-1, 1)
    ax = x.abs()
    la = 1 + math.log(a)
    y = torch.where(ax < 1 / a, a * ax / la, (1 + torch.log(torch.clamp(a * ax, min=1e-12))) / la)
    y = torch.round(y * 127) / 127
    xr = torch.where(y < 1 / la, y * la / a, torch.exp(y * la - 1) / a)
    return torch.sign(x) * xr


def telephone_channel(wav: torch.Tensor, sample_rate: int, *, low: float = 300.0, high: float = 3400.0,
                      law: str = "mu") -> torch.Tensor:
    """Simulate a narrow-band telephone line on ``(B, T)``: band-pass 300-3400 Hz (FFT mask),
    8 kHz sampling (band-limited at 4 kHz), G.711 companding. Output stays at ``sample_rate``."""
    n = wav.shape[-1]
    spec = torch.fft.rfft(wav, dim=-1)
    freqs = torch.fft.rfftfreq(n, d=1.0 / sample_rate)
    # soft edges (100 Hz cosine ramps) avoid ringing
    lo = ((freqs - (low - 100)) / 100).clamp(0, 1)
    hi = (((high + 100) - freqs) / 100).clamp(0, 1)
    mask = torch.sin(lo * math.pi / 2) * torch.sin(hi * math.pi / 2)
    out = torch.fft.irfft(spec * mask, n=n, dim=-1)
    peak = out.abs().amax(dim=-1, keepdim=True).clamp(min=1e-6)
    scale = torch.clamp(0.5 / peak, max=1.0)
    out = (mu_law if law == "mu" else a_law)(out * scale) / scale
    return out


def _pink_noise(b: int, n: int, g: torch.Generator) -> torch.Tensor:
    white = torch.randn(b, n, generator=g)
    spec = torch.fft.rfft(white, dim=-1)
    f = torch.arange(spec.shape[-1], dtype=torch.float32).clamp(min=1)
    return torch.fft.irfft(spec / f.sqrt(), n=n, dim=-1)


def _reverb(wav: torch.Tensor, sample_rate: int, rt60: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    b, n = wav.shape
    L = int(0.6 * sample_rate)
    t = torch.arange(L, dtype=torch.float32) / sample_rate
    decay = torch.exp(-6.9078 * t[None, :] / rt60[:, None])  # -60 dB at rt60
    rir = torch.randn(b, L, generator=g) * decay
    rir[:, 0] = 1.0 / 0.3  # direct path dominates
    rir = rir / rir.norm(dim=-1, keepdim=True)
    m = n + L - 1
    nfft = 1 << (m - 1).bit_length()
    out = torch.fft.irfft(torch.fft.rfft(wav, nfft) * torch.fft.rfft(rir, nfft), nfft)[:, :n]
    return out * (wav.norm(dim=-1, keepdim=True) / out.norm(dim=-1, keepdim=True).clamp(min=1e-8))


def _speed(wav: torch.Tensor, factor: float) -> torch.Tensor:
    n = wav.shape[-1]
    new_n = max(2, int(round(n / factor)))
    y = F.interpolate(wav[None, None], size=new_n, mode="linear", align_corners=False)[0, 0]
    if new_n >= n:
        off = (new_n - n) // 2
        return y[off:off + n]
    return F.pad(y, ((n - new_n) // 2, n - new_n - (n - new_n) // 2))


def augment_waveforms(wav: torch.Tensor, sample_rate: int, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Apply the configured waveform augmentations to a batch ``(B, T)`` (returns a new tensor)."""
    b = wav.shape[0]
    wav = wav.clone()
    if cfg.speed_prob > 0:
        pick = torch.rand(b, generator=g) < cfg.speed_prob
        factors = _uniform(g, b, *cfg.speed_range)
        for i in torch.nonzero(pick).flatten().tolist():
            wav[i] = _speed(wav[i], float(factors[i]))
    if cfg.reverb_prob > 0:
        pick = torch.rand(b, generator=g) < cfg.reverb_prob
        if pick.any():
            rt60 = _uniform(g, int(pick.sum()), *cfg.rt60_range)
            wav[pick] = _reverb(wav[pick], sample_rate, rt60, g)
    if cfg.telephone_prob > 0:
        pick = torch.rand(b, generator=g) < cfg.telephone_prob
        if pick.any():
            wav[pick] = telephone_channel(wav[pick], sample_rate)
    if cfg.noise_prob > 0:
        pick = torch.rand(b, generator=g) < cfg.noise_prob
        if pick.any():
            k = int(pick.sum())
            noise = torch.where(torch.rand(k, 1, generator=g) < 0.5, torch.randn(k, wav.shape[1], generator=g),
                                _pink_noise(k, wav.shape[1], g))
            snr = _uniform(g, k, *cfg.snr_db)
            sig_p = wav[pick].square().mean(dim=-1).clamp(min=1e-10)
            noise_p = noise.square().mean(dim=-1).clamp(min=1e-10)
            scale = torch.sqrt(sig_p / (noise_p * 10 ** (snr / 10)))
            wav[pick] = wav[pick] + noise * scale[:, None]
    if cfg.gain_db > 0:
        gains = 10 ** (_uniform(g, b, -cfg.gain_db, cfg.gain_db) / 20)
        wav = wav * gains[:, None]
    return wav


def spec_augment(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """SpecAugment masks on ``(B, F, T)``: masked cells are set to each clip's mean."""
    if cfg.freq_masks == 0 and cfg.time_masks == 0:
        return x
    b, nf, nt = x.shape
    x = x.clone()
    fill = x.mean(dim=(1, 2))
    for i in range(b):
        for _ in range(cfg.freq_masks):
            w = int(torch.randint(0, cfg.freq_mask_width + 1, (1,), generator=g))
            f0 = int(torch.randint(0, max(1, nf - w), (1,), generator=g))
            x[i, f0:f0 + w, :] = fill[i]
        for _ in range(cfg.time_masks):
            w = int(torch.randint(0, cfg.time_mask_width + 1, (1,), generator=g))
            t0 = int(torch.randint(0, max(1, nt - w), (1,), generator=g))
            x[i, :, t0:t0 + w] = fill[i]
    return x
