"""``escucha db upgrade | prune | status``: the store's housekeeping (see docs/store.md).

    escucha db upgrade --db postgresql://escucha@db/escucha   # bring the schema up to date
    escucha db prune --data calls-data --older-than 30d         # delete calls stored over 30 days ago
    escucha db status --data calls-data                         # schema revision, calls, jobs

--data DIR is the folder escucha serve --data DIR keeps its SQLite file and queued uploads in;
--db URL names a database instead (sqlite:///PATH or postgresql://...).
"""

from __future__ import annotations

import re
import sys

__all__ = ["register", "parse_age", "analyze_into_store"]


def add_store_options(p, *, required: bool = False) -> None:
    p.add_argument("--data", metavar="DIR", help="data folder: its escucha.db (SQLite) and the uploads of queued jobs")
    p.add_argument("--db", metavar="URL", help="database URL instead of the data folder's SQLite file: "
                                               "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB")


def register(sub):
    import argparse

    p = sub.add_parser("db", help="the store of analysed calls: migrate the schema, prune old calls",
                       description="Housekeeping of the store that escucha serve --data/--db and escucha analyze "
                                   "--db write into.",
                       epilog="examples:\n" + __doc__.split("\n\n", 1)[1].split("\n\n")[0].rstrip(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION")
    dsub.required = True
    up = dsub.add_parser("upgrade", help="bring the schema up to date (Alembic migrations)")
    add_store_options(up)
    pr = dsub.add_parser("prune", help="delete calls and finished jobs older than an age, and unneeded uploads")
    add_store_options(pr)
    pr.add_argument("--older-than", required=True, metavar="AGE", help="e.g. 30d, 12h, 90m (s, m, h, d, w)")
    st = dsub.add_parser("status", help="schema revision, number of calls, jobs by status")
    add_store_options(st)
    p.set_defaults(func=run_db)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """Seconds in ``30d`` / ``12h`` / ``90m`` / ``45s`` / ``2w``."""
    from ..errors import ConfigError

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", str(text))
    if not m:
        raise ConfigError(f"--older-than {text!r}: give a number and a unit, e.g. 30d, 12h, 90m (s, m, h, d, w)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_db(args) -> int:
    from ..store import open_store
    from ..store.db import current_revision, head_revision, make_engine, resolve_url, safe_url, upgrade

    url = resolve_url(args.db, args.data)
    if args.db_command != "upgrade":   # reading or pruning a database must not create an empty one
        from ..errors import ConfigError
        from ..store.db import sqlite_path

        path = sqlite_path(url)
        if path is not None and not path.is_file():
            raise ConfigError(f"{path}: no such database (analyze --db or escucha serve makes one; "
                              "escucha db upgrade makes an empty one)")
    if args.db_command == "upgrade":
        engine = make_engine(url)
        try:
            before, after = upgrade(engine)
        finally:
            engine.dispose()
        was = "already at" if before == after else f"{before or 'empty'} ->"
        print(f"{safe_url(url)}: schema {was} {after}")
        return 0
    if args.db_command == "prune":
        age = parse_age(args.older_than)
        store = open_store(url)
        try:
            n = store.prune(age)
            from ..store.db import sqlite_path
            from ..store.uploads import prune_orphans

            # the uploads of queued jobs wait in the data folder (escucha serve --data), else beside a SQLite file
            data = args.data or (sqlite_path(url).parent if sqlite_path(url) is not None else None)
            files = prune_orphans(store, data, older_than=min(age, 3600.0)) if data is not None else 0
        finally:
            store.close()
        print(f"{safe_url(url)}: deleted {n['calls']} call(s) and {n['jobs']} finished job(s) older than "
              f"{args.older_than}" + (f", and {files} upload(s) no job needs" if data is not None else ""))
        return 0
    from ..store.db import known_revision

    engine = make_engine(url)
    try:
        have = current_revision(engine)   # an unreachable database: one line, exit 2
    finally:
        engine.dispose()
    want = head_revision()
    line = f"{safe_url(url)}: schema {have or 'empty'} (this escucha: {want})"
    if have == want:
        store = open_store(url, migrate=False)
        try:
            counts = store.job_counts()
            line += f"; {store.count_calls()} call(s); jobs " + ", ".join(f"{k} {v}" for k, v in counts.items())
        finally:
            store.close()
    elif not known_revision(have):   # a monitoring check must see it: this escucha cannot use it
        print(f"{line}; newer than this escucha, which cannot use it: upgrade escucha", file=sys.stderr)
        return 1
    else:
        line += "; older: escucha serve and analyze --db upgrade it when they open it (or: escucha db upgrade)"
    print(line)
    return 0


def analyze_into_store(args, src: str, opts: dict, *, interrupts) -> int:
    """``escucha analyze INPUT --db URL``: a folder (resumable), a file or stdin into the store.
    ``interrupts``: the context manager under which a folder runs (SIGTERM as Ctrl-C)."""
    import json
    import os

    from ..errors import ConfigError
    from ..inference import load_model
    from ..store import open_store

    if args.out or args.plot:
        raise ConfigError("--db stores the results in a database; -o and --plot write files: give one or the other")
    store = open_store(args.db)
    try:
        predictor = load_model(args.model, labels=args.labels)
        if src != "-" and os.path.isdir(src):
            from ..store.batch import store_folder

            before = store.count_calls()
            try:
                with interrupts():
                    rep = store_folder(src, predictor, store, jobs=args.jobs, force=args.force,
                                       show_progress=not args.quiet, threads=args.threads, engine=args.engine,
                                       address=args.address, **opts)
            except KeyboardInterrupt:
                print(f"escucha: interrupted; the calls stored so far are kept ({store.count_calls()} in "
                      f"{store.url}, {before} before this run): run the same command again to go on",
                      file=sys.stderr)
                return 130
            for f, msg in rep.errors:
                print(f"escucha: error: {msg}", file=sys.stderr)
            print(f"analysed {len(rep.analysed)} file(s) ({rep.audio_seconds / 3600:.2f} h of audio) in "
                  f"{rep.seconds:.0f} s, skipped {len(rep.skipped)} already stored, {len(rep.errors)} failed; "
                  f"stored in {store.url}")
            return 1 if rep.errors else 0
        from ..longaudio import analyze_file, analyze_stream
        from ..longaudio.inputs import content_digest
        from ..longaudio.settings import batch_settings

        if src == "-":
            if not args.rate:
                raise ConfigError("reading raw PCM from stdin needs --rate HZ")
            res = analyze_stream(sys.stdin.buffer, predictor, sample_rate=args.rate, sample_format=args.format,
                                 channels_in=args.channels_in, stop_on_interrupt=True, **opts)
            cid = store.save_call(res.to_dict())
        else:
            source, digest = os.path.realpath(src), content_digest(src)
            settings = batch_settings(predictor, opts)   # what the result will carry, speaker options included
            cid = None if args.force else store.find_call(source=source, digest=digest, settings=settings)
            if cid is not None:
                print(f"{src}: already stored as call {cid} (--force analyses it again)", file=sys.stderr)
                return 0
            res = analyze_file(src, predictor, **opts)
            res.source = {**res.source, "blake2b": digest}
            cid = store.save_call(res.to_dict(), source=source, digest=digest, replace=True)
        if args.json:
            print(json.dumps({"id": cid, **res.to_dict()}, allow_nan=False))
        else:
            print(f"{res.file or 'stdin'}: stored as call {cid} in {store.url}")
        return 0
    finally:
        store.close()
