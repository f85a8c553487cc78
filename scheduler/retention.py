"""Retention and housekeeping, run by the daemon once a day.

Article text is the bulk of the database and is only needed while an article
can still be matched, deduplicated or explained. After
`retention.article_text_days` it is replaced by "" and `text_pruned_at` set;
the row itself (title, URL, dates, hashes) stays, and so do its matches and
alerts, so history, statistics and "already seen" checks keep working.

On SQLite the same job runs `PRAGMA optimize` (refreshes the query planner's
statistics where they are stale) and `wal_checkpoint(TRUNCATE)` (folds the
write-ahead log back into the database file and shrinks it, which a busy
daemon's readers may otherwise keep from happening for long).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text, update

from newswatch.models import Article
from newswatch.storage import Database

log = logging.getLogger(__name__)

# Rows per UPDATE: short transactions, so the crawls writing meanwhile wait
# at most a moment for the lock.
PRUNE_BATCH = 500


@dataclass
class HousekeepingReport:
    pruned: int = 0
    optimized: bool = False
    checkpoint: tuple[int, int, int] | None = None  # busy, log frames, checkpointed frames


def prune_article_text(db: Database, days: int, now: datetime | None = None) -> int:
    """Empty the text of articles first seen more than `days` ago; returns how many."""
    if days <= 0:
        return 0
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=days)
    total = 0
    while True:
        with db.transaction() as session:
            ids = list(
                session.scalars(
                    select(Article.id)
                    .where(Article.first_seen_at < cutoff, Article.text_pruned_at.is_(None))
                    .limit(PRUNE_BATCH)
                )
            )
            if not ids:
                break
            session.execute(
                update(Article).where(Article.id.in_(ids)).values(text="", text_pruned_at=now)
            )
        total += len(ids)
    if total:
        log.info("retention: text of %d article(s) older than %d days pruned", total, days)
    return total


def optimize_sqlite(db: Database) -> tuple[bool, tuple[int, int, int] | None]:
    """PRAGMA optimize and a truncating WAL checkpoint; (False, None) on other backends."""
    if db.engine.dialect.name != "sqlite":
        return False, None
    with db.engine.connect() as conn:
        conn.execute(text("PRAGMA optimize"))
        row = conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).first()
        conn.commit()
    checkpoint = (int(row[0]), int(row[1]), int(row[2])) if row is not None else None
    if checkpoint and checkpoint[0]:
        # A reader kept the checkpoint from finishing; the next run tries again.
        log.info("sqlite: WAL checkpoint incomplete (a reader was busy); retried next time")
    return True, checkpoint


def housekeeping(db: Database, article_text_days: int) -> HousekeepingReport:
    """The daily job: prune, then optimise. Blocking; the daemon runs it in a thread."""
    report = HousekeepingReport(pruned=prune_article_text(db, article_text_days))
    report.optimized, report.checkpoint = optimize_sqlite(db)
    return report
