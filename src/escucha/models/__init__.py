"""Models by name.

>>> from escucha.models import create_model, list_models
>>> model = create_model("m5", n_classes=8)

Every model maps features ``(B, C, T)`` from :class:`escucha.features.FeatureExtractor` to
logits ``(B, n_classes)``. Each registered name states the feature kind it expects and
default feature settings (its preset), so ``escucha train --model NAME`` needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from ..errors import ModelError

__all__ = ["register_model", "create_model", "list_models", "model_spec", "ModelSpec", "count_parameters"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    factory: Callable[..., nn.Module]
    features: dict = field(default_factory=dict)  # default FeatureConfig fields
    description: str = ""
    accepts: tuple[str, ...] = ("raw", "logmel", "mfcc")  # feature kinds the model can take


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, features: dict, description: str = "", accepts: tuple[str, ...] | None = None):
    """Decorator registering a factory ``f(n_classes, in_channels, **kwargs) -> nn.Module``."""

    def deco(factory):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = ModelSpec(name, factory, dict(features), description,
                                    tuple(accepts) if accepts else (features.get("kind", "logmel"),))
        return factory

    return deco


def _load_builtin():
    from . import m5, cnn, egemaps, heads, whisper_lr  # noqa: F401  (registration side effects)


def list_models() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def model_spec(name: str) -> ModelSpec:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(sorted(_REGISTRY))}") from None


def create_model(name: str, *, n_classes: int, in_channels: int, **kwargs) -> nn.Module:
    """Build the model registered as ``name``; unknown names list the known ones."""
    spec = model_spec(name)
    try:
        return spec.factory(n_classes=n_classes, in_channels=in_channels, **kwargs)
    except TypeError as e:
        raise ModelError(f"model {name!r}: bad arguments {kwargs} ({e})") from None


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
