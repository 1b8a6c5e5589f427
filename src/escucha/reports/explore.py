"""``escucha explore``: what is in a corpus, as one self-contained HTML page.

Reads every clip once (decode, resample to 16 kHz, trim silence, measure level and pitch), then
draws the summary, an example clip, one clip per emotion, durations before and after trimming,
class balance and per-emotion distributions of simple acoustic cues.

Pitch is estimated with ``librosa.pyin`` (probabilistic YIN), which costs about 0.03 s of CPU per
RAVDESS clip (at 16 kHz, quarter-tone resolution): clips are processed in a pool of worker processes, and ``pitch_clips`` limits pitch
to a subsample stratified by emotion; the report states how many clips it used and how long it took.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import multiprocessing
import os
import re
import time
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from ..audio import load_audio, rms_db, trim_silence
from ..corpora import Utterance, scan_corpus
from ..corpora.manifest import AUDIO_EXTENSIONS, CorpusWarning
from ..corpora.ravdess import STATEMENTS, parse_ravdess_name
from ..errors import ConfigError, CorpusError, EscuchaError
from ..labels import EMOTIONS
from ..utils.io import atomic_write_text
from ..utils.progress import progress
from .html import FIGURES_DIR, HtmlReport, Raw, check_writable, emotion_tag, esc, kv_table, table

__all__ = ["write_explore_report", "clip_cues", "compute_cues", "CUE_SAMPLE_RATE", "PITCH_FMIN", "PITCH_FMAX"]

#: Hz; every clip is resampled to this rate before trimming, level and pitch.
CUE_SAMPLE_RATE = 16000
#: pYIN search range in Hz (covers low male to high female voices, shouted speech included).
PITCH_FMIN, PITCH_FMAX = 65.0, 600.0
#: pYIN frame and hop in samples at 16 kHz (64 ms frames, 20 ms hop).
PITCH_FRAME, PITCH_HOP = 1024, 320
#: pYIN pitch-bin width in semitones: a quarter tone makes its Viterbi decoding about 5 times
#: faster than librosa's 0.1 default while medians stay within about 1.5 %.
PITCH_RESOLUTION = 0.25
#: Display log-mel: 80 bands up to 8 kHz, 25 ms windows, 10 ms hop at 16 kHz.
MEL = dict(kind="logmel", sample_rate=CUE_SAMPLE_RATE, n_fft=512, win_length=400, hop_length=160, n_mels=80,
           fmin=0.0, fmax=8000.0, top_db=80.0, normalize="none")
#: Name of the HTML file inside the output folder.
HTML_NAME = "explore.html"
#: Per-clip measurements written beside it.
CUES_NAME = "cues.csv"
#: Every figure the report may write, as ``figures/<name>.png``.
FIGURE_NAMES = ("clip", "emotions", "durations", "balance", "emotion_intensity", "cues")

CUE_FIELDS = ["duration", "trimmed_duration", "level_db", "f0_median", "f0_range_st", "voiced_fraction"]


def clip_cues(path: str, *, trim_db: float = 40.0, pitch: bool = True) -> dict:
    """Durations, level and pitch of one clip.

    Parameters
    ----------
    path : str
        Audio file; decoded, mixed to mono and resampled to :data:`CUE_SAMPLE_RATE`.
    trim_db : float
        Leading and trailing frames quieter than this many dB below the loudest frame are
        trimmed (:func:`escucha.audio.trim_silence`, the rule of ``escucha train --trim-db``).
    pitch : bool
        Estimate F0 with pYIN on the trimmed signal (the slow part).

    Returns
    -------
    dict
        ``duration`` and ``trimmed_duration`` (s), ``level_db`` (RMS of the trimmed signal, dBFS),
        ``f0_median`` (Hz, over voiced frames), ``f0_range_st`` (semitones between the 10th and
        90th percentile of F0), ``voiced_fraction`` (0-1); NaN where not measured. On a file
        that cannot be decoded: ``{"error": message}``.
    """
    try:
        y, sr = load_audio(path, sample_rate=CUE_SAMPLE_RATE)
    except EscuchaError as e:
        return {"error": str(e)}
    yt, _ = trim_silence(y, top_db=trim_db)
    out = {"duration": len(y) / sr, "trimmed_duration": len(yt) / sr,
           "level_db": rms_db(yt) if yt.size else math.nan,
           "f0_median": math.nan, "f0_range_st": math.nan, "voiced_fraction": math.nan}
    if pitch and yt.size >= PITCH_FRAME:
        import librosa

        try:
            f0, voiced, _ = librosa.pyin(yt, fmin=PITCH_FMIN, fmax=PITCH_FMAX, sr=sr,
                                         frame_length=PITCH_FRAME, hop_length=PITCH_HOP,
                                         resolution=PITCH_RESOLUTION)
        except Exception as e:  # pragma: no cover - librosa failure on odd audio
            return {**out, "error": f"{path}: pitch estimation failed ({type(e).__name__}: {e})"}
        v = f0[voiced & np.isfinite(f0)]
        out["voiced_fraction"] = float(np.mean(voiced)) if voiced.size else math.nan
        if v.size:
            out["f0_median"] = float(np.median(v))
        if v.size >= 5:
            lo, hi = np.percentile(v, [10, 90])
            out["f0_range_st"] = float(12 * np.log2(hi / lo))
    return out


def _pitch_subset(records: Sequence[Utterance], n: int | None, *, seed: int = 0) -> set[int]:
    """Indices of at most ``n`` records for pitch, stratified by emotion (all if ``n`` is None)."""
    if n is None or n >= len(records):
        return set(range(len(records)))
    if n <= 0:
        return set()
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        groups.setdefault(r.emotion, []).append(i)
    out: set[int] = set()
    for _, idx in sorted(groups.items()):
        k = max(1, round(n * len(idx) / len(records)))
        out.update(int(i) for i in rng.permutation(idx)[:k])
    return out


def compute_cues(records: Sequence[Utterance], *, trim_db: float = 40.0, pitch_clips: int | None = None,
                 jobs: int | None = None, show_progress: bool = True) -> tuple[list[dict], dict]:
    """Run :func:`clip_cues` on every record, in ``jobs`` worker processes.

    Parameters
    ----------
    pitch_clips : int or None
        Estimate pitch on at most this many clips (stratified by emotion); ``None``: all.
    jobs : int or None
        Worker processes; 1 runs in this process; ``None``: one for fewer than 32 clips (starting
        workers costs seconds), else up to 4, at most the CPU count.

    Returns
    -------
    cues : list of dict, aligned with ``records`` (see :func:`clip_cues`)
    info : dict
        ``seconds`` (wall time), ``jobs``, ``pitch_clips`` (how many got pitch).
    """
    n = len(records)
    with_pitch = _pitch_subset(records, pitch_clips)
    if jobs is None:
        jobs = 1 if n < 32 else min(4, os.cpu_count() or 1)
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    jobs = max(1, min(jobs, n))
    from ..utils import numba_cache

    t0 = time.perf_counter()
    bar = dict(desc="reading audio", total=n, unit="clip", disable=not show_progress or None)
    args = [(r.path, i in with_pitch) for i, r in enumerate(records)]
    # pYIN is numba code: its on-disk cache is escucha's own, warmed once before workers read it
    cache = numba_cache.warm_pitch_cache() if with_pitch and jobs > 1 else numba_cache.use_private_cache()
    cues = None
    if jobs > 1:
        from concurrent.futures.process import BrokenProcessPool

        # spawn, not fork: the caller may hold torch threads, which do not survive a fork.
        ctx = multiprocessing.get_context("spawn")
        try:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as ex:
                chunk = max(1, min(8, n // (jobs * 8)))
                cues = list(progress(ex.map(functools.partial(_cues_star, trim_db=trim_db), args, chunksize=chunk),
                                     **bar))
        except BrokenProcessPool:
            import warnings

            numba_cache.clear_cache(cache)
            warnings.warn(f"a worker process died while reading the clips; the compiled-code cache {cache} was "
                          "cleared and the clips are read again in this process (slower; --jobs 1 does so "
                          "from the start)")
            jobs = 1
    if cues is None:
        cues = [clip_cues(p, trim_db=trim_db, pitch=w) for p, w in progress(args, **bar)]
    info = {"seconds": time.perf_counter() - t0, "jobs": jobs, "pitch_clips": len(with_pitch)}
    return cues, info


def _cues_star(arg: tuple[str, bool], *, trim_db: float) -> dict:
    path, pitch = arg
    return clip_cues(path, trim_db=trim_db, pitch=pitch)


# ------------------------------------------------------------------------------ corpus reading

def _survey_folder(root: Path) -> dict:
    """Audio files under ``root`` whose names do not parse as RAVDESS, and the filtered-out ones."""
    found, unparsed, other_channel = 0, [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if fn.startswith(".") or not fn.lower().endswith(AUDIO_EXTENSIONS):
                continue
            found += 1
            try:
                f = parse_ravdess_name(fn)
            except CorpusError as e:
                unparsed.append((os.path.relpath(os.path.join(dirpath, fn), root), str(e).split(": ", 1)[-1]))
                continue
            if f["vocal_channel"] != "speech":
                other_channel += 1
    return {"found": found, "unparsed": unparsed, "song": other_channel}


def _read_corpus(source: Path) -> tuple[list[Utterance], dict]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CorpusWarning)
        records = scan_corpus(source)
    notes = [str(w.message) for w in caught if issubclass(w.category, CorpusWarning)]
    survey = _survey_folder(source) if source.is_dir() else None
    return records, {"warnings": notes, "survey": survey}


def _resolve_clip(clip: str | os.PathLike | None, records: list[Utterance]) -> Utterance:
    if clip is None:
        return records[0]
    c = str(clip)
    p = Path(c)
    if p.is_file():
        rp = str(p.resolve())
        for r in records:
            if r.path == rp:
                return r
        try:
            f = parse_ravdess_name(p.name)
            emotion, speaker, gender = f["emotion"], f"{f['actor']:02d}", f["gender"]
        except CorpusError:
            emotion, speaker, gender = "", "", ""
        return Utterance(path=rp, corpus="", speaker=speaker, gender=gender, emotion=emotion, duration=0.0,
                         sample_rate=0)
    matches = [r for r in records if r.name == c or Path(r.name).stem == c or r.path.endswith(os.sep + c)]
    if not matches:
        raise ConfigError(f"--clip {c}: no such file, and no clip of the corpus has that name "
                          f"(give a path or a name like {records[0].name})")
    return matches[0]


def _emotion_examples(records: list[Utterance]) -> tuple[str, list[Utterance]]:
    """One clip per emotion, all from the speaker who covers the most emotions (first by path)."""
    by_speaker: dict[str, dict[str, Utterance]] = {}
    for r in sorted(records, key=lambda r: r.path):
        by_speaker.setdefault(r.speaker, {}).setdefault(r.emotion, r)
    speaker = max(sorted(by_speaker), key=lambda s: len(by_speaker[s]))
    chosen = by_speaker[speaker]
    order = [e for e in EMOTIONS if e in chosen] + sorted(set(chosen) - set(EMOTIONS))
    return speaker, [chosen[e] for e in order]


def _ordered(counter: Counter, order: Sequence[str] | None = None) -> dict[str, int]:
    keys = [k for k in (order or []) if k in counter] + sorted(k for k in counter if k not in (order or []))
    return {k: int(counter[k]) for k in keys if k != ""}


# ------------------------------------------------------------------------------------- report

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
    records, read_info = _read_corpus(source)
    shown = _resolve_clip(clip, records) if clip is not None else None
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
    _summary_section(rep, source, records, ok, errors, read_info, cue_info, trim_db)
    _clip_section(rep, plots, shown, trim_db, root)
    _grid_section(rep, plots, [r for r, _ in ok])
    _manifest_section(rep, records, root, manifest_rows)
    _durations_section(rep, plots, ok, trim_db)
    _balance_section(rep, plots, records)
    _cues_section(rep, plots, ok, cue_info, len(records))
    rep.add("timing", "How this report was made",
            Raw(f'<p class="note">Audio of {len(records)} clips read and measured in {cue_info["seconds"]:.1f} s '
                f'with {cue_info["jobs"]} process{"es" if cue_info["jobs"] > 1 else ""} '
                f'(pitch on {cue_info["pitch_clips"]} clips); whole report in '
                f'{time.perf_counter() - t_start:.1f} s. Per-clip measurements: <code>cues.csv</code>.</p>'),
            nav="Timing")
    _write_cues_csv(out / CUES_NAME, records, cues, root)
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


def _fmt_minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def _summary_section(rep, source, records, ok, errors, read_info, cue_info, trim_db):
    dur = np.array([c["duration"] for _, c in ok])
    trimmed = np.array([c["trimmed_duration"] for _, c in ok])
    genders = Counter({r.speaker: r.gender for r in records}.values())
    rates = Counter(r.sample_rate for r in records)
    channels = Counter(r.channels for r in records)
    survey = read_info["survey"]
    items = [("source", str(source.resolve()))]
    if survey is not None:
        items.append(("audio files found", f"{survey['found']} (.wav/.flac)"))
    items += [
        ("clips used", f"{len(records)}" + (f" (speech only; {survey['song']} song clips left out)"
                                            if survey and survey["song"] else "")),
        ("actors", f"{len({r.speaker for r in records})} ("
                   + ", ".join(f"{v} {k or 'unknown'}" for k, v in sorted(genders.items())) + ")"),
        ("emotions", ", ".join(f"{k} {v}" for k, v in _ordered(Counter(r.emotion for r in records), EMOTIONS).items())),
        ("total duration", f"{_fmt_minutes(float(dur.sum()))} raw; {_fmt_minutes(float(trimmed.sum()))} "
                           f"after trimming silence at {trim_db:g} dB"),
        ("mean duration", f"{dur.mean():.2f} s ± {dur.std():.2f} (min {dur.min():.2f}, max {dur.max():.2f})"),
        ("sample rates", ", ".join(f"{sr} Hz: {n} clips" for sr, n in sorted(rates.items()))),
        ("channels", ", ".join(f"{ {1: 'mono', 2: 'stereo'}.get(ch, f'{ch} channels')}: {n} clips"
                               for ch, n in sorted(channels.items()))
         + (" (mixed to mono for every measurement)" if set(channels) - {1} else "")),
    ]
    unparsed = survey["unparsed"] if survey else []
    items.append(("unparsed files", f"{len(unparsed)}" if survey else "n/a (read from a manifest)"))
    items.append(("undecodable clips", str(len(errors))))
    parts: list = [kv_table(items)]
    if unparsed:
        parts.append(Raw("<h3>Files whose names are not RAVDESS names (left out)</h3>"))
        parts.append(table(["file", "problem"], unparsed[:20]))
        if len(unparsed) > 20:
            parts.append(Raw(f'<p class="note">… and {len(unparsed) - 20} more.</p>'))
    for note in read_info["warnings"]:
        m = re.search(r"skipped (\d+) of", note)
        if not (m and int(m.group(1)) == len(unparsed)):  # not already listed above
            parts.append(Raw(f'<p class="note">Reader warning: {esc(note)}</p>'))
    if errors:
        parts.append(Raw("<h3>Clips that could not be decoded (left out of every figure)</h3>"))
        parts.append(table(["error"], [[m] for _, m in errors[:20]]))
    rep.add("summary", "Summary", *parts)


def _mel_for(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-mel dB ``(n_mels, frames)`` of ``y`` by the models' own front end, and band centres in Hz."""
    import librosa
    import torch

    from ..features import FeatureConfig, FeatureExtractor

    cfg = FeatureConfig(**MEL)
    with torch.no_grad():
        db = FeatureExtractor(cfg)(torch.from_numpy(np.ascontiguousarray(y))[None])[0].numpy()
    edges = librosa.mel_frequencies(n_mels=cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax, htk=False)
    return db, edges[1:-1]


