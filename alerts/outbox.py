"""Draining the outbox: lease due rows, render them, hand them to the backend.

The outbox is two tables with the same life cycle: `alerts` (instant
emails) and `digests` (one email per subscriber and period). A row is
pending until a sender claims it by writing a lease (`lease_owner`,
`lease_until`) in its own committed transaction; only the lease holder
sends it. A sender that dies leaves its leases behind: another sender takes
the rows over when the lease runs out, or at once when the owner is a dead
process on this host (the owner id is `host:pid:random`).

Outcomes of one send:

    2xx                      sent, X-Message-Id stored
    429                      pending again at X-RateLimit-Reset / Retry-After
                             (not counted as a failed attempt)
    5xx, connection errors   pending again after exponential backoff with
                             jitter; dead after `email.max_attempts`
    400/401/403/413, other   dead at once, logged as an error, listed by
    4xx, unbuildable email   `newswatch status`
    request out, no answer   ambiguous: SendGrid may have accepted it. After
                             AMBIGUOUS_DELAY it is sent again (at-least-once),
                             unless the Event Webhook reported it processed or
                             delivered meanwhile; a resend is logged and counted
                             ("possible duplicate" on the sent row)

The row is updated only after the backend answered, so a crash between a
2xx and that update sends the email again after restart: that window is the
one place a duplicate can come from, besides the ambiguous resend.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from newswatch.alerts.backends import SendError
from newswatch.alerts.render import (
    AlertContent,
    MatchInfo,
    OutgoingEmail,
    render_alert,
    render_digest,
)
from newswatch.errors import DeliveryError
from newswatch.faults import fault, fault_timer
from newswatch.models import Alert, AlertStatus, Article, Digest, WebhookEvent
from newswatch.settings import Config, Subscriber
from newswatch.storage import Database

log = logging.getLogger(__name__)

BATCH = 50
AMBIGUOUS_DELAY = timedelta(minutes=10)
# Webhook events that prove SendGrid took a message: an ambiguous row with one is sent.
ACCEPTED_EVENTS = ("processed", "delivered", "open", "click")
POSSIBLE_DUPLICATE = "possible duplicate: resent after an ambiguous attempt"
DUE_STATUSES = (AlertStatus.pending, AlertStatus.ambiguous)

Outbox = type[Alert] | type[Digest]


class Backend(Protocol):
    def send(self, email: OutgoingEmail) -> str | None: ...


@dataclass
class DrainStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    ambiguous: int = 0
    suppressed: int = 0
    resent_ambiguous: int = 0
    digests_sent: int = 0

    def __str__(self) -> str:
        text = f"{self.sent} sent, {self.retried} to retry, {self.dead} dead"
        extras = {
            "ambiguous": self.ambiguous,
            "suppressed": self.suppressed,
            "resent after an ambiguous attempt": self.resent_ambiguous,
            "of them digests": self.digests_sent,
        }
        return text + "".join(f", {n} {label}" for label, n in extras.items() if n)

    @property
    def busy(self) -> bool:
        return any((self.sent, self.retried, self.dead, self.ambiguous, self.suppressed))


def backoff(attempts: int) -> timedelta:
    """Exponential with full jitter: 1, 2, 4 … minutes, capped at an hour."""
    ceiling = min(60 * 2 ** (attempts - 1), 3600)
    return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))  # noqa: S311


def make_owner() -> str:
    """`host:pid:random`: unique per process, and tells a restart whose leases are orphaned."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class _Claimed:
    """One leased row, rendered (or not: `error` says why it cannot be)."""

    row_id: int
    subscriber: str
    email: OutgoingEmail | None
    was_ambiguous: bool
    error: str | None = None


@dataclass
class _Batch:
    model: Outbox
    rows: list[_Claimed] = field(default_factory=list)


