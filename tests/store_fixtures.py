"""Real databases for the store's tests: a throw-away PostgreSQL server started by the test suite
(Debian's ``postgresql`` package: ``initdb`` and ``pg_ctl`` in a temporary folder, listening on
127.0.0.1 only), and a fresh database in it per test. Skipped, with the reason, where PostgreSQL
is not installed or cannot be run (``make test`` installs it as root)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    cands = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return cands[-1] if cands else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user() -> list[str]:
    """initdb and postgres refuse to run as root: run them as ``nobody`` then."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser: PostgreSQL cannot be started as root")
    return [runuser, "-u", "nobody", "--"]


@pytest.fixture(scope="session")
def postgres_server():
    """``postgresql://escucha@127.0.0.1:PORT`` of a server running for this test session."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'escucha[postgres]')")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed: apt-get install postgresql (make test does)")
    pre = _as_user()
    root = Path(tempfile.mkdtemp(prefix="escucha-pg-"))
    os.chmod(root, 0o777)
    data = root / "data"
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        subprocess.run(pre + [initdb, "-D", str(data), "-U", "escucha", "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True, env=env, timeout=120)
        opts = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off -c max_connections=60"
        subprocess.run(pre + [pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "-t", "60",
                              "start"], check=True, capture_output=True, env=env, timeout=90)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        err = (getattr(e, "stderr", b"") or b"").decode(errors="replace").strip().splitlines()
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL: {err[-1] if err else e}")
    try:
        yield f"postgresql://escucha@127.0.0.1:{port}"
    finally:
        subprocess.run(pre + [pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, env=env,
                       timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A new, empty database on the session's server (dropped afterwards)."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    yield f"{postgres_server}/{name}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Each test against SQLite (a file) and PostgreSQL (a fresh database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")
