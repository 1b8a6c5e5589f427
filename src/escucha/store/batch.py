"""A folder of calls into the store (``escucha analyze DIR --db URL``): the same per-file work as
a batch into a folder (:mod:`escucha.longaudio.batch`: the local engine's worker processes or
Ray), each result stored in one transaction as it arrives.

Resume: a file is skipped when a call from the same absolute path, with the same content (BLAKE2b
of its bytes) and the same settings is stored. ``force=True`` analyses every file again and
replaces the calls stored from it (in the same transaction as the new one). A killed run leaves
every call it stored whole, and none half-stored; the next run does the rest.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import ConfigError, EscuchaError

__all__ = ["store_folder"]


def store_folder(folder: str | os.PathLike, predictor, store, *, jobs: int | None = 1, force: bool = False,
                 show_progress: bool = True, threads: int = 1, engine: str = "local", address: str | None = None,
                 **options):
    """Analyse every audio file under ``folder`` into ``store`` (a :class:`~escucha.store.Store`).

    Parameters are those of :func:`escucha.longaudio.analyze_folder` but the output folder and
    ``plot``. Returns a :class:`~escucha.longaudio.BatchReport` (its ``out_dir`` is the folder).

    Raises
    ------
    ConfigError, CorpusError
        As :func:`~escucha.longaudio.analyze_folder`; also when a call cannot be stored.
    KeyboardInterrupt
        Interrupted: calls stored so far are whole; the next run resumes.
    """
    from ..audio import audio_info
    from ..errors import CorpusError
    from ..longaudio.batch import BatchReport, check_batch, enrol_once, run_engine
    from ..longaudio.inputs import content_digest, find_audio_files
    from ..longaudio.interrupts import interrupts_deferred
    from ..longaudio.progress import BatchProgress
    from ..longaudio.resume import is_complete
    from ..longaudio.settings import batch_settings

    folder = Path(folder)
    enrol_once(options)
    jobs = check_batch(folder, engine=engine, jobs=jobs, address=address)
    t0 = time.time()
    files = find_audio_files(folder)
    if not files:
        raise CorpusError(f"{folder}: no audio files found (.wav, .flac, .ogg, .mp3)")
    settings = batch_settings(predictor, options)   # the speaker and word settings too: they change results
    report = BatchReport(out_dir=folder)
    if not force:   # as -o refuses other settings: a rerun never replaces stored calls unasked
        other = store.count_other_settings([os.path.realpath(p) for p in files], settings)
        if other:
            raise ConfigError(f"{folder}: {other} of its {len(files)} recording(s) are stored with other analysis "
                              "settings; pass --force to replace them with this analysis (or give another --db)")
    stored = {} if force else store.stored_sources(settings)
    todo, seconds, sources = [], {}, {}
    for p in files:
        src = os.path.realpath(p)
        sources[str(p)] = src
        try:
            seconds[str(p)] = audio_info(p)["duration"]
        except EscuchaError:
            seconds[str(p)] = 0.0
        done = False
        if src in stored:
            try:
                done = stored[src] == content_digest(p)
            except OSError:
                done = False
        (report.skipped if done else todo).append(str(p))
    bar = BatchProgress(seconds=sum(seconds[p] for p in todo), n_files=len(todo), t0=t0, show=show_progress)

    def tick(path: str, dur: float, payload: dict | None, err: str | None):
        if err is None and not is_complete(payload["json"]):
            err = f"{path}: analysis gave incomplete or non-finite results (NaN or infinity); nothing stored"
        if err is None:
            d = payload["json"]
            with interrupts_deferred():
                store.save_call(d, source=sources[path], digest=d["source"].get("blake2b"), replace=True)
            report.analysed.append(path)
            report.audio_seconds += dur
        else:
            report.errors.append((path, err))
        bar.file_done(seconds.get(path, 0.0), report)

    opts = dict(options)
    try:
        run_engine(todo, predictor, opts, False, engine=engine, jobs=jobs, threads=threads, address=address,
                   tick=tick, report=report)
    finally:
        bar.close()
    report.seconds = time.time() - t0
    return report