class Sender:
    def __init__(
        self,
        db: Database,
        backend: Backend,
        config: Config,
        *,
        owner: str | None = None,
        lease: timedelta | None = None,
        retry_delay: Callable[[int], timedelta] = backoff,
        ambiguous_delay: timedelta = AMBIGUOUS_DELAY,
        concurrency: int = 4,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.db = db
        self.backend = backend
        self.config = config
        self.owner = owner or make_owner()
        timeout = config.settings.email.timeout
        # Longer than any send can take (the wait_for below), so a live sender never
        # loses a lease it is still using.
        self.lease = lease or timedelta(seconds=2 * timeout + 60)
        self.retry_delay = retry_delay
        self.ambiguous_delay = ambiguous_delay
        self.concurrency = max(1, concurrency)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.subscribers: dict[str, Subscriber] = {s.email: s for s in config.subscribers}
        self._secret: bytes | None = None

    # --- the loop -------------------------------------------------------------------

    async def drain(self, now: datetime | None = None) -> DrainStats:
        """Send every alert and digest that is due now; returns what happened.

        Each row is tried at most once per drain, so a row retried "now" (a 429
        with a zero wait) waits for the next drain instead of spinning here.
        """
        stats = DrainStats()
        for model in (Alert, Digest):
            done: set[int] = set()
            while True:
                current = now or self.clock()
                batch = self._claim(model, current, done, stats)
                if not batch.rows:
                    break
                done.update(row.row_id for row in batch.rows)
                fault("after_claim")
                await self._send_batch(batch, stats)
        return stats

    async def _send_batch(self, batch: _Batch, stats: DrainStats) -> None:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(row: _Claimed) -> None:
            async with gate:
                await self._send_one(batch.model, row, stats)

        await asyncio.gather(*(one(row) for row in batch.rows))

    async def _send_one(self, model: Outbox, row: _Claimed, stats: DrainStats) -> None:
        if row.email is None:
            self._failed(model, row, SendError(row.error or "cannot render", retry=False), stats)
            return
        if row.was_ambiguous:
            log.warning(
                "%s %d to %s: sending again after an ambiguous attempt (possible duplicate)",
                model.__tablename__[:-1],
                row.row_id,
                row.subscriber,
            )
        timeout = self.config.settings.email.timeout
        try:
            # The backends block (file I/O, the SendGrid client): keep them off the
            # event loop, and bound them even if a client hangs.
            with fault_timer("during_send"):
                message_id = await asyncio.wait_for(
                    asyncio.to_thread(self.backend.send, row.email), timeout + 5
                )
        except TimeoutError:
            error = SendError("the backend did not answer in time", retry=True, ambiguous=True)
            self._failed(model, row, error, stats)
        except SendError as exc:
            self._failed(model, row, exc, stats)
        except DeliveryError as exc:
            self._failed(model, row, SendError(str(exc), retry=exc.retry), stats)
        else:
            fault("after_send")
            self._sent(model, row, message_id, stats)

    # --- claiming -------------------------------------------------------------------

    def _claim(self, model: Outbox, now: datetime, done: set[int], stats: DrainStats) -> _Batch:
        """Lease up to BATCH due rows in one committed transaction, then render them."""
        from newswatch.alerts.subscriptions import suppressed_emails

        until = now + self.lease
        with self.db.transaction() as session:
            free = self._free(session, model, now)
            query = (
                select(model.id, model.subscriber)
                .where(model.status.in_(DUE_STATUSES), model.next_attempt_at <= now, free)
                .order_by(model.next_attempt_at, model.id)
                .limit(BATCH)
            )
            if done:
                query = query.where(model.id.not_in(done))
            quiet = self._in_quiet_hours(now) if model is Alert else set()
            if quiet:
                # Not sent now, not rescheduled either: claimed once the quiet hours end.
                query = query.where(model.subscriber.not_in(quiet))
            candidates = session.execute(query).all()
            suppressed = suppressed_emails(session)
            gone = [rid for rid, sub in candidates if sub.strip().lower() in suppressed]
            wanted = [rid for rid, sub in candidates if sub.strip().lower() not in suppressed]
            if gone:
                self._suppress(session, model, gone)
                stats.suppressed += len(gone)
            if not wanted:
                return _Batch(model)
            # The WHERE is checked again by the UPDATE itself: of two senders that
            # picked the same rows, the second finds them leased and gets none.
            session.execute(
                update(model)
                .where(model.id.in_(wanted), free)
                .values(lease_owner=self.owner, lease_until=until)
                .execution_options(synchronize_session=False)
            )
            claimed = list(
                session.scalars(
                    select(model.id).where(
                        model.id.in_(wanted),
                        model.lease_owner == self.owner,
                        model.lease_until == until,
                    )
                )
            )
        return self._render(model, claimed, now, stats)

    def _free(self, session: Session, model: Outbox, now: datetime) -> Any:
        """Rows nobody holds: never leased, lease run out, or held by a dead local process."""
        condition = or_(model.lease_until.is_(None), model.lease_until <= now)
        orphans = self._dead_owners(session, model, now)
        if orphans:
            condition = or_(condition, model.lease_owner.in_(orphans))
        return condition

    def _dead_owners(self, session: Session, model: Outbox, now: datetime) -> list[str]:
        owners = session.scalars(
            select(model.lease_owner)
            .where(model.lease_until > now, model.lease_owner != self.owner)
            .distinct()
        )
        host = socket.gethostname()[:40]
        return [o for o in owners if o and _owner_is_dead(o, host)]

    def _suppress(self, session: Session, model: Outbox, ids: list[int]) -> None:
        session.execute(
            update(model)
            .where(model.id.in_(ids))
            .values(status=AlertStatus.suppressed, lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        log.info(
            "%d %s(s) suppressed: the address unsubscribed or bounced",
            len(ids),
            model.__tablename__[:-1],
        )

    def _in_quiet_hours(self, now: datetime) -> set[str]:
        quiet = set()
        for email, subscriber in self.subscribers.items():
            hours = subscriber.quiet
            zone = subscriber.zone(self.config.settings.timezone)
            if hours is not None and hours.contains(now.astimezone(zone).time()):
                quiet.add(email)
        return quiet

    # --- rendering ------------------------------------------------------------------

    def _render(self, model: Outbox, ids: list[int], now: datetime, stats: DrainStats) -> _Batch:
        batch = _Batch(model)
        if not ids:
            return batch
        with self.db.session() as session:
            if model is Alert:
                alerts = session.scalars(
                    select(Alert)
                    .where(Alert.id.in_(ids))
                    .options(selectinload(Alert.article).selectinload(Article.matches))
                    .order_by(Alert.id)
                )
                for alert in alerts:
                    if alert.status == AlertStatus.ambiguous and _accepted_by_webhook(
                        session, alert.id
                    ):
                        self._sent(
                            Alert,
                            _Claimed(alert.id, alert.subscriber, None, False),
                            alert.message_id,
                            stats,
                        )
                        continue
                    batch.rows.append(self._claimed(alert, lambda a=alert: self.alert_email(a)))
            else:
                for digest in session.scalars(select(Digest).where(Digest.id.in_(ids))):
                    batch.rows.append(
                        self._claimed(
                            digest, lambda d=digest, s=session: self.digest_email(s, d, now)
                        )
                    )
        return batch

    def _claimed(self, row: Alert | Digest, build: Callable[[], OutgoingEmail]) -> _Claimed:
        was_ambiguous = row.status == AlertStatus.ambiguous
        try:
            return _Claimed(row.id, row.subscriber, build(), was_ambiguous)
        except (ValueError, LookupError) as exc:
            # A template error or missing data will not fix itself: the row goes dead.
            log.exception("cannot render %s %d", row.__tablename__[:-1], row.id)
            return _Claimed(row.id, row.subscriber, None, was_ambiguous, f"cannot render: {exc}")

    def alert_email(self, alert: Alert) -> OutgoingEmail:
        """The email for one alert row (its article and matches loaded)."""
        subscriber = self.subscribers.get(alert.subscriber)
        article = alert.article
        wanted = set(alert.topics)
        unsubscribe, headers = self.unsubscribe_for(alert.subscriber)
        content = AlertContent(
            alert_id=alert.id,
            to=alert.subscriber,
            to_name=subscriber.name if subscriber else None,
            title=article.title,
            url=article.url,
            source=article.source_name,
            published=article.published_at,
            matches=match_infos(article, wanted, topic_titles(self.config)),
            unsubscribe_url=unsubscribe,
            language=subscriber.language if subscriber else "nl",
        )
        return render_alert(
            content,
            from_addr=self.config.settings.email.from_,
            timezone=self.zone_name(subscriber),
            template_dir=self.config.directory / "templates",
            headers=headers,
        )

    def digest_email(self, session: Session, digest: Digest, now: datetime) -> OutgoingEmail:
        from newswatch.alerts.digest import digest_content

        subscriber = self.subscribers.get(digest.subscriber)
        unsubscribe, headers = self.unsubscribe_for(digest.subscriber)
        content = digest_content(session, digest, self.config, subscriber, unsubscribe)
        return render_digest(
            content,
            from_addr=self.config.settings.email.from_,
            timezone=self.zone_name(subscriber),
            template_dir=self.config.directory / "templates",
            headers=headers,
        )

    def zone_name(self, subscriber: Subscriber | None) -> str:
        return (subscriber.timezone if subscriber else None) or self.config.settings.timezone

    def unsubscribe_for(self, email: str) -> tuple[str, dict[str, str]]:
        """The visible link and the RFC 8058 List-Unsubscribe headers for `email`."""
        from newswatch.alerts.tokens import load_secret
        from newswatch.alerts.unsubscribe import list_unsubscribe_headers, unsubscribe_url

        if self._secret is None:
            self._secret = load_secret(self.db)
        url = unsubscribe_url(
            email, public_url=str(self.config.settings.http.public_url), secret=self._secret
        )
        return url, list_unsubscribe_headers(url)

    # --- outcomes -------------------------------------------------------------------

    def _sent(
        self, model: Outbox, row: _Claimed, message_id: str | None, stats: DrainStats
    ) -> None:
        with self.db.transaction() as session:
            record = session.get(model, row.row_id)
            if record is None:
                return
            if record.lease_owner not in (self.owner, None):
                # Our lease ran out and another sender holds the row: it was sent all
                # the same, which is the truth to record.
                log.warning(
                    "%s %d: sent after losing its lease", model.__tablename__[:-1], row.row_id
                )
            record.status = AlertStatus.sent
            record.sent_at = datetime.now(UTC)
            record.message_id = message_id
            record.attempts += 1
            record.last_error = POSSIBLE_DUPLICATE if row.was_ambiguous else None
            record.lease_owner = record.lease_until = None
        stats.sent += 1
        stats.digests_sent += model is Digest
        stats.resent_ambiguous += row.was_ambiguous
        log.info(
            "%s %d sent to %s (%s)",
            model.__tablename__[:-1],
            row.row_id,
            row.subscriber,
            message_id or "no id",
        )

    def _failed(self, model: Outbox, row: _Claimed, exc: SendError, stats: DrainStats) -> None:
        now = self.clock()
        kind = model.__tablename__[:-1]
        with self.db.transaction() as session:
            record = session.get(model, row.row_id)
            if record is None or record.lease_owner != self.owner:
                log.warning("%s %d: lease lost before the outcome was recorded", kind, row.row_id)
                return
            record.lease_owner = record.lease_until = None
            record.last_error = str(exc)[:500]
            if exc.status == 429:
                # Rate limiting is SendGrid pacing us, not a failure: no attempt counted.
                wait = exc.retry_after if exc.retry_after is not None else 60.0
                record.next_attempt_at = now + timedelta(seconds=wait)
                stats.retried += 1
                log.warning("%s %d: rate limited; retry in %.0fs", kind, row.row_id, wait)
                return
            record.attempts += 1
            max_attempts = self.config.settings.email.max_attempts
            if exc.retry and record.attempts < max_attempts:
                if exc.ambiguous:
                    record.status = AlertStatus.ambiguous
                    record.next_attempt_at = now + self.ambiguous_delay
                    stats.ambiguous += 1
                else:
                    record.status = AlertStatus.pending
                    record.next_attempt_at = now + self.retry_delay(record.attempts)
                    stats.retried += 1
                log.warning(
                    "%s %d to %s failed (%s); %s at %s",
                    kind,
                    row.row_id,
                    row.subscriber,
                    exc,
                    "ambiguous, resend" if exc.ambiguous else "retry",
                    record.next_attempt_at.isoformat(timespec="seconds"),
                )
                return
            record.status = AlertStatus.dead
            stats.dead += 1
            log.error(
                "%s %d to %s given up after %d attempt(s): %s",
                kind,
                row.row_id,
                row.subscriber,
                record.attempts,
                exc,
            )


def topic_titles(config: Config) -> dict[str, str]:
    """Topic id -> the title emails show (the id when topics.yaml gives none)."""
    return {t.id: t.title or t.id for t in config.topics.topics}


def match_infos(
    article: Article, wanted: set[str], titles: Mapping[str, str] | None = None
) -> list[MatchInfo]:
    titles = titles or {}
    return [
        MatchInfo(
            topic=m.topic,
            score=m.score,
            terms=list(m.terms),
            snippet=str(m.explanation.get("snippet", "")),
            title=titles.get(m.topic, ""),
        )
        for m in article.matches
        if m.topic in wanted
    ]


def _owner_is_dead(owner: str, host: str) -> bool:
    """True only when the owner is a process on this host that no longer runs."""
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it runs, as another user
    return False


def _accepted_by_webhook(session: Session, alert_id: int) -> bool:
    query = select(WebhookEvent.id).where(
        WebhookEvent.alert_id == alert_id, WebhookEvent.event.in_(ACCEPTED_EVENTS)
    )
    return session.scalar(query.limit(1)) is not None


def outbox_depth(db: Database) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(Alert).where(Alert.status.in_(DUE_STATUSES))
        return int(session.scalar(query) or 0)
