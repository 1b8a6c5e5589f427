"""A folder of calls: parallel, resumable, bad files reported and skipped.

``analyze_folder(DIR, model, OUT, jobs=4)`` writes, for every audio file ``DIR/a/b.wav``,
``OUT/a/b.wav.json`` and ``OUT/a/b.wav.segments.csv`` (each atomically, the JSON last), then
``OUT/summary.csv`` (one row per analysed file, including those done by earlier runs) and
``OUT/errors.csv`` (the files that failed in this run, with the reason). Running it again skips
every file whose JSON exists and was made from the same file size and settings.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import ConfigError, EscuchaError
from ..utils.io import atomic_write_csv, atomic_write_text

__all__ = ["analyze_folder", "find_audio_files", "BatchReport", "AUDIO_SUFFIXES", "summary_row"]

#: Suffixes searched for in a folder (any format libsndfile decodes).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".au", ".snd", ".aif", ".aiff", ".caf",
                  ".w64", ".rf64")


@dataclass
class BatchReport:
    """What one :func:`analyze_folder` run did.

    Attributes
    ----------
    analysed : list of str
        Files analysed in this run.
    skipped : list of str
        Files already done by an earlier run (same size and settings).
    errors : list of (str, str)
        ``(file, message)`` for every file that failed; they are listed in ``errors.csv``.
    audio_seconds : float
        Audio analysed in this run (seconds).
    seconds : float
        Wall-clock time of the run.
    """

    out_dir: Path
    analysed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    audio_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def summary_csv(self) -> Path:
        return self.out_dir / "summary.csv"

    @property
    def errors_csv(self) -> Path:
        return self.out_dir / "errors.csv"


def find_audio_files(folder: str | os.PathLike, *, exclude: str | os.PathLike | None = None) -> list[Path]:
    """Audio files under ``folder`` (recursive, sorted), leaving out anything under ``exclude``."""
    folder = Path(folder)
    ex = Path(exclude).resolve() if exclude is not None else None
    out = []
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file() and not p.name.startswith("."):
            if ex is not None and (p.resolve() == ex or ex in p.resolve().parents):
                continue
            out.append(p)
    return out


def summary_row(d: dict, labels: Sequence[str]) -> dict:
    """One ``summary.csv`` row from a result JSON (``CallResult.to_dict()``)."""
    s = d["summary"]
    row = {"file": d["file"], "duration": s["duration"], "channels": ";".join(d["channels"]),
           "speech_seconds": s["speech_seconds"], "speech_ratio": s["speech_ratio"], "segments": s["segments"],
           "dominant": s["dominant"] or "", "first_third_dominant": s["first_third"]["dominant"] or "",
           "last_third_dominant": s["last_third"]["dominant"] or ""}
    if "channels" in s:
        row["channel_dominant"] = ";".join(f"{ch}={v['dominant'] or ''}" for ch, v in s["channels"].items())
    else:
        row["channel_dominant"] = ""
    for lab in labels:
        row[f"share_{lab}"] = s["emotion_share"].get(lab, 0.0)
    for lab in labels:
        v = s["change"].get(lab)
        row[f"change_{lab}"] = "" if v is None else v
    return row


# -- worker side ------------------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(predictor, threads: int, *, subprocess: bool = True) -> None:
    from .vad import SileroVAD

    if subprocess:  # a worker process: keep it to its share of cores
        import torch

        torch.set_num_threads(max(1, threads))
    _WORKER["predictor"] = predictor
    _WORKER["vad"] = SileroVAD(threads=max(1, threads))


def _analyse_one(path: str, name: str, out_dir: str, options: dict, plot: bool) -> tuple[str, float, str | None]:
    from .analyze import analyze_file

    try:
        res = analyze_file(path, _WORKER["predictor"], vad_model=_WORKER["vad"], **options)
        parent = Path(out_dir) / Path(name).parent
        res.write(parent, name=Path(name).name, plot=plot)
        return path, res.duration, None
    except EscuchaError as e:
        return path, 0.0, str(e)
    except Exception as e:  # a batch goes on whatever one file does
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return path, 0.0, f"{path}: unexpected {type(e).__name__} ({msg})"


def _done(json_path: Path, size: int, settings: dict) -> bool:
    try:
        d = json.loads(json_path.read_text())
    except (OSError, ValueError):
        return False
    have = dict(d.get("settings", {}))
    have.pop("channel_names", None)
    return d.get("source", {}).get("size") == size and have == settings


def analyze_folder(folder: str | os.PathLike, predictor, out_dir: str | os.PathLike, *, jobs: int = 1,
                   force: bool = False, plot: bool = False, show_progress: bool = True, threads: int = 1,
                   **options) -> BatchReport:
    """Analyse every audio file under ``folder`` into ``out_dir``.

    Parameters
    ----------
    folder : path
        Searched recursively for :data:`AUDIO_SUFFIXES`.
    predictor : escucha.inference.Predictor
    out_dir : path
        Results mirror the folder's layout (see the module docstring).
    jobs : int
        Worker processes (each on ``threads`` threads).
    force : bool
        Re-analyse files already done.
    plot : bool
        Also write ``<name>.timeline.png`` per file.
    show_progress : bool
        Progress bar on stderr: audio hours done of the total, files, errors, speed (x real
        time) and ETA.
    **options
        ``window``, ``hop``, ``smooth``, ``channels``, ``channel_names``, ``vad``,
        ``block_seconds`` as for :func:`escucha.longaudio.analyze_file`.

    Returns
    -------
    BatchReport
    """
    from ..audio import audio_info
    from ..utils.progress import progress
    from .analyze import analysis_settings

    folder, out_dir = Path(folder), Path(out_dir)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder")
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    t0 = time.time()
    files = find_audio_files(folder, exclude=out_dir)
    if not files:
        from ..errors import CorpusError

        raise CorpusError(f"{folder}: no audio files found to analyse")
    report = BatchReport(out_dir=out_dir)
    settings = analysis_settings(predictor, window=options.get("window"), hop=options.get("hop"),
                                 smooth=options.get("smooth", 3.0), channels=options.get("channels", "mono"),
                                 vad=options.get("vad"))
    todo, seconds = [], {}
    for p in files:
        name = p.relative_to(folder).as_posix()
        try:
            info = audio_info(p)
            seconds[str(p)] = info["duration"]
        except EscuchaError:
            seconds[str(p)] = 0.0
        if not force and _done(out_dir / f"{name}.json", p.stat().st_size, settings):
            report.skipped.append(str(p))
        else:
            todo.append((str(p), name))
    total_h = sum(seconds[p] for p, _ in todo) / 3600
    bar = progress(total=round(total_h, 4), desc="analysing", unit="h", disable=None if show_progress else True,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total:.2f} h audio "
                              "[{elapsed}<{remaining}]{postfix}")
    done_h = 0.0

    def tick(path: str, dur: float, err: str | None):
        nonlocal done_h
        if err is None:
            report.analysed.append(path)
            report.audio_seconds += dur
        else:
            report.errors.append((path, err))
        step = seconds.get(path, 0.0) / 3600
        done_h += step
        bar.update(step)
        speed = report.audio_seconds / max(time.time() - t0, 1e-9)
        bar.set_postfix_str(f"files {len(report.analysed) + len(report.errors)}/{len(todo)}, "
                            f"errors {len(report.errors)}, {speed:.0f}x real time", refresh=False)

    opts = dict(options)
    try:
        if jobs == 1 or len(todo) <= 1:
            _init_worker(predictor, threads, subprocess=False)
            for p, name in todo:
                tick(*_analyse_one(p, name, str(out_dir), opts, plot))
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=ctx, initializer=_init_worker,
                                     initargs=(predictor, threads)) as ex:
                futs = [ex.submit(_analyse_one, p, name, str(out_dir), opts, plot) for p, name in todo]
                for f in as_completed(futs):
                    tick(*f.result())
    finally:
        bar.close()
        _write_tables(report, files, folder, out_dir, list(predictor.labels))
    report.seconds = time.time() - t0
    return report


def _write_tables(report: BatchReport, files: list[Path], folder: Path, out_dir: Path, labels: list[str]) -> None:
    rows = []
    for p in files:
        j = out_dir / f"{p.relative_to(folder).as_posix()}.json"
        if j.is_file():
            try:
                rows.append(summary_row(json.loads(j.read_text()), labels))
            except (OSError, ValueError, KeyError):
                pass
    cols = list(rows[0]) if rows else list(summary_row(_EMPTY, labels))
    atomic_write_csv(out_dir / "summary.csv", rows, fieldnames=cols)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "error"])
    w.writerows(sorted(report.errors))
    atomic_write_text(out_dir / "errors.csv", buf.getvalue())


_EMPTY = {"file": "", "channels": [], "summary": {"duration": 0, "speech_seconds": 0, "speech_ratio": 0, "segments": 0,
                                                 "dominant": None, "first_third": {"dominant": None},
                                                 "last_third": {"dominant": None}, "emotion_share": {}, "change": {}}}
