"""A folder of calls: parallel, resumable, bad files reported and skipped.

``analyze_folder(DIR, model, OUT, jobs=4)`` writes, for every audio file ``DIR/a/b.wav``,
``OUT/a/b.wav.json`` and ``OUT/a/b.wav.segments.csv`` (each atomically, the JSON last), then
``OUT/summary.csv`` (one row per analysed file, including those done by earlier runs) and
``OUT/errors.csv`` (the files that failed in this run, with the reason).

Resume
    Running it again skips every file whose JSON exists, is complete (strict JSON, every number
    finite, its ``.segments.csv`` beside it) and was made from the same *content* (a BLAKE2b hash
    of the file's bytes, stored as ``source.blake2b``; hashing runs at about 0.9 GB/s, so it is
    cheap next to the analysis) with the same settings. A file replaced by another of the same
    size is analysed again.

Who writes
    Worker processes only analyse; the parent process writes every file, and only a result that
    is complete and finite. An interrupted run (Ctrl-C, SIGTERM) stops its workers at once, writes
    ``summary.csv`` of what is done and raises :class:`KeyboardInterrupt`; a result in flight is
    never written. Workers end with their parent, however it ends (``PR_SET_PDEATHSIG`` on Linux,
    and everywhere a watch on the parent's pid), so a killed run leaves no process behind.

The output folder
    ``OUT`` belongs to one batch: ``OUT/batch.json`` records the input folder and the settings
    (window, hop, smoothing, channels, VAD, model, escucha version) it was made with. Then:

    * ``OUT`` missing or empty: created, and ``batch.json`` written before any result.
    * ``OUT`` made from the same folder with the same settings: resumed.
    * ``OUT`` made from another folder or with other settings: refused (the message says what
      differs), so that two runs' results never sit side by side. ``force=True`` (``--force``)
      deletes this tool's earlier outputs there (the per-file ``.json``/``.segments.csv``/
      ``.timeline.png``, ``summary.csv``, ``errors.csv``, ``batch.json``; nothing else) and
      analyses every file again.
    * ``OUT`` without ``batch.json`` but holding only such outputs (e.g. from ``escucha analyze
      FILE -o OUT``): refused; ``force=True`` replaces them as above.
    * ``OUT`` holding any other file: refused, even with ``force=True``; choose a new or empty
      folder. A batch folder never deletes or replaces a file it did not make.

    Two runs into the same ``OUT`` at once are refused (a lock on ``OUT/.batch.lock``).

Engines
    ``engine="local"`` (the default) analyses in this process or a pool of ``jobs`` worker
    processes; ``engine="ray"`` hands the same per-file work to Ray Data workers on a cluster
    (:mod:`escucha.longaudio.ray_engine`). Everything else above (what counts as done, who
    writes, the output folder, the tables) is the same code for both, so a folder started with
    one engine resumes with the other.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import numbers
import os
import re
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..errors import ConfigError, EscuchaError
from ..utils.io import atomic_write_bytes, atomic_write_csv, atomic_write_json, atomic_write_text

__all__ = ["analyze_folder", "find_audio_files", "BatchReport", "AUDIO_SUFFIXES", "summary_row", "content_digest",
           "MARKER_NAME"]

#: Suffixes searched for in a folder (any format libsndfile decodes).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".au", ".snd", ".aif", ".aiff", ".caf",
                  ".w64", ".rf64")

#: The file that marks a folder as one batch's output (input folder and settings).
MARKER_NAME = "batch.json"
_MARKER_FORMAT = "escucha-batch"
_TABLES = ("summary.csv", "errors.csv")
_LOCK_NAME = ".batch.lock"
_OUTPUT_RE = re.compile(r"(?:" + "|".join(re.escape(s) for s in AUDIO_SUFFIXES) + r")"
                        r"\.(?:json|segments\.csv|timeline\.png)$", re.IGNORECASE)


@dataclass
class BatchReport:
    """What one :func:`analyze_folder` run did.

    Attributes
    ----------
    analysed : list of str
        Files analysed in this run.
    skipped : list of str
        Files already done by an earlier run (same content and settings).
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
    """Audio files under ``folder`` (recursive, sorted; symbolic links to folders are not
    followed), leaving out anything under ``exclude``. A dangling or looping symbolic link with
    an audio name is listed, so that the batch reports it instead of passing over it."""
    folder = Path(folder)
    ex = Path(exclude).resolve() if exclude is not None else None
    out = []
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith(".") and (
                p.is_file() or (p.is_symlink() and not p.exists())):
            real = Path(os.path.realpath(p))  # never raises on a link loop (Path.resolve may)
            if ex is not None and (real == ex or ex in real.parents):
                continue
            out.append(p)
    return out


