"""``escucha serve [--host 127.0.0.1] [--port 8000] [--model PATH] [--workers N]``: the web service and page.

    escucha serve                                  # http://127.0.0.1:8000/ : the page; /docs : the API
    escucha serve --port 9000 --workers 4 --queue 32
    escucha serve --data calls-data                # keep every call (SQLite in calls-data/); jobs survive a restart
    escucha serve --db postgresql://escucha@db/escucha --data /shared/escucha   # several servers, one store
    ESCUCHA_TOKEN=s3cret escucha serve --host 0.0.0.0 --cors-origin https://crm.example.com

Listens on this machine only unless --host says otherwise. Needs the serve extra:
pip install 'escucha[serve]'. See docs/service.md for the API, the limits and measured load.
"""

from __future__ import annotations

import os
import sys

from .options import add_calibration_option, add_model_option


def register(sub):
    import argparse

    p = sub.add_parser("serve", help="web service and page: upload or record audio, see the emotion",
                       description="An HTTP and WebSocket API (FastAPI + uvicorn) and a web page over the bundled "
                                   "or a given model. Overload answers 503 with Retry-After; bad audio 4xx with the "
                                   "same one-line message as predict and analyze.",
                       epilog="examples:\n" + __doc__.split("\n\n", 1)[1].split("\n\n")[0].rstrip(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    add_model_option(p)
    add_calibration_option(p)
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="inference jobs at once, threads sharing the model (default 2)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="threads of the model's runtime (ONNX Runtime or torch) per network (default: CPU cores / workers)")
    p.add_argument("--queue", type=int, default=16, metavar="N",
                   help="requests that may wait for a worker; more get 503 + Retry-After (default 16)")
    p.add_argument("--max-upload-mb", type=float, default=None, metavar="MB",
                   help="largest upload (default: what --max-seconds of 16-kHz 16-bit stereo takes, 231.4 MB for "
                        "an hour, so that every call the length limit allows fits)")
    p.add_argument("--max-seconds", type=float, default=3600.0, metavar="S",
                   help="longest audio accepted, upload or stream (default 3600)")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="seconds a request may wait for its result, or a stream for its next message (default 120)")
    p.add_argument("--sync-seconds", type=float, default=120.0, metavar="S",
                   help="/v1/analyze answers at once up to this length; longer calls become jobs (default 120)")
    p.add_argument("--max-jobs", type=int, default=8, metavar="N", help="background jobs kept at once (default 8)")
    p.add_argument("--job-ttl", type=float, default=3600.0, metavar="S",
                   help="seconds a finished job's result is kept (default 3600)")
    p.add_argument("--max-streams", type=int, default=4, metavar="N", help="WebSocket streams at once (default 4)")
    p.add_argument("--token", default=None,
                   help="require 'Authorization: Bearer TOKEN' on every endpoint but /healthz and the page "
                        "(default: $ESCUCHA_TOKEN if set; else no token)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="allow browsers on this origin to call the API (repeatable; default: none)")
    p.add_argument("--data", metavar="DIR",
                   help="keep analysed calls in a store in this folder (SQLite escucha.db, and the uploads of queued "
                        "jobs until they are done); the page then lists, filters, exports and deletes them")
    p.add_argument("--db", metavar="URL",
                   help="the store's database instead of DIR/escucha.db: sqlite:///PATH or postgresql://USER:PASSWORD@"
                        "HOST:PORT/DB (PostgreSQL: several servers share it and its queue; give --data too, a folder "
                        "they all see)")
    p.add_argument("--job-workers", type=int, default=1, metavar="N",
                   help="stored jobs this server runs at once (default 1)")
    p.add_argument("--job-lease", type=float, default=60.0, metavar="S",
                   help="a stored job whose server stopped sending heartbeats for S seconds is run again (default 60)")
    p.add_argument("--agent-voice", metavar="SAMPLE.wav",
                   help="a clip of the agent's voice: in every call analysed, the closest speaker or channel is "
                        "named 'agent' and the other 'customer' (mono calls get roles too)")
    p.add_argument("--keep-audio", action="store_true",
                   help="keep the uploads of finished stored jobs in DIR/uploads (default: deleted when done)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                   help="server log level (default info: one line per request)")
    p.set_defaults(func=run_serve)


def _warm_up(predictor) -> None:
    """One prediction on the packaged sample clip, so that the first request does not pay for
    loading the encoder and the voice activity detector."""
    from importlib import resources

    sample = resources.files("escucha") / "assets" / "samples" / "sample.wav"
    try:
        with resources.as_file(sample) as path:
            if path.is_file():
                predictor.predict(path)
    except Exception as e:  # a warm-up is an optimisation, never a reason not to start
        print(f"escucha: warning: warm-up prediction failed ({type(e).__name__}: {e})", file=sys.stderr)


def bind(host: str, port: int):
    """A listening socket on ``host:port``, made before the model is loaded so that a port in use
    is a one-line usage error at once (it is then handed to uvicorn).

    Raises
    ------
    ConfigError
        The port is in use, or the address is not this machine's.
    """
    import errno
    import socket

    from ..errors import ConfigError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(f"{where}: the port is already in use (another escucha serve?); choose another "
                              "with --port") from None
        if e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            raise ConfigError(f"{where}: cannot listen on this address ({e.strerror}); --host takes an address "
                              "of this machine, e.g. 127.0.0.1 or 0.0.0.0") from None
        if e.errno == errno.EACCES:
            raise ConfigError(f"{where}: not allowed to listen on port {port} ({e.strerror}); choose a port "
                              "above 1023 with --port") from None
        raise ConfigError(f"{where}: cannot listen ({e.strerror})") from None
    except socket.gaierror as e:
        sock.close()
        raise ConfigError(f"{host}: unknown host ({e.strerror}); --host takes an address of this machine") from None
    return sock


def run_serve(args) -> int:
    from ..errors import ConfigError

    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn
    except ImportError as e:
        raise ConfigError(f"escucha serve needs the serve extra ({e.name} is missing): "
                          "pip install 'escucha[serve]'") from None
    from ..inference import load_model
    from ..service import ServiceConfig, create_app
    from ..service.config import LOCAL_HOSTS
    from ..service.stream import MAX_FRAME_BYTES

    token = args.token if args.token is not None else os.environ.get("ESCUCHA_TOKEN") or None
    cfg = ServiceConfig(host=args.host, port=args.port, workers=args.workers, queue=args.queue,
                        max_upload_mb=args.max_upload_mb, max_seconds=args.max_seconds, timeout=args.timeout,
                        sync_seconds=args.sync_seconds, max_jobs=args.max_jobs, job_ttl=args.job_ttl,
                        max_streams=args.max_streams, token=token, cors_origins=args.cors_origin, data=args.data,
                        db=args.db, job_lease=args.job_lease, job_workers=args.job_workers, keep_audio=args.keep_audio,
                        agent_voice=args.agent_voice)
    threads = args.threads if args.threads is not None else max(1, (os.cpu_count() or 1) // cfg.workers)
    if threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    if args.host not in LOCAL_HOSTS and cfg.token is None:
        print(f"escucha: warning: listening on {args.host} without a token: anyone who can reach this machine "
              "can use the service (give --token or set ESCUCHA_TOKEN)", file=sys.stderr)
    from ..service.config import TELEPHONE_BYTES_PER_SECOND

    if cfg.max_upload_bytes < cfg.max_seconds * TELEPHONE_BYTES_PER_SECOND:
        print(f"escucha: warning: --max-upload-mb {cfg.max_upload_mb:g} is smaller than {cfg.max_seconds:g} s of an "
              f"8-kHz stereo telephone call ({cfg.max_seconds * TELEPHONE_BYTES_PER_SECOND / 1e6:.1f} MB): such calls "
              "will be refused before --max-seconds is reached", file=sys.stderr)
    store = None
    if cfg.store_wanted:  # before the model loads: a wrong URL is a one-line error at once
        from ..store import open_store

        store = open_store(cfg.db, data=cfg.data)
    sock = bind(args.host, args.port)
    from ..runtime import set_num_threads

    set_num_threads(threads)  # torch or ONNX Runtime, whichever runs the model
    predictor = load_model(args.model, calibrate=not args.no_calibration)
    _warm_up(predictor)
    app = create_app(predictor, cfg, store=store)
    host = f"[{args.host}]" if ":" in args.host else args.host
    port = sock.getsockname()[1]  # the one the system chose for --port 0
    kept = f"; calls kept in {store.url}" if store is not None else ""
    print(f"escucha: serving http://{host}:{port}/ (API docs at /docs; {cfg.workers} workers, queue "
          f"{cfg.queue}{', token required' if cfg.token else ''}{kept}); Ctrl-C stops", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                            access_log=args.log_level in ("info", "debug"), server_header=False, timeout_keep_alive=5,
                            ws_max_size=MAX_FRAME_BYTES + 1024,
                            limit_concurrency=max(128, 4 * (cfg.capacity + cfg.max_streams)),
                            timeout_graceful_shutdown=10)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:   # Ctrl-C or SIGTERM: uvicorn has shut down gracefully, then passed the signal on
        print("escucha: server stopped", file=sys.stderr)   # a stop on request is a server's normal end: status 0
    finally:
        sock.close()
        if store is not None:
            store.close()
    return 0
