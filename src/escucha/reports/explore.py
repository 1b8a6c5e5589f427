"""``escucha explore``: what is in a corpus, as one self-contained HTML page.

Reads every clip once (decode, resample to 16 kHz, trim silence, measure level and pitch: see
:mod:`escucha.reports.cues`), then draws the summary, an example clip, one clip per emotion,
durations before and after trimming, class balance and per-emotion distributions of simple
acoustic cues (:mod:`escucha.reports.explore_sections`). The corpus is read and its folder
surveyed by :mod:`escucha.reports.corpus_survey`. The report states how many clips got pitch and
how long reading them took.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..audio import load_audio
from ..errors import ConfigError, CorpusError
from .corpus_survey import read_corpus, resolve_clip
from .cues import (CUE_FIELDS, CUE_SAMPLE_RATE, PITCH_FMAX, PITCH_FMIN, PITCH_FRAME, PITCH_HOP,  # noqa: F401
                   PITCH_RESOLUTION, clip_cues, compute_cues, write_cues_csv)
from .explore_sections import (MEL, balance_section, clip_section, cues_section, durations_section,  # noqa: F401
                               grid_section, manifest_section, summary_section)
from .html import FIGURES_DIR, HtmlReport, Raw, check_writable

# clip_cues, compute_cues and the cue constants live in .cues; they are re-exported here, where
# callers (and the numba cache warm-up, escucha.utils.numba_cache) have always found them
__all__ = ["write_explore_report", "clip_cues", "compute_cues", "CUE_SAMPLE_RATE", "PITCH_FMIN", "PITCH_FMAX"]

#: Name of the HTML file inside the output folder.
HTML_NAME = "explore.html"
#: Per-clip measurements written beside it.
CUES_NAME = "cues.csv"
#: Every figure the report may write, as ``figures/<name>.png``.
FIGURE_NAMES = ("clip", "emotions", "durations", "balance", "emotion_intensity", "cues")


def write_explore_report(
    corpus: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    clip: str | os.PathLike | None = None,
    force: bool = False,
    trim_db: float = 40.0,
    pitch_clips: int | None = None,
    jobs: int | None = None,
    manifest_rows: int = 10,
    show_progress: bool = True,
    audio: str = "auto",
) -> Path:
    """Write ``out_dir/explore.html`` (self-contained) and its figures in ``out_dir/figures/``.

    Parameters
    ----------
    corpus : path
        RAVDESS folder or manifest CSV (see :func:`escucha.corpora.scan_corpus`).
    out_dir : path
        Folder to write into (created if needed); also receives ``cues.csv``, one row per clip.
    clip : path or str, optional
        Clip shown as waveform and mel spectrogram: a file path, or a clip's file name or stem;
        default: the corpus's first clip.
    force : bool
        Replace an earlier report. Without it, any of the report's files already in ``out_dir``
        (``explore.html``, ``cues.csv``, ``figures/<name>.png`` for the names in
        :data:`FIGURE_NAMES`) is a :class:`ConfigError`, raised before any work. With it, the
        report's files are replaced and its figures that this report does not make are removed;
        other files in ``out_dir`` are left alone.
    trim_db : float
        Silence-trimming threshold in dB below each clip's loudest frame.
    pitch_clips : int or None
        Estimate pitch on at most this many clips (stratified by emotion); ``None``: all; 0: none.
    jobs : int or None
        Worker processes for reading audio (``None``: up to 4).
    manifest_rows : int
        Manifest rows shown.
    show_progress : bool
        Progress bar on stderr while audio is read.
    audio : str
        How the example players reach their audio: ``auto`` (default: small copies inside the
        report), ``embed``, ``folder`` (``audio/`` beside it) or ``link`` (the clips themselves).

    Returns
    -------
    Path of the HTML file.
    """
    source = Path(corpus)
    out = Path(out_dir)
    html_path = out / HTML_NAME
    if not source.exists():
        raise CorpusError(f"{source}: corpus folder or manifest not found")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    _check_outputs(out, force=force)
    if not trim_db > 0:
        raise ConfigError(f"trim_db must be > 0 dB, got {trim_db}")
    if pitch_clips is not None and pitch_clips < 0:
        raise ConfigError(f"pitch_clips must be >= 0, got {pitch_clips}")
    if jobs is not None and jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    t_start = time.perf_counter()
    records, read_info = read_corpus(source)
    shown = resolve_clip(clip, records) if clip is not None else None
    if shown is not None:
        load_audio(shown.path)  # a clip asked for that cannot be decoded: say so before any work
    cues, cue_info = compute_cues(records, trim_db=trim_db, pitch_clips=pitch_clips, jobs=jobs,
                                  show_progress=show_progress)
    ok = [(r, c) for r, c in zip(records, cues) if "duration" in c]
    errors = [(r, c["error"]) for r, c in zip(records, cues) if "error" in c]
    if not ok:
        raise CorpusError(f"{source}: none of the {len(records)} clips could be decoded (first: {errors[0][1]})")
    # examples are drawn from the clips that decoded: a bad clip is listed, never drawn
    # (by default the first with a quarter second of sound, not a click or a silent file)
    shown = shown or next((r for r, c in ok if c["trimmed_duration"] >= 0.25 and c["level_db"] > -60), ok[0][0])

    from . import plots  # matplotlib is imported here, when a report is made

    root = source if source.is_dir() else source.parent
    rep = HtmlReport(f"Corpus: {source.name}", subtitle=str(source.resolve()), base_dir=out, audio_mode=audio)
    summary_section(rep, source, records, ok, errors, read_info, cue_info, trim_db)
    clip_section(rep, plots, shown, trim_db, root)
    grid_section(rep, plots, [r for r, _ in ok])
    manifest_section(rep, records, root, manifest_rows)
    durations_section(rep, plots, ok, trim_db)
    balance_section(rep, plots, records)
    cues_section(rep, plots, ok, cue_info, len(records))
    rep.add("timing", "How this report was made",
            Raw(f'<p class="note">Audio of {len(records)} clips read and measured in {cue_info["seconds"]:.1f} s '
                f'with {cue_info["jobs"]} process{"es" if cue_info["jobs"] > 1 else ""} '
                f'(pitch on {cue_info["pitch_clips"]} clips); whole report in '
                f'{time.perf_counter() - t_start:.1f} s. Per-clip measurements: <code>cues.csv</code>.</p>'),
            nav="Timing")
    write_cues_csv(out / CUES_NAME, records, cues)
    written = rep.write(html_path, force=force)
    for name in set(FIGURE_NAMES) - set(rep.figures):  # --force: no figure of the old report left beside
        (out / FIGURES_DIR / f"{name}.png").unlink(missing_ok=True)
    return written


def _outputs(out: Path) -> list[Path]:
    """Every file an explore report in ``out`` writes (the HTML first)."""
    return [out / HTML_NAME, out / CUES_NAME] + [out / FIGURES_DIR / f"{n}.png" for n in FIGURE_NAMES]


def _check_outputs(out: Path, *, force: bool) -> None:
    """Refuse to replace any of an earlier report's files (the HTML, ``cues.csv`` or a figure)
    unless ``force``; a folder where one of them should be is refused either way."""
    for p in _outputs(out):
        if p.is_dir():
            raise ConfigError(f"{p}: is a folder, cannot write a report file there")
    check_writable(out / HTML_NAME, force=force)
    if not force:
        for p in _outputs(out):
            if p.exists():
                raise ConfigError(f"{p}: already exists (part of an earlier report); pass --force to replace it")
