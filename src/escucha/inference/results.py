"""A results file that survives interruption: ``escucha predict DIR -o FILE``.

Every finished result is appended at once to ``FILE.partial`` (one JSON object a line, flushed),
so a killed or interrupted run keeps all it finished; running the same command again reads the
partial file and predicts only what is missing (a file counts as done while its path, size and
modification time are unchanged). The partial file starts with the settings its results were
made with (model, labels, calibration, adaptation, escucha version); a run with other settings
does not mix its results in, it is refused (``--force``: start over). When every input is done,
``FILE`` is written atomically in the format its suffix names and the partial file is removed:

- ``.jsonl``: one object a line, as ``escucha predict --jsonl`` prints them;
- ``.json``: one list, as ``escucha predict --json`` prints it;
- ``.csv``: ``file, label, confidence, uncertain, arousal, negative, outcome, reason, duration,
  long`` and one column per emotion (the probability, or for a long recording its share of
  speech time).

A file that failed is a result too: ``"label": null, "outcome": "error"`` and its one-line
``reason``; a rerun tries it again.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Sequence

from ..errors import ConfigError
from ..utils.io import atomic_write_text, check_writable

__all__ = ["ResultsFile", "error_record", "FORMATS"]

#: suffixes ``-o`` understands
FORMATS = (".jsonl", ".json", ".csv")


def error_record(file: str, message: str) -> dict:
    """The output record of a file that could not be predicted (``outcome: "error"``)."""
    return {"file": file, "label": None, "probabilities": {}, "outcome": "error", "reason": message}


def _key(file: str) -> list:
    try:
        st = os.stat(file)
        return [str(Path(file).absolute()), st.st_size, st.st_mtime_ns]
    except OSError:
        return [str(Path(file).absolute()), None, None]


class ResultsFile:
    """``FILE`` and its ``FILE.partial`` (see the module text).

    Parameters
    ----------
    path : path
        The results file; its suffix (:data:`FORMATS`) sets the format.
    force : bool
        Replace an existing ``FILE`` (else an existing one is an error and nothing is predicted).

    Raises
    ------
    ConfigError
        An unknown suffix, or ``FILE`` exists and ``force`` is not given.
    """

    def __init__(self, path: str | os.PathLike, *, force: bool = False):
        self.path = Path(path)
        self.force = force
        if self.path.suffix.lower() not in FORMATS:
            raise ConfigError(f"{self.path}: -o takes a file ending in {', '.join(FORMATS)}")
        if self.path.is_dir():
            raise ConfigError(f"{self.path}: is a folder; -o takes a results file ({', '.join(FORMATS)})")
        if self.path.exists() and not force:
            raise ConfigError(f"{self.path}: already exists (a finished run: the same command resumes only a "
                              "stopped one); pass --force to replace it, or write to another file")
        check_writable(self.path)   # before any work, not when the first result is kept
        self.partial = self.path.with_name(self.path.name + ".partial")
        self._done: dict[str, dict] = {}   # absolute path -> {"key": ..., "result": ...}
        self._settings: dict | None = None   # what the kept results were made with (the partial's first line)
        self._kept = False                    # a partial file with results or settings is there
        if self.partial.is_file():
            self._read_partial()
        self._fh = None

    def begin(self, settings: dict) -> None:
        """Resume only results made with the same ``settings`` (model, labels, calibration, ...):
        kept results made otherwise are refused, or with ``force`` dropped; a new partial file
        starts with ``settings``."""
        from ..longaudio.outdir import differences_text

        settings = json.loads(json.dumps(settings))   # as it reads back from disk
        if self._kept and self._settings != settings:
            if not self.force:
                raise ConfigError(f"{self.partial}: results kept from a run with other settings "
                                  f"({differences_text(self._settings or {}, settings)}); run with the same "
                                  "options to finish it, or pass --force to start over")
            self.partial.unlink(missing_ok=True)
            self._done.clear()
            self._kept = False
        self._settings = settings

    def _read_partial(self) -> None:
        with open(self.partial, encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                    if "settings" in entry:
                        self._settings = entry["settings"]
                        self._kept = True
                        continue
                    key, result = entry["key"], entry["result"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # the torn last line of a killed run
                self._done[key[0]] = {"key": key, "result": result}
                self._kept = True

    def resumed(self) -> int:
        """How many results came from an earlier, interrupted run."""
        return len(self._done)

    def done(self, file: str) -> dict | None:
        """The stored result for ``file`` if it is still valid (same size and time, not an error)."""
        entry = self._done.get(str(Path(file).absolute()))
        if entry is None or entry["key"] != _key(file) or entry["result"].get("outcome") == "error":
            return None
        return entry["result"]

    def add(self, file: str, result: dict) -> None:
        """Keep ``result`` (a record as ``--json`` prints it) for ``file``, on disk at once."""
        entry = {"key": _key(file), "result": result}
        try:
            if self._fh is None:
                self.partial.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.partial, "a", encoding="utf-8")
                if not self._kept:   # a new partial file says first what its results are made with
                    self._fh.write(json.dumps({"settings": self._settings}, allow_nan=False) + "\n")
                    self._kept = True
            self._fh.write(json.dumps(entry, allow_nan=False) + "\n")
            self._fh.flush()
        except OSError as e:   # disk full, a folder gone: say which file, once
            raise ConfigError(f"{self.partial}: cannot write ({e.strerror or e}); the results kept so far are "
                              "in it, and the same command resumes once it can be written") from None
        self._done[entry["key"][0]] = entry

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def finish(self, files: Sequence[str], labels: Sequence[str]) -> Path:
        """Write ``FILE`` with the results of ``files`` in that order, atomically; drop the partial."""
        self.close()
        records = [self._done[str(Path(f).absolute())]["result"] for f in files
                   if str(Path(f).absolute()) in self._done]
        suffix = self.path.suffix.lower()
        if suffix == ".jsonl":
            text = "".join(json.dumps(r, allow_nan=False) + "\n" for r in records)
        elif suffix == ".json":
            text = json.dumps(records, allow_nan=False, indent=1) + "\n"
        else:
            text = records_csv(records, labels)
        atomic_write_text(self.path, text)
        self.partial.unlink(missing_ok=True)
        return self.path


def records_csv(records: Sequence[dict], labels: Sequence[str]) -> str:
    """CSV text of prediction records: one row each, one column per emotion."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "label", "confidence", "uncertain", "arousal", "negative", "outcome", "reason", "duration",
                "long", *labels])
    for r in records:
        scores = r.get("probabilities") or r.get("speech_share") or {}
        conf = scores.get(r["label"]) if r.get("label") else None
        w.writerow([r["file"], r.get("label") or "", "" if conf is None else conf,
                    int(bool(r.get("uncertain"))) if r.get("label") else "", r.get("arousal", ""),
                    r.get("negative", ""), r.get("outcome", ""), r.get("reason", ""), r.get("duration", ""), int(bool(r.get("long"))),
                    *[scores.get(lab, "") for lab in labels]])
    return buf.getvalue()
