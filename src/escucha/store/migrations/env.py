"""Alembic's environment for escucha's store: runs on the connection :mod:`escucha.store.db`
hands over (``config.attributes["connection"]``), or on ``sqlalchemy.url`` when run by the
``alembic`` command itself."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from escucha.store.schema import Base

config = context.config
target_metadata = Base.metadata


def run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    conn = config.attributes.get("connection")
    if conn is not None:
        run(conn)
    else:
        engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                    poolclass=pool.NullPool)
        with engine.connect() as c:
            run(c)
