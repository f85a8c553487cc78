"""How fresh the alerts are: publish → queued → sent, per alert and as percentiles.

Every alert's four moments are on record without copying them: the article
row keeps `published_at` (from the source; may be missing) and
`first_seen_at` (when newswatch stored it), the alert row keeps `queued_at`
and `sent_at`, and an alert that went out in a digest has the digest's
`sent_at`. Retention empties old article text but never deletes the row, so
the join always holds.

Latency starts at the publication time the source gave. An article without
one is counted apart (`undated`), not measured from its first sighting,
which would flatter the figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from newswatch.models import Alert, Article, Digest
from newswatch.storage import Database

WINDOW = timedelta(days=7)
RECENT_SHOWN = 10


@dataclass(frozen=True)
class AlertTimes:
    alert_id: int
    subscriber: str
    title: str
    status: str
    published_at: datetime | None
    first_seen_at: datetime | None
    queued_at: datetime | None
    sent_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "subscriber": self.subscriber,
            "title": self.title,
            "status": self.status,
            "published_at": _iso(self.published_at),
            "first_seen_at": _iso(self.first_seen_at),
            "queued_at": _iso(self.queued_at),
            "sent_at": _iso(self.sent_at),
        }


def alert_times(db: Database, since: datetime, limit: int | None = None) -> list[AlertTimes]:
    """The four moments of every alert queued since `since`, newest first."""
    digest = aliased(Digest)
    query = (
        select(
            Alert.id,
            Alert.subscriber,
            Article.title,
            Alert.status,
            Article.published_at,
            Article.first_seen_at,
            Alert.queued_at,
            # An alert delivered in a digest went out when the digest did.
            func.coalesce(Alert.sent_at, digest.sent_at).label("sent_at"),
        )
        .join(Article, Alert.article_id == Article.id)
        .outerjoin(digest, Alert.digest_id == digest.id)
        .where(Alert.queued_at >= since)
        .order_by(Alert.queued_at.desc(), Alert.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    with db.session() as session:
        rows = session.execute(query).all()
    return [
        AlertTimes(
            alert_id=row[0],
            subscriber=row[1],
            title=row[2],
            status=str(getattr(row[3], "value", row[3])),
            published_at=_utc(row[4]),
            first_seen_at=_utc(row[5]),
            queued_at=_utc(row[6]),
            sent_at=_utc(row[7]),
        )
        for row in rows
    ]


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (p95 of 20 values is the 19th smallest)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def latency_summary(db: Database, now: datetime | None = None) -> dict[str, Any]:
    """p50/p95 of publish → queued and publish → sent over the last 7 days, in seconds."""
    now = now or datetime.now(UTC)
    times = alert_times(db, now - WINDOW)
    dated = [t for t in times if t.published_at is not None]
    to_queued = [_seconds(t.published_at, t.queued_at) for t in dated if t.queued_at]
    to_sent = [_seconds(t.published_at, t.sent_at) for t in dated if t.sent_at]
    return {
        "window_days": WINDOW.days,
        "alerts": len(times),
        "undated": len(times) - len(dated),
        "publish_to_queued": _stats(to_queued),
        "publish_to_sent": _stats(to_sent),
        "recent": [t.to_dict() for t in times[:RECENT_SHOWN]],
    }


def _stats(values: list[float]) -> dict[str, Any]:
    return {"count": len(values), "p50": percentile(values, 0.5), "p95": percentile(values, 0.95)}


def _seconds(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        raise ValueError("both moments are needed")
    # A publication time after the alert (a source's wrong clock) is not negative latency.
    return max(0.0, (end - start).total_seconds())


def _utc(value: datetime | None) -> datetime | None:
    # coalesce() bypasses the column type: SQLite hands back a naive UTC value.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def human(seconds: float | None) -> str:
    """12 s, 4.5 min, 3.2 h, 2.1 d."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"
