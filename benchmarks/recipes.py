"""The recipes benchmarks/bundle_cv.py and benchmarks/calls.py can train and judge: each a set of
members (a training config per band they answer: ``wide`` full-band input, ``narrow`` telephone-band
input, ``any`` both), the shipped ones under their model's name, and the candidates measured
against them (docs/results.md). No heavy import here: calls.py lists them before it loads torch.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: members of each recipe by band: the bundled model (a band-routed pair) and the fast model (one)
RECIPES = {"bundled": {"wide": REPO / "configs" / "whisper-lr.json", "narrow": REPO / "configs" / "whisper-lr-tel.json"},
           # a candidate: full-band input answered 3:1 by the wide and the telephone member
           "bundled-tel25": {"wide": REPO / "configs" / "whisper-lr.json", "any": REPO / "configs" / "whisper-lr-tel.json"},
           # the recipe shipped until the room came in (December 2026): the wide member hears each
           # clip as recorded and cut, no room (docs/results.md, "A room in training")
           "bundled-clip-cut": {"wide": REPO / "benchmarks" / "candidates" / "whisper-lr-clip-cut.json",
                                "narrow": REPO / "configs" / "whisper-lr-tel.json"},
           # a candidate: the telephone member also hears each clip on a speakerphone on the line
           # (room-mild-telephone-mu; docs/results.md, "A speakerphone on a telephone call"): not shipped
           "bundled-speakerphone": {"wide": REPO / "configs" / "whisper-lr.json",
                                    "narrow": REPO / "benchmarks" / "candidates" / "whisper-lr-tel-speakerphone.json"},
           "fast": {"any": REPO / "configs" / "fast.json"},
           # the fast recipe shipped until the room came in (December 2026): clips and their
           # telephone versions, no room
           "fast-clip-telephone": {"any": REPO / "benchmarks" / "candidates" / "fast-clip-telephone.json"}}
#: member weights of a recipe (default: equal)
WEIGHTS = {"bundled-tel25": [3.0, 1.0]}