def _clip_section(rep, plots, r: Utterance, trim_db: float, root: Path):
    y, sr = load_audio(r.path, sample_rate=CUE_SAMPLE_RATE)
    _, (s, e) = trim_silence(y, top_db=trim_db)
    mel, band_hz = _mel_for(y)
    label = f"{r.name}" + (f" — {r.emotion}" if r.emotion else "") + (f", actor {r.speaker}" if r.speaker else "") \
        + (f", {r.intensity}" if r.intensity else "") + (f", “{r.statement}”" if r.statement else "")
    fig = plots.waveform_and_mel(y, sr, mel, band_hz, hop_length=MEL["hop_length"], title=label,
                                 emotion=r.emotion or None, trim=(s, e))
    facts = [esc(r.name)] + ([emotion_tag(r.emotion)] if r.emotion else []) \
        + ([f"actor {esc(r.speaker)}"] if r.speaker else []) + ([esc(r.intensity)] if r.intensity else []) \
        + ([f"“{esc(r.statement)}”"] if r.statement else [])
    rep.add("clip", "One clip: waveform and mel spectrogram",
            Raw(f'<p>{" · ".join(facts)} &nbsp; {rep.audio(r.path)}</p><p class="note">{esc(r.path)}</p>'),
            rep.figure("clip", plots.to_png(fig), caption=(
                f"Top: waveform at {sr // 1000} kHz (shaded: the part kept when trimming silence "
                f"{trim_db:g} dB below the loudest frame). Bottom: log-mel power spectrogram, "
                f"{MEL['n_mels']} bands to {MEL['fmax'] / 1000:g} kHz, 25 ms windows, 10 ms hop — "
                f"computed by escucha's own feature code (the log-mel models use 64 bands). Choose another clip with --clip.")), nav="One clip")


