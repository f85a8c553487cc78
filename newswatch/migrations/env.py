"""Alembic environment: run migrations on the engine newswatch hands over."""

from __future__ import annotations

from alembic import context

from newswatch.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
        )
        context.run_migrations()


run_migrations_online()
