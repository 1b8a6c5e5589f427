"""Run folders on disk: finished or not, and replacing one as a whole.

A training run (``escucha train``) is *finished* once ``summary.json`` is written, last of all
its files; until then it is *unfinished*: it was killed or is still training, its
``checkpoint/`` (if any) is not the final model, and ``state/`` holds what
``escucha train --resume`` needs to go on. A cross-validation folder (``escucha cv``) is finished
once ``cv_summary.json`` is written.

``--force`` never mixes two runs: the new run is built in a hidden sibling folder
(``.NAME.partial``) and swapped in when it is finished; until then the old run stays as it was.

While a run or cross-validation is unfinished its folder also holds a file ``UNFINISHED``
(one line saying how to continue it), written before anything else and removed after the
summary: code that must not import :mod:`escucha.train` can test for that file in the run
folder (for a model path ``RUN/checkpoint``, in its parent). Otherwise call :func:`run_status`
or :func:`unfinished_note` before trusting a model folder.

``--resume`` continues a run only with its own settings: :func:`read_run_config` reads what the
run was started with, :func:`setting_differences` names what differs.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..errors import ConfigError

__all__ = ["run_status", "unfinished_note", "add_unfinished_banner", "staging_dir", "prepare_output",
           "find_resumable", "swap_in", "load_run_config", "read_run_config", "setting_differences", "discard_run",
           "mark_unfinished", "mark_finished",
           "UNFINISHED", "STATE_DIR", "RUN_SUMMARY", "CV_SUMMARY", "CV_CONFIG"]

STATE_DIR = "state"
#: marker file present while a run (or cross-validation) is unfinished
UNFINISHED = "UNFINISHED"
RUN_SUMMARY = "summary.json"
CV_SUMMARY = "cv_summary.json"
CV_CONFIG = "cv_config.json"


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _is_run(p: Path) -> bool:
    """A folder written by :func:`escucha.train.fit` (its ``config.json`` has a ``train`` key)."""
    cfg = _read_json(p / "config.json") if (p / "config.json").is_file() else None
    return isinstance(cfg, dict) and "train" in cfg


def _is_cv(p: Path) -> bool:
    return (p / CV_SUMMARY).is_file() or (p / CV_CONFIG).is_file()


def _root(path: str | os.PathLike) -> Path:
    """The run folder a model path belongs to (a run, its ``checkpoint/``, or a file in either)."""
    p = Path(path)
    if p.is_file():
        p = p.parent
    if p.name == "checkpoint" and _is_run(p.parent):
        p = p.parent
    return p


def run_status(path: str | os.PathLike) -> str | None:
    """Whether ``path`` is a finished run, an unfinished one, or not a run at all.

    Parameters
    ----------
    path : path
        A run folder from ``escucha train``, its ``checkpoint/`` folder or a file in them, or a
        cross-validation folder from ``escucha cv``.

    Returns
    -------
    ``"finished"``, ``"unfinished"`` (killed or still training: its model is not final), or
    ``None`` when ``path`` is not a training run (e.g. a bundled or ensembled model folder).
    """
    p = _root(path)
    if not p.is_dir():
        return None
    if (p / UNFINISHED).is_file() and (_is_cv(p) or _is_run(p)):
        return "unfinished"
    if _is_cv(p):
        return "finished" if (p / CV_SUMMARY).is_file() else "unfinished"
    if _is_run(p):
        return "finished" if (p / RUN_SUMMARY).is_file() else "unfinished"
    return None


def _epochs_done(run: Path) -> tuple[int, int | None]:
    state = _read_json(run / STATE_DIR / "state.json") if (run / STATE_DIR / "state.json").is_file() else None
    cfg = _read_json(run / "config.json") or {}
    total = cfg.get("train", {}).get("epochs") if isinstance(cfg, dict) else None
    done = state.get("epoch", 0) if isinstance(state, dict) else 0
    return (done if isinstance(done, int) else 0), (total if isinstance(total, int) else None)


def unfinished_note(path: str | os.PathLike) -> str | None:
    """One line saying that ``path`` belongs to an unfinished run, or ``None`` when it does not.

    For example ``runs/m5: unfinished training run (2 of 80 epochs done): its model is not final;
    continue it with 'escucha train --resume runs/m5'``.
    """
    if run_status(path) != "unfinished":
        return None
    p = _root(path)
    if _is_cv(p):
        done = sorted(f.name for f in p.glob("fold-*") if run_status(f) == "finished")
        return (f"{p}: unfinished cross-validation ({len(done)} fold(s) done"
                f"{': ' + ', '.join(done) if done else ''}); continue it with 'escucha cv --resume {p}'")
    done, total = _epochs_done(p)
    of = f" of {total}" if total else ""
    return (f"{p}: unfinished training run ({done}{of} epochs done): its model is not final; "
            f"continue it with 'escucha train --resume {p}'")


def mark_unfinished(work: Path, *, final: Path, command: str) -> None:
    """Write the ``UNFINISHED`` marker into ``work`` (the folder of a run being built)."""
    from ..utils.io import atomic_write_text

    atomic_write_text(work / UNFINISHED, f"This {'cross-validation' if command == 'cv' else 'training run'} "
                                         f"is not finished (killed, or still running); its model is not final. "
                                         f"Continue it with: escucha {command} --resume {final}\n")


def mark_finished(work: Path) -> None:
    """Remove the ``UNFINISHED`` marker and the resumable state once the summary is written."""
    (work / UNFINISHED).unlink(missing_ok=True)
    shutil.rmtree(work / STATE_DIR, ignore_errors=True)


def add_unfinished_banner(report, run_dir: str | os.PathLike) -> bool:
    """Put an "unfinished run" section first in an HTML report when ``run_dir`` is unfinished.

    ``report`` is an :class:`escucha.reports.html.HtmlReport`. Returns whether a banner was added.
    """
    note = unfinished_note(run_dir)
    if note is None:
        return False
    from ..reports.html import Raw, esc

    report.add("unfinished", "Unfinished run",
               Raw(f'<p style="border-left: 4px solid #c0392b; background: #fdecea; padding: 8px 12px;"><strong>This run is not finished.</strong> {esc(note)}. '
                   "Its numbers and model are from the last completed epoch, not the final result.</p>"),
               nav="Unfinished")
    report.sections.insert(0, report.sections.pop())
    return True


# ------------------------------------------------------------------------- building a run aside

def staging_dir(out: Path) -> Path:
    """Where ``--force`` builds the replacement of ``out``: ``.NAME.partial`` beside it."""
    return out.parent / f".{out.name}.partial"


def _retired_dir(out: Path) -> Path:
    return out.parent / f".{out.name}.replaced"


def _is_ours(p: Path) -> bool:
    """A folder this module built (a run or a CV folder), or an empty one: safe to delete."""
    return p.is_dir() and (not any(p.iterdir()) or _is_run(p) or _is_cv(p))


def prepare_output(out: Path, *, overwrite: bool, what: str = "run folder") -> tuple[Path, bool]:
    """Decide where a new run is written, before anything is written.

    Returns ``(work_dir, staged)``: ``out`` itself when it is missing or empty; with
    ``overwrite`` and a non-empty ``out``, its staging folder (``staged=True``; a stale one is
    cleared), to be swapped in by :func:`swap_in` once the run is finished.

    Raises
    ------
    ConfigError
        ``out`` is a file, or a non-empty folder and ``overwrite`` is false.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    if not out.exists() or not any(out.iterdir()):
        return out, False
    if not overwrite:
        raise ConfigError(f"{out}: {what} exists and is not empty; choose another --out, pass --force "
                          f"to replace it, or --resume to continue an unfinished run")
    stage = staging_dir(out)
    if stage.exists():
        if not _is_ours(stage):
            raise ConfigError(f"{stage}: is in the way of --force (it is not a run escucha left there); "
                              f"move it away")
        shutil.rmtree(stage)
    return stage, True