def _grid_section(rep, plots, records):
    speaker, chosen = _emotion_examples(records)
    panels = []
    for r in chosen:
        y, sr = load_audio(r.path, sample_rate=CUE_SAMPLE_RATE)
        mel, band_hz = _mel_for(y)
        panels.append({"emotion": r.emotion, "y": y, "mel_db": mel, "name": r.name})
    fig = plots.emotion_grid(panels, band_hz, hop_length=MEL["hop_length"], sr=CUE_SAMPLE_RATE,
                             suptitle=f"Actor {speaker}: one clip per emotion")
    same = {(r.statement, r.intensity) for r in chosen if r.emotion != "neutral"}
    rep.add("emotions", "One clip per emotion",
            rep.figure("emotions", plots.to_png(fig), caption=(
                f"The first clip of each emotion from actor {speaker} (the speaker with the most emotions), "
                + ("same sentence and intensity, " if len(same) == 1 else "")
                + "on shared time and dB scales, so differences in length, loudness and spectral "
                  "energy can be compared.")),
            table(["emotion", "file", "listen"],
                  [[emotion_tag(r.emotion), r.name, rep.audio(r.path)] for r in chosen]), nav="Per emotion")


def _manifest_section(rep, records, root: Path, n: int):
    cols = ["path", "corpus", "speaker", "gender", "emotion", "duration", "sample_rate", "channels",
            "intensity", "statement", "repetition", "modality", "vocal_channel"]
    rows = []
    for r in records[:max(n, 0)]:
        try:
            rel = os.path.relpath(r.path, root)
        except ValueError:
            rel = r.path
        rows.append([rel, r.corpus, r.speaker, r.gender, emotion_tag(r.emotion), f"{r.duration:.3f}",
                     r.sample_rate, r.channels, r.intensity, r.statement, r.repetition, r.modality,
                     r.vocal_channel])
    rep.add("manifest", "Manifest (first rows)",
            Raw(f'<p class="note">The first {len(rows)} of {len(records)} rows of the manifest '
                f'(<code>escucha data index DIR -o manifest.csv</code> writes it); paths relative to '
                f'{esc(root)}, duration in seconds, sample rate in Hz.</p>'),
            Raw('<div class="scroll">'), table(cols, rows, numeric=(5, 6, 7, 10)), Raw("</div>"), nav="Manifest")


