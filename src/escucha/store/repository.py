"""The one door to the store: every read and write of calls and jobs goes through :class:`Store`
(no SQL in the service's handlers or the command line).

Writes are transactions: a call is stored with its speakers and segments, and its job marked
done, in one commit, so a killed process leaves the whole call or none of it, and a job's call
is never stored twice (``calls.job_id`` is unique, and a job is finished only by the worker that
holds its lease).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Iterable, Iterator

from ..errors import ConfigError, StoreError
from ..labels import EMOTIONS
from .db import current_revision, db_error, head_revision, make_engine, resolve_url, safe_url, upgrade
from .schema import Call, Job, SegmentRow, Settings, Speaker

__all__ = ["Store", "open_store", "CallQuery", "JobClaim", "settings_key", "parse_time", "SORTS", "MAX_ATTEMPTS"]

#: sort keys of the calls list (``-`` in front: descending)
SORTS = {"created": Call.created_at, "file": Call.file, "duration": Call.duration, "dominant": Call.dominant,
         "negative": Call.negative_share, "negative_change": Call.negative_change,
         "high_arousal": Call.high_arousal_share}
#: a job interrupted this many times (its server killed while running it) is failed, not run again
MAX_ATTEMPTS = 3


def _retry(fn):
    """Run a store operation again when SQLite says the database is locked or busy (a deferred
    transaction that read before another process wrote gets SQLITE_BUSY at once, without the busy
    timeout), up to about 10 s of tries; a database error that stands becomes a one-line
    :class:`~escucha.errors.StoreError`."""

    @functools.wraps(fn)
    def wrapped(self, *args, **kw):
        from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

        delay = 0.01
        for attempt in range(14):
            try:
                return fn(self, *args, **kw)
            except OperationalError as e:
                text = str(getattr(e, "orig", e)).lower()
                if self.dialect != "sqlite" or not ("locked" in text or "busy" in text) or attempt == 13:
                    raise self._error(db_error(e)) from None
                time.sleep(delay)
                delay = min(1.0, 2 * delay)
            except IntegrityError:  # save_call tries once more (a settings row stored by another writer)
                raise
            except SQLAlchemyError as e:
                raise self._error(db_error(e)) from None

    return wrapped


class _LostJob(Exception):
    """The worker no longer holds the job it tries to finish."""


def settings_key(settings: dict) -> str:
    """A short hash of analysis settings (without channel names): equal settings, equal key."""
    s = {k: v for k, v in (settings or {}).items() if k != "channel_names"}
    return hashlib.blake2b(json.dumps(s, sort_keys=True, default=str).encode(), digest_size=12).hexdigest()


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _num(d: dict | None, *keys):
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return float(d) if isinstance(d, (int, float)) and not isinstance(d, bool) else None


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    """``items`` in pieces of at most ``size``: bounded IN lists in a query."""
    for k in range(0, len(items), size):
        yield items[k:k + size]


def parse_time(value, name: str = "time") -> float | None:
    """Seconds since the epoch from ``2026-12-01``, ``2026-12-01T09:30:00Z``, a number of seconds
    (a string or a number), or a ``datetime``/``date``; a time without a zone is UTC. ``None`` or
    ``""``: ``None``.

    Raises
    ------
    ConfigError
        Anything else, naming ``name`` and the value (one line).
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            t = float(value)
            if math.isfinite(t):
                return t
        except ValueError:
            pass
        if isinstance(value, str):
            try:
                d = datetime.fromisoformat(value.strip().replace("z", "Z"))
                return (d if d.tzinfo is not None else d.replace(tzinfo=timezone.utc)).timestamp()
            except ValueError:
                pass
    raise ConfigError(f"{name}={str(value)[:40]!r}: not a time; give a date (2026-12-01), a date and time "
                      "(2026-12-01T09:30:00Z) or seconds since 1970")


