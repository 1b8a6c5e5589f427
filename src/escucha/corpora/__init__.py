"""Corpus readers: one module per corpus, each turning a folder into :class:`Utterance` records.

The manifest (a CSV of records, see :mod:`escucha.corpora.manifest`) is the contract between
ingestion and everything else: training, evaluation and reports only ever read manifests.
:mod:`escucha.corpora.registry` knows every reader by name (:data:`CORPORA`) and detects a
folder's corpus; your own data is read by :mod:`escucha.corpora.folders`.
"""

from .manifest import Utterance, read_manifest, write_manifest, CorpusWarning
from .ravdess import parse_ravdess_name, scan_ravdess, prepare_ravdess
from .emodb import parse_emodb_name, scan_emodb
from .savee import parse_savee_name, scan_savee
from .tess import parse_tess_name, scan_tess
from .cremad import parse_cremad_name, scan_cremad
from .nemo import parse_nemo_name, read_nemo_metadata, scan_nemo
from .korean import parse_korean_name, scan_korean
from .folders import scan_folders, read_label_csv
from .registry import CORPORA, CorpusReader, detect_corpus, get_reader, scan_corpus, scan_corpora, summary_table

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
    "parse_savee_name",
    "scan_savee",
    "parse_tess_name",
    "scan_tess",
    "parse_cremad_name",
    "scan_cremad",
    "parse_nemo_name",
    "read_nemo_metadata",
    "scan_nemo",
    "parse_korean_name",
    "scan_korean",
    "scan_folders",
    "read_label_csv",
    "CORPORA",
    "CorpusReader",
    "detect_corpus",
    "get_reader",
    "scan_corpus",
    "scan_corpora",
    "summary_table",
]