def _durations_section(rep, plots, ok, trim_db):
    raw = np.array([c["duration"] for _, c in ok])
    trimmed = np.array([c["trimmed_duration"] for _, c in ok])
    fig = plots.duration_histogram(raw, trimmed, trim_db=trim_db)
    rep.add("durations", "Durations, raw and silence-trimmed",
            rep.figure("durations", plots.to_png(fig), caption=(
                f"Trimming threshold: {trim_db:g} dB below each clip's loudest frame (2048-sample frames, "
                f"512 hop, at 16 kHz); only leading and trailing silence is removed. Dashed lines: means. "
                f"Silence removed: {100 * (1 - trimmed.sum() / raw.sum()):.0f} % of the audio.")), nav="Durations")


def _balance_section(rep, plots, records):
    c = lambda attr: Counter(getattr(r, attr) for r in records)  # noqa: E731
    counts = {
        "emotion": _ordered(c("emotion"), EMOTIONS),
        "intensity": _ordered(c("intensity"), ["normal", "strong"]),
        "statement": _ordered(c("statement"), list(STATEMENTS.values())),
        "gender": _ordered(c("gender"), ["female", "male"]),
        "actor": _ordered(c("speaker")),
    }
    genders = {r.speaker: r.gender for r in records}
    fig = plots.class_balance(counts, actor_gender=genders)
    parts = [rep.figure("balance", plots.to_png(fig), caption=(
        "Clips per emotion (in each emotion's colour), intensity, statement, gender and actor "
        "(actors shaded by gender)."))]
    intensities = list(counts["intensity"])
    if intensities:
        table_ = {e: {} for e in counts["emotion"]}
        for r in records:
            if r.intensity:
                table_[r.emotion][r.intensity] = table_[r.emotion].get(r.intensity, 0) + 1
        fig2 = plots.emotion_by_intensity(table_, intensities)
        parts.append(rep.figure("emotion_intensity", plots.to_png(fig2), caption=(
            "Clips per emotion and intensity (solid: normal, hatched: strong). RAVDESS has no strong "
            "neutral, so neutral has half as many clips as the other emotions.")))
    rep.add("balance", "Class balance", *parts)


