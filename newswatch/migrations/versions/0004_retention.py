"""Retention: when an article's text was pruned

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 01:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER most things in place; for an added
    # nullable column it is a plain ALTER TABLE on both backends.
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("text_pruned_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("text_pruned_at")
