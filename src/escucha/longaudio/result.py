"""The result of one call (:class:`CallResult`): its segments, summary and settings, as JSON,
as a segments table, and written into a folder."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .segments import Segment, Window

__all__ = ["CallResult"]


@dataclass
class CallResult:
    """Everything :func:`~escucha.longaudio.analyze_file` found in one call (JSON-ready through :meth:`to_dict`)."""

    file: str | None
    duration: float
    sample_rate: int
    channels: list[str]
    channel_mode: str
    labels: list[str]
    segments: list[Segment]
    summary: dict
    settings: dict
    format: str | None = None
    source: dict = field(default_factory=dict)
    #: how a multi-channel file's mode was chosen (``channels="auto"``): mode, reason, measures
    channel_choice: dict | None = None
    #: the speakers (names in order of first appearance): found on a mono call, or a split
    #: call's channels (one speaker each); ``None`` with ``speakers="off"``
    speakers: list[str] | None = None
    #: each speaker heard against their own neutral voice (``baseline=True``): the log-weights
    #: by label that re-weighted their answers (:mod:`escucha.inference.baseline`)
    baseline: dict | None = None

    #: the loudest 32-ms frame of the input (dBFS), when the analyzer measured it
    peak_db: float | None = None

    @property
    def windows(self) -> list[tuple[str, Window]]:
        return [(s.channel, w) for s in self.segments for w in s.windows]

    @property
    def outcome(self) -> tuple[str | None, str]:
        """``(None, "")`` when speech was found; else ``("too short" | "no speech found", reason)``,
        the outcomes of ``escucha predict`` (:mod:`escucha.inference.gate`)."""
        from ..inference.gate import MIN_SECONDS, NO_SPEECH, TOO_SHORT, no_speech_reason, too_short_reason

        if self.segments:
            return None, ""
        if self.duration < MIN_SECONDS:
            return TOO_SHORT, too_short_reason(self.duration)
        return NO_SPEECH, no_speech_reason(self.duration, self.peak_db)

    def to_dict(self, *, windows: bool = True) -> dict:
        """JSON-ready result; a call without speech also gets ``outcome`` and ``reason``."""
        d = {"file": self.file, "duration": round(self.duration, 3), "sample_rate": self.sample_rate,
             "format": self.format, "source": self.source, "channels": self.channels, "channel_mode": self.channel_mode,
             "labels": self.labels, "settings": self.settings,
             **({"channel_choice": self.channel_choice} if self.channel_choice else {}),
             **({"speakers": self.speakers} if self.speakers is not None else {}),
             **({"baseline": self.baseline} if self.baseline is not None else {}),
             "segments": [s.to_dict() for s in self.segments]}
        if windows:
            d["windows"] = [{"channel": s.channel, "segment": i, "start": round(w.start, 3),
                             "end": round(w.end, 3), "label": self.labels[int(np.argmax(w.probabilities))],
                             "probabilities": {lab: round(float(p), 4) for lab, p in zip(self.labels, w.probabilities)}}
                            for i, s in enumerate(self.segments) for w in s.windows]
        d["summary"] = self.summary
        outcome, reason = self.outcome
        if outcome is not None:
            d["outcome"], d["reason"] = outcome, reason
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(**kw), indent=None)

    def segments_csv(self) -> str:
        """The segments as CSV (:func:`segments_csv`)."""
        return segments_csv(self.labels, [s.to_dict() for s in self.segments])

    def write(self, out_dir: str | os.PathLike, *, name: str | None = None, plot: bool = False) -> dict[str, Path]:
        """Write ``<name>.json`` and ``<name>.segments.csv`` (and ``<name>.timeline.png`` with
        ``plot``) into ``out_dir``, each atomically. ``name`` defaults to the file's name.

        The JSON is written last, so its presence means the file is complete (batch resume).
        """
        from ..utils.io import atomic_write_json, atomic_write_text

        out_dir = Path(out_dir)
        name = name or (Path(self.file).name if self.file else "stdin")
        paths = {"csv": out_dir / f"{name}.segments.csv", "json": out_dir / f"{name}.json"}
        atomic_write_text(paths["csv"], self.segments_csv())
        if plot:
            from .plot import plot_timeline

            paths["plot"] = plot_timeline(self, out_dir / f"{name}.timeline.png")
        atomic_write_json(paths["json"], self.to_dict())
        return paths


def segments_csv(labels: Sequence[str], segments: Sequence[dict]) -> str:
    """One row per segment (as :meth:`Segment.to_dict` gives it, or as a stored call keeps it):
    channel, start, end, duration (s), label, confidence, uncertain (0/1), arousal, negative,
    p_<label>; then ``speaker`` and ``overlap`` when speakers were asked for, and ``text``,
    ``text_sentiment`` and ``words`` (JSON ``[[word, start, end], ...]``) with a transcript."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    who = any(s.get("speaker") is not None for s in segments)
    said = any(s.get("words") is not None for s in segments)
    w.writerow(["channel", "start", "end", "duration", "label", "confidence", "uncertain", "arousal", "negative"]
               + [f"p_{lab}" for lab in labels]
               + (["speaker", "overlap"] if who else []) + (["text", "text_sentiment", "words"] if said else []))
    for s in segments:
        p = s.get("probabilities") or {}
        num = lambda k: "" if s.get(k) is None else f"{s[k]:.4f}"  # noqa: E731
        row = [s.get("channel"), f"{s['start']:.3f}", f"{s['end']:.3f}", f"{s['end'] - s['start']:.3f}",
               s.get("label"), num("confidence"), int(bool(s.get("uncertain"))), num("arousal"), num("negative")] \
            + [f"{p.get(lab, 0.0):.4f}" for lab in labels]
        if who:
            row += [s.get("speaker") or "", ";".join(s.get("overlap") or [])]
        if said:
            words = s.get("words") or []
            row += [" ".join(x["word"] for x in words), (s.get("text_sentiment") or {}).get("label", ""),
                    json.dumps([[x["word"], x["start"], x["end"]] for x in words], ensure_ascii=False)]
        w.writerow(row)
    return buf.getvalue()
