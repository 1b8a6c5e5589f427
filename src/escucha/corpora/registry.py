"""Every corpus reader by name, layout detection, and reading one or several corpora at once.

:data:`CORPORA` maps a name to a :class:`CorpusReader` (its labels, layout, credit, and its scan
and detection functions). :func:`scan_corpus` reads a folder (detected, or forced with
``corpus=``) or a manifest CSV; :func:`scan_corpora` reads several and concatenates them.
Speaker ids are only unique inside a corpus: key speakers on
:attr:`~escucha.corpora.manifest.Utterance.speaker_key` (``"corpus:speaker"``).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, CorpusError
from ..labels import EMOTIONS, as_label_map, resolve_labels
from . import cremad, emodb, folders, korean, nemo, ravdess, savee, tess
from .manifest import CorpusWarning, Utterance, read_manifest

__all__ = ["CorpusReader", "CORPORA", "get_reader", "detect_corpus", "scan_corpus", "scan_corpora",
           "summary_table"]


@dataclass(frozen=True)
class CorpusReader:
    """A corpus escucha can read.

    Attributes
    ----------
    name : str
        Registry name (``--corpus NAME``).
    labels : tuple of str
        The escucha labels the corpus has (a subset of :data:`escucha.labels.EMOTIONS`).
    scan : callable
        ``scan(root, *, strict=False, **options) -> list[Utterance]``.
    looks_like : callable
        ``looks_like(root) -> bool``: does the folder have this corpus's layout? (Readers that
        take ``label_map`` take it here too.)
    layout : str
        One line describing the layout, for help texts and errors.
    credit : str
        Citation and licence.
    options : frozenset of str
        Keyword options ``scan`` takes besides ``strict`` (``label_map`` where labels are names).
    """

    name: str
    labels: tuple[str, ...]
    scan: Callable[..., list[Utterance]]
    looks_like: Callable[..., bool]
    layout: str
    credit: str = ""
    options: frozenset[str] = frozenset()


CORPORA: dict[str, CorpusReader] = {
    "ravdess": CorpusReader(
        "ravdess", ravdess.LABELS, ravdess.scan_ravdess, ravdess.looks_like_ravdess, ravdess.LAYOUT,
        "Livingstone & Russo (2018), PLoS ONE 13(5): e0196391; CC BY-NC-SA 4.0",
        frozenset({"vocal_channels", "modalities", "read_headers"})),
    "crema-d": CorpusReader(
        "crema-d", cremad.LABELS, cremad.scan_cremad, cremad.looks_like_cremad, cremad.LAYOUT,
        "Cao et al. (2014), IEEE Trans. Affective Computing 5(4): 377-390; ODbL 1.0",
        frozenset({"demographics"})),
    "emodb": CorpusReader(
        "emodb", emodb.LABELS, emodb.scan_emodb, emodb.looks_like_emodb, emodb.LAYOUT,
        "Burkhardt et al. (2005), Proc. Interspeech 2005, 1517-1520"),
    "savee": CorpusReader(
        "savee", savee.LABELS, savee.scan_savee, savee.looks_like_savee, savee.LAYOUT,
        "Haq & Jackson (2009), Proc. AVSP 2009, 53-58; research use only"),
    "tess": CorpusReader(
        "tess", tess.LABELS, tess.scan_tess, tess.looks_like_tess, tess.LAYOUT,
        "Dupuis & Pichora-Fuller (2010), University of Toronto; CC BY-NC-ND 4.0", frozenset({"label_map"})),
    "nemo": CorpusReader(
        "nemo", nemo.LABELS, nemo.scan_nemo, nemo.looks_like_nemo, nemo.LAYOUT,
        "Christop (2024), nEMO: Dataset of Emotional Speech in Polish, Proc. LREC-COLING 2024, 12111-12116; "
        "CC BY-NC-SA 4.0", frozenset({"metadata"})),
    "korean": CorpusReader(
        "korean", korean.LABELS, korean.scan_korean, korean.looks_like_korean, korean.LAYOUT,
        "emotiontts_open_db, KAIST and SELVAS AI (Korean Ministry of Trade, Industry and Energy, project "
        "10080667); research use only, no commercial use"),
    "folders": CorpusReader(
        "folders", folders.LABELS, folders.scan_folders, folders.looks_like_folders, folders.LAYOUT,
        "your own data", frozenset({"label_map"})),
}

_ALIASES = {"cremad": "crema-d", "crema_d": "crema-d", "crema": "crema-d", "folder": "folders",
            "emotiontts": "korean", "emotiontts_open_db": "korean", "emotiontts-open-db": "korean"}
_ALL_OPTIONS = frozenset().union(*(r.options for r in CORPORA.values()))


def get_reader(name: str) -> CorpusReader:
    """The reader called ``name`` (case-insensitive; ``cremad`` is ``crema-d``, ``emotiontts`` is ``korean``)."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in CORPORA:
        raise CorpusError(f"unknown corpus {name!r}; known: {', '.join(CORPORA)}")
    return CORPORA[key]


