"""The tables of a batch's output folder: ``summary.csv`` (one row per analysed file, including
those done by earlier runs; ``duplicate_of`` names the first file with the same audio bytes) and
``errors.csv`` (the files that failed in this run, with the reason)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Sequence

from ..utils.io import atomic_write_csv, atomic_write_text
from .resume import is_complete, strict_json

__all__ = ["summary_row", "write_tables", "column_prefix"]


def column_prefix(name: str) -> str:
    """A speaker's (channel's) name as the start of a column name: ``speaker 1`` ->
    ``speaker_1_``, so that every column is one word for pandas, SQL and spreadsheets. Names
    that differ only in spaces or punctuation are told apart by a number."""
    return re.sub(r"[^\w-]+", "_", str(name)).strip("_") or "channel"


def summary_row(d: dict, labels: Sequence[str]) -> dict:
    """One ``summary.csv`` row from a result JSON (``CallResult.to_dict()``)."""
    s = d["summary"]
    # the speakers found on a mono call, or split channels (each one speaker); empty for one mono track
    found = d.get("speakers")
    speakers = len(found) if found is not None else (len(d["channels"]) if len(d["channels"]) > 1 else "")
    row = {"file": d["file"], "duration": s["duration"], "channels": ";".join(d["channels"]),
           "speakers": speakers,
           "speech_seconds": s["speech_seconds"], "speech_ratio": s["speech_ratio"], "segments": s["segments"],
           "dominant": s["dominant"] or "", "outcome": d.get("outcome") or "", "first_third_dominant": s["first_third"]["dominant"] or "",
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
    # the coarse dimensions, for the call and for each speaker (channel) by name
    blocks, taken = [("", s)], set()
    for ch, v in s.get("channels", {}).items():
        base = prefix = column_prefix(ch)
        n = 2
        while prefix in taken:
            prefix, n = f"{base}_{n}", n + 1
        taken.add(prefix)
        blocks.append((f"{prefix}_", v))
    for prefix, b in blocks:
        if prefix:
            row[f"{prefix}dominant"] = b.get("dominant") or ""
        for dim in ("negative", "high_arousal"):
            d = b.get(dim) or {}
            for key in ("share", "first_third", "last_third", "change"):
                v = d.get(key)
                row[f"{prefix}{dim}_{key}"] = "" if v is None else v
        v = b.get("uncertain_share")
        row[f"{prefix}uncertain_share"] = "" if v is None else v
    return row


_EMPTY = {"file": "", "channels": [], "summary": {"duration": 0, "speech_seconds": 0, "speech_ratio": 0, "segments": 0,
                                                 "dominant": None, "first_third": {"dominant": None},
                                                 "last_third": {"dominant": None}, "emotion_share": {}, "change": {}}}


def write_tables(report, files: list[Path], folder: Path, out_dir: Path, labels: list[str]) -> None:
    """Write ``summary.csv`` (a row for every complete result of ``files`` in ``out_dir``, whichever
    run made it) and ``errors.csv`` (``report.errors``, the failures of this run), each atomically."""
    rows, first = [], {}
    for p in files:
        j = out_dir / f"{p.relative_to(folder).as_posix()}.json"
        if j.is_file():
            try:
                d = strict_json(j.read_text())
                if is_complete(d):
                    row = summary_row(d, labels)
                    digest = (d.get("source") or {}).get("blake2b")
                    # the same recording stored twice would count twice in every average
                    row["duplicate_of"] = first.setdefault(digest, d["file"]) if digest else ""
                    if row["duplicate_of"] == d["file"]:
                        row["duplicate_of"] = ""
                    else:
                        report.duplicates.append((d["file"], row["duplicate_of"]))
                    rows.append(row)
            except (OSError, ValueError, KeyError, TypeError):
                pass
    cols = (list(dict.fromkeys(k for r in rows for k in r)) if rows
            else [*summary_row(_EMPTY, labels), "duplicate_of"])
    atomic_write_csv(out_dir / "summary.csv", rows, fieldnames=cols)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "error"])
    w.writerows(sorted(report.errors))
    atomic_write_text(out_dir / "errors.csv", buf.getvalue())
