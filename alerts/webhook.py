"""SendGrid's Event Webhook: bounces, spam reports and unsubscribes become suppression.

    POST /sendgrid/events

SendGrid signs each batch with ECDSA (P-256, SHA-256) over the timestamp
header followed by the raw body, and sends the signature base64-encoded (DER)
in `X-Twilio-Email-Event-Webhook-Signature`. The verification key is shown in
the SendGrid console as base64 DER; it goes into `email.webhook_public_key`.

SendGrid retries a batch for up to 24 hours until it gets a 2xx, so every
event is stored by its `sg_event_id` and a repeat is ignored. A signed but old
timestamp is refused: a captured request must not be replayable later.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newswatch.alerts.subscriptions import normalise, set_state, state_of
from newswatch.models import SubscriberState, WebhookEvent
from newswatch.storage import Database
from newswatch.web import DEPS

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
PATH = "/sendgrid/events"

# Event → the state it puts the address in.
_STATE_FOR_EVENT = {
    "bounce": SubscriberState.bouncing,
    "spamreport": SubscriberState.spam,
    "unsubscribe": SubscriberState.unsubscribed,
    "group_unsubscribe": SubscriberState.unsubscribed,
}
# A `dropped` event means SendGrid refused to even try; its reason says why.
_STATE_FOR_DROP_REASON = {
    "bounced address": SubscriberState.bouncing,
    "unsubscribed address": SubscriberState.unsubscribed,
    "spam reporting address": SubscriberState.spam,
}
# A webhook only ever makes an address's state stronger: a late bounce must
# not turn a spam complaint into a mere bounce.
_STRENGTH = {
    SubscriberState.active: 0,
    SubscriberState.bouncing: 1,
    SubscriberState.unsubscribed: 2,
    SubscriberState.spam: 3,
}


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it (base64 DER), or as a PEM block."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode("".join(text.split())))
    except (ValueError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a public key in base64 DER or PEM ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic-curve (ECDSA) public key")
    return key


def signature_valid(
    key: ec.EllipticCurvePublicKey, signature: str, timestamp: str, body: bytes
) -> bool:
    """True if `signature` is `key`'s ECDSA-SHA256 signature over timestamp + body."""
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def timestamp_fresh(timestamp: str, *, max_age: float, now: float | None = None) -> bool:
    """The timestamp is a Unix time within `max_age` seconds of now (either side: clock skew)."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    return abs((time.time() if now is None else now) - sent) <= max_age


@dataclass
class EventStats:
    new: int = 0
    duplicate: int = 0
    suppressed: int = 0  # addresses whose state this batch changed


def record_events(db: Database, events: list[dict[str, Any]]) -> EventStats:
    """Store new events and apply their suppression, in one transaction.

    Two deliveries of one batch can race (SendGrid retries while we are still
    answering); the loser hits the unique event id and simply runs again, now
    seeing those events as duplicates.
    """
    try:
        return _record(db, events)
    except IntegrityError:
        return _record(db, events)


def _record(db: Database, events: list[dict[str, Any]]) -> EventStats:
    stats = EventStats()
    with db.transaction() as session:
        ids = [_event_id(e) for e in events]
        seen = _known_ids(session, ids)
        for event_id, event in zip(ids, events, strict=True):
            if event_id in seen:
                stats.duplicate += 1
                continue
            seen.add(event_id)  # a batch may hold the same event twice
            stats.new += 1
            session.add(_event_row(event_id, event))
            if _apply(session, event):
                stats.suppressed += 1
    return stats


def _known_ids(session: Session, ids: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(ids), 500):  # SQLite caps bound parameters per statement
        chunk = ids[start : start + 500]
        query = select(WebhookEvent.event_id).where(WebhookEvent.event_id.in_(chunk))
        known.update(session.scalars(query))
    return known


def _event_id(event: dict[str, Any]) -> str:
    event_id = event.get("sg_event_id")
    if isinstance(event_id, str) and event_id:
        return event_id[:200]
    # SendGrid always sends one; should it not, a retry of the same event
    # still carries the same content, so a hash of it deduplicates as well.
    digest = hashlib.sha256(json.dumps(event, sort_keys=True).encode()).hexdigest()
    return f"sha256:{digest}"


def _event_row(event_id: str, event: dict[str, Any]) -> WebhookEvent:
    email = event.get("email")
    return WebhookEvent(
        event_id=event_id,
        event=str(event.get("event", ""))[:40],
        email=normalise(email)[:254] if isinstance(email, str) else None,
        alert_id=_alert_id(event),
        occurred_at=_occurred_at(event),
    )


def _alert_id(event: dict[str, Any]) -> int | None:
    """Our alert id, sent as custom_args; SendGrid returns those as top-level keys."""
    custom = event.get("custom_args")
    value = event.get("alert_id")
    if value is None and isinstance(custom, dict):
        value = custom.get("alert_id")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _occurred_at(event: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(event["timestamp"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def suppression_for(event: dict[str, Any]) -> SubscriberState | None:
    """The state an event puts its address in, or None for events that change nothing."""
    kind = event.get("event")
    if kind == "bounce" and event.get("type") == "blocked":
        return None  # a temporary block by the receiving server, not a dead address
    if kind == "dropped":
        reason = str(event.get("reason", "")).strip().lower()
        return _STATE_FOR_DROP_REASON.get(reason)
    return _STATE_FOR_EVENT.get(str(kind))


def _apply(session: Session, event: dict[str, Any]) -> bool:
    state = suppression_for(event)
    email = event.get("email")
    if state is None or not isinstance(email, str) or not email.strip():
        return False
    if _STRENGTH[state] <= _STRENGTH[state_of(session, email)]:
        return False
    reason = f"SendGrid {event.get('event')}"
    if event.get("reason"):
        reason += f": {str(event['reason'])[:300]}"
    stopped = set_state(session, email, state, by="webhook", reason=reason)
    log.info("%s is now %s (%s); %d unsent alert(s) suppressed", email, state, reason, stopped)
    return True


def add_routes(app: web.Application) -> None:
    app.router.add_post(PATH, receive_events)


async def receive_events(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    email_settings = deps.config.settings.email
    if not email_settings.webhook_public_key:
        _warn_no_key(deps.notes)
        return web.Response(status=503, text="webhook verification key not configured\n")
    body = await request.read()
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    key = load_public_key(email_settings.webhook_public_key)  # validated with the settings
    if not signature_valid(key, signature, timestamp, body):
        log.warning("SendGrid webhook: request with a missing or wrong signature refused")
        return web.Response(status=403, text="bad signature\n")
    if not timestamp_fresh(timestamp, max_age=email_settings.webhook_max_age):
        log.warning("SendGrid webhook: signed request with a stale timestamp %r refused", timestamp)
        return web.Response(status=403, text="stale timestamp\n")
    events = _parse(body)
    if events is None:
        log.warning("SendGrid webhook: signed body is not a JSON list of events")
        return web.Response(status=400, text="expected a JSON list of events\n")
    stats = await asyncio.to_thread(record_events, deps.db, events)
    log.debug("SendGrid webhook: %s", stats)
    return web.Response(status=204)


def _parse(body: bytes) -> list[dict[str, Any]] | None:
    try:
        events = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return None
    return events


def _warn_no_key(notes: dict[str, Any]) -> None:
    # Once per process: SendGrid retries, and the log must stay readable.
    if notes.get("webhook_key_warned"):
        return
    notes["webhook_key_warned"] = True
    log.error(
        "SendGrid webhook called but no verification key is configured: set "
        "email.webhook_public_key in settings.yaml (or NEWSWATCH_WEBHOOK_PUBLIC_KEY) to the "
        "key shown under Mail Settings → Event Webhook → Signature Verification"
    )
