"""Draining the outbox: render each due alert and hand it to the backend.

An alert row goes pending → sent, or pending → (retry later) → dead after
too many failures or a permanent one. The row is updated only after the
backend answered, so a crash mid-send leaves it pending and it is sent again
on restart: delivery is at-least-once, never silently lost.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from newswatch.alerts.render import AlertContent, MatchInfo, OutgoingEmail, render_alert
from newswatch.errors import DeliveryError
from newswatch.models import Alert, AlertStatus, Article
from newswatch.settings import Config
from newswatch.storage import Database

log = logging.getLogger(__name__)

BATCH = 50


class Backend(Protocol):
    def send(self, email: OutgoingEmail) -> str | None: ...


@dataclass
class DrainStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retried} to retry, {self.dead} dead"


class Sender:
    def __init__(self, db: Database, backend: Backend, config: Config) -> None:
        self.db = db
        self.backend = backend
        self.config = config
        self.names = {s.email: s.name for s in config.subscribers}

    async def drain(self, now: datetime | None = None) -> DrainStats:
        """Send every alert that is due now; returns what happened."""
        stats = DrainStats()
        done: set[int] = set()
        while True:
            batch = self._due(now or datetime.now(UTC), exclude=done)
            if not batch:
                return stats
            for alert in batch:
                done.add(alert.id)
                await self._send_one(alert, stats)

    def _due(self, now: datetime, exclude: set[int]) -> list[Alert]:
        with self.db.session() as session:
            query = (
                select(Alert)
                .where(Alert.status == AlertStatus.pending, Alert.next_attempt_at <= now)
                .order_by(Alert.queued_at, Alert.id)
                .options(selectinload(Alert.article).selectinload(Article.matches))
                .limit(BATCH)
            )
            if exclude:
                query = query.where(Alert.id.not_in(exclude))
            return list(session.scalars(query))

    async def _send_one(self, alert: Alert, stats: DrainStats) -> None:
        email = render_alert(
            self._content(alert),
            from_addr=self.config.settings.email.from_,
            timezone=self.config.settings.timezone,
            template_dir=self.config.directory / "templates",
        )
        timeout = self.config.settings.email.timeout
        try:
            # The backends block (file I/O, the SendGrid client): keep them
            # off the event loop, and bound them even if a client hangs.
            message_id = await asyncio.wait_for(
                asyncio.to_thread(self.backend.send, email), timeout + 5
            )
        except TimeoutError:
            self._failed(alert, DeliveryError("backend did not answer in time", retry=True), stats)
        except DeliveryError as exc:
            self._failed(alert, exc, stats)
        else:
            self._sent(alert, message_id)
            stats.sent += 1

    def _content(self, alert: Alert) -> AlertContent:
        article = alert.article
        wanted = set(alert.topics)
        return AlertContent(
            alert_id=alert.id,
            to=alert.subscriber,
            to_name=self.names.get(alert.subscriber),
            title=article.title,
            url=article.url,
            source=article.source_name,
            published=article.published_at,
            matches=[
                MatchInfo(
                    topic=m.topic,
                    score=m.score,
                    terms=list(m.terms),
                    snippet=str(m.explanation.get("snippet", "")),
                )
                for m in article.matches
                if m.topic in wanted
            ],
        )

    def _sent(self, alert: Alert, message_id: str | None) -> None:
        with self.db.transaction() as session:
            row = session.get(Alert, alert.id)
            if row is None:
                return
            row.status = AlertStatus.sent
            row.sent_at = datetime.now(UTC)
            row.message_id = message_id
            row.attempts += 1
            row.last_error = None
        log.info("alert %d sent to %s (%s)", alert.id, alert.subscriber, message_id or "no id")

    def _failed(self, alert: Alert, exc: DeliveryError, stats: DrainStats) -> None:
        max_attempts = self.config.settings.email.max_attempts
        with self.db.transaction() as session:
            row = session.get(Alert, alert.id)
            if row is None:
                return
            row.attempts += 1
            row.last_error = str(exc)[:500]
            if exc.retry and row.attempts < max_attempts:
                row.next_attempt_at = datetime.now(UTC) + backoff(row.attempts)
                stats.retried += 1
                log.warning(
                    "alert %d to %s failed (%s); retry at %s",
                    alert.id,
                    alert.subscriber,
                    exc,
                    row.next_attempt_at.isoformat(timespec="seconds"),
                )
            else:
                row.status = AlertStatus.dead
                stats.dead += 1
                log.error(
                    "alert %d to %s given up after %d attempt(s): %s",
                    alert.id,
                    alert.subscriber,
                    row.attempts,
                    exc,
                )


def backoff(attempts: int) -> timedelta:
    """Exponential with full jitter: 1, 2, 4 … minutes, capped at an hour."""
    ceiling = min(60 * 2 ** (attempts - 1), 3600)
    return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))  # noqa: S311


def outbox_depth(db: Database) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(Alert).where(Alert.status == AlertStatus.pending)
        return int(session.scalar(query) or 0)
