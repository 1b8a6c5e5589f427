"""Where the store lives: a database URL (SQLite file by default, PostgreSQL for several servers),
the engine that talks to it, and its schema brought up to date by Alembic migrations shipped
inside this package (``escucha/store/migrations``).

``sqlite:///PATH``           a file; WAL journal, foreign keys on, waits up to 30 s for a lock
``postgresql://USER@HOST/DB`` PostgreSQL through psycopg 3 (``pip install 'escucha[postgres]'``)
a folder (``--data DIR``)    ``sqlite:///DIR/escucha.db``
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError

__all__ = ["DB_FILE", "resolve_url", "make_engine", "upgrade", "current_revision", "head_revision", "safe_url"]

#: the SQLite file made in a data folder
DB_FILE = "escucha.db"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: seconds to wait for a PostgreSQL server to accept a connection
CONNECT_TIMEOUT = 5


def _require_sqlalchemy():
    try:
        import alembic  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as e:
        raise ConfigError(f"the store needs the store extra ({e.name} is missing): pip install 'escucha[store]'"
                          ) from None


def resolve_url(db: str | None = None, data: str | os.PathLike | None = None) -> str:
    """The database URL from ``--db`` and ``--data``: ``db`` when given (``postgresql://`` gets the
    psycopg driver), else the SQLite file in the data folder.

    Raises
    ------
    ConfigError
        Neither given, or a URL of a kind the store does not speak.
    """
    if db is None:
        if data is None:
            raise ConfigError("no store: give a data folder with --data DIR or a database with --db URL")
        return f"sqlite:///{Path(data).resolve() / DB_FILE}"
    db = str(db).strip()
    for prefix in ("postgresql://", "postgres://"):
        if db.startswith(prefix):
            return "postgresql+psycopg://" + db[len(prefix):]
    if db.startswith(("sqlite:///", "postgresql+psycopg://")):
        return db
    raise ConfigError(f"--db {safe_url(db)!r}: not a database URL this store speaks; give sqlite:///PATH or "
                      "postgresql://USER:PASSWORD@HOST:PORT/DATABASE")


def safe_url(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (``None`` for another database or an in-memory one)."""
    if not url.startswith("sqlite:///"):
        return None
    rest = url[len("sqlite:///"):].split("?", 1)[0]
    return Path(rest) if rest and rest != ":memory:" else None


def make_engine(url: str):
    """An engine for ``url``: SQLite tuned for several threads and processes (WAL, busy timeout,
    foreign keys), PostgreSQL with a small pool that checks connections before use."""
    _require_sqlalchemy()
    from sqlalchemy import create_engine, event

    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            if path.is_dir():
                raise ConfigError(f"--db {url}: {path} is a folder; name a file (or give the folder as --data)")
            try:
                # personal data: a new database (SQLite gives its -wal and -shm files the same mode)
                # and a new folder for it are the owner's only, whatever the umask
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                if not path.exists():
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as e:
                raise ConfigError(f"--db {url}: cannot make the folder {path.parent} ({e.strerror or e})") from None
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # with WAL: a killed process loses no committed call
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ConfigError("a PostgreSQL store needs psycopg 3: pip install 'escucha[postgres]'") from None
    # a server that does not answer (overloaded, stopped, a dead network path) is said within
    # seconds instead of hanging a request: connecting times out, and idle connections are probed
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=10,
                         connect_args={"connect_timeout": CONNECT_TIMEOUT, "keepalives": 1, "keepalives_idle": 30,
                                       "keepalives_interval": 10, "keepalives_count": 3})


def _alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine) -> str | None:
    """The schema revision of the database (``None``: empty); an unreachable database is a
    :class:`ConfigError` in one line (``cannot open the store (...)``), as everywhere else."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as e:
        raise ConfigError(f"{safe_url(str(engine.url))}: cannot open the store ({db_error(e)})") from None


def known_revision(revision: str | None) -> bool:
    """Whether this escucha's migrations know ``revision`` (a newer escucha's are unknown)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    if revision is None:
        return True
    try:
        return ScriptDirectory.from_config(_alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


@contextmanager
def _migration_lock(engine, conn):
    """One migration at a time: a PostgreSQL advisory lock (held to the end of the transaction), or
    a lock file beside a SQLite database."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy import text

        conn.execute(text("SELECT pg_advisory_xact_lock(7256137)"))  # "escucha" store migrations
        yield
        return
    path = sqlite_path(str(engine.url))
    if path is None:
        yield
        return
    import fcntl

    fd = os.open(str(path) + ".migrate.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def upgrade(engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision`` (default: the newest); ``(before, after)`` revisions.

    Safe to run from several servers at once (they take turns). A database that is newer than
    this escucha (a revision it does not know) is refused with a ConfigError.
    """
    from alembic import command
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.begin() as conn:
            with _migration_lock(engine, conn):
                from alembic.runtime.migration import MigrationContext

                before = MigrationContext.configure(conn).get_current_revision()
                command.upgrade(_alembic_config(conn), revision)
                after = MigrationContext.configure(conn).get_current_revision()
    except CommandError as e:
        raise ConfigError(f"{safe_url(str(engine.url))}: cannot migrate the store's schema ({e}); is this database "
                          "from a newer escucha?") from None
    except SQLAlchemyError as e:
        raise ConfigError(f"{safe_url(str(engine.url))}: cannot open the store ({db_error(e)})") from None
    return before, after


def db_error(e: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's boilerplate."""
    orig = getattr(e, "orig", None) or e
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__