@dataclass
class CallQuery:
    """Which calls, in which order, which page.

    Attributes
    ----------
    since, until : str, float or datetime, optional
        Stored at or after / before these times: ``2026-12-01``, ``2026-12-01T09:30:00Z``, seconds
        since the epoch, a ``datetime`` or ``date`` (no zone: UTC); kept as seconds since the epoch
        (:func:`parse_time`).
    file : str, optional
        Part of the file name (case-insensitive).
    speaker : str, optional
        A speaker's name or role (e.g. ``customer``, any case); the negative filters then apply to
        that speaker's own summary ("customers who ended worse than they started").
    dominant : str, optional
        Dominant emotion of the call (with ``speaker``: of that speaker), any case. A label that is neither an escucha emotion nor
        any stored call's is a :class:`~escucha.errors.ConfigError` when the calls are read.
    min_negative, max_negative : float, optional
        Share of negative speech (0..1).
    min_change, max_change : float, optional
        Change of the negative share from the first to the last third (-1..1; > 0: ended worse).
    sort : str
        One of :data:`SORTS`, ``-`` in front for descending (default ``-created``: newest first).
    limit, offset : int
        The page.
    """

    since: float | str | datetime | None = None
    until: float | str | datetime | None = None
    file: str | None = None
    speaker: str | None = None
    dominant: str | None = None
    min_negative: float | None = None
    max_negative: float | None = None
    min_change: float | None = None
    max_change: float | None = None
    sort: str = "-created"
    limit: int = 50
    offset: int = 0

    def __post_init__(self):
        self.since, self.until = parse_time(self.since, "since"), parse_time(self.until, "until")
        if self.dominant is not None:
            if not isinstance(self.dominant, str):
                raise ConfigError(f"dominant must be an emotion's name, got {self.dominant!r}")
            self.dominant = self.dominant.strip().lower() or None
        if self.sort.lstrip("-") not in SORTS:
            raise ConfigError(f"sort {self.sort!r} is unknown; choose one of {', '.join(SORTS)} (- in front: "
                              "descending)")
        if not (isinstance(self.limit, int) and 1 <= self.limit <= 10000):
            raise ConfigError(f"limit must be between 1 and 10000, got {self.limit!r}")
        if not (isinstance(self.offset, int) and self.offset >= 0):
            raise ConfigError(f"offset must be >= 0, got {self.offset!r}")


@dataclass
class JobClaim:
    """A job this worker now holds: run it, then :meth:`Store.save_call` with ``job=(id, worker)``
    or :meth:`Store.fail_job`; :meth:`Store.heartbeat` keeps the lease while it runs."""

    id: str
    file: str
    audio_path: str | None
    options: dict
    keep_audio: bool
    attempts: int
    worker: str


