"""robots.txt files kept in the database, so that a new process need not ask again.

The daemon remembers robots.txt in memory for a day (crawler/robots.py). A
`run --once` from cron is a new process each time and would ask every site
for robots.txt on every poll: twice the requests of an unchanged feed. So the
files are saved after each crawl and handed to the next process at start.
Losing them costs one request per site, never correctness: a failed save is
logged and otherwise ignored.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from newswatch.crawler import robots
from newswatch.models import RobotsTxt
from newswatch.storage import Database

log = logging.getLogger(__name__)


def load(db: Database) -> int:
    """Seed this process with the robots.txt files saved in the last day; how many."""
    since = datetime.now(UTC) - timedelta(seconds=robots.TTL)
    query = select(RobotsTxt.netloc, RobotsTxt.body, RobotsTxt.fetched_at)
    try:
        with db.session() as session:
            rows = session.execute(query.where(RobotsTxt.fetched_at >= since)).all()
    except SQLAlchemyError as exc:
        log.warning("robots.txt files of earlier runs not read (%s); asking again", exc)
        return 0
    return robots.seed((netloc, body, at.timestamp()) for netloc, body, at in rows)


def save(db: Database) -> int:
    """Save the robots.txt files fetched since the last save; how many."""
    fetched = robots.take_fetched()
    if not fetched:
        return 0
    try:
        with db.transaction() as session:
            for netloc, (body, at) in fetched.items():
                when = datetime.fromtimestamp(at, UTC)
                session.merge(RobotsTxt(netloc=netloc, body=body, fetched_at=when))
    except SQLAlchemyError as exc:
        # The next process asks these sites again; nothing else depends on it.
        log.warning("robots.txt of %s not saved: %s", ", ".join(sorted(fetched)), exc)
        return 0
    return len(fetched)
