"""The outbox against the SendGrid fake with the real client: every outcome,
leases, suppression, quiet hours, and 1,000 alerts through 429s and 500s."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from outbox_helpers import READER, add_alerts, make_config, sent_alert_ids, statuses
from pydantic import SecretStr
from sendgrid_fake import Reply, SendGridFake

from newswatch.alerts.backends import SendGridBackend
from newswatch.alerts.outbox import POSSIBLE_DUPLICATE, Sender
from newswatch.models import Alert, AlertStatus, SubscriberState, Subscription, WebhookEvent
from newswatch.settings import Config
from newswatch.status import collect_status, format_status
from newswatch.storage import Database, open_database

# Outcome handling does not depend on the database; claims, leases and status do.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def fake() -> Iterator[SendGridFake]:
    with SendGridFake() as running:
        yield running


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Config:
    return make_config(tmp_path, db_url, email={"max_attempts": 3, "timeout": "1s"})


def sender(
    db: Database, config: Config, fake: SendGridFake, *, timeout: float = 1.0, **options: object
) -> Sender:
    backend = SendGridBackend(SecretStr(fake.api_key), fake.url, timeout)
    options.setdefault("retry_delay", lambda attempts: timedelta(0))
    return Sender(db, backend, config, **options)  # type: ignore[arg-type]


def drain(s: Sender, now: datetime | None = None) -> object:
    return asyncio.run(s.drain(now))


def row(db: Database, alert_id: int) -> Alert:
    with db.session() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        return alert


# --- outcomes -------------------------------------------------------------------------


def test_202_is_sent_with_message_id_custom_args_categories_and_unsubscribe(
    db: Database, config: Config, fake: SendGridFake
) -> None:
    [alert_id] = add_alerts(db, 1)
    fake.script([Reply.accepted("msg-abc-1")])
    stats = drain(sender(db, config, fake))

    assert str(stats).startswith("1 sent")
    alert = row(db, alert_id)
    assert alert.status == AlertStatus.sent
    assert alert.message_id == "msg-abc-1"
    assert alert.attempts == 1
    assert alert.lease_owner is None
    [request] = fake.requests
    body = request.json
    assert body["custom_args"] == {"alert_id": str(alert_id)}
    assert body["categories"][:2] == ["newswatch", "alert"]
    headers = body["headers"]
    assert headers["List-Unsubscribe"].startswith("<http://127.0.0.1:8470/unsubscribe/")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = headers["List-Unsubscribe"].strip("<>")
    for part in body["content"]:
        assert link in part["value"]  # the visible link, in text and HTML
        assert "Afmelden" in part["value"]


@SQLITE_ONLY
@pytest.mark.parametrize("retry_after", [False, True])
def test_429_waits_for_the_rate_limit_reset_without_counting_an_attempt(
    db: Database, config: Config, fake: SendGridFake, retry_after: bool
) -> None:
    [alert_id] = add_alerts(db, 1)
    fake.script([Reply.rate_limited(reset_in=30, retry_after=retry_after)])
    before = datetime.now(UTC)
    drain(sender(db, config, fake))

    alert = row(db, alert_id)
    assert alert.status == AlertStatus.pending
    assert alert.attempts == 0
    wait = (alert.next_attempt_at - before).total_seconds()
    assert 25 <= wait <= 35
    assert "rate limited" in (alert.last_error or "")


@SQLITE_ONLY
@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_back_off_then_go_dead_after_max_attempts(
    db: Database, config: Config, fake: SendGridFake, status: int
) -> None:
    [alert_id] = add_alerts(db, 1)
    fake.script([status] * 3)
    delays: list[int] = []

    def delay(attempts: int) -> timedelta:
        delays.append(attempts)
        return timedelta(seconds=attempts * 60)

    s = sender(db, config, fake, retry_delay=delay)
    drain(s)
    alert = row(db, alert_id)
    assert alert.status == AlertStatus.pending
    assert alert.attempts == 1
    drain(s, alert.next_attempt_at)
    drain(s, row(db, alert_id).next_attempt_at)
    alert = row(db, alert_id)
    assert alert.status == AlertStatus.dead  # max_attempts: 3
    assert alert.attempts == 3
    assert delays == [1, 2]
    assert f"SendGrid answered {status}" in (alert.last_error or "")


@SQLITE_ONLY
def test_refused_connection_is_retried(db: Database, config: Config) -> None:
    [alert_id] = add_alerts(db, 1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = SendGridBackend(SecretStr("SG.x.y"), f"http://127.0.0.1:{port}", 1.0)
    asyncio.run(Sender(db, backend, config).drain())
    alert = row(db, alert_id)
    assert alert.status == AlertStatus.pending
    assert alert.attempts == 1
    assert "cannot reach SendGrid" in (alert.last_error or "")


@SQLITE_ONLY
@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_permanent_refusals_are_dead_at_once_logged_and_in_status(
    db: Database,
    config: Config,
    fake: SendGridFake,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    [alert_id] = add_alerts(db, 1)
    fake.script([status])
    with caplog.at_level(logging.ERROR, logger="newswatch.alerts.outbox"):
        drain(sender(db, config, fake))
    alert = row(db, alert_id)
    assert alert.status == AlertStatus.dead
    assert alert.attempts == 1
    assert any(f"alert {alert_id}" in r.getMessage() for r in caplog.records)
    assert fake.api_key not in caplog.text

    data = collect_status(db)
    assert data["outbox"]["alerts"] == {"dead": 1}
    assert data["dead"][0]["id"] == alert_id
    assert f"SendGrid answered {status}" in data["dead"][0]["last_error"]
    assert f"alert {alert_id} to {READER}" in format_status(data)


def test_timeout_after_the_request_went_out_is_ambiguous_then_resent_and_counted(
    db: Database, config: Config, fake: SendGridFake
) -> None:
    [alert_id] = add_alerts(db, 1)
    fake.script([Reply.slow(3)])  # the client gives up after 1 s
    s = sender(db, config, fake, ambiguous_delay=timedelta(minutes=10))
    stats = drain(s)
    assert "1 ambiguous" in str(stats)
    alert = row(db, alert_id)
    assert alert.status == AlertStatus.ambiguous
    assert alert.attempts == 1
    assert len(fake.requests) == 1

    drain(s)  # not before the delay
    assert len(fake.requests) == 1
    stats = drain(s, alert.next_attempt_at + timedelta(seconds=1))
    assert "1 resent after an ambiguous attempt" in str(stats)
    alert = row(db, alert_id)
    assert alert.status == AlertStatus.sent
    assert alert.last_error == POSSIBLE_DUPLICATE
    assert sent_alert_ids(fake)[alert_id] == 2
    assert collect_status(db)["possible_duplicates"] == 1


def test_ambiguous_alert_the_webhook_saw_processed_is_not_resent(
    db: Database, config: Config, fake: SendGridFake
) -> None:
    [alert_id] = add_alerts(db, 1, status=AlertStatus.ambiguous)
    with db.transaction() as session:
        session.add(WebhookEvent(event_id="ev-1", event="processed", alert_id=alert_id))
    drain(sender(db, config, fake))
    assert row(db, alert_id).status == AlertStatus.sent
    assert fake.requests == []


# --- leases ---------------------------------------------------------------------------


def test_two_senders_never_send_one_row(db: Database, config: Config, fake: SendGridFake) -> None:
    ids = add_alerts(db, 120)
    fake.script([Reply.slow(0.01)] * 120)
    first = sender(db, config, fake, owner="host-a:1:aaaa", concurrency=2)
    second = sender(db, config, fake, owner="host-b:2:bbbb", concurrency=2)

    async def both() -> None:
        await asyncio.gather(first.drain(), second.drain())

    asyncio.run(both())
    assert statuses(db) == {"sent": 120}
    assert sent_alert_ids(fake) == dict.fromkeys(ids, 1)


def test_a_crashed_senders_rows_are_taken_over_after_the_lease(
    db: Database, config: Config, fake: SendGridFake
) -> None:
    [elsewhere, local_dead] = add_alerts(db, 2)
    now = datetime.now(UTC)
    host = socket.gethostname()[:40]
    with db.transaction() as session:
        # A sender on another machine: only its lease running out frees the row.
        held = session.get(Alert, elsewhere)
        assert held is not None
        held.lease_owner, held.lease_until = "other-host:4242:cafe", now + timedelta(minutes=5)
        # A sender on this machine whose process is gone: taken over at once.
        orphan = session.get(Alert, local_dead)
        assert orphan is not None
        orphan.lease_owner, orphan.lease_until = f"{host}:999999999:dead", now + timedelta(hours=1)
    s = sender(db, config, fake)
    drain(s, now)
    assert sent_alert_ids(fake) == {local_dead: 1}
    drain(s, now + timedelta(minutes=5, seconds=1))
    assert sent_alert_ids(fake) == {local_dead: 1, elsewhere: 1}


# --- who gets mail, and when ----------------------------------------------------------


def test_suppressed_addresses_rows_become_suppressed(
    db: Database, config: Config, fake: SendGridFake
) -> None:
    [alert_id] = add_alerts(db, 1)
    with db.transaction() as session:
        session.add(Subscription(email=READER.upper(), state=SubscriberState.unsubscribed))
    stats = drain(sender(db, config, fake))
    assert "1 suppressed" in str(stats)
    assert row(db, alert_id).status == AlertStatus.suppressed
    assert fake.requests == []


@SQLITE_ONLY
def test_quiet_hours_hold_instant_alerts_until_they_end(
    tmp_path: Path, db: Database, db_url: str, fake: SendGridFake
) -> None:
    config = make_config(
        tmp_path,
        db_url,
        subscribers=[
            {
                "email": READER,
                "topics": ["intergemeentelijke-samenwerking"],
                "quiet_hours": "22:00-07:00",
                "timezone": "Europe/Amsterdam",
            }
        ],
    )
    [alert_id] = add_alerts(db, 1)
    s = sender(db, config, fake)
    late = datetime(2027, 1, 4, 22, 30, tzinfo=UTC)  # 23:30 in Amsterdam
    drain(s, late)
    drain(s, datetime(2027, 1, 5, 5, 59, tzinfo=UTC))  # 06:59
    assert fake.requests == []
    assert row(db, alert_id).status == AlertStatus.pending
    drain(s, datetime(2027, 1, 5, 6, 0, tzinfo=UTC))  # 07:00: quiet hours are over
    assert sent_alert_ids(fake) == {alert_id: 1}


# --- volume ---------------------------------------------------------------------------


@pytest.mark.slow
def test_1000_alerts_through_429s_and_500s_all_sent_none_twice(
    tmp_path: Path, fake: SendGridFake
) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'nw.db'}")
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'nw.db'}")
    ids = add_alerts(db, 1000)
    # Exactly 1,000 acceptances, with 10 % 429s and 5 % 500s mixed in.
    rng = random.Random(5)  # noqa: S311 - a repeatable mix, not a secret
    script: list[Reply | int] = []
    accepted = 0
    while accepted < 1000:
        roll = rng.random()
        if roll < 0.10:
            script.append(Reply.rate_limited(reset_in=0))
        elif roll < 0.15:
            script.append(500)
        else:
            script.append(202)
            accepted += 1
    failures = len(script) - 1000
    fake.script(script)
    s = sender(db, config, fake, concurrency=8)
    for _ in range(50):
        asyncio.run(s.drain())
        if statuses(db) == {"sent": 1000}:
            break
    assert statuses(db) == {"sent": 1000}
    # Every row needs a 202 to be sent and the fake gave exactly 1,000: one each.
    assert fake.pending == 0
    assert len(fake.requests) == 1000 + failures
    assert set(sent_alert_ids(fake)) == set(ids)
    db.dispose()
