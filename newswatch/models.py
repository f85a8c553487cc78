"""The data model: what newswatch stores, as SQLAlchemy tables.

    sources 1─* articles 1─* matches
    stories 1─* articles 1─* alerts *─1 (subscriber email)

An article is stored once per canonical URL. A match records which topic an
article matched and why. An alert is the outbox row for one subscriber and one
article; it is written in the same transaction as the match, so a crash can
never leave a match without its alerts or an alert without its match.
All timestamps are UTC.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every backend.

    SQLite has no time zone support and hands back naive datetimes; this makes
    both directions explicit instead of trusting each call site.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Source(Base):
    """Per-source crawl state: HTTP validators and health."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(Text)
    # Kind of the last error: http, timeout, dns, connection, robots, too_big, parse, ...
    last_error_kind: Mapped[str | None] = mapped_column(String(40))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    items_last_run: Mapped[int] = mapped_column(Integer, default=0)
    total_items: Mapped[int] = mapped_column(Integer, default=0)
    # Runs in a row that yielded nothing although the source used to yield.
    empty_runs: Mapped[int] = mapped_column(Integer, default=0)
    # Conditional polls since the last unconditional ("distrust") fetch.
    polls_since_full: Mapped[int] = mapped_column(Integer, default=0)
    last_full_fetch_at: Mapped[datetime | None]
    # Exponential backoff after repeated failures: not polled before this.
    backoff_until: Mapped[datetime | None]


class Story(Base):
    """Articles about the same event: one press release run by three outlets."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    articles: Mapped[list[Article]] = relationship(back_populates="story")


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    source_name: Mapped[str] = mapped_column(String(100), index=True)
    guid: Mapped[str | None] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    text: Mapped[str] = mapped_column(Text)
    places: Mapped[list[Any]] = mapped_column(default=list)
    lang: Mapped[str | None] = mapped_column(String(10))
    # sha256 of the normalised text: the exact-duplicate check.
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # 64-bit SimHash over word shingles, stored signed to fit BIGINT.
    simhash: Mapped[int | None] = mapped_column(BigInteger)
    story_id: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", ondelete="SET NULL"), index=True
    )
    # Set when retention replaced `text` by "" (settings retention.article_text_days);
    # the title, URL, hashes, matches and alerts stay.
    text_pruned_at: Mapped[datetime | None]

    matches: Mapped[list[Match]] = relationship(back_populates="article")
    story: Mapped[Story | None] = relationship(back_populates="articles")


class Match(Base):
    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("article_id", "topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(100), index=True)
    score: Mapped[float] = mapped_column(Float)
    terms: Mapped[list[Any]] = mapped_column()
    explanation: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship(back_populates="matches")


class AlertStatus(enum.StrEnum):
    pending = "pending"  # waiting to be sent (maybe after a retry delay)
    sent = "sent"  # accepted by the backend
    dead = "dead"  # gave up; the operator is told
    held = "held"  # waits for the subscriber's next digest
    digested = "digested"  # went out as part of a digest (see digest_id)
    ambiguous = "ambiguous"  # the request went out, no answer came back
    suppressed = "suppressed"  # the subscriber unsubscribed or bounced before it went out


class SubscriberState(enum.StrEnum):
    active = "active"
    unsubscribed = "unsubscribed"
    bouncing = "bouncing"
    spam = "spam"  # marked as spam: suppressed like an unsubscribe


class SendState:
    """The outbox columns an alert and a digest share: where its email stands.

    A sender claims a row by setting a lease; another sender (or the same one
    after a crash) may take it once the lease has run out.
    """

    status: Mapped[AlertStatus] = mapped_column(
        Enum(AlertStatus, native_enum=False, length=20), default=AlertStatus.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]


class Alert(SendState, Base):
    """The outbox: one row per subscriber and article."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("subscriber", "article_id"),
        Index("ix_alerts_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber: Mapped[str] = mapped_column(String(254))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    topics: Mapped[list[Any]] = mapped_column()
    story_id: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", ondelete="SET NULL"), index=True
    )
    # instant: its own email; digest: held for the subscriber's next digest.
    delivery: Mapped[str] = mapped_column(String(20), default="instant")
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("digests.id", ondelete="SET NULL"), index=True
    )

    article: Mapped[Article] = relationship()


class Digest(SendState, Base):
    """One digest email: the outbox row for a subscriber's period."""

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("subscriber", "period_end"),
        Index("ix_digests_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber: Mapped[str] = mapped_column(String(254))
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime]


class Subscription(Base):
    """What newswatch knows about an address beyond subscribers.yaml: its state.

    An unsubscribe (link or webhook) or a bounce is kept here, so it holds
    even while the address is still listed in subscribers.yaml, until the
    operator re-subscribes it explicitly.
    """

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    state: Mapped[SubscriberState] = mapped_column(
        Enum(SubscriberState, native_enum=False, length=20), default=SubscriberState.active
    )
    reason: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by: Mapped[str | None] = mapped_column(String(40))  # link, webhook, operator
    last_digest_at: Mapped[datetime | None]


class WebhookEvent(Base):
    """SendGrid events already processed; SendGrid retries for 24 h."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    event: Mapped[str] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    alert_id: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Meta(Base):
    """Small key/value facts the installation keeps, e.g. the generated token secret."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RobotsTxt(Base):
    """robots.txt files as fetched, so that a new process (`run --once` from cron)
    does not ask every site again; trusted for a day (crawler/robots.py)."""

    __tablename__ = "robots_txt"

    netloc: Mapped[str] = mapped_column(String(255), primary_key=True)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)  # None: the fetch failed
    fetched_at: Mapped[datetime]
