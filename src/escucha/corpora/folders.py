"""Your own data: a folder per label, or a CSV that lists files and labels.

Folder per label. The label of a clip is the name of the folder that holds it; the folders
between the corpus root and the label folder, if any, name the speaker::

    my_clips/angry/take1.wav            label angry, speaker ""   (unknown)
    my_clips/Neutral/take2.flac         label neutral
    my_clips/spk1/angry/x.wav           label angry, speaker "spk1"
    my_clips/site2/spk7/Joy/y.wav       label happy, speaker "site2/spk7"

Files directly in the root have no label folder and are skipped (reported). Without speaker
folders every clip has the speaker ``""``, so no speaker-independent split can be made from
the folder alone: put speakers in folders, or list them in a CSV.

Manifest CSV. Columns ``file,label`` and, optionally, ``speaker``, ``corpus`` and ``gender``
(header names are case-insensitive; ``path`` / ``emotion`` are accepted for ``file`` / ``label``).
Relative paths are read against the CSV's folder. This is the hand-written counterpart of the
escucha manifest that ``escucha data index`` writes (``path,corpus,speaker,gender,emotion,...``),
which :func:`escucha.corpora.scan_corpus` also reads.

Label names in both go through :func:`escucha.labels.normalize_label` (case, spacing and common
synonyms: "Anger", "FEA", "joy", "pleasant surprise") and an optional label map (``{"their name":
"escucha label"}``, ``null`` to skip those files). Every unknown name is reported at once, with
its file count, in one :class:`~escucha.errors.CorpusError`, before any audio is read. The corpus
name is the root folder's (or the CSV folder's) name unless given.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from ..errors import CorpusError
from ..labels import EMOTIONS, as_label_map, label_key, normalize_label, resolve_labels
from .common import SkipLog, check_folder, finish, iter_audio_files, read_header, sample_audio_files
from .manifest import Utterance

__all__ = ["scan_folders", "looks_like_folders", "read_label_csv", "is_label_csv", "LABELS"]

#: A folder per label can hold any of escucha's labels.
LABELS: tuple[str, ...] = EMOTIONS
LAYOUT = "angry/x.wav, Neutral/y.wav, or SPEAKER/angry/x.wav: the folder holding a clip is its label"

_FILE_COLUMNS = ("file", "path", "filename", "audio")
_LABEL_COLUMNS = ("label", "emotion")
_GENDERS = {"m": "male", "male": "male", "man": "male", "f": "female", "female": "female", "woman": "female"}


def _is_label(name: str, label_map: dict | None) -> bool:
    try:
        normalize_label(name, label_map)
    except CorpusError:
        return False
    return True


def looks_like_folders(root: str | os.PathLike, *, label_map=None) -> bool:
    """True if most audio files under ``root`` sit in folders and at least half of those folders'
    names are labels (half, not all: the others may be names the user still has to map, which
    the scan then lists)."""
    root = Path(root)
    if not root.is_dir():
        return False
    label_map = as_label_map(label_map)
    sample = sample_audio_files(root)
    inside = [p for p in sample if p.parent != root]
    if not inside or len(inside) < 0.5 * len(sample):
        return False
    names = {p.parent.name for p in inside}
    return sum(_is_label(n, label_map) for n in names) >= 0.5 * len(names)


def scan_folders(root: str | os.PathLike, *, strict: bool = False, label_map=None,
                 corpus: str | None = None) -> list[Utterance]:
    """Label every clip under ``root`` by the folder that holds it (see the module docstring).

    Parameters
    ----------
    root : path
        The folder holding the label folders (or speaker folders holding label folders).
    strict : bool
        Raise on the first file that cannot be read instead of skipping it.
    label_map : mapping or path, optional
        Extra label names, consulted first; a name mapped to ``None`` skips its files.
    corpus : str, optional
        Corpus name for the records (default: the root folder's name).

    Raises
    ------
    CorpusError
        If a folder holding clips is not a label name escucha knows (all such names are listed,
        with their file counts).
    """
    root = check_folder(root)
    label_map = as_label_map(label_map)
    corpus = corpus or root.resolve().name
    log = SkipLog(root, strict=strict)
    placed: list[tuple[Path, str, str]] = []
    n = 0
    for path in iter_audio_files(root):
        n += 1
        rel = path.relative_to(root)
        if len(rel.parts) < 2:
            log.bad(f"{path}: not inside a label folder", "files directly in the root (no label folder)")
            continue
        placed.append((path, rel.parts[-2], "/".join(rel.parts[:-2])))
    labels = resolve_labels((name for _, name, _ in placed), label_map,
                            source=f"{root} (the folder holding a clip is its label)")
    records = []
    for path, name, speaker in placed:
        label = labels[name]
        if not label:
            log.note(f"clips in folders the label map skips ({name})")
            continue
        audio = log.audio(path)
        if audio is None:
            continue
        records.append(Utterance(**audio, corpus=corpus, speaker=speaker, gender="", emotion=label))
    return finish(records, log, n, "labelled")


def _column(header: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((header[c] for c in names if c in header), None)


def is_label_csv(path: str | os.PathLike) -> bool:
    """True if the CSV's header has a file column and a label column (``file,label,...``)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    cols = {label_key(c): c for c in header}
    return _column(cols, _FILE_COLUMNS) is not None and _column(cols, _LABEL_COLUMNS) is not None


def read_label_csv(path: str | os.PathLike, *, strict: bool = False, label_map=None,
                   corpus: str | None = None) -> list[Utterance]:
    """Read a hand-written manifest ``file,label[,speaker][,corpus][,gender]``.

    Parameters
    ----------
    path : path
        The CSV. Relative file paths are read against its folder.
    strict : bool
        Raise on the first listed file that is missing or unreadable instead of skipping it.
    label_map : mapping or path, optional
        Extra label names, consulted first; a name mapped to ``None`` skips its rows.
    corpus : str, optional
        Corpus name for rows without a ``corpus`` value (default: the CSV folder's name).

    Raises
    ------
    CorpusError
        If the CSV lacks a file or label column, has no rows, or names labels escucha does not
        know (all listed, with their row counts).
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: manifest not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, [])
            rows = [(i, row) for i, row in enumerate(reader, start=2) if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CorpusError(f"{path}: cannot read the CSV ({getattr(e, 'strerror', None) or e})") from None
    cols = {label_key(c): i for i, c in enumerate(header)}
    fcol, lcol = _column(cols, _FILE_COLUMNS), _column(cols, _LABEL_COLUMNS)
    if fcol is None or lcol is None:
        raise CorpusError(f"{path}: a label CSV needs the columns file,label (optional: speaker, corpus, gender); "
                          f"found {','.join(header) or 'no header'}")
    scol, ccol, gcol = cols.get("speaker"), cols.get("corpus"), cols.get("gender")
    if not rows:
        raise CorpusError(f"{path}: manifest has no rows")

    def cell(row: list[str], i: int | None) -> str:
        return row[i].strip() if i is not None and i < len(row) else ""

    labels = resolve_labels((cell(r, lcol) for _, r in rows), label_map, source=str(path))
    default_corpus = corpus or path.resolve().parent.name
    root = path.parent
    log = SkipLog(path, strict=strict)
    records, seen = [], {}
    for line, row in rows:
        name = cell(row, fcol)
        label = labels[cell(row, lcol)]
        if not name:
            log.bad(f"{path}:{line}: empty file name", "rows without a file name")
            continue
        if not label:
            log.note(f"rows whose label the label map skips ({cell(row, lcol)})")
            continue
        audio = Path(name) if Path(name).is_absolute() else root / name
        if not audio.is_file():
            log.bad(f"{path}:{line}: {audio}: no such file", "listed files that do not exist")
            continue
        key = str(audio.resolve())
        if key in seen:
            log.bad(f"{path}:{line}: {name} is already listed on line {seen[key]}", "files listed twice")
            continue
        seen[key] = line
        try:
            sr, frames, channels = read_header(audio)
        except CorpusError as e:
            log.bad(f"{path}:{line}: {e}", "unreadable or empty files")
            continue
        records.append(Utterance(path=str(audio.resolve()), corpus=cell(row, ccol) or default_corpus,
                                 speaker=cell(row, scol), gender=_GENDERS.get(cell(row, gcol).lower(), ""),
                                 emotion=label, duration=frames / sr, sample_rate=sr, channels=channels,
                                 frames=frames))
    return finish(records, log, len(rows), "labelled")
