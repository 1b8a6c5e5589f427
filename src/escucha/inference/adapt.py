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


def adapted_statistics(mean_train: np.ndarray, scale_train: np.ndarray, mean_target: np.ndarray,
                       var_target: np.ndarray, *, n: int, strength: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Shrink the target statistics towards the trained ones.

    Parameters
    ----------
    mean_train, scale_train : ndarray, shape ``(D,)``
        The head's trained ``mean`` and ``scale`` buffers.
    mean_target, var_target : ndarray, shape ``(D,)``
        Mean and (population) variance of the features on the user's recordings.
    n : int
        Recordings behind the target statistics.
    strength : float
        ``N0`` >= 0: how many recordings the trained statistics are worth.

    Returns
    -------
    mean, scale : ndarray, shape ``(D,)``
        ``lam * mean_target + (1 - lam) * mean_train`` and
        ``sqrt(lam * var_target + (1 - lam) * scale_train ** 2)`` (the trained scale where that
        is 0, which only a constant feature with ``strength`` 0 can give).
    lam : float
        ``n / (n + strength)``.
    """
    lam = float(n) / (float(n) + float(strength)) if n + strength > 0 else 0.0
    mean_train, scale_train = np.asarray(mean_train, np.float64), np.asarray(scale_train, np.float64)
    mean = lam * np.asarray(mean_target, np.float64) + (1.0 - lam) * mean_train
    var = lam * np.maximum(np.asarray(var_target, np.float64), 0.0) + (1.0 - lam) * scale_train ** 2
    scale = np.where(var > 0, np.sqrt(var), scale_train)
    return mean, scale, lam


#: models whose classifier standardises its input with ``mean`` / ``scale`` buffers
#: (:class:`~escucha.models.egemaps.StandardizedLinear` and its whisper-lr subclass); known here by
#: name so that adaptation needs no torch (tests check it against the registry)
ADAPTABLE_MODELS = ("egemaps-svm", "whisper-lr")


def _head_stats(member_dir: Path, cfg: dict) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The trained ``(mean, scale)`` of each weight file of a member, read from its safetensors
    (no torch), or ``None`` when the member has no standardised head."""
    from safetensors.numpy import load_file

    if cfg.get("model", {}).get("name") not in ADAPTABLE_MODELS:
        return None
    out = []
    for wf in cfg.get("weights", ["model.safetensors"]):
        t = load_file(str(member_dir / wf))
        if "mean" not in t or "scale" not in t:
            return None
        out.append((t["mean"].astype(np.float64), t["scale"].astype(np.float64)))
    return out


class _Recorder:
    """Weighted first and second moments of one head's input features, one weight per file.

    Moments are kept relative to the trained mean (numerically safer than raw sums of squares).
    It observes the member's features (:meth:`BasePredictor.add_feature_observer`), so it works
    on either runtime.
    """

    def __init__(self, member, ref: np.ndarray):
        self.member = member
        self.ref = np.asarray(ref, dtype=np.float64).copy()
        self.s1 = np.zeros_like(self.ref)
        self.s2 = np.zeros_like(self.ref)
        self.files = 0
        self._pending: list[np.ndarray] = []
        member.add_feature_observer(self._hook)

    def _hook(self, x: np.ndarray):
        self._pending.append(np.asarray(x, dtype=np.float64).reshape(len(x), -1) - self.ref)

    def end_file(self, keep: bool) -> bool:
        """Fold the windows seen since the last call into the moments as one recording."""
        heard = bool(self._pending)
        if heard and keep:
            d = np.concatenate(self._pending)
            self.s1 += d.mean(axis=0)
            self.s2 += (d * d).mean(axis=0)
            self.files += 1
        self._pending = []
        return heard and keep

    def target(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and population variance ``(D,)`` over the recordings (each weighing the same)."""
        m1, m2 = self.s1 / self.files, self.s2 / self.files
        return self.ref + m1, np.maximum(m2 - m1 * m1, 0.0)

    def close(self):
        self.member.remove_feature_observer(self._hook)


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


def _write_member(src_cfg: dict, folder: Path, stats: list[tuple[np.ndarray, np.ndarray]], record: dict) -> None:
    """Rewrite the weight files of one member with new ``mean``/``scale`` (numpy and safetensors:
    no torch); its config gets ``record``."""
    from safetensors.numpy import load_file, save_file

    from ..checkpoint import FORMAT
    from ..checkpoint_schema import validate_model_config
    from ..utils.io import atomic_path, atomic_write_json

    cfg = {**src_cfg, "adapted": record}
    validate_model_config(cfg, source=str(folder / "config.json"))
    for wf, (mean, scale) in zip(cfg.get("weights", ["model.safetensors"]), stats):
        state = load_file(str(folder / wf))
        state["mean"] = np.ascontiguousarray(mean, dtype=state["mean"].dtype)
        state["scale"] = np.ascontiguousarray(scale, dtype=state["scale"].dtype)
        if not (np.isfinite(state["mean"]).all() and np.isfinite(state["scale"]).all()):
            raise ModelError(f"{folder / wf}: adapted statistics are not finite; nothing was written")
        with atomic_path(folder / wf, suffix=".safetensors") as tmp:
            save_file(state, str(tmp), metadata={"format": FORMAT})
    atomic_write_json(folder / "config.json", cfg)


def _adapt_export(model_dir: Path, changes: dict[int, tuple]) -> bool:
    """Carry the adaptation into the model folder's ONNX export (``MODEL/onnx``) without
    re-exporting: each changed member's features go into its unchanged graph as
    ``x * gain + shift`` with ``gain = s_graph / s_new`` and ``shift = m_graph - m_new * gain``, so
    that the graph's own standardisation ``(x' - m_graph) / s_graph`` is ``(x - m_new) / s_new``.
    ``changes`` maps a member index to ``(old stats, new stats)`` (one pair per weight file).
    The export's member configs, model config and source digests then describe the adapted
    folder, so it stays current. Returns False (and removes the export) for a member with
    several weight files, which one graph averages: ``escucha export`` makes that one anew."""
    from ..checkpoint import read_checkpoint_config
    from ..runtime.format import (EXPORT_DIRNAME, is_export_dir, read_affine, read_export_config, source_digests,
                                  write_affine)
    from ..utils.io import atomic_write_json

    export = model_dir / EXPORT_DIRNAME
    if not is_export_dir(export):
        return False
    d, cfg = read_export_config(export)
    if any(len(old) != 1 for old, _ in changes.values()):
        shutil.rmtree(export)
        return False
    _, top = read_checkpoint_config(model_dir)
    member_paths = [m["path"] for m in top["ensemble"]] if "ensemble" in top else ["."]
    for k, (old, new) in changes.items():
        (m_prev, s_prev), (m_new, s_new) = old[0], new[0]
        m = cfg["members"][k]
        # the graph's statistics: the previous ones, seen through the previous affine if any
        prev = read_affine(d, m.get("input_affine"))
        g0, b0 = (prev if prev is not None else (np.ones_like(m_prev), np.zeros_like(m_prev)))
        g0, b0 = np.asarray(g0, np.float64), np.asarray(b0, np.float64)
        s_graph, m_graph = g0 * s_prev, b0 + g0 * m_prev
        gain = s_graph / s_new
        name = f"member-{k}-input-affine.safetensors"
        write_affine(d / name, gain, m_graph - m_new * gain)
        m["input_affine"] = name
    for k, m in enumerate(cfg["members"]):
        m["config"] = read_checkpoint_config(model_dir / member_paths[k])[1]
    cfg["model"] = top
    cfg["source"] = {**cfg.get("source", {}), "digests": source_digests(model_dir, top)}
    atomic_write_json(d / "config.json", cfg)
    return True


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
        stats = _head_stats(src_dir / path, member.config)
        reports.append(MemberAdaptation(path=path, model=str(member.config["model"]["name"]), band=band,
                                        adaptable=stats is not None))
        trained.append(stats)
        recorders.append(_Recorder(member, stats[0][0]) if stats is not None else None)
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
            _write_member(member.config, new / path, st, record)
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
        if not _adapt_export(new, changes) and (src_dir / "onnx").is_dir():
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

