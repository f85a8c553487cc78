"""Opening the database and keeping its schema current.

SQLite is the default (one file, nothing to run); PostgreSQL is used when the
URL says so. The schema is owned by Alembic migrations in
`newswatch/migrations`; `open_database` upgrades to the newest revision, so an
operator upgrading newswatch never runs a separate step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from newswatch.errors import StorageError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


class Database:
    """An engine plus a session factory; `transaction()` is the unit of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any exception."""
        with self._sessions.begin() as session:
            yield session

    def session(self) -> Session:
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()


def create_db_engine(url: str, *, busy_timeout: float = 30.0) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": busy_timeout})
        event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout))
        return engine
    if parsed.drivername == "postgresql":
        # psycopg 3 is the driver we test with; plain postgresql:// would pick psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_pragmas(busy_timeout: float, dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the CLI read while the daemon writes; busy_timeout waits out a
    # short lock instead of failing; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def open_database(url: str, *, migrate: bool = True, busy_timeout: float = 30.0) -> Database:
    """Connect, and bring the schema up to date; raises StorageError."""
    engine = create_db_engine(url, busy_timeout=busy_timeout)
    try:
        if migrate:
            command.upgrade(alembic_config(engine), "head")
        else:
            with engine.connect():
                pass
    except OperationalError as exc:
        engine.dispose()
        raise StorageError(f"cannot open database {safe_url(url)}: {exc.orig}") from exc
    return Database(engine)


def safe_url(url: str) -> str:
    """The URL with any password hidden, fit for logs."""
    return make_url(url).render_as_string(hide_password=True)
