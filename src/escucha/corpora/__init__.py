"""Corpus readers: one module per corpus, each turning a folder into :class:`Utterance` records.

The manifest (a CSV of records, see :mod:`escucha.corpora.manifest`) is the contract between
ingestion and everything else: training, evaluation and reports only ever read manifests.
"""

from .manifest import Utterance, read_manifest, write_manifest, CorpusWarning
from .ravdess import parse_ravdess_name, scan_ravdess, prepare_ravdess
from .emodb import parse_emodb_name, scan_emodb

__all__ = [
    "Utterance",
    "CorpusWarning",
    "read_manifest",
    "write_manifest",
    "parse_ravdess_name",
    "scan_ravdess",
    "prepare_ravdess",
    "parse_emodb_name",
    "scan_emodb",
    "scan_corpus",
]


def scan_corpus(root, **kwargs):
    """Read a folder or a manifest CSV into records.

    ``root`` may be a manifest written by ``escucha data index`` (a ``.csv`` file), a RAVDESS
    folder, or an EmoDB folder (recognised by its file names).
    """
    from pathlib import Path

    from .emodb import looks_like_emodb

    p = Path(root)
    if p.suffix.lower() == ".csv" and p.is_file():
        return read_manifest(p)
    if p.is_dir() and looks_like_emodb(p):
        return scan_emodb(p, strict=kwargs.get("strict", False))
    return scan_ravdess(p, **kwargs)
