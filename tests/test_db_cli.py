"""``escucha db`` as an operations engineer meets it: a database that does not answer, one from a
newer escucha, and who may read a new store's file."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

pytest.importorskip("sqlalchemy", reason="the store extra is not installed (pip install 'escucha[store]')")

ENV = {**os.environ, "ESCUCHA_PROGRESS": "0"}


def db(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "escucha", "db", *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def test_a_database_that_never_answers_is_said_within_seconds():
    """A PostgreSQL server that accepts the connection and never answers (stopped, overloaded)
    hung `db status` (and every request of a server) with no end; one that refuses it gave an
    internal error (exit 3) where every other command says 'cannot open the store' (exit 2)."""
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)                       # the kernel completes the handshake; nobody answers
        port = silent.getsockname()[1]
        t0 = time.monotonic()
        r = db("status", "--db", f"postgresql+psycopg://escucha@127.0.0.1:{port}/escucha", timeout=60)
        took = time.monotonic() - t0
    assert r.returncode == 2 and took < 30, (took, r.stderr)
    assert r.stderr.startswith("escucha: error: postgresql+psycopg://escucha@127.0.0.1:") and \
        "cannot open the store" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    with socket.socket() as s:                 # nothing listening: refused
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    r = db("status", "--db", f"postgresql+psycopg://escucha@127.0.0.1:{closed}/escucha")
    assert r.returncode == 2 and "cannot open the store" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_status_exits_1_on_a_schema_from_a_newer_escucha_and_a_new_store_is_private(tmp_path):
    from escucha.store import open_store

    data = tmp_path / "calls-data"
    open_store(data=data).close()
    assert (data / "escucha.db").stat().st_mode & 0o777 == 0o600      # personal data: the owner's only
    assert data.stat().st_mode & 0o777 == 0o700
    r = db("status", "--data", str(data))
    assert r.returncode == 0 and "0 call(s)" in r.stdout
    with sqlite3.connect(data / "escucha.db") as con:                  # as a newer escucha leaves it
        con.execute("UPDATE alembic_version SET version_num = '0099'")
    r = db("status", "--data", str(data))
    assert r.returncode == 1 and "schema 0099" in r.stderr and "newer than this escucha" in r.stderr, r
