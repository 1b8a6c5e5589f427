"""The FastAPI application: routes over :func:`escucha.load_model`'s Predictor and
:func:`escucha.longaudio.analyze_file`, nothing of its own about audio or emotions.

======================  =================================================================
``GET /``               the web page (self-contained: works offline)
``GET /healthz``        liveness (the process answers); never needs the token
``GET /readyz``         readiness (model loaded, store answers; else ``503``); never needs the token
``GET /metrics``        Prometheus metrics
``GET /v1/models``      labels, sample rate, emotion colours and a summary of the model
``POST /v1/predict``    one clip -> ``{label, confidence, probabilities, duration}`` or an outcome
``POST /v1/analyze``    a whole call -> the JSON of ``escucha analyze --json`` (``202`` + job for long calls)
``GET /v1/jobs/{id}``   a background analysis: its status, then its result
``WS /v1/stream``       raw PCM in, segment events out (see :mod:`escucha.service.stream`)
======================  =================================================================

Statuses: ``400`` bad parameters, ``401`` token missing or wrong, ``404`` unknown job,
``413`` upload or audio too long, ``415`` not audio, ``422`` audio that cannot be used (the
command line's one-line message, naming the uploaded file), ``503`` + ``Retry-After`` when the
queue is full, the result took longer than the timeout, or the store's database or data folder
cannot be used now (``507`` when the data folder is full). Every error body is
``{"error": "<one line>"}``.
"""

from __future__ import annotations

import hmac
import json
import logging
import tempfile
from importlib import resources
from pathlib import Path
from typing import Callable, Literal

from fastapi import Depends, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import AudioError, ConfigError, EscuchaError, ModelError
from ..longaudio.settings import BASELINE_DEFAULT
from .config import ServiceConfig
from .metrics import Metrics
from .problems import problem_of
from .uploads import HTTPProblem, Upload, disk_problem, receive_upload
from .work import Busy, JobStore, TimedOut, WorkPool

__all__ = ["create_app", "model_summary", "problem_of"]

log = logging.getLogger("escucha.service")

#: the page's files, served under fixed names (a request never names a file on disk): app.js and
#: the ES modules it imports, the recorder's AudioWorklet, the style sheet and the icon
_JS = "text/javascript; charset=utf-8"
STATIC = {"app.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml", "recorder-worklet.js": _JS,
          **{f"{m}.js": _JS for m in ("app", "config", "dom", "state", "messages", "api", "analyse", "clip", "call",
                                      "timeline", "wav", "recorder", "calls", "zoom")}}
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_AUDIO_BODY = {"type": "string", "format": "binary"}
UPLOAD_BODY = {"requestBody": {"required": True, "description": "The recording: multipart field `file`, or the "
                               "audio itself with an audio content type.", "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {"file": _AUDIO_BODY}}},
    "audio/wav": {"schema": _AUDIO_BODY}, "audio/flac": {"schema": _AUDIO_BODY}, "audio/ogg": {"schema": _AUDIO_BODY},
    "audio/mpeg": {"schema": _AUDIO_BODY}, "application/octet-stream": {"schema": _AUDIO_BODY}}}}
_ERR = {"description": "one line for a person", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}}
#: ``?labels=neutral,happy,sad,angry`` on predict and analyze
LABELS_QUERY = Query(None, max_length=200, description="answer among these emotions only, comma-separated "
                                                       "(probabilities renormalised over them)")

ERRORS = {400: _ERR, 401: _ERR, 413: _ERR, 415: _ERR, 422: _ERR, 503: _ERR, 507: _ERR}


def model_summary(predictor) -> dict:
    """What a client needs to know about the loaded model (``GET /v1/models``)."""
    from ..labels import EMOTION_COLORS
    from ..longaudio.analyze import analysis_settings

    cfg = predictor.config
    ident = analysis_settings(predictor)["model"]
    members = [{"model": m.get("model"), "band": m.get("band", "any"), "weight": m.get("weight", 1.0)}
               for m in cfg.get("ensemble", []) if isinstance(m, dict)]
    speakers = list(cfg.get("trained_on", {}).get("speakers", []))
    name = ident["name"] or (" + ".join(str(m["model"]) for m in members) if members else None)
    return {"id": ident["id"], "name": name, "kind": "ensemble" if members else "single",
            "labels": list(predictor.labels), "sample_rate": int(predictor.sample_rate),
            "clip_seconds": ident["clip_seconds"], "members": members,
            "trained_on": {"speakers": len(speakers),
                           "corpora": sorted({s.split(":", 1)[0] for s in speakers if ":" in s})},
            "colors": {lab: EMOTION_COLORS.get(lab, "#4D4D4D") for lab in predictor.labels},
            "escucha_version": __version__}


