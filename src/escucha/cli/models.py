"""``escucha models``: list the model names the registry knows."""

from __future__ import annotations


def register(sub):
    p = sub.add_parser("models", help="list available model architectures")
    p.set_defaults(func=run_models)


def run_models(args) -> int:
    from ..models import create_model, list_models, model_spec, count_parameters

    for name in list_models():
        spec = model_spec(name)
        from ..features import FeatureConfig

        fc = FeatureConfig.from_dict(spec.features)
        n = count_parameters(create_model(name, n_classes=8, in_channels=fc.n_channels))
        print(f"{name:8s} {n:>9,d} params  {fc.kind:6s} {fc.sample_rate // 1000} kHz  {spec.description}")
    return 0
