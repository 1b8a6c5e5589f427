"""``escucha models``: the bundled trained models, the shipped training recipes and the model
architectures the registry knows (the last needs escucha[train]: the architectures are torch
modules)."""

from __future__ import annotations


def register(sub):
    p = sub.add_parser("models", help="list the bundled models, the shipped recipes and the architectures")
    p.set_defaults(func=run_models)


#: what each bundled model is for (docs/model_card.md); what it is made of is read from its config
ABOUT_BUNDLED = {
    "default": "used when --model is not given",
    "fast": "about 2x the default's throughput",
}


def describe_bundled(d) -> str:
    """One line on the bundled model in folder ``d``, read from its config (so it cannot go stale):
    its members, encoder, the Whisper states pooled, which band each member answers, its data."""
    import json
    from pathlib import Path

    d = Path(d)
    cfg = json.loads((d / "config.json").read_text())
    members = cfg.get("ensemble") or [{"path": ".", "model": (cfg.get("model") or {}).get("name")}]

    def states(m) -> str:
        sub = json.loads((d / m["path"] / "config.json").read_text()) if m["path"] != "." else cfg
        f = sub.get("features") or {}
        enc = {None: "tiny.en", "whisper-base": "base"}.get(f.get("encoder_path"), f.get("encoder_path"))
        layers = f.get("whisper_layers") or []
        span = (f"layers {layers[0]}-{layers[-1]}" if len(layers) > 1 and layers == list(range(layers[0], layers[-1] + 1))
                else "layer" + ("s " if len(layers) > 1 else " ") + ",".join(map(str, layers)))
        window = f" over the loudest {f['max_seconds']:g} s" if f.get("max_seconds") else ""
        return f"Whisper {enc} {span}{window}"

    kinds = sorted({m.get("model") or "?" for m in members})
    what = f"{len(members)} {'/'.join(kinds)} member{'s' if len(members) > 1 else ''}"
    encs = sorted({states(m) for m in members})
    bands = {m.get("band") for m in members}
    routed = "; wide band and telephone band answered by their own member" if {"wide", "narrow"} <= bands else ""
    t = cfg.get("trained_on") or {}
    n_spk = t["speakers"] if isinstance(t.get("speakers"), int) else len(t.get("speakers") or [])
    data = f"; trained on {n_spk} speakers" if n_spk else ""
    return f"{what} on {', '.join(encs)}{routed}{data}"


def run_models(args) -> int:
    from ..inference.predictor import BUNDLED_MODELS, bundled_model_dir
    from ..runtime import torch_available
    from ..train.config import list_recipes

    print("bundled trained models (--model NAME; docs/model_card.md):")
    for name in BUNDLED_MODELS:
        d = bundled_model_dir(name)
        if not (d / "config.json").is_file():
            print(f"  {name:13s} {ABOUT_BUNDLED.get(name, '')} (not in this installation)")
            continue
        print(f"  {name:13s} {ABOUT_BUNDLED.get(name, '')}: {describe_bundled(d)}")
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
