"""Corpus readers: one module per corpus, each turning a folder into :class:`Utterance` records.

The manifest (a CSV of records, see :mod:`escucha.corpora.manifest`) is the contract between
ingestion and everything else: training, evaluation and reports only ever read manifests.
"""

from .manifest import Utterance, read_manifest, write_manifest, CorpusWarning
from .ravdess import parse_ravdess_name, scan_ravdess, prepare_ravdess

__all__ = [
    "Utterance",
    "CorpusWarning",
    "read_manifest",
    "write_manifest",
    "parse_ravdess_name",
    "scan_ravdess",
    "prepare_ravdess",
    "scan_corpus",
]


def scan_corpus(root, **kwargs):
    """Read a folder or a manifest CSV into records.

    ``root`` may be a manifest written by ``escucha data index`` (a ``.csv`` file) or a
    RAVDESS folder.
    """
    from pathlib import Path

    p = Path(root)
    if p.suffix.lower() == ".csv" and p.is_file():
        return read_manifest(p)
    return scan_ravdess(p, **kwargs)