def content_digest(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """BLAKE2b (128-bit, hex) of a file's bytes, read in ``chunk``-byte pieces (bounded memory)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def summary_row(d: dict, labels: Sequence[str]) -> dict:
    """One ``summary.csv`` row from a result JSON (``CallResult.to_dict()``)."""
    s = d["summary"]
    row = {"file": d["file"], "duration": s["duration"], "channels": ";".join(d["channels"]),
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
    return row


# -- worker side ------------------------------------------------------------------------------------
_WORKER: dict = {}


def _die_with_parent(parent_pid: int) -> None:
    """End this (worker) process as soon as ``parent_pid`` is gone, however the parent ended."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG: the kernel kills us with the parent
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="escucha-parent-watch", daemon=True).start()


def _init_worker(predictor, threads: int, subprocess: bool = True, parent_pid: int | None = None) -> None:
    from .vad import SileroVAD

    if subprocess:  # a worker process: the parent alone handles Ctrl-C and SIGTERM; ends with the parent
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if parent_pid is not None:
            _die_with_parent(parent_pid)
        predictor.set_num_threads(max(1, threads))
    _WORKER["predictor"] = predictor
    _WORKER["vad"] = SileroVAD(threads=max(1, threads))


def _plot_png(res) -> bytes:
    """The timeline figure as PNG bytes (drawn in a private scratch folder, not in the output)."""
    import tempfile

    from .plot import plot_timeline

    with tempfile.TemporaryDirectory(prefix="escucha-plot-") as tmp:
        return plot_timeline(res, Path(tmp) / "timeline.png").read_bytes()


def _analyse_one(path: str, options: dict, plot: bool) -> tuple[str, float, dict | None, str | None]:
    """Analyse one file; returns ``(path, seconds, payload, error)``. Writes nothing: the payload
    (``json`` dict, ``csv`` text, optional ``png`` bytes) goes back to the parent."""
    from .analyze import analyze_file

    from ..audio.io import check_audio_path

    try:
        check_audio_path(path)  # a missing file or a link loop: the words predict uses
        before = os.stat(path)
        digest = content_digest(path)
        res = analyze_file(path, _WORKER["predictor"], vad_model=_WORKER["vad"], **options)
        after = os.stat(path)
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            return path, 0.0, None, f"{path}: file changed while it was being analysed; run again to analyse it"
        res.source = {**res.source, "blake2b": digest}
        payload = {"json": res.to_dict(), "csv": res.segments_csv()}
        if plot:
            payload["png"] = _plot_png(res)
        return path, res.duration, payload, None
    except EscuchaError as e:
        return path, 0.0, None, str(e)
    except OSError as e:
        return path, 0.0, None, f"{path}: cannot read the file ({e.strerror or e})"
    except Exception as e:  # a batch goes on whatever one file does
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return path, 0.0, None, f"{path}: unexpected {type(e).__name__} ({msg})"


# -- parent side: what counts as done, and writing ---------------------------------------------------
def _all_finite(obj) -> bool:
    if isinstance(obj, numbers.Real) and not isinstance(obj, numbers.Integral):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_all_finite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_all_finite(v) for v in obj)
    return True


