"""The speaker encoder: a GE2E d-vector network (Resemblyzer's 3-layer LSTM on 40 mel bands,
256-d embeddings) run in numpy, from weights shipped in ``escucha/assets/speakers/``.

Converted once by ``scripts/convert_speaker_encoder.py`` (SHA-256 of the source checked, LICENSE
beside the weights); neither torch nor the ``resemblyzer`` package is needed at run time.

Shapes: waveforms are float32 mono at :attr:`SpeakerEncoder.sample_rate` (16 kHz); mel frames
are ``(frames, 40)`` at 100 frames per second; embeddings are ``(N, 256)``, non-negative and
L2-normalised (cosine similarity is a dot product).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ModelError

__all__ = ["SpeakerEncoder", "load_speaker_encoder", "DEFAULT_ENCODER_DIR"]

DEFAULT_ENCODER_DIR = Path(__file__).resolve().parents[1] / "assets" / "speakers" / "resemblyzer"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * np.tanh(0.5 * x) + 0.5


class SpeakerEncoder:
    """Resemblyzer's voice encoder in numpy.

    Parameters
    ----------
    path : path, optional
        A folder with ``model.safetensors`` and ``config.json`` (default: the shipped one).
    """

    def __init__(self, path: str | Path | None = None):
        from safetensors.numpy import load_file

        path = Path(path) if path is not None else DEFAULT_ENCODER_DIR
        try:
            self.config = json.loads((path / "config.json").read_text())
            w = load_file(str(path / "model.safetensors"))
        except (OSError, ValueError) as e:
            raise ModelError(f"{path}: cannot read the speaker encoder ({e})") from None
        c = self.config
        self.sample_rate = int(c["sample_rate"])
        self.n_fft, self.hop = int(c["n_fft"]), int(c["hop_length"])
        self.partial_frames = int(c["partial_frames"])
        self.norm_dbfs = float(c.get("norm_dbfs", -30.0))
        H = int(c["hidden"])
        self.layers = []
        for k in range(int(c["layers"])):
            wih, whh = w[f"lstm.weight_ih_l{k}"], w[f"lstm.weight_hh_l{k}"]
            b = w[f"lstm.bias_ih_l{k}"] + w[f"lstm.bias_hh_l{k}"]
            # torch's gate order i, f, g, o -> i, f, o, g: the three sigmoids side by side
            perm = np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]
            self.layers.append((np.ascontiguousarray(wih[perm].T, np.float32),
                                np.ascontiguousarray(whh[perm].T, np.float32), b[perm].astype(np.float32)))
        self.hidden = H
        self.lin_w = np.ascontiguousarray(w["linear.weight"].T, np.float32)
        self.lin_b = w["linear.bias"].astype(np.float32)
        from ..features.spectral import mel_filterbank

        self.fb = mel_filterbank(sr=self.sample_rate, n_fft=self.n_fft, n_mels=int(c["n_mels"])).T.copy()

    @property
    def dim(self) -> int:
        return int(self.lin_w.shape[1])

    # -- front end ------------------------------------------------------------------------------
    def normalize(self, wav: np.ndarray) -> np.ndarray:
        """Raise the level to ``norm_dbfs`` RMS (never lower it), as Resemblyzer does."""
        wav = np.asarray(wav, np.float32)
        rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if len(wav) else 0.0
        if rms <= 1e-8:
            return wav
        gain = 10 ** (self.norm_dbfs / 20) / rms
        return wav * np.float32(gain) if gain > 1 else wav

    def mel(self, wav: np.ndarray) -> np.ndarray:
        """Mel power spectrogram (not log, as the encoder was trained): ``(T,)`` -> ``(frames, 40)``."""
        from ..features.spectral import stft_power

        return (stft_power(np.asarray(wav, np.float32), n_fft=self.n_fft, hop_length=self.hop)[0] @ self.fb)

    # -- network --------------------------------------------------------------------------------
    def embed_mels(self, mels: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Embeddings of a batch ``(B, frames, 40)`` -> ``(B, 256)``; ``lengths`` (frames per
        item) lets shorter items end early (their state is held past their end)."""
        x = np.asarray(mels, np.float32)
        B, T, _ = x.shape
        H = self.hidden
        mask = None
        if lengths is not None and (np.asarray(lengths) < T).any():
            mask = (np.arange(T)[None, :] < np.asarray(lengths)[:, None])
        for wih, whh, b in self.layers:
            gx = (x.reshape(B * T, -1) @ wih).reshape(B, T, 4 * H)
            gx += b
            h = np.zeros((B, H), np.float32)
            c = np.zeros((B, H), np.float32)
            out = np.empty((B, T, H), np.float32)
            for t in range(T):
                g = gx[:, t] + h @ whh
                s = _sigmoid(g[:, :3 * H])
                cn = s[:, H:2 * H] * c + s[:, :H] * np.tanh(g[:, 3 * H:])
                hn = s[:, 2 * H:] * np.tanh(cn)
                if mask is not None:
                    m = mask[:, t:t + 1]
                    cn, hn = np.where(m, cn, c), np.where(m, hn, h)
                c, h = cn, hn
                out[:, t] = h
            x = out
        e = np.maximum(h @ self.lin_w + self.lin_b, 0.0)
        return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-9)

    def embed_spans(self, mel: np.ndarray, spans: list[tuple[int, int]], *, batch: int = 64) -> np.ndarray:
        """Embeddings of frame spans ``[(a, b)]`` of one mel spectrogram -> ``(len(spans), 256)``."""
        out = np.zeros((len(spans), self.dim), np.float32)
        order = sorted(range(len(spans)), key=lambda i: -(spans[i][1] - spans[i][0]))
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            lens = np.array([spans[i][1] - spans[i][0] for i in idx])
            T = int(lens.max())
            x = np.zeros((len(idx), T, mel.shape[1]), np.float32)
            for j, i in enumerate(idx):
                a, b = spans[i]
                x[j, :b - a] = mel[a:b]
            out[idx] = self.embed_mels(x, lens)
        return out

    def embed(self, wav: np.ndarray, *, rate: float = 1.3, min_coverage: float = 0.75) -> np.ndarray:
        """One utterance's embedding ``(256,)``: the normalised mean of its 1.6 s partials,
        as Resemblyzer's ``embed_utterance`` (used for enrolment clips)."""
        wav = np.asarray(wav, np.float32)
        n_frames = int(np.ceil((len(wav) + 1) / self.hop))
        step = max(1, int(round(self.sample_rate / rate / self.hop)))
        P = self.partial_frames
        starts = list(range(0, max(1, n_frames - P + step + 1), step))
        if len(starts) > 1 and (len(wav) - starts[-1] * self.hop) / (P * self.hop) < min_coverage:
            starts = starts[:-1]
        need = (starts[-1] + P) * self.hop
        if need > len(wav):
            wav = np.pad(wav, (0, need - len(wav)))
        mel = self.mel(wav)
        e = self.embed_spans(mel, [(s, s + P) for s in starts]).mean(axis=0)
        return e / max(float(np.linalg.norm(e)), 1e-9)


@lru_cache(maxsize=2)
def load_speaker_encoder(path: str | None = None) -> SpeakerEncoder:
    """The shipped encoder (or the one in ``path``), loaded once per process."""
    return SpeakerEncoder(path)