def find_resumable(out: Path) -> tuple[Path, bool]:
    """The unfinished run ``--resume OUT`` continues: ``out`` itself, or the replacement
    ``--force`` was building beside ``out`` (which may already be finished, if the process was
    stopped before swapping it in). Returns ``(work_dir, staged)``.

    Raises
    ------
    ConfigError
        Nothing there to resume, or the run is finished.
    """
    stage = staging_dir(out)
    if out.is_dir() and run_status(out) == "unfinished":
        return out, False
    if stage.is_dir() and run_status(stage) is not None:   # finished: killed before the swap
        return stage, True
    if not out.exists():
        raise ConfigError(f"{out}: no such run folder to resume")
    if run_status(out) == "finished":
        raise ConfigError(f"{out}: the run is finished; nothing to resume")
    raise ConfigError(f"{out}: not a run folder written by escucha train or cv; nothing to resume")


def swap_in(work: Path, out: Path) -> None:
    """Replace ``out`` by the finished ``work`` folder: the old run is moved aside first and
    deleted only once the new one is in place."""
    if work == out:
        return
    retired = _retired_dir(out)
    if retired.exists():
        if not _is_ours(retired):
            raise ConfigError(f"{retired}: is in the way of replacing {out}; move it away")
        shutil.rmtree(retired)
    if out.exists():
        os.replace(out, retired)
    os.replace(work, out)
    shutil.rmtree(retired, ignore_errors=True)


def load_run_config(run_dir: str | os.PathLike):
    """The settings and data of the unfinished run (or cross-validation) ``--resume`` continues.

    Returns
    -------
    (TrainConfig, data, kind) : the run's :class:`~escucha.train.TrainConfig`, the ``--data`` it
    was trained on (``None`` if not recorded), and ``"run"`` or ``"cv"``.

    Raises
    ------
    ConfigError
        Nothing to resume there (see :func:`find_resumable`) or its settings are unreadable.
    """
    from .config import TrainConfig

    out = Path(run_dir)
    work, _ = find_resumable(out)
    kind = "cv" if _is_cv(work) else "run"
    path = work / (CV_CONFIG if kind == "cv" else "config.json")
    saved = _read_json(path)
    if not isinstance(saved, dict) or not isinstance(saved.get("train"), dict):
        raise ConfigError(f"{path}: cannot read the run's settings; cannot resume")
    try:
        cfg = TrainConfig(**saved["train"])
    except (ConfigError, TypeError) as e:
        raise ConfigError(f"{path}: {e}; cannot resume") from None
    return cfg, saved.get("data"), kind


def read_run_config(work: Path) -> dict:
    """The ``config.json`` of the run ``work`` that ``--resume`` continues (its ``train`` settings,
    split and labels), refusing one that is unreadable or not a run's."""
    try:
        saved = json.loads((work / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{work / 'config.json'}: cannot read the run's config ({e}); cannot resume") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("train"), dict):
        raise ConfigError(f"{work / 'config.json'}: not a run config written by escucha train; cannot resume")
    return saved


def setting_differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """``"name run-value -> given-value"`` for each setting that differs (nested dicts flattened)."""
    a, b = json.loads(json.dumps(a)), json.loads(json.dumps(b))   # tuples and lists alike
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += setting_differences(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k} {va!r} -> {vb!r}")
    return out


def discard_run(work: Path, *, keep_folder: bool) -> None:
    """Remove what a run that completed no epoch wrote, so that rerunning needs no --force."""
    shutil.rmtree(work, ignore_errors=True)
    if keep_folder:
        work.mkdir(parents=True, exist_ok=True)
