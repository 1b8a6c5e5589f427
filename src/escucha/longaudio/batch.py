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

Where each part lives
    This module runs a batch (:func:`analyze_folder`); the parts it is made of sit in modules
    named for them: :mod:`~escucha.longaudio.inputs` (which files, their content hash),
    :mod:`~escucha.longaudio.worker` (one file's analysis, in a worker),
    :mod:`~escucha.longaudio.pool` (the local engine's worker processes),
    :mod:`~escucha.longaudio.resume` (what counts as done), :mod:`~escucha.longaudio.outdir`
    (the output folder and writing a result), :mod:`~escucha.longaudio.tables` (``summary.csv``
    and ``errors.csv``), :mod:`~escucha.longaudio.interrupts` (Ctrl-C and SIGTERM while
    writing) and :mod:`~escucha.longaudio.progress` (the progress bar).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, EscuchaError
from ..utils.io import check_writable
from .inputs import AUDIO_SUFFIXES, content_digest, find_audio_files
from .interrupts import interrupts_deferred
from .outdir import MARKER_NAME, locked, make_marker, prepare_out_dir, refuse_foreign
from .outdir import write_result as _write_result  # looked up here at each call (a test stops a run mid-write)
from .pool import run_pool
from .progress import BatchProgress
from .resume import already_done, is_complete
from .settings import batch_settings
from .tables import summary_row, write_tables
from .worker import analyse_one, init_worker

__all__ = ["analyze_folder", "find_audio_files", "BatchReport", "AUDIO_SUFFIXES", "summary_row", "content_digest",
           "MARKER_NAME"]


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
    duplicates : list of (str, str)
        ``(file, first file with the same bytes)`` over every result of the folder
        (``summary.csv``'s ``duplicate_of``).
    """

    out_dir: Path
    analysed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    audio_seconds: float = 0.0
    seconds: float = 0.0
    duplicates: list[tuple[str, str]] = field(default_factory=list)

    @property
    def summary_csv(self) -> Path:
        return self.out_dir / "summary.csv"

    @property
    def errors_csv(self) -> Path:
        return self.out_dir / "errors.csv"


def enrol_once(options: dict) -> None:
    """A batch's ``agent_voice`` option enrolled once, for every call, into ``options["speakers"]``
    (in place): the settings a batch compares and stores then name the agent's voice."""
    if "agent_voice" in options:
        from ..speakers import speaker_options

        options["speakers"] = speaker_options(options.get("speakers", "auto"), agent_voice=options.pop("agent_voice"))


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
        ``block_seconds``, ``speakers``, ``agent_voice`` (enrolled once), ``transcribe``, ``baseline`` as for
        :func:`escucha.longaudio.analyze_file`.

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

    folder, out_dir = Path(folder), Path(out_dir)
    enrol_once(options)
    jobs = check_batch(folder, engine=engine, jobs=jobs, address=address)
    if out_dir.resolve() == folder.resolve():
        raise ConfigError(f"{out_dir}: is the folder being analysed; give another folder for the results "
                          "(e.g. -o results/)")
    refuse_foreign(out_dir)  # before any work and the lock file: never write into someone else's folder
    check_writable(out_dir, folder=True)
    t0 = time.time()
    files = find_audio_files(folder, exclude=out_dir)
    if not files:
        raise CorpusError(f"{folder}: no audio files found (.wav, .flac, .ogg, .mp3)")
    settings = batch_settings(predictor, options)
    with locked(out_dir):
        prepare_out_dir(out_dir, make_marker(folder, settings, options.get("channel_names")), force=force)
        return _run(folder, files, predictor, out_dir, settings, t0, jobs=jobs, plot=plot, threads=threads,
                    show_progress=show_progress, options=options, engine=engine, address=address)


def _run(folder: Path, files: list[Path], predictor, out_dir: Path, settings: dict, t0: float, *, jobs: int | None,
         plot: bool, threads: int, show_progress: bool, options: dict, engine: str = "local",
         address: str | None = None) -> BatchReport:
    from ..audio import audio_info

    report = BatchReport(out_dir=out_dir)
    todo, seconds, names = [], {}, {}
    for p in files:
        name = p.relative_to(folder).as_posix()
        names[str(p)] = name
        try:
            seconds[str(p)] = audio_info(p)["duration"]
        except EscuchaError:
            seconds[str(p)] = 0.0
        if already_done(out_dir / f"{name}.json", p, settings, plot=plot):
            report.skipped.append(str(p))
        else:
            todo.append(str(p))
    bar = BatchProgress(seconds=sum(seconds[p] for p in todo), n_files=len(todo), t0=t0, show=show_progress)

    def tick(path: str, dur: float, payload: dict | None, err: str | None):
        if err is None and not is_complete(payload["json"]):
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
        bar.file_done(seconds.get(path, 0.0), report)

    opts = dict(options)
    try:
        run_engine(todo, predictor, opts, plot, engine=engine, jobs=jobs, threads=threads, address=address,
                   tick=tick, report=report)
    finally:
        bar.close()
        try:
            with interrupts_deferred():
                write_tables(report, files, folder, out_dir, list(predictor.labels))
        except OSError as e:
            raise ConfigError(f"{out_dir}: cannot write summary.csv and errors.csv ({e.strerror or e})") from None
    report.seconds = time.time() - t0
    return report


def run_engine(todo, predictor, opts: dict, plot: bool, *, engine: str, jobs: int, threads: int, address, tick,
               report) -> None:
    """Analyse ``todo`` here (one process), in a local pool (``jobs`` > 1) or on Ray, calling
    ``tick(path, payload, seconds)`` as each file is done (the batch's and the store's loops)."""
    if engine == "ray":
        from .ray_engine import run_analysis

        if todo:
            run_analysis(todo, predictor, opts, plot, jobs=jobs, threads=threads, address=address, tick=tick,
                         report=report)
    elif jobs == 1 or len(todo) <= 1:
        init_worker(predictor, threads, subprocess=False)
        for p in todo:
            tick(*analyse_one(p, opts, plot))
    else:
        run_pool(todo, predictor, opts, plot, jobs=jobs, threads=threads, tick=tick, report=report)


def check_batch(folder: Path, *, engine: str, jobs: int | None, address) -> int | None:
    """Check a batch's folder and engine settings (one line of :class:`ConfigError` each) and
    return ``jobs`` with its local default (1); with Ray, check that Ray is installed."""
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
    return jobs