def _complete(d) -> bool:
    """A result JSON is complete: every part there, every number finite."""
    return (isinstance(d, dict) and {"file", "source", "settings", "segments", "summary", "channels"} <= set(d)
            and isinstance(d["summary"], dict) and "dominant" in d["summary"] and _all_finite(d))


def _strict_json(text: str):
    def bad(const):
        raise ValueError(f"non-finite number {const} in JSON")

    return json.loads(text, parse_constant=bad)


def _done(json_path: Path, size: int, digest: str | Callable[[], str], settings: dict, *, plot: bool) -> bool:
    """Whether ``json_path`` holds a complete result of this content with these settings.
    ``digest`` may be a callable, so that files of another size are not hashed at all."""
    try:
        d = _strict_json(json_path.read_text())
    except (OSError, ValueError):
        return False
    if not _complete(d) or d["source"].get("size") != size:
        return False
    have = dict(d.get("settings", {}))
    have.pop("channel_names", None)
    if have != settings:
        return False
    name = json_path.name[:-len(".json")]
    if not (json_path.parent / f"{name}.segments.csv").is_file():
        return False
    if plot and not (json_path.parent / f"{name}.timeline.png").is_file():
        return False
    want = digest() if callable(digest) else digest
    return d["source"].get("blake2b") == want


@contextmanager
def _interrupts_deferred():
    """Hold Ctrl-C and SIGTERM until the block is done (then act on them as before), so that a
    result is written whole or not at all and no temporary file is left behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    old = {s: signal.signal(s, lambda signum, frame: got.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if got:
            h = old[got[0]]
            if callable(h):
                h(got[0], None)  # e.g. Python's Ctrl-C handler: raises KeyboardInterrupt here
            elif h == signal.SIG_DFL:
                os.kill(os.getpid(), got[0])


def _already_done(json_path: Path, path: Path, settings: dict, *, plot: bool) -> bool:
    """:func:`_done` for the input ``path``; an input that cannot be read is not done (its worker
    reports why)."""
    try:
        return _done(json_path, path.stat().st_size, lambda: content_digest(path), settings, plot=plot)
    except OSError:
        return False


def _write_result(out_dir: Path, name: str, payload: dict) -> None:
    """``<name>.segments.csv`` (and ``.timeline.png``), then ``<name>.json``, each atomically,
    without being interrupted half-way."""
    base = out_dir / name
    with _interrupts_deferred():
        atomic_write_text(base.with_name(base.name + ".segments.csv"), payload["csv"])
        if payload.get("png") is not None:
            atomic_write_bytes(base.with_name(base.name + ".timeline.png"), payload["png"])
        atomic_write_json(base.with_name(base.name + ".json"), payload["json"])


# -- parent side: the output folder ---------------------------------------------------------------------
def _is_output(rel: Path) -> bool:
    """Whether ``rel`` (relative to the output folder) is a name this tool writes."""
    if len(rel.parts) == 1 and rel.name in _TABLES + (MARKER_NAME,):
        return True
    return bool(_OUTPUT_RE.search(rel.name))


def _is_our_temp(rel: Path) -> bool:
    """A temporary file left by an atomic write of one of our outputs (``.<name>.<random>.tmp``)."""
    n = rel.name
    if not (n.startswith(".") and n.endswith(".tmp")):
        return False
    stem = n[1:-len(".tmp")]
    inner = stem.rsplit(".", 1)[0] if "." in stem else ""
    return bool(inner) and _is_output(rel.with_name(inner))


def _visible_files(out: Path) -> Iterator[Path]:
    """Files under ``out`` (relative paths), leaving out hidden files and folders."""
    for root, dirs, files in os.walk(out):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if not f.startswith("."):
                yield Path(root, f).relative_to(out)


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _differences(have: dict, want: dict) -> str:
    a, b = _flat(have), _flat(want)
    diffs = [f"{k} {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return ", ".join(diffs[:4]) + (f" and {len(diffs) - 4} more" if len(diffs) > 4 else "")


def _marker(folder: Path, settings: dict, channel_names) -> dict:
    if isinstance(channel_names, str):
        channel_names = [s.strip() for s in channel_names.split(",")]
    marker = {"format": _MARKER_FORMAT, "version": 1, "input": str(folder.resolve()),
              "channel_names": list(channel_names) if channel_names is not None else None, "settings": settings}
    return json.loads(json.dumps(marker))  # as it reads back from disk (tuples -> lists), for comparison


def _refuse_foreign(out: Path) -> None:
    """Refuse (without writing anything) an output that is not a folder, or a folder holding files
    this tool did not make."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder; give a folder for the results")
    if out.is_dir():
        foreign = next((f for f in _visible_files(out) if not _is_output(f)), None)
        if foreign is not None:
            raise ConfigError(f"{out}: holds files that are not escucha batch results (e.g. {out / foreign}); "
                              "refusing to write there even with --force; choose a new or empty folder")


