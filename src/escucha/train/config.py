"""Training configuration: one JSON file plus command-line overrides defines a run.

Every value is checked when a :class:`TrainConfig` is made, before any file is written: a bad
value is a :class:`~escucha.errors.ConfigError` that names the option, the value and what would
be accepted.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

from ..errors import ConfigError

__all__ = ["TrainConfig", "AugmentConfig", "load_config", "default_config", "DEFAULT_RECIPE", "list_recipes",
           "recipe_path"]

#: the named recipes that ship inside the package (``--config whisper-lr``); a checkout also sees
#: them as ``configs/NAME.json``
RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"


def list_recipes() -> list[str]:
    """Names of the recipes shipped with escucha (``--config NAME``)."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.json"))


def recipe_path(config: str | Path) -> Path:
    """The file ``config`` names: an existing file wins; else a shipped recipe's name
    (``whisper-lr``, or ``whisper-lr.json``).

    Raises
    ------
    ConfigError
        Neither a file nor a shipped recipe (the message lists the recipes).
    """
    p = Path(config)
    if p.is_file():
        return p
    name = p.name[:-5] if p.name.endswith(".json") else p.name
    if p.parent == Path(".") or p.parent.name == "configs":  # a bare name, or a checkout's configs/NAME.json
        shipped = RECIPES_DIR / f"{name}.json"
        if shipped.is_file():
            return shipped
    raise ConfigError(f"{p}: config file not found, and not a shipped recipe (recipes: {', '.join(list_recipes())})")

#: The recipe ``escucha train`` and ``escucha cv`` use when no ``--config`` is given: the shipped
#: model's (recipe ``m5-aug-last``, the best M5 recipe of the cross-validation in
#: docs/results.md): M5 on 8 kHz raw audio (its preset features), gain / noise / speed
#: augmentation, label smoothing, 80 epochs, the last epoch kept, no validation speakers.
#: With another ``--model`` the same training settings apply to that model and its own features.
DEFAULT_RECIPE: dict = {
    "model": "m5",
    "clip_seconds": 3.0,
    "epochs": 80,
    "batch_size": 32,
    "lr": 0.003,
    "weight_decay": 0.0001,
    "label_smoothing": 0.1,
    "balance": "weights",
    "val_speakers": 0,
    "augment": {"gain_db": 6.0, "noise_prob": 0.3, "snr_db": [10.0, 40.0],
                "speed_prob": 0.5, "speed_range": [0.9, 1.1]},
}

#: most seconds a training crop may be (longer ones would allocate batch x seconds x rate floats)
MAX_CLIP_SECONDS = 600.0


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _need_int(name: str, v, lo: int, hi: int | None = None) -> None:
    if not _is_int(v) or v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"from {lo} to {hi}"
        raise ConfigError(f"{name} must be a whole number {rng}, got {v!r}")


