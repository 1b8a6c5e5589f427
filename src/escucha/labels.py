"""The emotion vocabulary shared by corpora, models, metrics and plots, and how other names map onto it.

escucha has one label space, :data:`EMOTIONS`. Every corpus reader turns its own codes or names
into these eight labels; a corpus that has no counterpart for one of its classes (EmoDB's
boredom) skips those files and says so, it never relabels them. :func:`normalize_label` is the
single place where a name ("Anger", "FEA", "pleasant surprise", "joy") becomes a label, with an
optional user label map (``{"their name": "escucha label"}``, ``null`` to skip) for anything else.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import ConfigError, CorpusError

__all__ = ["EMOTIONS", "EMOTION_COLORS", "SYNONYMS", "normalize_label", "resolve_labels", "load_label_map",
           "as_label_map", "label_key", "HIGH_AROUSAL", "NEGATIVE", "dimension_scores"]

#: RAVDESS emotions, in the order of their file-name codes 01..08.
EMOTIONS: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
)

#: The coarse dimensions, as the emotion-recognition literature maps categories onto them (Schuller
#: et al. 2009, "Acoustic emotion recognition: a benchmark comparison of performances", ASRU: on
#: EmoDB, high arousal = anger, fear, joy; negative valence = anger, disgust, fear, sadness, with
#: boredom, which escucha does not have). Surprise is high arousal and not negative; calm is low
#: arousal, like neutral and sadness.
HIGH_AROUSAL: frozenset[str] = frozenset({"angry", "fearful", "happy", "surprised"})
NEGATIVE: frozenset[str] = frozenset({"angry", "disgust", "fearful", "sad"})

def dimension_scores(probabilities: Mapping[str, float]) -> dict[str, float]:
    """Arousal and valence from an emotion distribution: ``{"arousal": P(high arousal),
    "negative": P(negative valence)}``, each the summed probability (or share of speech time) of
    the emotions in :data:`HIGH_AROUSAL` and :data:`NEGATIVE`, over the labels given (a model
    answering among fewer labels renormalises over them). Empty when nothing is given.

    >>> dimension_scores({"neutral": 0.5, "angry": 0.3, "sad": 0.2})
    {'arousal': 0.3, 'negative': 0.5}
    """
    total = float(sum(probabilities.values()))
    if not total > 0:
        return {}
    high = sum(float(p) for k, p in probabilities.items() if k in HIGH_AROUSAL)
    neg = sum(float(p) for k, p in probabilities.items() if k in NEGATIVE)
    return {"arousal": round(high / total, 4), "negative": round(neg / total, 4)}


#: One fixed colour per emotion, used by every plot (colour-blind friendly: Okabe-Ito + grey).
EMOTION_COLORS: dict[str, str] = {
    "neutral": "#999999",
    "calm": "#56B4E9",
    "happy": "#E69F00",
    "sad": "#0072B2",
    "angry": "#D55E00",
    "fearful": "#CC79A7",
    "disgust": "#009E73",
    "surprised": "#F0E442",
}

#: Names accepted for each label, compared after :func:`label_key` (case, spaces, ``-``/``_``
#: folded). The one- and two-letter forms are SAVEE's codes (``a d f h n sa su``); the
#: three-letter ones CREMA-D's; ``ps`` is TESS's "pleasant surprise".
SYNONYMS: dict[str, tuple[str, ...]] = {
    "neutral": ("neutral", "neu", "neut", "n", "neutrality"),
    "calm": ("calm", "calmness"),
    "happy": ("happy", "happiness", "joy", "joyful", "hap", "h"),
    "sad": ("sad", "sadness", "sa"),
    "angry": ("angry", "anger", "ang", "a"),
    "fearful": ("fearful", "fear", "fea", "afraid", "scared", "f"),
    "disgust": ("disgust", "disgusted", "dis", "d"),
    "surprised": ("surprised", "surprise", "sur", "su", "ps", "pleasant_surprise", "pleasant_surprised"),
}

_LOOKUP: dict[str, str] = {name: label for label, names in SYNONYMS.items() for name in names}
_SEP = re.compile(r"[\s_\-.]+")


def label_key(name: str) -> str:
    """The comparison form of a label name: case-folded, trimmed, runs of spaces, ``-``, ``_`` and
    ``.`` turned into one ``_`` (``" Pleasant-Surprise "`` -> ``"pleasant_surprise"``)."""
    return _SEP.sub("_", str(name).strip().casefold()).strip("_")


def _accepted() -> str:
    return ", ".join(EMOTIONS)


def as_label_map(label_map: Mapping[str, str | None] | str | os.PathLike | None) -> dict[str, str] | None:
    """Check a user label map and return it keyed by :func:`label_key`, values escucha labels
    (``""`` = skip those files). ``label_map`` may be a mapping or the path of a JSON file."""
    if label_map is None:
        return None
    if isinstance(label_map, (str, os.PathLike)):
        return load_label_map(label_map)
    return _check_map(label_map, "label map")


def _check_map(raw: Mapping, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in raw.items():
        if not isinstance(k, str) or not label_key(k):
            raise ConfigError(f"{where}: key {k!r} is not a label name")
        if v is None or (isinstance(v, str) and not v.strip()):
            out[label_key(k)] = ""
            continue
        if not isinstance(v, str):
            raise ConfigError(f"{where}: {k!r} maps to {v!r}; expected an escucha label ({_accepted()}) or null")
        target = _LOOKUP.get(label_key(v))
        if target is None:
            raise ConfigError(f"{where}: {k!r} maps to {v!r}, which is not an escucha label; "
                              f"accepted: {_accepted()} (or null to skip those files)")
        out[label_key(k)] = target
    return out


def load_label_map(path: str | os.PathLike) -> dict[str, str]:
    """Read a label map from a JSON file ``{"their name": "escucha label" | null}``.

    Raises
    ------
    ConfigError
        If the file is missing, is not a JSON object, or maps a name to something that is not an
        escucha label.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: label map not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the label map ({getattr(e, 'strerror', None) or e})") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: label map is not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a label map is a JSON object like {{\"their name\": \"angry\"}}, "
                          f"not {type(raw).__name__}")
    return _check_map(raw, str(path))