def _static(name: str) -> bytes:
    return (resources.files("escucha.service") / "static" / name).read_bytes()


def create_app(model=None, config: ServiceConfig | None = None, store=None) -> FastAPI:
    """The service as an ASGI application.

    Parameters
    ----------
    model : Predictor, path or None
        A loaded predictor (:func:`escucha.load_model`), or what to give ``load_model``
        (``None``: the bundled model).
    config : ServiceConfig, optional
        Limits, token, CORS, store; defaults as :class:`ServiceConfig`.
    store : escucha.store.Store, optional
        Where calls and jobs are kept (default: opened from the config's ``data``/``db``, if
        any). With a store, analyses are stored, long ones queued there (:mod:`.durable`), and
        the calls routes (:mod:`.calls`) are served.
    """
    cfg = config or ServiceConfig()
    if model is None or isinstance(model, (str, Path)):
        from .. import load_model

        model = load_model(model)
    predictor = model
    pool = WorkPool(cfg.workers, cfg.queue)
    jobs = JobStore(cfg.max_jobs, cfg.job_ttl)
    streams = {"open": 0}
    from .durable import one_transcriber

    speakers_for, transcriber = _speakers_for(cfg), one_transcriber()
    store, durable, own_store = _open_store(cfg, store, predictor, speakers_for, transcriber)
    metrics = Metrics(pool, durable or jobs, lambda: streams["open"], store=durable is not None)
    summary = model_summary(predictor)
    page = _static("index.html").decode().replace(
        "{{CONFIG}}", json.dumps({"labels": summary["labels"], "colors": summary["colors"],
                                  "max_upload_bytes": cfg.max_upload_bytes, "max_seconds": cfg.max_seconds,
                                  "sync_seconds": cfg.sync_seconds, "token_required": cfg.token is not None,
                                  "store": store is not None, "version": __version__}).replace("<", "\\u003c"))
    files = {name: _static(name) for name in STATIC}

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_app):
        if durable is not None:
            durable.start()
        yield
        pool.shutdown()
        jobs.shutdown()
        if durable is not None:
            durable.shutdown()
        if own_store:
            store.close()

    app = FastAPI(title="escucha", version=__version__, lifespan=lifespan,
                  description="Speech emotion recognition over HTTP: one clip, a whole call, or a live stream. "
                              "Errors are `{\"error\": \"<one line>\"}`; overload is `503` with `Retry-After`.")
    app.state.predictor, app.state.config, app.state.pool, app.state.jobs = predictor, cfg, pool, jobs
    app.state.metrics, app.state.streams, app.state.store, app.state.durable = metrics, streams, store, durable
    app.state.speakers_for, app.state.transcriber = speakers_for, transcriber
    if cfg.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=cfg.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"], expose_headers=["Retry-After"])

    bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>` when the server was started "
                                                      "with --token or ESCUCHA_TOKEN")

    def token_ok(value: str | None) -> bool:
        return cfg.token is None or (value is not None and hmac.compare_digest(value.encode(), cfg.token.encode()))

    async def auth(creds: HTTPAuthorizationCredentials | None = Security(bearer)) -> None:
        if not token_ok(creds.credentials if creds is not None else None):
            raise HTTPProblem(401, "missing or wrong bearer token: send 'Authorization: Bearer <token>' (the one "
                                   "given to escucha serve with --token or ESCUCHA_TOKEN)",
                              {"WWW-Authenticate": "Bearer"})

    async def known_parameters(request: Request) -> None:
        """A misspelt or unknown query parameter is an error, not silently ignored (the stream's
        settings are checked the same way)."""
        route = request.scope.get("route")
        if getattr(route, "dependant", None) is None:
            return
        known = _known.get(id(route))
        if known is None:
            known = _known[id(route)] = _query_names(route.dependant)
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            raise HTTPProblem(422, f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
                                   f"; {request.url.path} takes {', '.join(sorted(known)) or 'none'}")

    _known: dict[int, set[str]] = {}
    app.state.token_ok = token_ok
    guarded = [Security(auth), Depends(known_parameters)]

    # -- errors: one line, never a traceback ---------------------------------------------------------
    @app.exception_handler(HTTPProblem)
    async def _problem(request, e: HTTPProblem):
        return JSONResponse({"error": e.message}, status_code=e.status, headers=e.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, e: RequestValidationError):
        parts = []
        for err in e.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "path", "body"))
            parts.append(f"{err.get('loc', ('',))[0]} parameter {where!r}: {err.get('msg')}")
        return JSONResponse({"error": "; ".join(parts) or "invalid request"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, e: StarletteHTTPException):
        return JSONResponse({"error": str(e.detail)}, status_code=e.status_code, headers=getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request, e: Exception):
        p = problem_of(e)
        return JSONResponse({"error": p.message}, status_code=p.status, headers=p.headers)

    # -- helpers ---------------------------------------------------------------------------------------
    def admit(reason: str = "queue"):
        try:
            return pool.admit()
        except Busy as e:
            metrics.rejected.labels(reason).inc()
            raise problem_of(e) from None

    async def upload(request: Request, tmp: tempfile.TemporaryDirectory, filename: str | None) -> tuple[Upload, dict]:
        import asyncio

        from starlette.concurrency import run_in_threadpool

        from ..audio import audio_info

        try:
            up = await asyncio.wait_for(receive_upload(request, Path(tmp.name), max_bytes=cfg.max_upload_bytes,
                                                       filename=filename), cfg.timeout)
        except asyncio.TimeoutError:
            raise HTTPProblem(408, f"the upload took longer than this server's limit of {cfg.timeout:g} s") from None
        try:
            info = await run_in_threadpool(audio_info, up.path)
        except Exception as e:
            raise problem_of(e, up) from None
        if info["duration"] > cfg.max_seconds:
            raise HTTPProblem(413, f"{up.name}: audio is {info['duration']:.1f} s long, over this server's limit of "
                                   f"{cfg.max_seconds:g} s")
        return up, info

    async def run_job(request: Request, filename: str | None, work, route: str, *, as_job=None, options=None):
        """Admit, receive the upload, then run ``work(upload, info)`` in a worker and answer its
        result, or, when ``as_job(info)`` says so, start it as a background job and answer ``202``
        (with a store: queued there with ``options``, its upload kept in the data folder).
        The upload's folder is removed when the work is done (or could not start)."""
        ticket = admit()
        try:
            tmp = tempfile.TemporaryDirectory(prefix="escucha-upload-")
        except OSError as e:   # the temporary folder is full or read-only
            ticket.release()
            raise disk_problem(e, Path(tempfile.gettempdir()) / "escucha-upload-") from None
        handed = False
        up = None
        try:
            up, info = await upload(request, tmp, filename)
            if as_job is not None and as_job(info) and durable is not None and options is not None:
                from starlette.concurrency import run_in_threadpool

                job = await run_in_threadpool(durable.submit, up.path, up.name, options)
                return JSONResponse(job, status_code=202, headers={"Location": job["url"]})
            if as_job is not None and as_job(info):
                try:
                    job = jobs.reserve(up.name, pool.retry_after())
                except Busy as e:
                    metrics.rejected.labels("jobs").inc()
                    raise problem_of(e) from None

                def job_work():
                    out = work(up, info)
                    metrics.audio_seconds.labels(route).inc(info["duration"])
                    return out

                def classify(e):
                    p = problem_of(e, up)
                    return p.status, p.message

                jobs.start(job, job_work, cleanup=tmp.cleanup, classify=classify)
                handed = True
                ticket.release()  # the job store bounds jobs from here on
                return JSONResponse(job.to_dict(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})
            fut = pool.submit(ticket, work, up, info, cleanup=tmp.cleanup)
            handed = True
            try:
                out = await pool.wait(fut, timeout=cfg.timeout)
            except TimedOut as e:
                metrics.rejected.labels("timeout").inc()
                raise problem_of(e) from None
            metrics.audio_seconds.labels(route).inc(info["duration"])
            return out
        except HTTPProblem:
            raise
        except Exception as e:
            raise problem_of(e, up) from None
        finally:
            if not handed:
                tmp.cleanup()
                ticket.release()

    # -- page ----------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
                                           "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"})

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        if name not in files:
            raise HTTPProblem(404, f"no such file: {name[:80]!r}")
        return Response(files[name], media_type=STATIC[name],
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})

    # -- service -------------------------------------------------------------------------------------
    @app.get("/healthz", summary="Liveness (no token needed)")
    async def healthz():
        return {"status": "ok", "version": __version__, "model": summary["id"], "workers": pool.workers,
                "running": pool.running, "waiting": pool.waiting, "streams": streams["open"]}

    ready = {"problem": None}   # the last readiness problem, logged when it changes

    @app.get("/readyz", summary="Readiness (no token needed)", responses={503: _ERR})
    async def readyz():
        """``200`` when the model is loaded and the store (if any) answers a trivial query;
        else ``503`` + ``Retry-After`` with one line naming the problem (never the database's URL)."""
        from starlette.concurrency import run_in_threadpool

        problem = None
        if predictor is None:
            problem = "the model is not loaded"
        elif store is not None:
            try:
                await run_in_threadpool(store.ping)
            except Exception as e:
                problem = f"the store's database does not answer ({getattr(e, 'problem', None) or e})"
                if problem != ready["problem"]:
                    log.warning("not ready: %s", e)
        if problem is None and ready["problem"] is not None:
            log.info("ready again")
        ready["problem"] = problem
        if problem is not None:
            return JSONResponse({"error": problem}, status_code=503, headers={"Retry-After": "5"})
        return {"status": "ready", "version": __version__, "model": summary["id"], "store": store is not None}

    @app.get("/metrics", dependencies=guarded, summary="Prometheus metrics", responses={401: _ERR})
    async def metrics_route():
        from starlette.concurrency import run_in_threadpool

        body, ctype = await run_in_threadpool(metrics.render)
        return Response(body, media_type=ctype)

    @app.get("/v1/models", dependencies=guarded, summary="The loaded model", responses={401: _ERR})
    async def models():
        return {"models": [summary]}


    def answer_for(labels: str | None):
        """The shared predictor, answering among ``labels`` only when asked (a light wrapper)."""
        from ..inference.answers import answer_among

        try:
            return answer_among(predictor, labels)
        except ConfigError as e:
            raise problem_of(e) from None

    @app.post("/v1/predict", dependencies=guarded, openapi_extra=UPLOAD_BODY, responses=ERRORS,
              summary="Emotion of one clip")
    async def predict(request: Request, filename: str | None = Query(
            None, max_length=1000, description="the recording's name, shown in messages (raw bodies; a "
                                               "multipart upload carries its own)"),
            labels: str | None = LABELS_QUERY):
        """One recording -> ``{file, label, confidence, probabilities, duration}``, as ``escucha
        predict --json`` gives (plus ``confidence``). A clip that cannot be judged gets
        ``"label": null`` with ``outcome`` ("too short" / "no speech found") and ``reason``;
        recordings over 30 s are scored over their speech and get ``"long": true`` and
        ``speech_share`` instead of ``probabilities``. ``labels``: answer among those emotions only."""
        answering = answer_for(labels)

        def work(up: Upload, info: dict) -> dict:
            p = answering.predict(up.path)
            d = p.to_dict()
            d["file"] = up.name
            d["confidence"] = round(p.confidence, 6) if p.confidence is not None else None
            return d

        return await run_job(request, filename, work, "/v1/predict")

    @app.post("/v1/analyze", dependencies=guarded, openapi_extra=UPLOAD_BODY,
              responses={**ERRORS, 202: {"description": "a job: poll its url"}}, summary="Emotions over a whole call")
    async def analyze(
        request: Request,
        filename: str | None = Query(None, max_length=1000, description="the recording's name, shown in messages"),
        channels: Literal["auto", "mono", "split"] = Query(
            "auto", description="auto: a stereo call whose channels carry different voices is analysed per channel; "
                                "mono: mix; split: each channel is its own speaker"),
        speakers: str = Query("auto", max_length=16,
                              description="speakers on a mono channel: auto (estimate), a number (1-16), or off"),
        transcribe: bool = Query(False, description="words with timestamps per segment (needs escucha[asr])"),
        baseline: bool = Query(BASELINE_DEFAULT, description="hear each speaker against their own neutral voice "
                                                             "(the model's calibration reference)"),
        channel_names: str | None = Query(None, max_length=1000, description="names of the channels, e.g. agent,customer"),
        # the settings' ranges are checked below, in the library's words (400), as the command line says them
        smooth: float = Query(3.0, description="seconds of smoothing, 0 to 60 (0: off)"),
        window: float | None = Query(None, description="window seconds, 0.1 to 60 (default: the model's clip)"),
        hop: float | None = Query(None, description="seconds between windows, > 0 and <= window (default: half "
                                                    "the window)"),
        max_segment: float = Query(10.0, description="longest speech turn, 1 to 600 s"),
        vad_threshold: float = Query(0.5, description="Silero speech threshold, between 0 and 1"),
        windows: bool = Query(True, description="include every analysis window in the result"),
        labels: str | None = LABELS_QUERY,
        mode: Literal["auto", "sync", "job"] = Query(
            "auto", description="auto: a job (202) for audio longer than the server's --sync-seconds"),
    ):
        """A whole recording -> the JSON of ``escucha analyze --json``: segments per channel
        (start, end, label, probabilities), windows and the summary (share of each emotion,
        first third vs last third, per channel). Long calls (``mode=job``, or ``auto`` over the
        server's ``--sync-seconds``) answer ``202`` with a job to poll at ``GET /v1/jobs/{id}``."""
        from ..longaudio import VADConfig, analyze_file
        from ..longaudio.inputs import content_digest

        try:
            _check_analysis(predictor, window=window, hop=hop, smooth=smooth, max_segment=max_segment)
            vad = VADConfig(threshold=vad_threshold, max_segment=max_segment)
        except ConfigError as e:
            raise problem_of(e) from None
        try:
            opts = dict(window=window, hop=hop, smooth=smooth, channels=channels, channel_names=channel_names,
                        vad=vad, speakers=speakers_for(speakers), transcribe=transcriber() if transcribe else None,
                        baseline=baseline)
        except ConfigError as e:
            raise problem_of(e) from None
        answering = answer_for(labels)

        def work(up: Upload, info: dict) -> dict:
            if store is not None:   # a call that cannot be kept is not analysed first (a retry would pay again)
                store.ping()
            res = analyze_file(up.path, answering, **opts)
            d = res.to_dict(windows=windows)
            d["file"] = up.name
            if store is not None:  # kept, like a queued job's result, with its digest (duplicates in calls.csv)
                call_id = store.save_call(d, digest=content_digest(up.path))
                return JSONResponse(d, headers={"Content-Location": f"/v1/calls/{call_id}"})
            return d

        as_job = {"sync": lambda info: False, "job": lambda info: True,
                  "auto": lambda info: info["duration"] > cfg.sync_seconds}[mode]
        options = dict(window=window, hop=hop, smooth=smooth, channels=channels, channel_names=channel_names,
                       vad_threshold=vad_threshold, max_segment=max_segment, labels=labels, windows=windows,
                       baseline=baseline, speakers=speakers, transcribe=transcribe)   # a queued job runs them all
        return await run_job(request, filename, work, "/v1/analyze", as_job=as_job, options=options)

    @app.get("/v1/jobs/{job_id}", dependencies=guarded, responses={401: _ERR, 404: _ERR},
             summary="A background analysis")
    async def job_status(job_id: str):
        """``{id, status: queued|running|done|failed, result | error}``; a finished job is kept
        for the server's ``--job-ttl`` seconds."""
        if durable is not None:
            from starlette.concurrency import run_in_threadpool

            stored = await run_in_threadpool(durable.get, job_id[:64])
            if stored is not None:
                return stored
        job = jobs.get(job_id)
        if job is None:
            raise HTTPProblem(404, f"no job {job_id[:64]!r} (unknown, or finished more than {cfg.job_ttl:g} s ago)")
        return job.to_dict()

    from .stream import add_stream_route

    add_stream_route(app)
    if store is not None:
        from .calls import add_calls_routes

        add_calls_routes(app, store, durable, guarded)
    else:
        @app.api_route("/v1/calls{rest:path}", methods=["GET", "DELETE"], include_in_schema=False,
                       dependencies=[Security(auth)])   # 401 before anything is said about the store
        async def _no_store(rest: str):
            raise HTTPProblem(404, "this server keeps no calls: start it with --data DIR (or --db URL) to store "
                                   "each analysed call")
    app.add_middleware(_AsgiWrap, wrap=lambda inner: origin_guard(inner, cfg.cors_origins))
    app.add_middleware(_AsgiWrap, wrap=metrics.middleware)
    return app


def _check_analysis(predictor, *, window: float | None, hop: float | None, smooth: float, max_segment: float) -> None:
    """Raise :class:`ConfigError` (one line, the library's words: a 400) for a request's window,
    hop or smoothing that :func:`escucha.longaudio.analyze_file` would refuse, or a smoothing or
    longest turn over this service's bounds (60 s, 600 s). The VAD's own settings are checked by
    :class:`escucha.longaudio.VADConfig`."""
    from ..longaudio.settings import check_timing, default_window

    w = float(window) if window is not None else default_window(predictor)
    check_timing(w, float(hop) if hop is not None else w / 2, float(smooth))
    if not smooth <= 60:
        raise ConfigError(f"smooth must be between 0 and 60 seconds on this server, got {smooth}")
    if not max_segment <= 600:
        raise ConfigError(f"max_segment must be between 1 and 600 seconds on this server, got {max_segment}")


def _speakers_for(cfg: ServiceConfig) -> Callable:
    """``speakers_for(spec) -> SpeakerOptions``: a request's ``speakers`` with the service's agent
    voice (``cfg.agent_voice``, enrolled here, once; a clip without speech stops the start)."""
    import os

    from ..speakers import speaker_options

    if not cfg.agent_voice:
        return speaker_options
    from ..speakers.options import enrol

    emb, source = enrol(cfg.agent_voice), os.path.basename(cfg.agent_voice)
    return lambda spec: speaker_options(spec, agent_voice=emb, agent_source=source)


def _open_store(cfg: ServiceConfig, store, predictor, speakers_for: Callable, transcriber: Callable):
    """``(store, durable jobs, whether this app opened the store)``; ``(None, None, False)``
    without a store."""
    own = False
    if store is None and cfg.store_wanted:
        from ..store import open_store

        store, own = open_store(cfg.db, data=cfg.data), True
    if store is None:
        return None, None, False
    from .durable import DurableJobs, analysis_runner

    def classify(e, claim):
        p = problem_of(e, Upload(path=Path(claim.audio_path or ""), name=claim.file, size=0))
        return p.status, p.message

    data = cfg.upload_folder() if cfg.store_wanted else tempfile.mkdtemp(prefix="escucha-data-")
    durable = DurableJobs(store, data, analysis_runner(predictor, speakers_for, transcriber), classify,
                          workers=cfg.job_workers,
                          lease=cfg.job_lease, keep_audio=cfg.keep_audio)
    return store, durable, own


def origin_guard(app, allowed):
    """Refuse what a page on another site makes a browser send: a POST or a WebSocket whose
    ``Origin`` is neither this server's own nor one of ``allowed``. (CORS only stops such a page
    from reading the answer; a multipart POST and a WebSocket are sent without asking first.)
    Requests without ``Origin`` (curl, scripts, servers) are not affected."""
    from urllib.parse import urlsplit

    allowed = set(allowed)

    async def guarded(scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            origin = headers.get(b"origin")
            unsafe = scope["type"] == "websocket" or scope.get("method") not in ("GET", "HEAD", "OPTIONS")
            if origin is not None and unsafe:
                o = origin.decode("latin-1")
                host = headers.get(b"host", b"").decode("latin-1")
                if urlsplit(o).netloc != host and o not in allowed:
                    if scope["type"] == "websocket":
                        await send({"type": "websocket.close", "code": 1008})
                        return
                    await JSONResponse({"error": f"requests from pages at {o[:100]} are refused: this server takes "
                                                 "browser requests from its own page, or from the origins given "
                                                 "with --cors-origin"}, status_code=403)(scope, receive, send)
                    return
        await app(scope, receive, send)

    return guarded


class _AsgiWrap:
    """Adapter: a plain ``wrap(app) -> app`` ASGI middleware as a Starlette middleware class."""

    def __init__(self, app, wrap):
        self.app = wrap(app)

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


def _query_names(dependant) -> set[str]:
    """The query parameters an endpoint takes, its dependencies' included."""
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
