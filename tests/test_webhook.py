"""SendGrid Event Webhook over real HTTP, signed like SendGrid signs it (ECDSA P-256)."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import COOPERATION, write_config
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy import func, select
from web_helpers import request, serve

from newswatch.alerts.subscriptions import resubscribe
from newswatch.alerts.webhook import PATH, SIGNATURE_HEADER, TIMESTAMP_HEADER, suppression_for
from newswatch.errors import ConfigError
from newswatch.models import Alert, AlertStatus, Article, SubscriberState, Subscription
from newswatch.models import WebhookEvent as EventRow
from newswatch.settings import EmailSettings, Settings, load_config
from newswatch.storage import Database, open_database


class SendGrid:
    """Signs batches the way SendGrid does: ECDSA-SHA256 over timestamp + raw body."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()  # as the SendGrid console shows it

    def headers(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: base64.b64encode(signature).decode(),
            TIMESTAMP_HEADER: stamp,
        }


def event(kind: str, email: str = "lezer@voorbeeld.nl", **extra: Any) -> dict[str, Any]:
    return {
        "email": email,
        "timestamp": int(time.time()) - 30,
        "event": kind,
        "sg_event_id": uuid.uuid4().hex,
        "sg_message_id": "bericht-1.filter",
        **extra,
    }


@pytest.fixture
def sendgrid() -> SendGrid:
    return SendGrid()


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = open_database(f"sqlite:///{tmp_path / 'nw.db'}")
    yield database  # type: ignore[misc]
    database.dispose()


def settings_for(sendgrid: SendGrid | None, **email: Any) -> Settings:
    key = {"webhook_public_key": sendgrid.public_key} if sendgrid else {}
    return Settings(email=EmailSettings.model_validate({**key, **email}))


def post(url: str, sendgrid: SendGrid, events: list[dict[str, Any]], **kw: Any) -> int:
    body = json.dumps(events).encode()
    return request("POST", url + PATH, body, sendgrid.headers(body, **kw))[0]


def states(db: Database) -> dict[str, SubscriberState]:
    with db.session() as session:
        return {row.email: row.state for row in session.scalars(select(Subscription))}


def stored_events(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(EventRow)) or 0)


def test_our_signatures_are_the_ones_sendgrids_own_verifier_accepts(sendgrid: SendGrid) -> None:
    body = json.dumps([event("delivered")]).encode()
    headers = sendgrid.headers(body)
    verifier = EventWebhook(sendgrid.public_key)
    assert verifier.verify_signature(
        body.decode(), headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER]
    )


def test_valid_batch_is_accepted_and_applied(db: Database, sendgrid: SendGrid) -> None:
    batch = [
        event("bounce", "stuiter@voorbeeld.nl", type="bounce", reason="550 5.1.1 onbekend"),
        event("spamreport", "klager@voorbeeld.nl"),
        event("unsubscribe", "weg@voorbeeld.nl"),
        event("group_unsubscribe", "groep@voorbeeld.nl", asm_group_id=1),
        event("dropped", "oud@voorbeeld.nl", reason="Bounced Address"),
        event("delivered", "lezer@voorbeeld.nl", custom_args={"alert_id": "7"}),
        event("open", "Lezer@Voorbeeld.nl", alert_id="8"),
    ]
    with serve(db, settings_for(sendgrid)) as server:
        assert post(server.url, sendgrid, batch) == 204
    assert states(db) == {
        "stuiter@voorbeeld.nl": SubscriberState.bouncing,
        "klager@voorbeeld.nl": SubscriberState.spam,
        "weg@voorbeeld.nl": SubscriberState.unsubscribed,
        "groep@voorbeeld.nl": SubscriberState.unsubscribed,
        "oud@voorbeeld.nl": SubscriberState.bouncing,
    }
    with db.session() as session:
        rows = {row.event: row for row in session.scalars(select(EventRow))}
        bounced = session.scalars(select(Subscription).where(Subscription.email.like("stuit%")))
        reason = bounced.one().reason
    assert len(rows) == len(batch)
    assert (rows["delivered"].alert_id, rows["delivered"].email) == (7, "lezer@voorbeeld.nl")
    assert rows["open"].alert_id == 8
    assert rows["delivered"].occurred_at is not None
    assert reason is not None
    assert "550 5.1.1" in reason


def test_bounce_suppresses_unsent_alerts(db: Database, sendgrid: SendGrid) -> None:
    with db.transaction() as session:
        article = Article(url="https://krant.example/1", source_name="Krant", title="T", text="…")
        session.add(article)
        session.flush()
        session.add(Alert(subscriber="lezer@voorbeeld.nl", article_id=article.id, topics=[]))
    with serve(db, settings_for(sendgrid)) as server:
        assert post(server.url, sendgrid, [event("bounce", type="bounce")]) == 204
    with db.session() as session:
        assert session.scalars(select(Alert.status)).one() == AlertStatus.suppressed


