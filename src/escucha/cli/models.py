"""``escucha models``: list the model names the registry knows, and the bundled trained models."""

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
    from ..inference.predictor import BUNDLED_MODELS, bundled_model_dir

    print("\nbundled trained models (--model NAME; docs/model_card.md):")
    about = {"default": "used when --model is not given: 2 whisper-lr members (clean + telephone), layers 1-3",
             "fast": "1 whisper-lr member, layer 2 over the loudest 1.5 s: about 2.6x the default's throughput"}
    for name in BUNDLED_MODELS:
        there = (bundled_model_dir(name) / "config.json").is_file()
        print(f"{name:13s} {about.get(name, '')}{'' if there else ' (not in this installation)'}")
    return 0
