"""The stored calls over HTTP (``escucha serve --data DIR`` or ``--db URL``): list, filter, read,
export and delete, and the queue of jobs. Every read and write goes through
:class:`escucha.store.Store`; nothing here speaks SQL.

=============================  =====================================================================
``GET /v1/calls``              a page of calls: ``{calls, total, limit, offset}``; filters and sorting
``GET /v1/calls.csv``          every matching call, one row each (the columns of a batch's summary.csv)
``GET /v1/calls.json``         every matching call, as the list gives them (no paging)
``GET /v1/calls/{id}``         the whole analysis (``escucha analyze --json``) with ``id``, ``stored_at``
``GET /v1/calls/{id}.csv``     its segments (the columns of ``<name>.segments.csv``)
``DELETE /v1/calls/{id}``      delete it (``204``), its speakers, segments and kept recording with it
``GET /v1/jobs``               the queued and running jobs
=============================  =====================================================================
"""

from __future__ import annotations

import csv
import io

from fastapi import Query
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import ConfigError
from .uploads import HTTPProblem

__all__ = ["add_calls_routes"]

_ERR = {"description": "one line for a person", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}}


def _segments_csv(call: dict) -> str:
    """The segments of a stored call as ``escucha analyze`` writes its ``.segments.csv``."""
    from ..longaudio.result import segments_csv

    return segments_csv(call.get("labels") or [], call.get("segments") or [])


def _calls_csv(rows) -> str:
    """One row per call: ``id``, ``stored_at``, then the columns of a batch's ``summary.csv``,
    ``duplicate_of`` last: the file of the earliest stored call among these with the same audio
    bytes (its digest; empty for the first, or when the digest is unknown)."""
    from ..longaudio.tables import summary_row

    out, labels, first = [], [], {}
    rows = list(rows)
    for r in rows:
        labels += [lab for lab in r["labels"] if lab not in labels]
    for r in sorted(rows, key=lambda r: (r["created_at"], r["id"])):
        if r.get("digest"):
            first.setdefault(r["digest"], r)
    for r in rows:
        f = first.get(r.get("digest"))
        out.append({"id": r["id"], "stored_at": r["stored_at"], **summary_row(r, labels),
                    "duplicate_of": f["file"] if f is not None and f is not r else ""})
    cols = [k for k in dict.fromkeys(k for r in out for k in r) if k != "duplicate_of"]
    cols = cols or ["id", "stored_at", "file"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[*cols, "duplicate_of"], lineterminator="\n", restval="")
    w.writeheader()
    w.writerows(out)
    return buf.getvalue()