def _prepare_out_dir(out: Path, marker: dict, *, force: bool) -> None:
    """Apply the output-folder rules of the module docstring (with the folder locked); on return
    ``out`` is ours to write and holds the batch marker."""
    _refuse_foreign(out)
    files = list(_visible_files(out))
    mp = out / MARKER_NAME
    if files and not force:
        if not mp.is_file():
            raise ConfigError(f"{out}: holds escucha results not made by a batch run (no {MARKER_NAME}); "
                              "pass --force to replace them, or choose a new or empty folder")
        try:
            have = _strict_json(mp.read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"{mp}: unreadable ({e}); pass --force to start this folder over") from None
        if not isinstance(have, dict) or have.get("format") != _MARKER_FORMAT:
            raise ConfigError(f"{mp}: not an escucha batch marker; pass --force to start this folder over")
        if have.get("input") != marker["input"]:
            raise ConfigError(f"{out}: holds results of another folder ({have.get('input')}); pass --force to "
                              "replace them, or choose another output folder")
        if have.get("channel_names") != marker["channel_names"] or have.get("settings") != marker["settings"]:
            diff = _differences({"channel_names": have.get("channel_names"), **(have.get("settings") or {})},
                                {"channel_names": marker["channel_names"], **marker["settings"]})
            raise ConfigError(f"{out}: made with other settings ({diff}); pass --force to analyse everything "
                              "again into it, or choose another output folder")
    for root, dirs, names in os.walk(out):  # temporary files of writes that a killed run left behind
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for n in names:
            rel = Path(root, n).relative_to(out)
            if _is_our_temp(rel):
                (out / rel).unlink(missing_ok=True)
    if force and files:
        for f in files:
            (out / f).unlink(missing_ok=True)
        for root, dirs, names in sorted(os.walk(out), key=lambda t: -len(t[0])):
            if Path(root) != out and not os.listdir(root):
                os.rmdir(root)
    atomic_write_json(mp, marker)


@contextmanager
def _locked(out: Path):
    """Hold an exclusive lock on ``out`` (refuse a second run into the same folder)."""
    try:
        import fcntl
    except ImportError:  # no advisory locks here (Windows): go on without
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(f"{out}: another escucha analyze is writing into this folder; wait for it "
                              "or choose another output folder") from None
        yield
    finally:
        os.close(fd)


