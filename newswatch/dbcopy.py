"""`newswatch db copy --to URL`: move an installation to another database.

The usual case is SQLite → PostgreSQL when one file is no longer enough. The
target is brought to the current schema by the same migrations as at start,
must be empty, and receives every table in foreign-key order inside one
transaction: a failed copy leaves the target as empty as it was. On
PostgreSQL the id sequences are then moved past the copied ids, or the next
insert would collide with a copied row.

The daemon must not write meanwhile; the CLI takes the daemon lock on the
source database for the duration of the copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Table, func, inspect, select, text
from sqlalchemy.engine import Connection

from newswatch.errors import StorageError
from newswatch.models import Base
from newswatch.storage import Database, open_database, safe_url

log = logging.getLogger(__name__)

BATCH = 1000
SKIPPED = {"alembic_version"}  # written by the migrations on the target itself


def copy_database(
    source: Database,
    target_url: str,
    *,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Copy every row of `source` into the empty database at `target_url`; rows per table."""
    _check_tables(source)
    target = open_database(target_url)
    try:
        _check_empty(target, target_url)
        counts: dict[str, int] = {}
        with source.engine.connect() as src, target.engine.begin() as dst:
            for table in Base.metadata.sorted_tables:
                counts[table.name] = _copy_table(src, dst, table)
                if progress is not None:
                    progress(table.name, counts[table.name])
            if dst.dialect.name == "postgresql":
                _advance_sequences(dst)
        return counts
    finally:
        target.dispose()


def _check_tables(source: Database) -> None:
    known = {t.name for t in Base.metadata.sorted_tables} | SKIPPED
    extra = set(inspect(source.engine).get_table_names()) - known
    if extra:
        # A newer schema than this code knows: copying would silently drop them.
        names = ", ".join(sorted(extra))
        raise StorageError(
            f"the source database has tables this newswatch does not know: {names} "
            "(upgrade newswatch first)"
        )


def _check_empty(target: Database, url: str) -> None:
    with target.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if conn.execute(select(func.count()).select_from(table)).scalar():
                raise StorageError(
                    f"{safe_url(url)} already holds data (table {table.name}); "
                    "copy into an empty database"
                )


def _copy_table(src: Connection, dst: Connection, table: Table) -> int:
    result = src.execution_options(stream_results=True).execute(select(table))
    total = 0
    while rows := result.fetchmany(BATCH):
        dst.execute(table.insert(), [dict(row._mapping) for row in rows])
        total += len(rows)
    return total


def _advance_sequences(conn: Connection) -> None:
    for table in Base.metadata.sorted_tables:
        column = table.columns.get("id")
        if column is None or not column.primary_key or not column.autoincrement:
            continue
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:table, 'id'), "
                f"COALESCE((SELECT max(id) FROM {table.name}), 1), "
                f"(SELECT max(id) FROM {table.name}) IS NOT NULL)"
            ),
            {"table": table.name},
        )