def add_calls_routes(app, store, durable, guarded) -> None:
    """Register the routes of the module docstring on ``app`` (``guarded``: the token check)."""
    from ..store import CallQuery
    from ..store.repository import SORTS

    sorts = ", ".join(SORTS)

    from ..errors import StoreError
    from .problems import problem_of

    async def _store_error(request, e):  # the database (503), or a filter the store refuses (400): one line
        p = problem_of(e)
        return JSONResponse({"error": p.message}, status_code=p.status, headers=p.headers)

    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(ConfigError, _store_error)

    def query(since, until, file, speaker, dominant, min_negative, max_negative, min_change, max_change, sort,
              limit=50, offset=0) -> CallQuery:
        """The store's query (times parsed, ``dominant`` in any case, by :class:`CallQuery` as for
        a Python caller; an unknown emotion is refused by the store when it reads: 400 too)."""
        try:
            return CallQuery(since=since, until=until, file=file or None,
                             speaker=speaker or None, dominant=dominant or None, min_negative=min_negative,
                             max_negative=max_negative, min_change=min_change, max_change=max_change, sort=sort,
                             limit=limit, offset=offset)
        except ConfigError as e:
            raise HTTPProblem(400, str(e)) from None

    # the filters, shared by the list and the exports
    def filters(
        since: str | None = Query(None, max_length=40, description="stored at or after (2026-12-01, "
                                                                  "2026-12-01T09:30:00Z, or epoch seconds)"),
        until: str | None = Query(None, max_length=40, description="stored before"),
        file: str | None = Query(None, max_length=200, description="part of the file name (any case)"),
        speaker: str | None = Query(None, max_length=200, description="a speaker's name or role, e.g. customer; "
                                                                      "the negative filters then apply to them"),
        dominant: str | None = Query(None, max_length=32, description="dominant emotion"),
        min_negative: float | None = Query(None, ge=0, le=1, allow_inf_nan=False, description="share of negative "
                                                                                              "speech at least"),
        max_negative: float | None = Query(None, ge=0, le=1, allow_inf_nan=False, description="... at most"),
        min_change: float | None = Query(None, ge=-1, le=1, allow_inf_nan=False,
                                         description="change of the negative share, first third to last, at least "
                                                     "(> 0: ended worse than it started)"),
        max_change: float | None = Query(None, ge=-1, le=1, allow_inf_nan=False, description="... at most"),
        sort: str = Query("-created", max_length=40, description=f"one of {sorts}; - in front: descending"),
    ) -> dict:
        return dict(since=since, until=until, file=file, speaker=speaker, dominant=dominant,
                    min_negative=min_negative, max_negative=max_negative, min_change=min_change,
                    max_change=max_change, sort=sort)

    from fastapi import Depends

    @app.get("/v1/calls", dependencies=guarded, responses={400: _ERR, 401: _ERR}, summary="Stored calls")
    async def list_calls(f: dict = Depends(filters), limit: int = Query(50, ge=1, le=500),
                         offset: int = Query(0, ge=0, le=10_000_000)):
        """A page of stored calls, newest first unless ``sort`` says otherwise: per call its file,
        when it was stored, duration, dominant emotion, first and last third, share and change of
        negative and high-arousal speech, and each speaker's."""
        q = query(**f, limit=limit, offset=offset)
        items, total = await run_in_threadpool(store.list_calls, q)
        return {"calls": items, "total": total, "limit": limit, "offset": offset}

    def _export(f: dict):
        return store.iter_calls(query(**f, limit=500))

    @app.get("/v1/calls.csv", dependencies=guarded, responses={400: _ERR, 401: _ERR},
             summary="Stored calls as CSV")
    async def calls_csv(f: dict = Depends(filters)):
        """Every matching call, one row each: ``id``, ``stored_at`` and the columns of a batch's
        ``summary.csv``, ending with ``duplicate_of`` (the earliest of these calls with the same
        audio bytes, or empty)."""
        text = await run_in_threadpool(lambda: _calls_csv(_export(f)))
        return Response(text, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="calls.csv"'})

    @app.get("/v1/calls.json", dependencies=guarded, responses={400: _ERR, 401: _ERR},
             summary="Stored calls as JSON (no paging)")
    async def calls_json(f: dict = Depends(filters)):
        def run():
            q = query(**f, limit=500)
            out, offset = [], 0
            while True:
                q.offset = offset
                items, _ = store.list_calls(q, count=False)
                out += items
                if len(items) < q.limit:
                    return out
                offset += q.limit

        items = await run_in_threadpool(run)
        return JSONResponse({"calls": items, "total": len(items)},
                            headers={"Content-Disposition": 'attachment; filename="calls.json"'})

    async def _call(call_id: str) -> dict:
        call = await run_in_threadpool(store.get_call, call_id[:64])
        if call is None:
            raise HTTPProblem(404, f"no call {call_id[:64]!r} in the store (unknown, deleted or pruned)")
        return call

    @app.get("/v1/calls/{call_id}.csv", dependencies=guarded, responses={401: _ERR, 404: _ERR},
             summary="A stored call's segments as CSV")
    async def call_csv(call_id: str):
        call = await _call(call_id)
        name = "".join(c for c in str(call.get("file") or "call").split("/")[-1] if c.isalnum() or c in "._-")
        return Response(_segments_csv(call), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name or "call"}.segments.csv"'})

    @app.get("/v1/calls/{call_id}", dependencies=guarded, responses={401: _ERR, 404: _ERR},
             summary="A stored call: the whole analysis")
    async def get_call(call_id: str):
        """The JSON of ``escucha analyze --json`` for this call, with ``id``, ``stored_at`` and
        ``job`` (the job that made it, if any)."""
        return await _call(call_id)

    @app.delete("/v1/calls/{call_id}", dependencies=guarded, status_code=204, responses={401: _ERR, 404: _ERR},
                summary="Delete a stored call")
    async def delete_call(call_id: str):
        """Deletes the call with its speakers and segments, and its recording when the server
        kept it (``--keep-audio``): nothing of the call is left."""
        from ..store.uploads import remove_upload

        def delete() -> bool:
            kept = store.call_upload(call_id[:64])
            if not store.delete_call(call_id[:64]):
                return False
            if kept and durable is not None:
                remove_upload(durable.upload_of(kept))
            return True

        if not await run_in_threadpool(delete):
            raise HTTPProblem(404, f"no call {call_id[:64]!r} in the store (unknown, deleted or pruned)")
        return Response(status_code=204)

    @app.get("/v1/jobs", dependencies=guarded, responses={401: _ERR}, summary="Queued and running jobs")
    async def list_jobs():
        return {"jobs": await run_in_threadpool(store.list_jobs), "counts": await run_in_threadpool(store.job_counts)}