def _need_num(name: str, v, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
              hi_open: bool = False) -> None:
    ok = _is_num(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        parts = []
        if lo is not None:
            parts.append(f"{'>' if lo_open else '>='} {lo:g}")
        if hi is not None:
            parts.append(f"{'<' if hi_open else '<='} {hi:g}")
        raise ConfigError(f"{name} must be a finite number{' ' + ' and '.join(parts) if parts else ''}, got {v!r}")


def _need_range(name: str, v, *, positive: bool = False) -> tuple[float, float]:
    if (not isinstance(v, (tuple, list)) or len(v) != 2 or not all(_is_num(x) for x in v) or v[0] > v[1]
            or (positive and v[0] <= 0)):
        what = "two finite numbers > 0, low <= high" if positive else "two finite numbers, low <= high"
        raise ConfigError(f"{name} must be {what}, got {v!r}")
    return (v[0], v[1])


@dataclass
class AugmentConfig:
    """Waveform and spectrogram augmentation (all off by default: the class project used none).

    Probabilities are per clip in [0, 1]; ranges ``(low, high)`` are drawn uniformly.
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

    def __post_init__(self):
        _need_num("augment.gain_db", self.gain_db, lo=0)
        for name in ("noise_prob", "speed_prob", "reverb_prob", "telephone_prob"):
            _need_num(f"augment.{name}", getattr(self, name), lo=0, hi=1)
        self.snr_db = _need_range("augment.snr_db", self.snr_db)
        self.speed_range = _need_range("augment.speed_range", self.speed_range, positive=True)
        self.rt60_range = _need_range("augment.rt60_range", self.rt60_range, positive=True)
        for name in ("freq_masks", "freq_mask_width", "time_masks", "time_mask_width"):
            _need_int(f"augment.{name}", getattr(self, name), 0)
        _need_num("augment.mixup_alpha", self.mixup_alpha, lo=0)


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json`` in the run folder).

    ``val_speakers`` left at ``None`` becomes 2, or 0 with ``split="all"`` (a final model
    hears every speaker); ``select`` left at ``None`` becomes ``"val_uar"`` when there is a
    validation set and ``"last"`` (keep the last epoch) when there is none.

    Raises
    ------
    ConfigError
        For an unknown choice, a value of the wrong type or out of range (e.g. ``lr <= 0``).
    """

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
    balance: str = "weights"          # weights | sampler | corpus | none ("corpus": every corpus
                                      # and class weighs the same, so a small corpus is not drowned)
    split: str = "actors"             # actors | random | all | corpus (leave test_corpus out)
    test_corpus: str | None = None    # split "corpus": the corpus held out for testing
    labels: list | None = None        # train and test on these labels only (None: all present)
    augment_copies: int = 0           # closed-form models: augmented copies of each training clip
    augment_original: bool = True     # closed-form models: keep the clean clips beside the copies
    conditions: list | None = None    # closed-form models: hear each training clip under each of these
                                      # listening conditions (escucha.train.conditions: "clip", "cut",
                                      # "telephone-mu", ...); None: the clips as recorded
    folds: int = 5
    fold: int = 0
    val_speakers: int | None = None   # None: 2, or 0 with split "all"
    seed: int = 0                     # initialisation, batch order, augmentation
    split_seed: int = 0               # which speakers go to which fold (kept apart from `seed`
                                      # so that runs with different seeds share their folds)
    threads: int = 0                  # 0: torch's default
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    select: str | None = None         # model selection: val_uar | last (None: val_uar if validating)

    def __post_init__(self):
        if isinstance(self.augment, dict):
            known = {f.name for f in dataclasses.fields(AugmentConfig)}
            bad = set(self.augment) - known
            if bad:
                raise ConfigError(f"unknown augment option(s): {', '.join(sorted(bad))}; known: {', '.join(sorted(known))}")
            self.augment = AugmentConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.augment.items()})
        elif not isinstance(self.augment, AugmentConfig):
            raise ConfigError(f"augment must be an object of augmentation options, got {self.augment!r}")
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(f"model must be a model name (see 'escucha models'), got {self.model!r}")
        for name in ("model_args", "features"):
            if not isinstance(getattr(self, name), dict):
                raise ConfigError(f"{name} must be an object of options, got {getattr(self, name)!r}")
        checks = [
            ("split", self.split, ("actors", "random", "all", "corpus")),
            ("balance", self.balance, ("weights", "sampler", "corpus", "none")),
        ]
        for name, value, ok in checks:
            if value not in ok:
                raise ConfigError(f"{name} {value!r} is not one of {', '.join(ok)}")
        _need_int("epochs", self.epochs, 1, 100_000)
        _need_int("batch_size", self.batch_size, 2, 100_000)
        if self.clip_seconds is not None:
            _need_num("clip_seconds", self.clip_seconds, lo=0, lo_open=True, hi=MAX_CLIP_SECONDS)
        if self.trim_db is not None:
            _need_num("trim_db", self.trim_db, lo=0, lo_open=True)
        if self.loudness_db is not None:
            _need_num("loudness_db", self.loudness_db, lo=-100, hi=0)
        _need_num("lr", self.lr, lo=0, lo_open=True)
        _need_num("weight_decay", self.weight_decay, lo=0)
        _need_num("label_smoothing", self.label_smoothing, lo=0, hi=1, hi_open=True)
        _need_int("folds", self.folds, 2)
        _need_int("fold", self.fold, 0)
        if self.fold >= self.folds:
            raise ConfigError(f"fold must be from 0 to {self.folds - 1} (folds={self.folds}), got {self.fold}")
        _need_int("seed", self.seed, 0)
        _need_int("split_seed", self.split_seed, 0)
        _need_int("augment_copies", self.augment_copies, 0, 20)
        if self.conditions is not None:
            from .conditions import CONDITIONS

            if not isinstance(self.conditions, (list, tuple)) or not self.conditions or \
                    any(c not in CONDITIONS for c in self.conditions) or len(set(self.conditions)) < len(self.conditions):
                raise ConfigError(f"conditions must be a list of distinct listening conditions among "
                                  f"{', '.join(CONDITIONS)}; got {self.conditions!r}")
            self.conditions = list(self.conditions)
        if self.split == "corpus" and not self.test_corpus:
            raise ConfigError("split 'corpus' needs test_corpus: the corpus to leave out")
        if self.labels is not None:
            from ..labels import EMOTIONS

            if not isinstance(self.labels, (list, tuple)) or len(self.labels) < 2 or \
                    any(lab not in EMOTIONS for lab in self.labels):
                raise ConfigError(f"labels must be a list of at least two of {', '.join(EMOTIONS)}; got {self.labels!r}")
            self.labels = [lab for lab in EMOTIONS if lab in set(self.labels)]
        _need_int("threads", self.threads, 0)
        # derived defaults: remember which were left open so that replace() derives them again
        self._derived = set()
        if self.val_speakers is None:
            self.val_speakers = 0 if self.split == "all" else 2
            self._derived.add("val_speakers")
        _need_int("val_speakers", self.val_speakers, 0)
        if self.select is None:
            self.select = "val_uar" if self.split == "random" or self.val_speakers > 0 else "last"
            self._derived.add("select")
        if self.select not in ("val_uar", "last"):
            raise ConfigError(f"select {self.select!r} is not one of val_uar, last")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **kw) -> "TrainConfig":
        d = self.to_dict()
        for k in getattr(self, "_derived", ()):
            d[k] = None
        for k, v in kw.items():
            if k not in d:
                raise ConfigError(f"unknown training option {k!r}")
            d[k] = v
        return TrainConfig(**d)