def _matches(root: Path, label_map) -> list[CorpusReader]:
    return [r for r in CORPORA.values()
            if (r.looks_like(root, label_map=label_map) if "label_map" in r.options else r.looks_like(root))]


def detect_corpus(root: str | os.PathLike, *, label_map=None) -> CorpusReader:
    """The one reader whose layout ``root`` has.

    Raises
    ------
    CorpusError
        If no reader or more than one recognises the folder (the message lists the known
        corpora and suggests ``--corpus NAME``; for a folder that holds several corpora in
        sub-folders, it names them).
    """
    root = Path(root)
    label_map = as_label_map(label_map)
    hits = _matches(root, label_map)
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise CorpusError(f"{root}: the layout fits several corpora ({', '.join(r.name for r in hits)}); "
                          "pass --corpus NAME to choose")
    subs = []
    if root.is_dir():
        for d in sorted(x for x in root.iterdir() if x.is_dir() and not x.name.startswith(".")):
            found = _matches(d, label_map)
            if len(found) == 1:
                subs.append(f"{d.name}/ ({found[0].name})")
    if subs:
        raise CorpusError(f"{root}: holds several corpora in sub-folders: {', '.join(subs)}; "
                          "give those folders instead, one argument each")
    raise CorpusError(f"{root}: not a corpus layout escucha recognises (known: {', '.join(CORPORA)}); "
                      "pass --corpus NAME (folders: a folder per label), or list the files in a CSV with columns file,label")


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CorpusError(f"{path}: cannot read the CSV ({getattr(e, 'strerror', None) or e})") from None


def _read_csv(path: Path, *, label_map, strict: bool) -> list[Utterance]:
    header = set(_csv_header(path))
    if {"path", "speaker", "emotion"} <= header:
        return _normalised_manifest(path, label_map)
    if folders.is_label_csv(path):
        return folders.read_label_csv(path, strict=strict, label_map=label_map)
    raise CorpusError(f"{path}: neither an escucha manifest (path,speaker,emotion,...) nor a label CSV "
                      f"(file,label[,speaker][,corpus]); found columns {','.join(sorted(header)) or 'none'}")


def _normalised_manifest(path: Path, label_map) -> list[Utterance]:
    """An escucha manifest, its labels checked against the one label space."""
    records = read_manifest(path)
    labels = resolve_labels((r.emotion for r in records), label_map, source=str(path))
    corpus = path.resolve().parent.name
    out, skipped = [], Counter()
    for r in records:
        label = labels[r.emotion]
        if not label:
            skipped[r.emotion] += 1
            continue
        if label != r.emotion or not r.corpus:
            r = dataclasses.replace(r, emotion=label, corpus=r.corpus or corpus)
        out.append(r)
    if skipped:
        warnings.warn(f"{path}: skipped {sum(skipped.values())} of {len(records)} rows whose label the label map "
                      f"skips ({', '.join(f'{k} {v}' for k, v in skipped.items())})", CorpusWarning, stacklevel=3)
    if not out:
        raise CorpusError(f"{path}: every row is skipped by the label map")
    return out