class Store:
    """Calls and jobs in one database (see :mod:`escucha.store.schema` for what is kept).

    Parameters
    ----------
    engine : sqlalchemy.Engine
        From :func:`escucha.store.db.make_engine`; :func:`open_store` makes one from a URL.
    """

    def __init__(self, engine):
        from sqlalchemy.orm import sessionmaker

        self.engine = engine
        self.url = safe_url(str(engine.url))
        self.dialect = engine.dialect.name
        self._session = sessionmaker(engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def _error(self, problem: str) -> StoreError:
        """``StoreError("<url>: <problem>")`` (the URL without its password, for the server's log),
        with ``.problem`` alone, its host left out too (for messages to API clients, which are
        not told where the database is)."""
        e = StoreError(f"{self.url}: {problem}")
        host = self.engine.url.host
        e.problem = problem.replace(host, "the database server") if host else problem
        return e

    def ping(self) -> None:
        """Run a trivial query (``SELECT 1``) once, without retrying: the readiness check.

        Raises
        ------
        StoreError
            The database does not answer (its one line).
        """
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as e:
            raise self._error(db_error(e)) from None

    def _begin(self):
        return self._session.begin()

    # -- calls --------------------------------------------------------------------------------------
    def _ensure_settings(self, s, settings: dict) -> str:
        key = settings_key(settings)
        if s.get(Settings, key) is None:
            clean = {k: v for k, v in settings.items() if k != "channel_names"}
            model = clean.get("model") or {}
            s.add(Settings(key=key, model_id=model.get("id"), model_name=model.get("name"),
                           escucha_version=clean.get("escucha_version"), settings=clean, created_at=time.time()))
            s.flush()
        return key

    def save_call(self, result: dict, *, source: str | None = None, digest: str | None = None,
                  job: tuple[str, str] | None = None, replace: bool = False) -> str | None:
        """Store one analysed call (``CallResult.to_dict()``, the JSON of ``escucha analyze``) with
        its speakers and segments, in one transaction; its id.

        Parameters
        ----------
        source : str, optional
            Where the audio came from (a batch's absolute path); with ``digest`` (the BLAKE2b of
            its bytes) it is how a batch knows what is already stored.
        job : (job id, worker), optional
            The job this result finishes: marked done in the same transaction. When the worker
            no longer holds the job (its lease ran out and another worker took it), nothing is
            stored and ``None`` is returned.
        replace : bool
            Delete earlier calls from the same ``source`` (a batch's ``--force``) in the same
            transaction.
        """
        from sqlalchemy.exc import IntegrityError

        for attempt in (1, 2):  # a second try when another writer stored the same new settings row first
            try:
                return self._save_call(result, source=source, digest=digest, job=job, replace=replace)
            except IntegrityError as e:
                if attempt == 2:
                    raise self._error(f"cannot store the call {result.get('file')!r} ({db_error(e)})") from None
            except StoreError as e:
                raise self._error(f"cannot store the call {result.get('file')!r}: {getattr(e, 'problem', e)}") from None

    @_retry
    def _save_call(self, result: dict, *, source, digest, job, replace) -> str | None:
        from sqlalchemy import delete, update

        now = time.time()
        call_id = uuid.uuid4().hex
        try:
            with self._begin() as s:
                key = self._ensure_settings(s, result.get("settings") or {})
                if job is not None:
                    done = s.execute(update(Job).where(Job.id == job[0], Job.worker == job[1],
                                                       Job.status == "running")
                                     .values(status="done", call_id=call_id, finished_at=now, lease_until=None))
                    if done.rowcount != 1:
                        raise _LostJob
                if replace and source is not None:
                    s.execute(delete(Call).where(Call.source == source))
                s.add(_call_row(result, call_id=call_id, source=source, digest=digest, settings_key=key,
                                job_id=job[0] if job else None, created=now))
                s.flush()
                s.add_all(_speaker_rows(result, call_id))
                s.add_all(_segment_rows(result, call_id))
        except _LostJob:  # rolled back: nothing of this call is stored
            return None
        return call_id

    @_retry
    def find_call(self, *, source: str, digest: str, settings: dict) -> str | None:
        """The id of a stored call of this content from this source with these settings (a batch's
        resume), or ``None``."""
        from sqlalchemy import select

        with self._session() as s:
            return s.scalar(select(Call.id).where(Call.source == source, Call.digest == digest,
                                                  Call.settings_key == settings_key(settings)).limit(1))

    @_retry
    def stored_sources(self, settings: dict) -> dict[str, str]:
        """``{source: digest}`` of every call stored with ``settings`` (one query for a batch)."""
        from sqlalchemy import select

        with self._session() as s:
            rows = s.execute(select(Call.source, Call.digest).where(Call.settings_key == settings_key(settings),
                                                                    Call.source.is_not(None)))
            return {a: b for a, b in rows}

    @_retry
    def count_other_settings(self, sources: list[str], settings: dict) -> int:
        """How many of ``sources`` have a call stored with settings other than ``settings`` (a
        batch rerun with other settings would replace them)."""
        from sqlalchemy import func, select

        key = settings_key(settings)
        n = 0
        with self._session() as s:
            for part in _chunks(sources):
                n += s.scalar(select(func.count(func.distinct(Call.source))).where(
                    Call.source.in_(part), Call.settings_key != key)) or 0
        return n

    @_retry
    def get_call(self, call_id: str) -> dict | None:
        """The whole analysis of a stored call, as ``escucha analyze --json`` gave it, plus ``id``,
        ``stored_at`` and ``job`` (``None`` when unknown)."""
        from sqlalchemy import select
        from sqlalchemy.orm import selectinload

        with self._session() as s:
            c = s.scalar(select(Call).where(Call.id == call_id).options(selectinload(Call.segments)))
            if c is None:
                return None
            return {"id": c.id, "stored_at": _iso(c.created_at), "job": c.job_id, **_analysis(c)}

    @_retry
    def call_upload(self, call_id: str) -> str | None:
        """The stored upload path of the job that made this call (kept with ``--keep-audio``;
        relative to the data folder, or absolute from an older escucha), or ``None``."""
        from sqlalchemy import select

        with self._session() as s:
            return s.scalar(select(Job.audio_path).where(Job.call_id == call_id).limit(1))

    @_retry
    def delete_call(self, call_id: str) -> bool:
        """Delete a call with its speakers, its segments and the job that made it (which holds
        the upload's name); whether there was one."""
        from sqlalchemy import delete

        with self._begin() as s:
            s.execute(delete(SegmentRow).where(SegmentRow.call_id == call_id))
            s.execute(delete(Speaker).where(Speaker.call_id == call_id))
            s.execute(delete(Job).where(Job.call_id == call_id, Job.status == "done"))
            return s.execute(delete(Call).where(Call.id == call_id)).rowcount == 1

    def _dominants(self, s, value: str | None) -> list[str] | None:
        """The stored spellings of the dominant emotion ``value`` (lower case; a model with labels
        of its own may have stored them in another case), ``None`` for no filter. A label that is
        neither an escucha emotion nor any stored call's is a mistake, not "no calls"."""
        from sqlalchemy import select

        if value is None:
            return None
        stored = s.scalars(select(Call.dominant).where(Call.dominant.is_not(None)).distinct()).all()
        same = [d for d in stored if d.lower() == value]
        if same or value in EMOTIONS:
            return same or [value]
        known = sorted(set(EMOTIONS) | {d.lower() for d in stored})
        raise ConfigError(f"dominant={value[:32]!r} is not an emotion; one of {', '.join(known[:40])}"
                          f"{' ...' if len(known) > 40 else ''}")

    def _filtered(self, q: CallQuery, dominants: list[str] | None):
        from sqlalchemy import exists, func, or_, select

        stmt = select(Call)
        if q.since is not None:
            stmt = stmt.where(Call.created_at >= q.since)
        if q.until is not None:
            stmt = stmt.where(Call.created_at < q.until)
        if q.file:
            pat = "%" + q.file.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(Call.file.ilike(pat, escape="\\"))
        if dominants is not None and not q.speaker:
            stmt = stmt.where(Call.dominant.in_(dominants))
        neg = [(q.min_negative, ">="), (q.max_negative, "<="), (q.min_change, ">="), (q.max_change, "<=")]
        if q.speaker:
            who = func.lower(q.speaker)   # any case: folded alike on both sides (SQLite folds ASCII only)
            conds = [Speaker.call_id == Call.id,
                     or_(func.lower(Speaker.name) == who, func.lower(Speaker.role) == who)]
            cols = (Speaker.negative_share, Speaker.negative_share, Speaker.negative_change, Speaker.negative_change)
            conds += [c >= v if op == ">=" else c <= v for (v, op), c in zip(neg, cols) if v is not None]
            if dominants is not None:   # "customers whose dominant emotion was angry": the speaker's own
                conds.append(Speaker.dominant.in_(dominants))
            stmt = stmt.where(exists().where(*conds))
        else:
            cols = (Call.negative_share, Call.negative_share, Call.negative_change, Call.negative_change)
            stmt = stmt.where(*[c >= v if op == ">=" else c <= v for (v, op), c in zip(neg, cols) if v is not None])
        return stmt

    @_retry
    def list_calls(self, q: CallQuery | None = None, *, count: bool = True) -> tuple[list[dict], int | None]:
        """One page of calls matching ``q`` (their summaries, speakers included) and how many match:
        ``(calls, total)``, ``total`` ``None`` with ``count=False``."""
        from sqlalchemy import func, select
        from sqlalchemy.orm import defer, selectinload

        q = q or CallQuery()
        col = SORTS[q.sort.lstrip("-")]
        order = [col.desc(), Call.id.desc()] if q.sort.startswith("-") else [col.asc(), Call.id.asc()]
        with self._session() as s:
            base = self._filtered(q, self._dominants(s, q.dominant))
            total = s.scalar(select(func.count()).select_from(base.subquery())) if count else None
            rows = s.scalars(base.options(defer(Call.document), defer(Call.summary), selectinload(Call.speakers))
                             .order_by(*order).limit(q.limit).offset(q.offset)).all()
            return [_list_item(c) for c in rows], total

    def iter_calls(self, q: CallQuery | None = None, *, batch: int = 500) -> Iterator[dict]:
        """Every call matching ``q`` (no paging), as ``{file, channels, speakers, summary, outcome,
        labels, id, stored_at, created_at, digest}``: what the CSV export needs (``created_at``:
        seconds since the epoch; ``digest``: BLAKE2b of the audio's bytes, ``None`` when unknown).
        A database that fails meanwhile is a :class:`~escucha.errors.StoreError`."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            yield from self._iter_calls(q, batch=batch)
        except SQLAlchemyError as e:
            raise self._error(db_error(e)) from None

    def _iter_calls(self, q: CallQuery | None, *, batch: int) -> Iterator[dict]:
        from sqlalchemy import select
        from sqlalchemy.orm import defer

        q = q or CallQuery()
        col = SORTS[q.sort.lstrip("-")]
        order = [col.desc(), Call.id.desc()] if q.sort.startswith("-") else [col.asc(), Call.id.asc()]
        with self._session() as s:
            stmt = self._filtered(q, self._dominants(s, q.dominant))
        offset = 0
        while True:
            with self._session() as s:
                rows = s.scalars(stmt.options(defer(Call.document)).order_by(*order)
                                 .limit(batch).offset(offset)).all()
                # the speakers found (a batch's summary.csv counts them), without the rest of the document
                found = dict(s.execute(select(Call.id, Call.document["speakers"])
                                       .where(Call.id.in_([c.id for c in rows]))).all()) if rows else {}
                for c in rows:
                    yield {"id": c.id, "stored_at": _iso(c.created_at), "file": c.file, "channels": c.channels,
                           "speakers": found.get(c.id), "summary": c.summary, "outcome": c.outcome,
                           "labels": c.labels, "created_at": c.created_at, "digest": c.digest}
            if len(rows) < batch:
                return
            offset += batch

    @_retry
    def prune(self, older_than: float) -> dict:
        """Delete calls stored, and finished jobs ended, more than ``older_than`` seconds ago;
        ``{"calls": n, "jobs": m}`` deleted."""
        from sqlalchemy import delete, select

        cut = time.time() - older_than
        with self._begin() as s:
            ids = select(Call.id).where(Call.created_at < cut)
            s.execute(delete(SegmentRow).where(SegmentRow.call_id.in_(ids)))
            s.execute(delete(Speaker).where(Speaker.call_id.in_(ids)))
            calls = s.execute(delete(Call).where(Call.created_at < cut)).rowcount
            jobs = s.execute(delete(Job).where(Job.status.in_(("done", "failed")), Job.finished_at < cut)).rowcount
        return {"calls": calls, "jobs": jobs}

    @_retry
    def count_calls(self) -> int:
        from sqlalchemy import func, select

        with self._session() as s:
            return s.scalar(select(func.count()).select_from(Call))

    # -- jobs ---------------------------------------------------------------------------------------
    @_retry
    def enqueue(self, file: str, *, audio_path: str | None, options: dict, keep_audio: bool = False,
                job_id: str | None = None) -> dict:
        """Queue an analysis of the audio at ``audio_path`` (kept there until the job is done)."""
        job = Job(id=job_id or uuid.uuid4().hex, status="queued", file=file, audio_path=audio_path, options=options,
                  keep_audio=keep_audio, created_at=time.time(), attempts=0)
        with self._begin() as s:
            s.add(job)
        return _job_dict(job)

    @_retry
    def claim(self, worker: str, *, lease: float) -> JobClaim | None:
        """Take the oldest queued job, or one whose lease ran out (its worker was killed), for
        ``lease`` seconds; ``None`` when there is none. Never gives one job to two workers: on
        PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED``, on SQLite a conditional ``UPDATE`` that
        only one claimant can win. A job interrupted :data:`MAX_ATTEMPTS` times is failed instead."""
        from sqlalchemy import and_, or_, select, update

        while True:
            now = time.time()
            claimable = or_(Job.status == "queued", and_(Job.status == "running", Job.lease_until < now))
            with self._begin() as s:
                stmt = select(Job.id, Job.status, Job.attempts, Job.file, Job.audio_path, Job.options,
                              Job.keep_audio).where(claimable).order_by(Job.created_at, Job.id).limit(1)
                if self.dialect == "postgresql":
                    stmt = stmt.with_for_update(skip_locked=True)
                row = s.execute(stmt).first()
                if row is None:
                    return None
                same = update(Job).where(Job.id == row.id, Job.status == row.status, Job.attempts == row.attempts)
                if row.attempts >= MAX_ATTEMPTS:
                    s.execute(same.values(status="failed", finished_at=now, lease_until=None, code=500,
                                          error=f"{row.file}: the analysis was interrupted {row.attempts} times "
                                                "(the server stopped or was killed while running it); not tried "
                                                "again"))
                    continue
                n = s.execute(same.values(status="running", worker=worker, lease_until=now + lease, started_at=now,
                                          attempts=row.attempts + 1)).rowcount
                if n != 1:  # another worker won this one: look again
                    continue
                return JobClaim(id=row.id, file=row.file, audio_path=row.audio_path, options=row.options,
                                keep_audio=row.keep_audio, attempts=row.attempts + 1, worker=worker)

    @_retry
    def heartbeat(self, job_id: str, worker: str, *, lease: float) -> bool:
        """Extend the lease of a job this worker holds; ``False`` when it no longer holds it."""
        from sqlalchemy import update

        with self._begin() as s:
            return s.execute(update(Job).where(Job.id == job_id, Job.worker == worker, Job.status == "running")
                             .values(lease_until=time.time() + lease)).rowcount == 1

    @_retry
    def fail_job(self, job_id: str, worker: str, error: str, code: int = 422) -> bool:
        """Mark a job this worker holds failed, with the reason; whether it still held it."""
        from sqlalchemy import update

        with self._begin() as s:
            return s.execute(update(Job).where(Job.id == job_id, Job.worker == worker, Job.status == "running")
                             .values(status="failed", error=error, code=code, finished_at=time.time(),
                                     lease_until=None)).rowcount == 1

    @_retry
    def running_jobs(self) -> list[tuple[str, str]]:
        """``(job id, worker)`` of every running job."""
        from sqlalchemy import select

        with self._session() as s:
            return [(a, b) for a, b in s.execute(select(Job.id, Job.worker).where(Job.status == "running"))]

    @_retry
    def expire_lease(self, job_id: str, worker: str) -> bool:
        """End the lease of a job whose worker is known to be dead, so that it is claimed now."""
        from sqlalchemy import update

        with self._begin() as s:
            return s.execute(update(Job).where(Job.id == job_id, Job.worker == worker, Job.status == "running")
                             .values(lease_until=0.0)).rowcount == 1

    @_retry
    def release_job(self, job_id: str, worker: str) -> bool:
        """Give a job back to the queue (a server shutting down in an orderly way): another worker,
        or this server after its restart, runs it at once instead of after its lease."""
        from sqlalchemy import update

        with self._begin() as s:
            return s.execute(update(Job).where(Job.id == job_id, Job.worker == worker, Job.status == "running")
                             .values(status="queued", worker=None, lease_until=None,
                                     attempts=Job.attempts - 1)).rowcount == 1  # a hand-back is no interruption

    @_retry
    def get_job(self, job_id: str, *, result: bool = True) -> dict | None:
        """``{id, status, file, url, call}`` (+ ``result``: the call's analysis, when done, or
        ``error`` and ``code`` when failed), or ``None``."""
        with self._session() as s:
            job = s.get(Job, job_id)
            if job is None:
                return None
            d = _job_dict(job)
        if result and job.status == "done" and job.call_id:
            d["result"] = self.get_call(job.call_id)
        return d

    @_retry
    def list_jobs(self, statuses: Iterable[str] = ("queued", "running"), *, limit: int = 200) -> list[dict]:
        from sqlalchemy import select

        with self._session() as s:
            rows = s.scalars(select(Job).where(Job.status.in_(list(statuses))).order_by(Job.created_at)
                             .limit(limit)).all()
            return [_job_dict(j) for j in rows]

    @_retry
    def job_counts(self) -> dict[str, int]:
        from sqlalchemy import func, select

        with self._session() as s:
            out = {k: 0 for k in ("queued", "running", "done", "failed")}
            out.update({k: n for k, n in s.execute(select(Job.status, func.count()).group_by(Job.status))})
            return out

    @_retry
    def upload_jobs(self, job_ids: Iterable[str]) -> dict[str, tuple[str, bool]]:
        """``{job id: (status, keep_audio)}`` of those of ``job_ids`` that are stored jobs (what
        :func:`escucha.store.uploads.prune_orphans` needs to know of the uploads it finds)."""
        from sqlalchemy import select

        ids, out = list(dict.fromkeys(job_ids)), {}
        with self._session() as s:
            for part in _chunks(ids):
                rows = s.execute(select(Job.id, Job.status, Job.keep_audio).where(Job.id.in_(part)))
                out.update({a: (b, bool(c)) for a, b, c in rows})
        return out

    @_retry
    def job_audio_paths(self) -> set[str]:
        """Audio files of jobs that still need them (queued or running)."""
        from sqlalchemy import select

        with self._session() as s:
            return set(s.scalars(select(Job.audio_path).where(Job.status.in_(("queued", "running")),
                                                              Job.audio_path.is_not(None))))


def open_store(db: str | None = None, *, data=None, migrate: bool = True) -> Store:
    """The store at ``db`` (a URL) or in the data folder ``data``; its schema is brought up to date
    (``migrate=False``: refused unless it already is)."""
    url = resolve_url(db, data)
    engine = make_engine(url)
    try:
        if migrate:
            upgrade(engine)
        else:
            have, want = current_revision(engine), head_revision()
            if have != want:
                raise ConfigError(f"{safe_url(url)}: the store's schema is at revision {have or 'none'}, this "
                                  f"escucha needs {want}: run escucha db upgrade --db URL")
    except ConfigError:
        engine.dispose()
        raise
    except Exception as e:
        engine.dispose()
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(e, SQLAlchemyError):
            raise ConfigError(f"{safe_url(url)}: cannot open the store ({db_error(e)})") from None
        raise
    return Store(engine)


# -- rows <-> dicts ---------------------------------------------------------------------------------
_CALL_KEYS = ("segments", "summary")


def _call_row(d: dict, *, call_id, source, digest, settings_key, job_id, created) -> Call:
    s = d.get("summary") or {}
    return Call(id=call_id, file=str(d.get("file") or "stdin"), source=source, digest=digest,
                settings_key=settings_key, job_id=job_id, created_at=created,
                duration=float(d.get("duration") or 0.0), speech_seconds=float(s.get("speech_seconds") or 0.0),
                segment_count=len(d.get("segments") or []), dominant=s.get("dominant"),
                first_dominant=(s.get("first_third") or {}).get("dominant"),
                last_dominant=(s.get("last_third") or {}).get("dominant"),
                negative_share=_num(s, "negative", "share"), negative_change=_num(s, "negative", "change"),
                high_arousal_share=_num(s, "high_arousal", "share"),
                high_arousal_change=_num(s, "high_arousal", "change"), outcome=d.get("outcome"),
                labels=list(d.get("labels") or []), channels=list(d.get("channels") or []), summary=s,
                document={k: v for k, v in d.items() if k not in _CALL_KEYS})


#: speaker names that are roles (``--channel-names agent,customer``, or an enrolled agent's voice)
ROLES = ("agent", "customer")


def _role(name, given=None):
    return given or (name if name in ROLES else None)


def _speaker_rows(d: dict, call_id: str) -> list[Speaker]:
    s = d.get("summary") or {}
    blocks = s.get("channels") or {}
    if not blocks:
        names = d.get("channels") or ["mono"]
        blocks = {names[0]: {k: v for k, v in s.items() if k not in ("channels", "duration")}}
    return [Speaker(call_id=call_id, name=str(name), role=_role(name, b.get("role")),
                    speech_seconds=_num(b, "speech_seconds"),
                    dominant=b.get("dominant"), negative_share=_num(b, "negative", "share"),
                    negative_change=_num(b, "negative", "change"), summary=b) for name, b in blocks.items()]


def _segment_rows(d: dict, call_id: str) -> list[SegmentRow]:
    out = []
    for i, seg in enumerate(d.get("segments") or []):
        who = seg.get("speaker") or seg.get("channel")
        out.append(SegmentRow(call_id=call_id, idx=i, channel=str(seg.get("channel", "")), speaker=seg.get("speaker"),
                              role=_role(who, seg.get("role")), start=float(seg["start"]), end=float(seg["end"]),
                              label=seg.get("label"), confidence=_num(seg, "confidence"),
                              probabilities=seg.get("probabilities"), arousal=_num(seg, "arousal"),
                              negative=_num(seg, "negative"), words=seg.get("words"), data=seg))
    return out


def _analysis(c: Call) -> dict:
    """The result JSON of a stored call, keys in the order ``CallResult.to_dict`` gives them."""
    doc = dict(c.document)
    out = {}
    for k in ("file", "duration", "sample_rate", "format", "source", "channels", "channel_mode", "labels", "settings"):
        if k in doc:
            out[k] = doc.pop(k)
    out["segments"] = [r.data for r in c.segments]
    if "windows" in doc:
        out["windows"] = doc.pop("windows")
    out["summary"] = c.summary
    out.update(doc)
    return out


def _list_item(c: Call) -> dict:
    return {"id": c.id, "file": c.file, "stored_at": _iso(c.created_at), "duration": c.duration,
            "speech_seconds": c.speech_seconds, "segments": c.segment_count, "dominant": c.dominant,
            "first_third": c.first_dominant, "last_third": c.last_dominant,
            "negative": {"share": c.negative_share, "change": c.negative_change},
            "high_arousal": {"share": c.high_arousal_share, "change": c.high_arousal_change},
            "outcome": c.outcome, "channels": c.channels, "job": c.job_id, "url": f"/v1/calls/{c.id}",
            "speakers": [{"name": sp.name, "role": sp.role, "dominant": sp.dominant,
                          "speech_seconds": sp.speech_seconds,
                          "negative": {"share": sp.negative_share, "change": sp.negative_change}}
                         for sp in c.speakers]}


def _job_dict(j: Job) -> dict:
    d = {"id": j.id, "status": j.status, "file": j.file, "url": f"/v1/jobs/{j.id}", "created": _iso(j.created_at),
         "attempts": j.attempts, "worker": j.worker, "call": j.call_id}
    if j.status == "failed":
        d["error"], d["code"] = j.error, j.code
    return d