def _cues_section(rep, plots, ok, cue_info, n_total):
    emotions = [e for e in _ordered(Counter(r.emotion for r, _ in ok), EMOTIONS)]

    def by_emotion(key):
        d: dict[str, list[float]] = {}
        for r, c in ok:
            v = c.get(key, math.nan)
            if np.isfinite(v):
                d.setdefault(r.emotion, []).append(float(v))
        return d

    cues = {"speaking duration (s, silence-trimmed)": by_emotion("trimmed_duration"),
            "level (dBFS, RMS of trimmed clip)": by_emotion("level_db")}
    pitch_by_gender = None
    n_pitch = sum(1 for _, c in ok if np.isfinite(c.get("f0_median", math.nan)))
    if cue_info["pitch_clips"]:
        cues["F0 range (semitones, 10th-90th percentile)"] = by_emotion("f0_range_st")
        pitch_by_gender = {}
        for r, c in ok:
            v = c.get("f0_median", math.nan)
            if np.isfinite(v):
                pitch_by_gender.setdefault(r.gender or "unknown", {}).setdefault(r.emotion, []).append(float(v))
    fig = plots.cue_boxplots(emotions, cues, pitch_by_gender=pitch_by_gender)
    how = (f"Pitch: librosa.pyin on the trimmed clip at 16 kHz, F0 searched in {PITCH_FMIN:g}-{PITCH_FMAX:g} Hz, "
           f"{PITCH_FRAME / 16:g} ms frames, {PITCH_HOP / 16:g} ms hop; computed on {cue_info['pitch_clips']} of "
           f"{n_total} clips" + (" (a subsample stratified by emotion, see --pitch-clips)"
                                 if cue_info["pitch_clips"] < n_total else " (all)")
           + f", {n_pitch} of them with voiced frames.") if cue_info["pitch_clips"] else \
        "Pitch was not computed (--pitch-clips 0)."
    rep.add("cues", "Acoustic cues by emotion",
            rep.figure("cues", plots.to_png(fig), caption=(
                "Boxes: median and quartiles; whiskers: 1.5 × IQR; dots: outliers. Level is recording-"
                "dependent (RAVDESS gains differ by actor), so compare emotions, not absolute values. " + how)),
            nav="Acoustic cues")


def _write_cues_csv(path: Path, records, cues, root: Path) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "speaker", "gender", "emotion", *CUE_FIELDS, "error"])
    for r, c in zip(records, cues):
        vals = ["" if not np.isfinite(c.get(k, math.nan)) else f"{c[k]:.4f}" for k in CUE_FIELDS]
        w.writerow([r.path, r.speaker, r.gender, r.emotion, *vals, c.get("error", "")])
    atomic_write_text(path, buf.getvalue())