@pytest.mark.parametrize(
    "tamper",
    ["other key", "body changed", "timestamp changed", "no signature", "garbage signature"],
)
def test_forged_requests_are_refused(db: Database, sendgrid: SendGrid, tamper: str) -> None:
    body = json.dumps([event("spamreport")]).encode()
    headers = sendgrid.headers(body)
    if tamper == "other key":
        headers = SendGrid().headers(body)
    elif tamper == "body changed":
        body = body.replace(b"lezer@", b"ander@")
    elif tamper == "timestamp changed":
        headers[TIMESTAMP_HEADER] = str(int(headers[TIMESTAMP_HEADER]) + 1)
    elif tamper == "no signature":
        del headers[SIGNATURE_HEADER]
    else:
        headers[SIGNATURE_HEADER] = "dit-is-geen-handtekening"
    with serve(db, settings_for(sendgrid)) as server:
        status, _, _ = request("POST", server.url + PATH, body, headers)
    assert status == 403
    assert states(db) == {}
    assert stored_events(db) == 0


def test_stale_timestamp_is_refused_and_the_limit_is_configurable(
    db: Database, sendgrid: SendGrid
) -> None:
    ten_minutes_ago = int(time.time()) - 600
    with serve(db, settings_for(sendgrid)) as server:
        assert post(server.url, sendgrid, [event("bounce")], timestamp=ten_minutes_ago) == 403
        assert (
            post(server.url, sendgrid, [event("bounce")], timestamp=ten_minutes_ago + 1200) == 403
        )
    assert states(db) == {}
    with serve(db, settings_for(sendgrid, webhook_max_age="15m")) as server:
        assert post(server.url, sendgrid, [event("bounce")], timestamp=ten_minutes_ago) == 204
    assert states(db) == {"lezer@voorbeeld.nl": SubscriberState.bouncing}


def test_repeated_event_is_ignored(db: Database, sendgrid: SendGrid) -> None:
    bounce = event("bounce", type="bounce")
    with serve(db, settings_for(sendgrid)) as server:
        assert post(server.url, sendgrid, [bounce, bounce]) == 204  # twice in one batch, too
        assert stored_events(db) == 1
        # The operator re-subscribes; SendGrid then retries the old batch.
        with db.transaction() as session:
            resubscribe(session, "lezer@voorbeeld.nl")
        assert post(server.url, sendgrid, [bounce]) == 204
    assert stored_events(db) == 1
    assert states(db) == {"lezer@voorbeeld.nl": SubscriberState.active}


def test_a_weaker_event_does_not_undo_a_spam_report(db: Database, sendgrid: SendGrid) -> None:
    with serve(db, settings_for(sendgrid)) as server:
        assert post(server.url, sendgrid, [event("spamreport")]) == 204
        assert post(server.url, sendgrid, [event("bounce", type="bounce")]) == 204
    assert states(db) == {"lezer@voorbeeld.nl": SubscriberState.spam}


def test_which_events_suppress() -> None:
    assert suppression_for({"event": "bounce", "type": "bounce"}) == SubscriberState.bouncing
    assert suppression_for({"event": "bounce", "type": "blocked"}) is None  # temporary
    assert suppression_for({"event": "dropped", "reason": "Spam Reporting Address"}) == (
        SubscriberState.spam
    )
    assert suppression_for({"event": "dropped", "reason": "Invalid SMTPAPI header"}) is None
    for harmless in ("delivered", "processed", "deferred", "open", "click"):
        assert suppression_for({"event": harmless}) is None


def test_unsigned_json_that_is_not_a_list_is_a_bad_request(
    db: Database, sendgrid: SendGrid
) -> None:
    body = b'{"event": "bounce"}'
    with serve(db, settings_for(sendgrid)) as server:
        status, _, _ = request("POST", server.url + PATH, body, sendgrid.headers(body))
    assert status == 400


def test_without_a_key_the_route_says_so(
    db: Database, sendgrid: SendGrid, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="newswatch.alerts.webhook")
    with serve(db, settings_for(None)) as server:
        assert post(server.url, sendgrid, [event("bounce")]) == 503
        assert post(server.url, sendgrid, [event("bounce")]) == 503
    assert states(db) == {}
    told = [r.getMessage() for r in caplog.records if "webhook_public_key" in r.getMessage()]
    assert len(told) == 1  # once, not per retry
    assert "NEWSWATCH_WEBHOOK_PUBLIC_KEY" in told[0]


def test_key_setting_accepts_pem_and_env_and_refuses_junk(
    tmp_path: Path, sendgrid: SendGrid
) -> None:
    pem = (
        sendgrid.key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert EmailSettings.model_validate({"webhook_public_key": pem}).webhook_public_key
    with pytest.raises(ValueError, match="not a public key"):
        EmailSettings.model_validate({"webhook_public_key": "geen-sleutel"})
    config_dir = write_config(
        tmp_path / "config",
        db_url=f"sqlite:///{tmp_path / 'nw.db'}",
        sources=[],
        subscribers=[{"email": "lezer@voorbeeld.nl", "topics": [COOPERATION]}],
    )
    env = {"NEWSWATCH_WEBHOOK_PUBLIC_KEY": sendgrid.public_key}
    config = load_config(config_dir, env=env)
    assert config.settings.email.webhook_public_key == sendgrid.public_key
    with pytest.raises(ConfigError, match="NEWSWATCH_WEBHOOK_PUBLIC_KEY"):
        load_config(config_dir, env={"NEWSWATCH_WEBHOOK_PUBLIC_KEY": "bm9wZQ=="})
