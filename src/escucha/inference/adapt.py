"""Unlabelled adaptation: a model's normalisation statistics learnt from a user's own recordings.

Linear heads on standardised features (:class:`~escucha.models.egemaps.StandardizedLinear`:
eGeMAPS + SVM, Whisper + logistic regression) compute ``(x - mean) / scale`` with the
statistics of their training data. On another recording chain, language or group of speakers
the features shift and the classifier sees a distorted picture. :func:`adapt_model` measures
the same features on a folder of the user's recordings (no labels needed) and moves ``mean``
and ``scale`` towards what it found, with shrinkage towards the trained statistics::

    lambda = n / (n + strength)                     n: recordings the member heard
    mean'  = lambda * mean_target + (1 - lambda) * mean_train
    var'   = lambda * var_target  + (1 - lambda) * scale_train ** 2
    scale' = sqrt(var')

Only these two buffers change; the classifier's weights and the labels stay as trained. The
result is a complete copy of the model folder, loaded like any other model
(``escucha predict --model OUT``, ``escucha.load_model(OUT)``), with its ONNX export when the
model had one.

No torch is needed: the features are observed on whichever runtime runs the model
(:meth:`~escucha.inference.base.BasePredictor.add_feature_observer`), the weights are read and
written as safetensors with numpy, and the export's graphs are kept as they are: each adapted
member gets an ``input_affine`` (``x * gain + shift``) that makes the graph's own standardisation
the adapted one (exact to 1e-5 against the torch module), and the export's record of its source
is renewed so that it stays current.

How the features are measured
-----------------------------
Exactly as prediction computes them, because they *are* computed by prediction: every file is
given to :meth:`Predictor.predict <escucha.inference.Predictor.predict>` of the unadapted model,
and the input of each adaptable head is recorded on its way in. On the plain install that is the
ONNX export (int8 encoder), on a torch install without an export the torch modules: the two
measure the same features up to the int8 encoder's rounding (statistics within 2 %). Decoding, resampling, trimming,
loudness normalisation, the "too short" / "no speech found" gate, an ensemble's band routing
(a ``band: narrow`` member hears only telephone-band inputs, a ``wide`` one only full-band
inputs) and, for recordings longer than :data:`~escucha.inference.predictor.LONG_SECONDS`, the
voice-activity segments and windows of ``escucha analyze`` are therefore those of inference.
Each recording weighs the same in the statistics whatever its length: the windows of a long
call share one recording's weight, so that one long call cannot outvote a folder of clips.

Adaptation assumes the folder holds a mix of emotions, as a day of calls does. A folder of only
angry customers would make anger the new "average" and weaken it; when more than
:data:`ONE_SIDED_SHARE` of the unadapted model's answers on the folder are one label, a warning
says so. The shrinkage bounds the damage: with the default strength of 200, a folder of 50
recordings moves the statistics only a fifth of the way.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import ConfigError, CorpusError, EscuchaError, ModelError
from ..utils.io import check_writable
from .adapted_model import adapt_export, write_member
from .feature_stats import ADAPTABLE_MODELS, FeatureMoments, adapted_statistics, head_stats  # noqa: F401

__all__ = ["adapt_model", "adapt", "Adaptation", "MemberAdaptation", "AdaptWarning", "adapted_statistics",
           "DEFAULT_STRENGTH", "MIN_FILES", "ONE_SIDED_SHARE"]

#: default ``strength`` (N0): the trained statistics count as this many recordings
DEFAULT_STRENGTH = 200.0
#: usable recordings a member needs before its statistics are replaced
MIN_FILES = 20
#: warn when more than this share of the unadapted answers on the folder are one label
ONE_SIDED_SHARE = 0.6


class AdaptWarning(UserWarning):
    """Something about the folder that may make the adapted model worse (shown, never fatal)."""


@dataclass
class MemberAdaptation:
    """What happened to one member (or to the single model).

    Attributes
    ----------
    path : str
        The member's folder inside the model (``"."`` for a single model).
    model : str
        Registered model name, e.g. ``"whisper-lr"``.
    band : str
        ``"any"``, ``"wide"`` or ``"narrow"`` (the inputs an ensemble routes to it).
    adaptable : bool
        Whether it has normalisation statistics (``StandardizedLinear`` heads) at all.
    files : int
        Recordings of the folder it heard.
    adapted : bool
        Whether its statistics were replaced (needs :data:`MIN_FILES` recordings).
    lam : float or None
        The shrinkage weight ``files / (files + strength)`` used (``None`` when not adapted).
    """

    path: str
    model: str
    band: str
    adaptable: bool
    files: int = 0
    adapted: bool = False
    lam: float | None = None

    @property
    def name(self) -> str:
        where = "the model" if self.path == "." else self.path
        return f"{where} ({self.model}, band {self.band})" if self.band != "any" else f"{where} ({self.model})"


@dataclass
class Adaptation:
    """The outcome of :func:`adapt`.

    Attributes
    ----------
    out : Path
        The adapted model folder.
    files : int
        Audio files found in the folders.
    usable : int
        Files the model judged (not unreadable, not "too short" / "no speech found").
    errors : list of (str, str)
        ``(file, message)`` for every file that could not be read; skipped.
    not_judged : list of (str, str)
        ``(file, outcome)`` for files prediction would not label either; left out.
    members : list of MemberAdaptation
    labels : dict
        How many of the usable files the unadapted model gave each label.
    strength : float
    """

    out: Path
    files: int
    usable: int
    errors: list[tuple[str, str]] = field(default_factory=list)
    not_judged: list[tuple[str, str]] = field(default_factory=list)
    members: list[MemberAdaptation] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    strength: float = DEFAULT_STRENGTH


def _collect_files(dirs: Sequence[str | os.PathLike]) -> list[Path]:
    from ..corpora.common import iter_audio_files
    from ..corpora.manifest import AUDIO_EXTENSIONS

    if isinstance(dirs, (str, os.PathLike)):
        dirs = [dirs]
    dirs = list(dirs)
    if not dirs:
        raise CorpusError("adapt needs at least one folder of recordings")
    seen, files = set(), []
    for d in dirs:
        p = Path(d)
        if p.is_dir():
            found = list(iter_audio_files(p))
            if not found:
                raise CorpusError(f"{p}: no audio files found ({', '.join(AUDIO_EXTENSIONS)})")
        elif p.is_file():
            found = [p]
        else:
            raise CorpusError(f"{p}: no such folder or file")
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                files.append(f)
    return files


def _made_by_adapt(folder: Path) -> str | None:
    """Why ``folder`` is not a model folder ``escucha adapt`` wrote (``None`` when it is one)."""
    from ..checkpoint_schema import validate_config

    if any((folder / f).exists() for f in ("checkpoint", "metrics.csv", "cv_config.json")):   # escucha train / cv
        return "a training run or cross-validation, not a model 'escucha adapt' made"
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except FileNotFoundError:
        return "not an escucha model folder (no config.json)"
    except (OSError, ValueError):
        return "not an escucha model folder (config.json unreadable)"
    try:
        validate_config(cfg, source=str(folder / "config.json"))
    except ModelError:
        return "not a valid escucha model folder"
    if not isinstance(cfg.get("adapted"), dict):
        return "a model that 'escucha adapt' did not make"
    return None


def _check_out(out: Path, sources: Sequence[Path], dirs: Sequence[Path], *, force: bool) -> bool:
    """Refuse an OUT that may not be written; ``True`` when an existing one is to be replaced."""
    check_writable(out, folder=True)
    target = out.resolve()
    for src in sources:
        src = src.resolve()
        if target == src or src in target.parents or target in src.parents:
            raise ConfigError(f"{out}: is, holds or lies inside the model being adapted ({src}); "
                              "write the adapted model to another folder")
    if not out.exists():
        return False
    if not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder")
    if not any(out.iterdir()):
        return False
    if not force:
        raise ConfigError(f"{out}: folder exists and is not empty; pass --force to replace it")
    why = _made_by_adapt(out)
    if why:
        raise ConfigError(f"{out}: {why}; refusing to replace it even with --force; choose another folder")
    for d in dirs:
        d = d.resolve()
        if d == target or target in d.parents:
            raise ConfigError(f"{out}: holds the recordings being adapted on ({d}); choose another folder")
    return True


def _members(predictor) -> list[tuple[str, object, str]]:
    """``(path inside the model folder, Predictor, band)`` per member; a single model is ``"."``."""
    from .predictor import EnsemblePredictor

    if isinstance(predictor, EnsemblePredictor):
        return [(m["path"], member, band) for m, member, band
                in zip(predictor.config["ensemble"], predictor.members, predictor.bands)]
    return [(".", predictor, "any")]


def adapt(model: str | os.PathLike | None, dirs: Sequence[str | os.PathLike] | str | os.PathLike,
          out: str | os.PathLike, *, strength: float = DEFAULT_STRENGTH, force: bool = False,
          show_progress: bool = False, min_files: int = MIN_FILES,
          on_error: Callable[[str, str], None] | None = None) -> Adaptation:
    """Adapt ``model``'s normalisation statistics to the recordings in ``dirs``; write ``out``.

    Like :func:`adapt_model`, but returns the full account (files skipped and why, what each
    member did). Warnings (:class:`AdaptWarning`) are issued for a one-sided folder and for
    members kept as they were. A file that cannot be read is skipped, listed in
    ``Adaptation.errors`` and, as it happens, given to ``on_error(file, message)`` (the message
    names the file).
    """
    from .. import __version__
    from ..checkpoint import read_checkpoint_config, resolve_checkpoint_dir
    from ..utils.progress import progress
    from .predictor import load_predictor, resolve_model

    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not math.isfinite(strength) \
            or strength < 0:
        raise ConfigError(f"strength must be a finite number >= 0 (recordings the trained statistics are "
                          f"worth; default {DEFAULT_STRENGTH:g}), got {strength!r}")
    if isinstance(min_files, bool) or not isinstance(min_files, int) or min_files < 1:
        raise ConfigError(f"min_files must be an integer >= 1, got {min_files!r}")
    strength = float(strength)
    source = resolve_model(model)
    src_dir, src_cfg = read_checkpoint_config(source)
    out = Path(out)
    dir_paths = [Path(dirs)] if isinstance(dirs, (str, os.PathLike)) else [Path(d) for d in dirs]
    replace = _check_out(out, {source, resolve_checkpoint_dir(source)}, dir_paths, force=force)
    files = _collect_files(dir_paths)

    predictor = load_predictor(source)  # either runtime: the features are observed, the weights read as files
    members = _members(predictor)
    reports, recorders, trained = [], [], []
    for path, member, band in members:
        stats = head_stats(src_dir / path, member.config)
        reports.append(MemberAdaptation(path=path, model=str(member.config["model"]["name"]), band=band,
                                        adaptable=stats is not None))
        trained.append(stats)
        recorders.append(FeatureMoments(member, stats[0][0]) if stats is not None else None)
    if not any(r.adaptable for r in reports):
        names = ", ".join(sorted({r.model for r in reports}))
        raise ModelError(f"{src_dir}: nothing to adapt: {names} has no normalisation statistics (only models "
                         "with standardised features, e.g. whisper-lr or egemaps-svm, can be adapted)")

    result = Adaptation(out=out, files=len(files), usable=0, strength=strength)
    answers: Counter = Counter()
    try:
        for f in progress(files, desc="adapting", unit="file", disable=not show_progress or None):
            try:
                pred = predictor.predict(f)
            except EscuchaError as e:
                for rec in recorders:
                    if rec is not None:
                        rec.end_file(keep=False)
                msg = str(e) if str(f) in str(e) else f"{f}: {e}"
                result.errors.append((str(f), msg))
                if on_error is not None:
                    on_error(str(f), msg)
                continue
            for rep, rec in zip(reports, recorders):
                if rec is not None and rec.end_file(keep=pred.judged):
                    rep.files += 1
            if not pred.judged:
                result.not_judged.append((str(f), pred.outcome))
                continue
            result.usable += 1
            answers[pred.label] += 1
    finally:
        for rec in recorders:
            if rec is not None:
                rec.close()
    result.labels = dict(answers.most_common())
    result.members = reports

    where = ", ".join(str(d) for d in dir_paths)
    if result.usable < min_files:
        parts = [f"{len(result.errors)} could not be read" if result.errors else "",
                 f"{len(result.not_judged)} too short or without speech" if result.not_judged else ""]
        why = "; ".join(p for p in parts if p)
        raise CorpusError(f"{where}: only {result.usable} usable recordings of the {len(files)} found"
                          f"{' (' + why + ')' if why else ''}; adaptation needs at least {min_files} "
                          "recordings like those the model will hear, with a mix of emotions")
    if answers:
        label, count = answers.most_common(1)[0]
        if count > ONE_SIDED_SHARE * result.usable:
            warnings.warn(f"{where}: {count / result.usable:.0%} of the {result.usable} recordings read as "
                          f"{label!r} before adaptation; adaptation assumes a mix of emotions and may weaken "
                          f"{label!r} (add recordings of other emotions, or adapt less with a larger strength "
                          f"than {strength:g})", AdaptWarning, stacklevel=2)

    stats: list[list[tuple[np.ndarray, np.ndarray]] | None] = []
    for rep, rec, old in zip(reports, recorders, trained):
        stats.append(None)
        if not rep.adaptable:
            continue
        if rep.files < min_files:
            kind = {"wide": "full-band ", "narrow": "telephone-band "}.get(rep.band, "")
            warnings.warn(f"{rep.name}: heard only {rep.files} {kind}recordings (needs {min_files}); "
                          "its statistics are kept as trained", AdaptWarning, stacklevel=2)
            continue
        mean_t, var_t = rec.target()
        stats[-1] = []
        for mean_0, scale_0 in old:
            mean, scale, lam = adapted_statistics(mean_0, scale_0, mean_t, var_t, n=rep.files, strength=strength)
            stats[-1].append((mean.astype(np.float32), scale.astype(np.float32)))
        rep.adapted, rep.lam = True, lam
    if not any(r.adapted for r in reports):
        raise CorpusError(f"{where}: no member of the model heard {min_files} usable recordings; nothing adapted")

    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    sources = [str(Path(d).resolve()) for d in dir_paths]
    common = {"strength": strength, "source": sources, "escucha_version": __version__, "date": date}

    from ..utils.io import swap_folder

    out.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    old = new.with_name(new.name.replace(".new-", ".old-", 1))
    try:
        shutil.copytree(src_dir, new, dirs_exist_ok=True)
        for (path, member, _band), rep, st in zip(members, reports, stats):
            if not rep.adapted:
                continue
            record = {"files": rep.files, "lambda": round(rep.lam, 6), **common}
            if isinstance(member.config.get("adapted"), dict):
                record["previous"] = member.config["adapted"]
            write_member(member.config, new / path, st, record)
        if "ensemble" in src_cfg:
            from ..utils.io import atomic_write_json

            record = {"files": result.usable, **common,
                      "members": [{"path": r.path, "band": r.band, "files": r.files, "adapted": r.adapted,
                                   **({"lambda": round(r.lam, 6)} if r.adapted else {})} for r in reports]}
            if isinstance(src_cfg.get("adapted"), dict):
                record["previous"] = src_cfg["adapted"]
            atomic_write_json(new / "config.json", {**src_cfg, "adapted": record})
        # the ONNX export the model carries follows the new statistics (no torch needed)
        changes = {k: (trained[k], stats[k]) for k, rep in enumerate(reports) if rep.adapted}
        if not adapt_export(new, changes) and (src_dir / "onnx").is_dir():
            warnings.warn(f"{out}: its ONNX export was left out (a member averages several weight files); make "
                          f"one with 'escucha export {out}'", AdaptWarning, stacklevel=2)
        load_predictor(new)  # loadable (schema, weights, export) before it replaces anything
        swap_folder(new, out, old=old if replace else None)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return result


def adapt_model(model: str | os.PathLike | None, dirs: Sequence[str | os.PathLike] | str | os.PathLike,
                out: str | os.PathLike, *, strength: float = DEFAULT_STRENGTH, force: bool = False,
                show_progress: bool = False, min_files: int = MIN_FILES) -> Path:
    """Copy a model with normalisation statistics learnt from unlabelled recordings.

    Parameters
    ----------
    model : path or None
        Model, run or ensemble folder; ``None``: the bundled model.
    dirs : path or sequence of paths
        Folders of the user's recordings (searched recursively for .wav, .flac, .ogg, .mp3);
        single files are accepted too. Labels are not needed; a mix of emotions is assumed.
    out : path
        Folder of the adapted model. Written atomically (built aside, renamed in); an existing
        non-empty folder is replaced only with ``force``, and only if ``escucha adapt`` made
        it. It may not be, hold or lie inside ``model``.
    strength : float
        ``N0`` >= 0: the trained statistics count as this many recordings (shrinkage
        ``lambda = n / (n + N0)``); 0 adapts fully to the folder.
    force : bool
        Replace an adapted model already at ``out``.
    show_progress : bool
        A progress bar on stderr.
    min_files : int
        Usable recordings needed, overall and per member; a member that hears fewer (e.g. a
        telephone-band member on a folder of studio recordings) keeps its statistics.

    Returns
    -------
    Path
        ``out``. Load it with :func:`escucha.load_model`.

    Raises
    ------
    CorpusError
        A folder without audio, or fewer than ``min_files`` usable recordings.
    ConfigError
        A bad ``strength`` or an ``out`` that may not be written.
    ModelError
        The model cannot be loaded or has nothing to adapt (no standardised features).

    Warns
    -----
    AdaptWarning
        For each file that could not be read (skipped), when the folder looks one-sided, and for
        members kept as trained.

    Examples
    --------
    >>> import escucha
    >>> escucha.adapt_model(None, ["calls/"], "my-model")        # doctest: +SKIP
    >>> escucha.load_model("my-model").predict("call.wav").label  # doctest: +SKIP
    """
    def skipped(file: str, msg: str):
        warnings.warn(f"skipped {msg}", AdaptWarning, stacklevel=3)

    return adapt(model, dirs, out, strength=strength, force=force, show_progress=show_progress, min_files=min_files,
                 on_error=skipped).out

