"""The sections of the explore report, one builder each: summary, one clip, one clip per emotion,
manifest, durations, class balance and acoustic cues.

Each ``*_section(rep, ...)`` adds its section (and figure) to an :class:`~escucha.reports.html.HtmlReport`;
those that draw take ``plots`` (:mod:`escucha.reports.plots`, imported by the caller, so that
matplotlib is imported only when a report is made).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from ..audio import load_audio, trim_silence
from ..corpora import Utterance
from ..corpora.manifest import AUDIO_EXTENSIONS
from ..corpora.ravdess import STATEMENTS
from ..labels import EMOTIONS
from .corpus_survey import emotion_examples
from .cues import CUE_SAMPLE_RATE, PITCH_FMAX, PITCH_FMIN, PITCH_FRAME, PITCH_HOP
from .html import Raw, emotion_tag, esc, kv_table, table

__all__ = ["summary_section", "clip_section", "grid_section", "manifest_section", "durations_section",
           "balance_section", "cues_section", "MEL"]

#: Display log-mel: 80 bands up to 8 kHz, 25 ms windows, 10 ms hop at 16 kHz.
MEL = dict(kind="logmel", sample_rate=CUE_SAMPLE_RATE, n_fft=512, win_length=400, hop_length=160, n_mels=80,
           fmin=0.0, fmax=8000.0, top_db=80.0, normalize="none")


def _ordered(counter: Counter, order: Sequence[str] | None = None) -> dict[str, int]:
    keys = [k for k in (order or []) if k in counter] + sorted(k for k in counter if k not in (order or []))
    return {k: int(counter[k]) for k in keys if k != ""}


def _fmt_minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def summary_section(rep, source, records, ok, errors, read_info, cue_info, trim_db):
    dur = np.array([c["duration"] for _, c in ok])
    trimmed = np.array([c["trimmed_duration"] for _, c in ok])
    genders = Counter({r.speaker_key: r.gender for r in records}.values())
    rates = Counter(r.sample_rate for r in records)
    channels = Counter(r.channels for r in records)
    survey = read_info["survey"]
    items = [("source", str(source.resolve()))]
    if survey is not None:
        items.append(("audio files found", f"{survey['found']} ({', '.join(AUDIO_EXTENSIONS)})"))
    items += [
        ("clips used", f"{len(records)}" + (f" (speech only; {survey['song']} song clips left out)"
                                            if survey and survey["song"] else "")),
        ("speakers", f"{len({r.speaker_key for r in records})} ("
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
    unparsed = survey["left_out"] if survey else []
    items.append(("files left out", f"{len(unparsed)}" if survey else "n/a (read from a manifest)"))
    items.append(("undecodable clips", str(len(errors))))
    parts: list = [kv_table(items)]
    for note in read_info["warnings"]:   # the reader's own summary: how many it skipped, and why
        parts.append(Raw(f'<p class="note">Reader warning: {esc(note)}</p>'))
    if unparsed:
        parts.append(Raw("<h3>Audio files the corpus reader left out</h3>"))
        parts.append(table(["file", "problem"], unparsed[:20]))
        if len(unparsed) > 20:
            parts.append(Raw(f'<p class="note">… and {len(unparsed) - 20} more.</p>'))
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


def clip_section(rep, plots, r: Utterance, trim_db: float, root: Path):
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


def grid_section(rep, plots, records):
    speaker, chosen = emotion_examples(records)
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


def manifest_section(rep, records, root: Path, n: int):
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


def durations_section(rep, plots, ok, trim_db):
    raw = np.array([c["duration"] for _, c in ok])
    trimmed = np.array([c["trimmed_duration"] for _, c in ok])
    fig = plots.duration_histogram(raw, trimmed, trim_db=trim_db)
    rep.add("durations", "Durations, raw and silence-trimmed",
            rep.figure("durations", plots.to_png(fig), caption=(
                f"Trimming threshold: {trim_db:g} dB below each clip's loudest frame (2048-sample frames, "
                f"512 hop, at 16 kHz); only leading and trailing silence is removed. Dashed lines: means. "
                f"Silence removed: {100 * (1 - trimmed.sum() / raw.sum()):.0f} % of the audio.")), nav="Durations")


def balance_section(rep, plots, records):
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


def cues_section(rep, plots, ok, cue_info, n_total):
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
