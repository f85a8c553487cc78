"""Digests: one email per subscriber and period instead of one per story.

A digest subscriber's alerts are queued `held` (see `scheduler/ingest.py`).
At each of the subscriber's slots (`daily@07:30`, `weekly@mon 07:30`, local
time in the subscriber's zone) `build_due_digests` gathers every held alert
queued up to that slot into one `Digest` row and marks them `digested` with
its id, in one transaction; the digest row then goes out through the same
outbox (leases, retries) as an instant alert. No held alerts, no digest row,
no email. The unique (subscriber, period_end) key makes building idempotent:
a second process, or a restart after a crash mid-build, cannot build the
same digest twice.

"Also reported by": when a later outlet runs a story a digest subscriber
already has an alert for, ingest records a held alert with `delivery="also"`
instead of a new story. The next digest shows it under the story's entry if
the story is in the same digest, or as a short follow-up entry ("reported
earlier; now also by ...") if the story went out before.

Slots are computed from an injected `now`, so tests can stand on the DST
change days. A slot time that does not exist (02:30 on the last Sunday of
March) is taken at the offset before the change, i.e. 03:30 summer time; a
slot time that happens twice (02:30 on the last Sunday of October) is the
first one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from newswatch.alerts.outbox import match_infos, topic_titles
from newswatch.alerts.render import AlsoReport, DigestContent, DigestItem, DigestSection
from newswatch.faults import fault
from newswatch.models import Alert, AlertStatus, Article, Digest
from newswatch.settings import Config, DeliverySchedule, Subscriber
from newswatch.storage import Database

log = logging.getLogger(__name__)

DIGEST = "digest"
ALSO = "also"


def local_slot(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local time `at` on `day` (fold=0: see the module doc)."""
    return datetime.combine(day, at).replace(tzinfo=zone).astimezone(UTC)


def last_slot(schedule: DeliverySchedule, zone: ZoneInfo, now: datetime) -> datetime:
    """The most recent slot at or before `now`, in UTC."""
    assert schedule.at is not None, "instant delivery has no slots"
    today = now.astimezone(zone).date()
    for back in range(8):
        day = today - timedelta(days=back)
        if schedule.weekday is not None and day.weekday() != schedule.weekday:
            continue
        slot = local_slot(day, schedule.at, zone)
        if slot <= now:
            return slot
    raise AssertionError("a weekly slot is always within the last 8 days")


def next_slot(schedule: DeliverySchedule, zone: ZoneInfo, now: datetime) -> datetime:
    """The first slot after `now`, in UTC."""
    assert schedule.at is not None, "instant delivery has no slots"
    today = now.astimezone(zone).date()
    for ahead in range(9):
        day = today + timedelta(days=ahead)
        if schedule.weekday is not None and day.weekday() != schedule.weekday:
            continue
        slot = local_slot(day, schedule.at, zone)
        if slot > now:
            return slot
    raise AssertionError("a weekly slot is always within the next 8 days")


def build_due_digests(db: Database, config: Config, now: datetime) -> list[int]:
    """Build every digest whose slot has come; returns the new digest ids."""
    built = []
    for subscriber in config.subscribers:
        if not subscriber.is_digest:
            continue
        zone = subscriber.zone(config.settings.timezone)
        slot = last_slot(subscriber.schedule, zone, now)
        try:
            digest_id = _build_one(db, subscriber.email, slot, now)
        except IntegrityError:
            # Another process built this period's digest first: nothing left to do.
            log.info("digest for %s at %s was built elsewhere", subscriber.email, slot)
            continue
        if digest_id is not None:
            built.append(digest_id)
    return built