def scan_corpus(root: str | os.PathLike, *, corpus: str | None = None,
                label_map: Mapping[str, str | None] | str | os.PathLike | None = None, strict: bool = False,
                **options) -> list[Utterance]:
    """Read a corpus folder or a manifest CSV into records.

    Parameters
    ----------
    root : path
        A folder in the layout of one of :data:`CORPORA` (detected when unambiguous), an escucha
        manifest written by ``escucha data index`` (``path,corpus,speaker,...``), or a label CSV
        ``file,label[,speaker][,corpus]``.
    corpus : str, optional
        Read the folder as this corpus instead of detecting it (ignored for a CSV).
    label_map : mapping or path of a JSON file, optional
        ``{"their name": "escucha label" | None}`` for label names the built-in synonyms do not
        cover; applies where labels are names (a folder per label, CSVs, TESS folders).
    strict : bool
        Fail on the first file that does not parse or cannot be read instead of skipping it.
    **options
        Reader options (``vocal_channels``, ``modalities`` for RAVDESS; ``demographics`` for
        CREMA-D; ``metadata`` for nEMO); an option meant for another reader is ignored.

    Returns
    -------
    list of Utterance
    """
    unknown = set(options) - _ALL_OPTIONS
    if unknown:
        raise TypeError(f"scan_corpus() got unknown options: {', '.join(sorted(unknown))}")
    label_map = as_label_map(label_map)
    p = Path(root)
    if p.is_file():
        if p.suffix.lower() != ".csv":
            raise CorpusError(f"{p}: expected a corpus folder or a manifest CSV")
        return _read_csv(p, label_map=label_map, strict=strict)
    if not p.exists():
        raise CorpusError(f"{p}: no such file or folder")
    if not p.is_dir():
        raise CorpusError(f"{p}: expected a corpus folder or a manifest CSV")
    reader = get_reader(corpus) if corpus else detect_corpus(p, label_map=label_map)
    kwargs = {k: v for k, v in options.items() if k in reader.options}
    if "label_map" in reader.options:
        kwargs["label_map"] = label_map
    return reader.scan(p, strict=strict, **kwargs)


def scan_corpora(roots: str | os.PathLike | Iterable[str | os.PathLike], *,
                 corpus: str | Sequence[str | None] | None = None,
                 label_map: Mapping[str, str | None] | str | os.PathLike | None = None, strict: bool = False,
                 **options) -> list[Utterance]:
    """Read several corpora (folders or CSVs) and concatenate their records.

    Each record keeps its corpus name in ``corpus``; speaker ids stay per corpus, so the unique
    speaker is ``record.speaker_key`` (``"corpus:speaker"``).

    Parameters
    ----------
    roots : path or iterable of paths
    corpus : str or sequence, optional
        One corpus name for every folder, or one per root (``None`` = detect).
    label_map, strict, **options
        As for :func:`scan_corpus`, applied to every root.

    Raises
    ------
    CorpusError
        If a root cannot be read, or one audio file is reached from two roots (overlapping
        folders would put the same clip twice into the data).
    """
    if isinstance(roots, (str, os.PathLike)):
        roots = [roots]
    roots = list(roots)
    if not roots:
        raise ConfigError("no corpus given")
    if corpus is None or isinstance(corpus, str):
        names = [corpus] * len(roots)
    else:
        names = list(corpus)
        if len(names) != len(roots):
            raise ConfigError(f"{len(names)} corpus names for {len(roots)} corpora")
    label_map = as_label_map(label_map)
    out: list[Utterance] = []
    owner: dict[str, str] = {}
    for root, name in zip(roots, names):
        for r in scan_corpus(root, corpus=name, label_map=label_map, strict=strict, **options):
            if r.path in owner:
                raise CorpusError(f"{r.path} is read from both {owner[r.path]} and {root}; give each corpus once")
            owner[r.path] = str(root)
            out.append(r)
    return out


def summary_table(records: Sequence[Utterance]) -> str:
    """A per-corpus table of clips, speakers (those with an id), minutes and clips per label (``-``:
    label absent)."""
    by_corpus: dict[str, list[Utterance]] = {}
    for r in records:
        by_corpus.setdefault(r.corpus, []).append(r)
    present = [e for e in EMOTIONS if any(r.emotion == e for r in records)]
    head = ["corpus", "clips", "speakers", "min"] + present
    rows = []
    for name, recs in by_corpus.items():
        counts = Counter(r.emotion for r in recs)
        rows.append([name or "-", str(len(recs)), str(len({r.speaker for r in recs if r.speaker})),
                     f"{sum(r.duration for r in recs) / 60:.1f}"] + [str(counts[e]) if counts[e] else "-" for e in present])
    if len(rows) > 1:
        counts = Counter(r.emotion for r in records)
        rows.append(["all", str(len(records)), str(len({r.speaker_key for r in records if r.speaker})),
                     f"{sum(r.duration for r in records) / 60:.1f}"] + [str(counts[e]) for e in present])
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return "\n".join(fmt(r) for r in [head, *rows])