def load_config(path: str | Path | None = None, **overrides) -> TrainConfig:
    """Read a JSON config (any subset of :class:`TrainConfig` fields) and apply ``overrides``
    (``None`` values are ignored). Fields the file leaves out take :class:`TrainConfig`'s
    defaults."""
    d: dict = {}
    where = ""
    if path is not None:
        p = recipe_path(path)
        where = f"{p}: "
        try:
            d = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{p}: not valid JSON ({e})") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{p}: expected a JSON object")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    bad = set(d) - known
    if bad:
        raise ConfigError(f"{path}: unknown option(s) {', '.join(sorted(bad))}")
    given = {k: v for k, v in overrides.items() if v is not None}
    if set(given) - known:
        raise ConfigError(f"unknown training option(s) {', '.join(sorted(set(given) - known))}")
    d.update(given)
    # an override is the user's flag: name the file only when the bad value came from it
    try:
        return TrainConfig(**d)
    except ConfigError as e:
        option = str(e).split(" ", 1)[0].split(".", 1)[0]
        if where and option not in given:
            raise ConfigError(f"{where}{e}") from None
        raise


def default_config(**overrides) -> TrainConfig:
    """:data:`DEFAULT_RECIPE` with ``overrides`` applied (``None`` values are ignored)."""
    return load_config(None, **{**json.loads(json.dumps(DEFAULT_RECIPE)),
                                **{k: v for k, v in overrides.items() if v is not None}})