def _build_one(db: Database, email: str, slot: datetime, now: datetime) -> int | None:
    from newswatch.alerts.subscriptions import suppressed_emails

    with db.transaction() as session:
        exists = select(Digest.id).where(Digest.subscriber == email, Digest.period_end == slot)
        if session.scalar(exists) is not None:
            return None
        held = list(
            session.scalars(
                select(Alert).where(
                    Alert.subscriber == email,
                    Alert.status == AlertStatus.held,
                    Alert.queued_at <= slot,
                )
            )
        )
        if not held:
            return None  # nothing new: no digest, no email
        if email.strip().lower() in suppressed_emails(session):
            for alert in held:
                alert.status = AlertStatus.suppressed
            return None
        previous = session.scalar(
            select(func.max(Digest.period_end)).where(Digest.subscriber == email)
        )
        digest = Digest(
            subscriber=email,
            period_start=previous,
            period_end=slot,
            status=AlertStatus.pending,
            next_attempt_at=now,
            queued_at=now,
        )
        session.add(digest)
        session.flush()
        for alert in held:
            alert.status = AlertStatus.digested
            alert.digest_id = digest.id
        fault("mid_digest")
    log.info("digest %d for %s: %d alert(s) up to %s", digest.id, email, len(held), slot)
    return digest.id


def digest_content(
    session: Session,
    digest: Digest,
    config: Config,
    subscriber: Subscriber | None,
    unsubscribe_url: str | None,
) -> DigestContent:
    """What the digest email shows: its alerts as stories, grouped by topic, newest first."""
    alerts = list(
        session.scalars(
            select(Alert)
            .where(Alert.digest_id == digest.id)
            .options(selectinload(Alert.article).selectinload(Article.matches))
            .order_by(Alert.id)
        )
    )
    if not alerts:
        raise LookupError(f"digest {digest.id} has no alerts")
    return DigestContent(
        digest_id=digest.id,
        alert_id=alerts[0].id,
        to=digest.subscriber,
        to_name=subscriber.name if subscriber else None,
        period_start=digest.period_start,
        period_end=digest.period_end,
        sections=digest_sections(alerts, config, subscriber),
        unsubscribe_url=unsubscribe_url,
        language=subscriber.language if subscriber else "nl",
    )


def digest_sections(
    alerts: list[Alert], config: Config, subscriber: Subscriber | None
) -> list[DigestSection]:
    """Stories grouped by their first topic in the subscriber's order, newest first."""
    stories: dict[int | str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        key = alert.story_id or alert.article.story_id or f"alert-{alert.id}"
        stories[key].append(alert)
    order = list(subscriber.topics) if subscriber else []
    by_topic: dict[str, list[tuple[datetime, DigestItem]]] = defaultdict(list)
    titles = topic_titles(config)
    for rows in stories.values():
        topic, newest, item = _story_item(rows, order, titles)
        by_topic[topic].append((newest, item))
    ranked = sorted(by_topic, key=lambda t: (order.index(t) if t in order else len(order), t))
    return [
        DigestSection(
            topic=topic,
            title=titles.get(topic, topic),
            items=[item for _, item in sorted(by_topic[topic], key=lambda p: p[0], reverse=True)],
        )
        for topic in ranked
    ]


def _story_item(
    rows: list[Alert], order: list[str], titles: dict[str, str]
) -> tuple[str, datetime, DigestItem]:
    """One story's entry: the first matching article, later outlets as "also"."""
    main = [a for a in rows if a.delivery != ALSO]
    followup = not main
    head = (main or rows)[0]
    # A follow-up lists every new outlet; a new story lists those after its first.
    others = rows if followup else [a for a in rows if a is not head]
    article = head.article
    topics = sorted(head.topics, key=lambda t: order.index(t) if t in order else len(order))
    newest = max(_when(a.article) for a in rows)
    item = DigestItem(
        title=article.title,
        url=article.url,
        source=article.source_name,
        published=article.published_at,
        matches=match_infos(article, set(head.topics), titles),
        also=[
            AlsoReport(source=a.article.source_name, title=a.article.title, url=a.article.url)
            for a in others
        ],
        followup=followup,
    )
    return (topics[0] if topics else "?"), newest, item


def _when(article: Article) -> datetime:
    return article.published_at or article.first_seen_at
