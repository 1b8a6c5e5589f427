"""The store: analysed calls (never their audio), their speakers and segments, the settings that
made them, and the service's jobs, in SQLite (a file in a data folder, zero set-up) or
PostgreSQL (several servers or machines), with Alembic migrations shipped in this package.

>>> from escucha.store import open_store, CallQuery
>>> store = open_store(data="calls-data")           # or open_store("postgresql://u:p@host/db")
>>> call_id = store.save_call(result.to_dict())      # a CallResult of escucha.longaudio
>>> calls, total = store.list_calls(CallQuery(speaker="customer", min_change=0.1, since="2026-12-01"))

Modules: ``schema`` (the tables), ``db`` (URLs, engines, migrations), ``repository`` (every read
and write: :class:`Store`), ``batch`` (``escucha analyze DIR --db``), ``export`` (CSV).
"""

from .repository import MAX_ATTEMPTS, CallQuery, JobClaim, Store, open_store, parse_time, settings_key

__all__ = ["Store", "open_store", "CallQuery", "JobClaim", "settings_key", "parse_time", "MAX_ATTEMPTS"]