def _lookup(name: str, prepared: dict[str, str] | None) -> str | None:
    k = label_key(name)
    if prepared is not None and k in prepared:
        return prepared[k]
    return _LOOKUP.get(k)


def normalize_label(name: str, label_map: Mapping[str, str | None] | str | os.PathLike | None = None) -> str:
    """Turn a label name into one of :data:`EMOTIONS`.

    Parameters
    ----------
    name : str
        A corpus's or a user's name for an emotion: ``"Anger"``, ``"FEA"``, ``"pleasant surprise"``.
    label_map : mapping or path, optional
        ``{"their name": "escucha label"}`` (or a JSON file of it), consulted before the built-in
        synonyms; a name mapped to ``None`` or ``""`` returns ``""``, meaning "skip these files".

    Returns
    -------
    str
        An element of :data:`EMOTIONS`, or ``""`` when the label map says to skip the name.

    Raises
    ------
    CorpusError
        If the name is neither a known synonym nor in the label map.
    """
    got = _lookup(name, as_label_map(label_map))
    if got is None:
        raise CorpusError(f"{name!r} is not an emotion label escucha knows; accepted: {_accepted()} and common "
                          "synonyms (anger, fear, joy, ...); map others with --label-map FILE.json")
    return got


def resolve_labels(names: Iterable[str], label_map: Mapping[str, str | None] | str | os.PathLike | None = None,
                   *, source: str = "") -> dict[str, str]:
    """Resolve every distinct name at once: ``{name: label or ""}``.

    Raises one :class:`CorpusError` that lists all the unknown names with their file counts and
    the accepted labels, so a user fixes the label map in one go.
    """
    counts = Counter(names)
    prepared = as_label_map(label_map)
    out: dict[str, str] = {}
    unknown: list[tuple[str, int]] = []
    for name, n in counts.items():
        got = _lookup(name, prepared)
        if got is None:
            unknown.append((name, n))
        else:
            out[name] = got
    if unknown:
        unknown.sort(key=lambda kv: (-kv[1], kv[0]))
        listed = ", ".join(f"{name!r} ({n} file{'s' if n != 1 else ''})" for name, n in unknown[:12])
        more = f" and {len(unknown) - 12} more" if len(unknown) > 12 else ""
        raise CorpusError(f"{source + ': ' if source else ''}unknown emotion label{'s' if len(unknown) > 1 else ''} "
                          f"{listed}{more}; accepted: {_accepted()} and common synonyms (anger, fear, joy, ...); "
                          f"map others with --label-map FILE.json ({{\"{unknown[0][0]}\": \"EMOTION\"}}, EMOTION one of those, or "
                          "null to skip)")
    return out
