"""``escucha models``: the bundled trained models, the shipped training recipes and the model
architectures the registry knows (the last needs escucha[train]: the architectures are torch
modules)."""

from __future__ import annotations


def register(sub):
    p = sub.add_parser("models", help="list the bundled models, the shipped recipes and the architectures")
    p.set_defaults(func=run_models)


#: one line on each bundled model (docs/model_card.md)
ABOUT_BUNDLED = {
    "default": "used when --model is not given: 2 whisper-lr members (clean + telephone), layers 1-3",
    "fast": "1 whisper-lr member, layer 2 over the loudest 1.5 s: about 2x the default's throughput",
}


def run_models(args) -> int:
    from ..inference.predictor import BUNDLED_MODELS, bundled_model_dir
    from ..runtime import torch_available
    from ..train.config import list_recipes

    print("bundled trained models (--model NAME; docs/model_card.md):")
    for name in BUNDLED_MODELS:
        there = (bundled_model_dir(name) / "config.json").is_file()
        print(f"  {name:13s} {ABOUT_BUNDLED.get(name, '')}{'' if there else ' (not in this installation)'}")
    print("\nshipped training recipes (train/cv --config NAME):")
    print("  " + "  ".join(list_recipes()))
    print("\narchitectures (train --model NAME):")
    if not torch_available():
        print("  listed with escucha[train] installed (pip install 'escucha[train]'): they are torch modules; "
              "predict, analyze, evaluate and adapt run without them")
        return 0
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
        print(f"  {name:13s} {size:>16s}  {kind:7s} {rate // 1000} kHz  {spec.description}")
    return 0
