"""Training configuration: one JSON file plus command-line overrides defines a run."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError

__all__ = ["TrainConfig", "AugmentConfig", "load_config"]


@dataclass
class AugmentConfig:
    """Waveform and spectrogram augmentation (all off by default: the class project used none).

    Probabilities are per clip; ranges are drawn uniformly.
    """

    gain_db: float = 0.0                 # random gain in [-gain_db, +gain_db]
    noise_prob: float = 0.0              # white/pink noise at a random SNR
    snr_db: tuple[float, float] = (10.0, 40.0)
    speed_prob: float = 0.0              # resampling speed perturbation (changes tempo and pitch)
    speed_range: tuple[float, float] = (0.9, 1.1)
    reverb_prob: float = 0.0             # synthetic room impulse response (exponential decay)
    rt60_range: tuple[float, float] = (0.1, 0.6)
    telephone_prob: float = 0.0          # 300-3400 Hz band, 8 kHz, G.711 mu-law, light noise
    freq_masks: int = 0                  # SpecAugment
    freq_mask_width: int = 8
    time_masks: int = 0
    time_mask_width: int = 20
    mixup_alpha: float = 0.0             # 0 disables mixup


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json`` in the run folder)."""

    model: str = "cnn"
    model_args: dict = field(default_factory=dict)
    features: dict = field(default_factory=dict)     # overrides of the model's preset
    trim_db: float | None = None
    loudness_db: float | None = -23.0
    clip_seconds: float | None = 3.0  # None: whole clips (utterance-level models)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-2
    label_smoothing: float = 0.0
    balance: str = "weights"          # weights | sampler | none
    split: str = "actors"             # actors | random | all
    folds: int = 5
    fold: int = 0
    val_speakers: int = 2
    seed: int = 0                     # initialisation, batch order, augmentation
    split_seed: int = 0               # which speakers go to which fold (kept apart from `seed`
                                      # so that runs with different seeds share their folds)
    threads: int = 0                  # 0: torch's default
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    select: str = "val_uar"           # model selection: val_uar | last

    def __post_init__(self):
        if isinstance(self.augment, dict):
            known = {f.name for f in dataclasses.fields(AugmentConfig)}
            bad = set(self.augment) - known
            if bad:
                raise ConfigError(f"unknown augment option(s): {', '.join(sorted(bad))}; known: {', '.join(sorted(known))}")
            self.augment = AugmentConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.augment.items()})
        checks = [
            ("split", self.split, ("actors", "random", "all")),
            ("balance", self.balance, ("weights", "sampler", "none")),
            ("select", self.select, ("val_uar", "last")),
        ]
        for name, value, ok in checks:
            if value not in ok:
                raise ConfigError(f"{name} {value!r} is not one of {', '.join(ok)}")
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 2:
            raise ConfigError(f"batch_size must be >= 2, got {self.batch_size}")
        if self.clip_seconds is not None and self.clip_seconds <= 0:
            raise ConfigError(f"clip_seconds must be > 0, got {self.clip_seconds}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **kw) -> "TrainConfig":
        d = self.to_dict()
        for k, v in kw.items():
            if k not in d:
                raise ConfigError(f"unknown training option {k!r}")
            d[k] = v
        return TrainConfig(**d)


def load_config(path: str | Path | None = None, **overrides) -> TrainConfig:
    """Read a JSON config (any subset of :class:`TrainConfig` fields) and apply ``overrides``
    (``None`` values are ignored)."""
    d: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{p}: config file not found")
        try:
            d = json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise ConfigError(f"{p}: not valid JSON ({e})") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{p}: expected a JSON object")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    bad = set(d) - known
    if bad:
        raise ConfigError(f"{path}: unknown option(s) {', '.join(sorted(bad))}")
    d.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**d)
