"""source health and stories

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 00:36:51.989861
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stories_first_seen_at"), ["first_seen_at"], unique=False
        )

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("simhash", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_articles_content_hash"), ["content_hash"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_articles_story_id"), ["story_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_articles_story_id", "stories", ["story_id"], ["id"], ondelete="SET NULL"
        )

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_error_kind", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("total_items", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("empty_runs", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("polls_since_full", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("last_full_fetch_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("backoff_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("backoff_until")
        batch_op.drop_column("last_full_fetch_at")
        batch_op.drop_column("polls_since_full")
        batch_op.drop_column("empty_runs")
        batch_op.drop_column("total_items")
        batch_op.drop_column("last_error_kind")

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_constraint("fk_articles_story_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_articles_story_id"))
        batch_op.drop_index(batch_op.f("ix_articles_content_hash"))
        batch_op.drop_column("story_id")
        batch_op.drop_column("simhash")
        batch_op.drop_column("content_hash")

    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stories_first_seen_at"))

    op.drop_table("stories")
