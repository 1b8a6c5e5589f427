"""``escucha models``: list the model names the registry knows."""

from __future__ import annotations


def register(sub):
    p = sub.add_parser("models", help="list available model architectures")
    p.set_defaults(func=run_models)


def run_models(args) -> int:
    from ..features import FeatureConfig
    from ..models import count_parameters, create_model, list_models, model_spec

    for name in list_models():
        spec = model_spec(name)
        kind, rate = spec.features.get("kind", "logmel"), spec.features.get("sample_rate", 16000)
        if kind == "encoder":
            size = "(size depends on the encoder)"
        else:
            fc = FeatureConfig.from_dict(spec.features)
            size = f"{count_parameters(create_model(name, n_classes=8, in_channels=fc.n_channels)):>9,d} params"
        print(f"{name:13s} {size:>16s}  {kind:7s} {rate // 1000} kHz  {spec.description}")
    return 0
