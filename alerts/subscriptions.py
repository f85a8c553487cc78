"""Subscriber state beyond subscribers.yaml: active, unsubscribed, bouncing, spam.

subscribers.yaml is the operator's list; the `subscriptions` table is what the
subscribers (an unsubscribe link) and SendGrid (a bounce, a spam report) said.
An address in any state but active gets no mail even while it is still listed
in subscribers.yaml, until the operator re-subscribes it explicitly — a
config edit must never undo a subscriber's unsubscribe.

Addresses are compared lower-cased: the unsubscribe token carries the address
lower-cased, and mail providers treat the domain part case-insensitively.
An address without a row is active.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from newswatch.models import Alert, AlertStatus, Digest, SubscriberState, Subscription

log = logging.getLogger(__name__)

SUPPRESSED_STATES = frozenset(
    {SubscriberState.unsubscribed, SubscriberState.bouncing, SubscriberState.spam}
)
# Rows that have not gone out yet; an unsubscribe must stop them too.
_NOT_YET_SENT = (AlertStatus.pending, AlertStatus.held)


def normalise(email: str) -> str:
    return email.strip().lower()


def suppressed_emails(session: Session) -> set[str]:
    """Every address (lower-cased) that must get no mail."""
    query = select(Subscription.email).where(Subscription.state.in_(SUPPRESSED_STATES))
    return {normalise(email) for email in session.scalars(query)}


def state_of(session: Session, email: str) -> SubscriberState:
    row = _row(session, email)
    return row.state if row is not None else SubscriberState.active


def subscriptions(session: Session) -> dict[str, Subscription]:
    """All stored rows by lower-cased address (for `subscribers list`)."""
    return {normalise(row.email): row for row in session.scalars(select(Subscription))}


def set_state(
    session: Session,
    email: str,
    state: SubscriberState,
    *,
    by: str,
    reason: str | None = None,
) -> int:
    """Record `state` for `email`; a suppressing state also stops mail not yet sent.

    Returns how many pending or held alerts (and pending digests) were
    suppressed. Runs inside the caller's transaction.
    """
    address = normalise(email)
    row = _row(session, address)
    if row is None:
        row = Subscription(email=address)
        session.add(row)
    row.state = state
    row.reason = reason
    row.changed_by = by
    row.changed_at = datetime.now(UTC)
    session.flush()
    if state in SUPPRESSED_STATES:
        return suppress_unsent(session, address)
    return 0


def resubscribe(session: Session, email: str) -> bool:
    """The operator's explicit re-subscribe; False if the address was active already.

    Alerts suppressed meanwhile stay suppressed: they are old news by now.
    """
    if state_of(session, email) == SubscriberState.active:
        return False
    set_state(session, email, SubscriberState.active, by="operator", reason="re-subscribed")
    return True


def suppress_unsent(session: Session, email: str) -> int:
    """Mark the address's pending/held alerts and pending digests `suppressed`."""
    address = normalise(email)
    suppressed = 0
    for table in (Alert, Digest):
        result = session.execute(
            update(table)
            .where(func.lower(table.subscriber) == address, table.status.in_(_NOT_YET_SENT))
            .values(status=AlertStatus.suppressed)
            .execution_options(synchronize_session=False)
        )
        suppressed += result.rowcount or 0  # type: ignore[attr-defined]
    return suppressed


def _row(session: Session, email: str) -> Subscription | None:
    query = select(Subscription).where(Subscription.email == normalise(email))
    return session.scalars(query).first()
