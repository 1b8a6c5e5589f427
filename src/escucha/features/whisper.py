"""Whisper's audio encoder as a frozen feature extractor, in plain torch.

OpenAI's Whisper (Radford et al. 2022, MIT licence) encodes 16 kHz speech as an 80-band log-mel
spectrogram, two 1-D convolutions (the second with stride 2: 50 frames per second) and a stack
of pre-norm transformer blocks. Its hidden states carry speaker-, channel- and language-robust
cues that make it the strongest frozen front end for emotion recognition on the EmoBox
benchmark. escucha reads the encoder weights from a local ``safetensors`` file (converted once
by ``scripts/convert_whisper.py``, which checks the source's hash); nothing is downloaded and no
Whisper package is needed at run time.

The encoder takes inputs of any length up to 30 s: unlike Whisper's decoder-facing use, the
spectrogram is not padded to 30 s, and the positional embedding is cut to the input's frames.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..errors import ConfigError
from .config import bundled_whisper_dir, n_pooled, whisper_dir  # noqa: F401  (torch-free; re-exported here)
from .spectral import WHISPER_HOP as HOP, WHISPER_N_FFT as N_FFT, WHISPER_N_MELS as N_MELS
from .spectral import WHISPER_SAMPLE_RATE as SAMPLE_RATE, mel_filterbank

__all__ = ["WhisperEncoder", "whisper_log_mel", "load_whisper_encoder", "bundled_whisper_dir", "pooled_states",
           "speech_frames", "pool_mean_std"]

MAX_SECONDS = 30.0


@lru_cache(maxsize=2)
def _mel_filters() -> torch.Tensor:
    return torch.from_numpy(mel_filterbank(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS))


def whisper_log_mel(wav: torch.Tensor) -> torch.Tensor:
    """Whisper's front end: ``(B, T)`` 16 kHz waveforms -> ``(B, 80, T // 160)`` log-mel.

    Hann-windowed 400-point STFT, hop 160, reflect padding; power through the slaney mel
    filterbank; ``log10`` floored 8 decades below each clip's maximum, then ``(x + 4) / 4``.
    """
    window = torch.hann_window(N_FFT, periodic=True, dtype=wav.dtype, device=wav.device)
    spec = torch.stft(wav, N_FFT, HOP, window=window, center=True, pad_mode="reflect", return_complex=True)
    power = spec[..., :-1].abs() ** 2
    mel = torch.matmul(_mel_filters().to(wav.dtype), power)
    log = torch.clamp(mel, min=1e-10).log10()
    log = torch.maximum(log, log.amax(dim=(-2, -1), keepdim=True) - 8.0)
    return (log + 4.0) / 4.0


class _Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.attn_ln = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.mlp_ln = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.attn_ln(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = nn.functional.scaled_dot_product_attention(q, k, v)
        x = x + self.out(a.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(nn.functional.gelu(self.fc1(self.mlp_ln(x))))


class WhisperEncoder(nn.Module):
    """Whisper's audio encoder: log-mel ``(B, 80, F)`` -> hidden states of every layer.

    Parameters
    ----------
    d_model, n_layers, n_heads : int
        Width, depth and attention heads (tiny: 384, 4, 6; base: 512, 6, 8).
    n_ctx : int
        Positions of the learned embedding (1500 = 30 s).
    """

    def __init__(self, d_model: int = 384, n_layers: int = 4, n_heads: int = 6, n_ctx: int = 1500, n_mels: int = N_MELS):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, d_model, 3, padding=1)
        self.conv2 = nn.Conv1d(d_model, d_model, 3, stride=2, padding=1)
        self.register_buffer("positions", torch.zeros(n_ctx, d_model))
        self.blocks = nn.ModuleList(_Block(d_model, n_heads) for _ in range(n_layers))
        self.ln_post = nn.LayerNorm(d_model)

    def forward(self, mel: torch.Tensor, *, depth: int | None = None) -> list[torch.Tensor]:
        """Hidden states ``[(B, F/2, D)] * (n_layers + 1)``: the input to the first block, each
        block's output, the last one after the final layer norm. ``depth``: run only the first
        ``depth`` blocks (``depth + 1`` states)."""
        x = nn.functional.gelu(self.conv1(mel))
        x = nn.functional.gelu(self.conv2(x)).transpose(1, 2)
        if x.shape[1] > self.positions.shape[0]:
            raise ConfigError(f"Whisper encoder takes at most {MAX_SECONDS:.0f} s per window")
        x = x + self.positions[: x.shape[1]]
        states = [x]
        for i, blk in enumerate(self.blocks[:depth]):
            x = blk(x)
            states.append(self.ln_post(x) if i == len(self.blocks) - 1 else x)
        return states


def speech_frames(mel: torch.Tensor, floor_db: float) -> torch.Tensor:
    """Which encoder frames to pool: ``(B, ceil(F / 2))`` float, 1 where the frame's energy is
    within ``floor_db`` of the loudest frame of its input, else 0.

    ``mel``: Whisper's normalised log-mel ``(B, 80, F)`` (:func:`whisper_log_mel`). A frame's
    energy is the log of its mel power summed over bands; the encoder's frame ``j`` (50 per
    second) takes the louder of mel frames ``2j`` and ``2j + 1``. Digital silence (a short
    window's zero padding) and a line's hiss between words fall below the floor, so the pooled
    statistics describe the speech alone, however much quiet surrounds it: a clip, the same clip
    with silence around it and the same clip as a turn cut by ``analyze`` pool the same frames.
    The loudest frame always passes, so no input pools nothing.
    """
    ln10 = 2.302585092994046
    energy = torch.logsumexp(mel * (4.0 * ln10), dim=1) / ln10            # (B, F), decades + a constant
    energy = nn.functional.max_pool1d(energy.unsqueeze(1), 2, 2, ceil_mode=True).squeeze(1)
    return (energy >= energy.amax(dim=-1, keepdim=True) - float(floor_db) / 10.0).to(mel.dtype)


def pool_mean_std(h: torch.Tensor, weights: torch.Tensor | None) -> list[torch.Tensor]:
    """``[mean, std]`` over time of states ``(B, T, D)``, over the frames ``weights`` ``(B, T)``
    marks (``None``: all frames; population std)."""
    if weights is None:
        return [h.mean(dim=1), h.std(dim=1, unbiased=False)]
    w = weights.unsqueeze(-1)
    n = w.sum(dim=1)
    mean = (h * w).sum(dim=1) / n
    var = ((h - mean.unsqueeze(1)).square() * w).sum(dim=1) / n
    return [mean, var.sqrt()]


def pooled_states(encoder: WhisperEncoder, wav: torch.Tensor, *, layers: tuple[int, ...] | None = None,
                  floor_db: float | None = None) -> torch.Tensor:
    """Mean and standard deviation over time of the chosen hidden states.

    ``wav``: ``(B, T)`` at 16 kHz, at least 0.02 s. Returns ``(B, len(layers) * 2 * D)``, for each
    layer its mean then its std. ``layers`` index :meth:`WhisperEncoder.forward`'s list
    (default: all). ``floor_db``: pool only the frames :func:`speech_frames` keeps (``None``: all).
    """
    mel = whisper_log_mel(wav)
    states = encoder(mel, depth=max(layers) if layers else None)  # no block past the last used
    weights = None if floor_db is None else speech_frames(mel, floor_db)
    layers = tuple(range(len(states))) if layers is None else layers
    parts = []
    for i in layers:
        parts += pool_mean_std(states[i], weights)
    return torch.cat(parts, dim=-1)


def weight_files(d: Path) -> list[Path]:
    """The encoder's weights in folder ``d``: ``model.safetensors``, or its shards
    ``model-00001-of-0000N.safetensors`` ... (all N of them; large encoders are stored in pieces
    under 20 MB); ``[]`` when there are none or a shard is missing."""
    if (d / "model.safetensors").is_file():
        return [d / "model.safetensors"]
    shards = sorted(d.glob("model-*-of-*.safetensors"))
    if not shards:
        return []
    try:
        n = int(shards[0].stem.rsplit("-of-", 1)[1])
    except ValueError:
        return []
    expected = [d / f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
    return expected if shards == expected else []


@lru_cache(maxsize=4)
def _load(path: str) -> WhisperEncoder:
    from safetensors.torch import load_file

    d = Path(path)
    cfg_file, files = d / "config.json", weight_files(d)
    if not cfg_file.is_file() or not files:
        raise ConfigError(f"{d}: not a Whisper encoder folder (expected config.json and model.safetensors or all "
                          "its model-0000K-of-0000N.safetensors shards; make one with scripts/convert_whisper.py)")
    try:
        cfg = json.loads(cfg_file.read_text())
        enc = WhisperEncoder(d_model=int(cfg["d_model"]), n_layers=int(cfg["n_layers"]),
                             n_heads=int(cfg["n_heads"]), n_ctx=int(cfg.get("n_ctx", 1500)))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"{cfg_file}: not a Whisper encoder config ({e})") from None
    weights = files[0] if len(files) == 1 else d / "model-*.safetensors"
    state = {}
    for f in files:
        state.update({k: v.float() for k, v in load_file(str(f)).items()})
    bad = [k for k, v in state.items() if not torch.isfinite(v).all()]
    if bad:
        raise ConfigError(f"{weights}: non-finite values in {', '.join(bad[:3])}")
    try:
        enc.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ConfigError(f"{weights}: weights do not fit the encoder config ({str(e).splitlines()[0]})") from None
    return enc.eval().requires_grad_(False)


def load_whisper_encoder(path: str | os.PathLike | None = None) -> WhisperEncoder:
    """The encoder in ``path`` (:func:`~escucha.features.config.whisper_dir`: default the bundled
    tiny.en; ``"whisper-base"`` the bundled base), loaded once per process."""
    return _load(str(whisper_dir(path)))


def _check_rate(sample_rate: int):
    if sample_rate != SAMPLE_RATE:
        raise ConfigError(f"Whisper features need sample_rate {SAMPLE_RATE} (got {sample_rate})")