def _stop_pool(ex) -> None:
    """Kill the pool's workers now (their results in flight are lost, never written)."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    for p in procs:
        try:
            p.kill()
        except (OSError, ValueError, AttributeError):
            pass
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        try:
            p.join(timeout=5)
        except (OSError, ValueError, AssertionError):
            pass


def analyze_folder(folder: str | os.PathLike, predictor, out_dir: str | os.PathLike, *, jobs: int | None = 1,
                   force: bool = False, plot: bool = False, show_progress: bool = True, threads: int = 1,
                   engine: str = "local", address: str | None = None, **options) -> BatchReport:
    """Analyse every audio file under ``folder`` into ``out_dir``.

    Parameters
    ----------
    folder : path
        Searched recursively for :data:`AUDIO_SUFFIXES`.
    predictor : escucha.inference.Predictor
    out_dir : path
        Results mirror the folder's layout; which folders are accepted is described in the module
        docstring (a new or empty one, or one this function made from the same folder and settings).
    jobs : int or None
        Worker processes (each on ``threads`` threads); with ``engine="ray"``, Ray workers
        (``None``: one per ``threads`` CPUs of the cluster). ``None`` is 1 for the local engine.
    force : bool
        Start over: delete this function's earlier outputs in ``out_dir`` and analyse every file
        again (never deletes other files; a folder holding any is refused).
    plot : bool
        Also write ``<name>.timeline.png`` per file.
    show_progress : bool
        Progress bar on stderr: audio hours done of the total, files, errors, speed (x real
        time) and ETA.
    engine : {"local", "ray"}
        Where the files are analysed (see "Engines" in the module docstring).
    address : str, optional
        ``engine="ray"``: the Ray cluster to connect to (``HOST:PORT`` of ``ray start --head``,
        or ``auto``); ``None`` joins the cluster this process is already connected to, or the one
        ``RAY_ADDRESS`` names, or else starts a local one.
    **options
        ``window``, ``hop``, ``smooth``, ``channels``, ``channel_names``, ``vad``,
        ``block_seconds`` as for :func:`escucha.longaudio.analyze_file`.

    Returns
    -------
    BatchReport

    Raises
    ------
    ConfigError
        ``out_dir`` is not ours to write (see the module docstring), an option is out of range,
        or ``engine="ray"`` without Ray installed.
    CorpusError
        No audio file under ``folder``.
    KeyboardInterrupt
        Interrupted: workers are stopped, only complete results are on disk, ``summary.csv``
        lists them; the next run resumes.
    """
    from ..errors import CorpusError
    from .analyze import analysis_settings

    folder, out_dir = Path(folder), Path(out_dir)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder")
    if engine not in ("local", "ray"):
        raise ConfigError(f"engine must be 'local' or 'ray', got {engine!r}")
    if address is not None and engine != "ray":
        raise ConfigError("an address names a Ray cluster: it needs engine 'ray' (--engine ray)")
    if jobs is None and engine == "local":
        jobs = 1
    if jobs is not None and jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    if engine == "ray":
        from .ray_engine import require_ray

        require_ray()
    t0 = time.time()
    files = find_audio_files(folder, exclude=out_dir)
    if not files:
        raise CorpusError(f"{folder}: no audio files found to analyse")
    settings = analysis_settings(predictor, window=options.get("window"), hop=options.get("hop"),
                                 smooth=options.get("smooth", 3.0), channels=options.get("channels", "mono"),
                                 vad=options.get("vad"))
    _refuse_foreign(out_dir)  # before the lock file is made: never write into someone else's folder
    with _locked(out_dir):
        _prepare_out_dir(out_dir, _marker(folder, settings, options.get("channel_names")), force=force)
        return _run(folder, files, predictor, out_dir, settings, t0, jobs=jobs, plot=plot, threads=threads,
                    show_progress=show_progress, options=options, engine=engine, address=address)


def _run(folder: Path, files: list[Path], predictor, out_dir: Path, settings: dict, t0: float, *, jobs: int | None,
         plot: bool, threads: int, show_progress: bool, options: dict, engine: str = "local",
         address: str | None = None) -> BatchReport:
    from ..audio import audio_info
    from ..utils.progress import progress

    report = BatchReport(out_dir=out_dir)
    todo, seconds, names = [], {}, {}
    for p in files:
        name = p.relative_to(folder).as_posix()
        names[str(p)] = name
        try:
            seconds[str(p)] = audio_info(p)["duration"]
        except EscuchaError:
            seconds[str(p)] = 0.0
        if _already_done(out_dir / f"{name}.json", p, settings, plot=plot):
            report.skipped.append(str(p))
        else:
            todo.append(str(p))
    total_h = sum(seconds[p] for p in todo) / 3600
    bar = progress(total=round(total_h, 4), desc="analysing", unit="h", disable=None if show_progress else True,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total:.2f} h audio "
                              "[{elapsed}<{remaining}]{postfix}")

    def tick(path: str, dur: float, payload: dict | None, err: str | None):
        if err is None and not _complete(payload["json"]):
            err = f"{path}: analysis gave incomplete or non-finite results (NaN or infinity); nothing written"
        if err is None:
            try:
                _write_result(out_dir, names[path], payload)
            except OSError as e:
                raise ConfigError(f"{out_dir / names[path]}: cannot write the result ({e.strerror or e})") from None
            report.analysed.append(path)
            report.audio_seconds += dur
        else:
            report.errors.append((path, err))
        step = seconds.get(path, 0.0) / 3600
        bar.update(step)
        speed = report.audio_seconds / max(time.time() - t0, 1e-9)
        bar.set_postfix_str(f"files {len(report.analysed) + len(report.errors)}/{len(todo)}, "
                            f"errors {len(report.errors)}, {speed:.0f}x real time", refresh=False)

    opts = dict(options)
    try:
        if engine == "ray":
            from .ray_engine import run_analysis

            if todo:
                run_analysis(todo, predictor, opts, plot, jobs=jobs, threads=threads, address=address, tick=tick,
                             report=report)
        elif jobs == 1 or len(todo) <= 1:
            _init_worker(predictor, threads, subprocess=False)
            for p in todo:
                tick(*_analyse_one(p, opts, plot))
        else:
            _run_pool(todo, predictor, opts, plot, jobs=jobs, threads=threads, tick=tick, report=report)
    finally:
        bar.close()
        try:
            with _interrupts_deferred():
                _write_tables(report, files, folder, out_dir, list(predictor.labels))
        except OSError as e:
            raise ConfigError(f"{out_dir}: cannot write summary.csv and errors.csv ({e.strerror or e})") from None
    report.seconds = time.time() - t0
    return report


def _run_pool(todo, predictor, opts, plot, *, jobs, threads, tick, report) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    ex = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=ctx, initializer=_init_worker,
                             initargs=(predictor, threads, True, os.getpid()))
    try:
        futs, finished = {}, set()
        try:
            for p in todo:
                futs[ex.submit(_analyse_one, p, opts, plot)] = p
            for f in as_completed(futs):
                p = futs[f]
                try:
                    r = f.result()
                except BrokenProcessPool:
                    raise
                except Exception as e:  # e.g. a result that could not be sent back
                    r = (p, 0.0, None, f"{p}: unexpected {type(e).__name__} in a worker process ({e})")
                tick(*r)
                finished.add(p)
        except BrokenProcessPool:
            for p in todo:
                if p not in finished:
                    report.errors.append((p, f"{p}: a worker process ended abruptly (out of memory or killed?) "
                                              "while this batch ran; run again to resume"))
    except BaseException:  # KeyboardInterrupt, SystemExit, or an error writing a result
        _stop_pool(ex)
        raise
    ex.shutdown(wait=True)


def _write_tables(report: BatchReport, files: list[Path], folder: Path, out_dir: Path, labels: list[str]) -> None:
    rows = []
    for p in files:
        j = out_dir / f"{p.relative_to(folder).as_posix()}.json"
        if j.is_file():
            try:
                d = _strict_json(j.read_text())
                if _complete(d):
                    rows.append(summary_row(d, labels))
            except (OSError, ValueError, KeyError, TypeError):
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
