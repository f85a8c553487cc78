"""Digests: slots in the subscriber's zone across both DST changes (injected
clock), one email per period grouped by topic and newest first, nothing when
there is nothing, "also reported by" for later outlets of a story."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import COOPERATION
from outbox_helpers import DIGEST_READER, READER, add_alerts, make_config
from sqlalchemy import select
from test_dedupe import OTHER_SAME_TOWNS, OUTLET_EDITED, OUTLET_INTRO, PRESS_RELEASE, item

from newswatch.alerts.backends import FileBackend
from newswatch.alerts.digest import build_due_digests, last_slot, next_slot
from newswatch.alerts.outbox import Sender
from newswatch.models import Alert, AlertStatus, Digest, SubscriberState, Subscription
from newswatch.scheduler.ingest import Ingestor
from newswatch.settings import Config, parse_delivery
from newswatch.storage import Database, open_database

AMS = ZoneInfo("Europe/Amsterdam")
MERGER = "gemeentelijke-herindeling"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


def digest_config(
    tmp_path: Path, db_url: str, delivery: str = "daily@07:30", **more: str
) -> Config:
    return make_config(
        tmp_path,
        db_url,
        subscribers=[
            {"email": READER, "topics": [COOPERATION]},
            {
                "email": DIGEST_READER,
                "name": "Bram Visser",
                "topics": [MERGER, COOPERATION],
                "delivery": delivery,
                **more,
            },
        ],
    )


# --- slots ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 3, 28, 7, 0), utc(2026, 3, 28, 6, 30)),  # Saturday, CET (+1)
        (utc(2026, 3, 29, 6, 0), utc(2026, 3, 29, 5, 30)),  # DST starts: CEST (+2)
        (utc(2026, 3, 29, 5, 29), utc(2026, 3, 28, 6, 30)),  # 07:29 local: yesterday's
        (utc(2026, 10, 24, 6, 0), utc(2026, 10, 24, 5, 30)),  # CEST
        (utc(2026, 10, 25, 7, 0), utc(2026, 10, 25, 6, 30)),  # DST ends: CET
    ],
)
def test_daily_slot_is_local_time_across_dst(now: datetime, expected: datetime) -> None:
    assert last_slot(parse_delivery("daily@07:30"), AMS, now) == expected


def test_next_slot_is_23_and_25_hours_away_over_the_changes() -> None:
    daily = parse_delivery("daily@07:30")
    assert next_slot(daily, AMS, utc(2026, 3, 28, 6, 30)) == utc(2026, 3, 29, 5, 30)
    assert next_slot(daily, AMS, utc(2026, 10, 24, 5, 30)) == utc(2026, 10, 25, 6, 30)


def test_weekly_slot_in_the_skipped_and_the_repeated_hour() -> None:
    sunday = parse_delivery("weekly@sun 02:30")
    # 02:30 does not exist on 29 March: it is taken as 03:30 summer time.
    assert last_slot(sunday, AMS, utc(2026, 3, 29, 12)) == utc(2026, 3, 29, 1, 30)
    # 02:30 happens twice on 25 October: the first one (summer time).
    assert last_slot(sunday, AMS, utc(2026, 10, 25, 12)) == utc(2026, 10, 25, 0, 30)
    # A week later, plain winter time.
    assert last_slot(sunday, AMS, utc(2026, 11, 2)) == utc(2026, 11, 1, 1, 30)


def test_a_subscriber_zone_of_their_own(tmp_path: Path, db_url: str) -> None:
    config = digest_config(tmp_path, db_url, timezone="America/New_York")
    person = config.subscribers[1]
    assert config.subscribers[0].timezone == "Europe/Amsterdam"  # the settings default
    slot = last_slot(person.schedule, person.zone(), utc(2026, 11, 24, 13))
    assert slot == utc(2026, 11, 24, 12, 30)  # 07:30 EST


# --- building -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (
            utc(2026, 3, 27),
            [utc(2026, 3, 28, 6, 30), utc(2026, 3, 29, 5, 30), utc(2026, 3, 30, 5, 30)],
        ),
        (
            utc(2026, 10, 23),
            [utc(2026, 10, 24, 5, 30), utc(2026, 10, 25, 6, 30), utc(2026, 10, 26, 6, 30)],
        ),
    ],
    ids=["march", "october"],
)
def test_one_digest_a_day_at_local_time_across_the_dst_change(
    tmp_path: Path, db_url: str, db: Database, start: datetime, expected: list[datetime]
) -> None:
    config = digest_config(tmp_path, db_url)
    built: list[tuple[datetime, datetime]] = []
    now = start
    while now <= start + timedelta(days=3, hours=12):
        if now.hour == 12 and now.minute == 0:  # one story found every day at noon UTC
            add_alerts(
                db,
                1,
                subscriber=DIGEST_READER,
                status=AlertStatus.held,
                delivery="digest",
                queued_at=now,
            )
        for digest_id in build_due_digests(db, config, now):
            with db.session() as session:
                digest = session.get(Digest, digest_id)
                assert digest is not None
                built.append((now, digest.period_end))
        now += timedelta(minutes=30)
    # Each built at the first tick at or after 07:30 local, for its own period.
    assert [end for _, end in built] == expected
    assert all(at == end for at, end in built)
    with db.session() as session:
        periods = session.execute(
            select(Digest.period_start, Digest.period_end).order_by(Digest.id)
        ).all()
        assert periods[1].period_start == periods[0].period_end
        held = session.scalars(select(Alert).where(Alert.status == AlertStatus.held)).all()
        assert len(held) == 1  # the last noon's story waits for the next morning
        assert all(
            a.digest_id is not None
            for a in session.scalars(select(Alert).where(Alert.status == AlertStatus.digested))
        )


def test_no_digest_when_nothing_is_held(tmp_path: Path, db_url: str, db: Database) -> None:
    config = digest_config(tmp_path, db_url)
    now = utc(2027, 1, 5, 8)
    assert build_due_digests(db, config, now) == []
    # Found after this morning's slot: it waits for tomorrow's.
    add_alerts(
        db, 1, subscriber=DIGEST_READER, status=AlertStatus.held, delivery="digest", queued_at=now
    )
    assert build_due_digests(db, config, now + timedelta(hours=3)) == []
    assert len(build_due_digests(db, config, now + timedelta(days=1))) == 1
    assert build_due_digests(db, config, now + timedelta(days=1, minutes=5)) == []


def test_unsubscribed_digest_reader_gets_no_digest(
    tmp_path: Path, db_url: str, db: Database
) -> None:
    config = digest_config(tmp_path, db_url)
    [alert_id] = add_alerts(
        db, 1, subscriber=DIGEST_READER, status=AlertStatus.held, delivery="digest"
    )
    with db.transaction() as session:
        session.add(Subscription(email=DIGEST_READER, state=SubscriberState.unsubscribed))
    assert build_due_digests(db, config, datetime.now(UTC) + timedelta(days=1)) == []
    with db.session() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        assert alert.status == AlertStatus.suppressed


# --- what the email says ----------------------------------------------------------------


class TopicStub:
    """Topics by URL, so the test does not depend on the tuning of topics.yaml."""

    def __init__(self, topics: dict[str, list[str]]) -> None:
        self.topics = topics

    def classify(self, title: str, text: str, url: str | None = None) -> list[object]:
        from test_dedupe import StubMatch

        return [StubMatch(t, 2.0, ["samen"]) for t in self.topics.get(url or "", [COOPERATION])]


def read_eml(path: Path) -> EmailMessage:
    with path.open("rb") as fh:
        message = email.message_from_binary_file(fh, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_digest_email_by_topic_newest_first_with_also_reported_by(
    tmp_path: Path, db_url: str, db: Database
) -> None:
    config = digest_config(tmp_path, db_url, language="nl")
    outbox = tmp_path / "outbox"
    sender = Sender(db, FileBackend(outbox), config)
    ingest = Ingestor(
        db,
        TopicStub({"https://waterweg.example/leerplicht": [MERGER]}),  # type: ignore[arg-type]
        config.subscribers,
    )
    # One press release on two outlets, and other news for the second topic.
    press = item("https://schiedam.example/milieustraat", "Gemeente Schiedam", PRESS_RELEASE)
    ingest.ingest(press)
    ingest.ingest(item("https://waterweg.example/zolder", "Waterweg Nieuws", OUTLET_INTRO))
    other = item(
        "https://waterweg.example/leerplicht",
        "Waterweg Nieuws",
        OTHER_SAME_TOWNS,
        "Schiedam en Vlaardingen delen <b>leerplichtteam</b>",
    )
    other.published = press.published + timedelta(hours=1)  # type: ignore[operator]
    ingest.ingest(other)

    # The instant reader got one email for the story, no second for the other outlet.
    with db.session() as session:
        rows = session.execute(select(Alert.subscriber, Alert.delivery, Alert.status)).all()
    assert sorted((s, d, str(st)) for s, d, st in rows) == [
        (READER, "instant", "pending"),
        (DIGEST_READER, "also", "held"),
        (DIGEST_READER, "digest", "held"),
        (DIGEST_READER, "digest", "held"),
    ]

    tomorrow = datetime.now(UTC) + timedelta(days=1)
    [digest_id] = build_due_digests(db, config, tomorrow)
    stats = asyncio.run(sender.drain(tomorrow))
    assert "1 of them digests" in str(stats)
    [digest_file] = [
        p for p in outbox.glob("*.eml") if read_eml(p)["To"].addresses[0].addr_spec == DIGEST_READER
    ]
    message = read_eml(digest_file)
    assert message["X-Newswatch-Digest-Id"] == str(digest_id)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Overzicht: 2 berichten" in message["Subject"]
    text = text_of(message)
    # Topics in the subscriber's order; the story with its other outlet.
    assert text.index("== Gemeentelijke herindeling (1)") < text.index(
        "== Intergemeentelijke samenwerking (1)"
    )
    assert "Ook gemeld door: Waterweg Nieuws" in text
    assert "Waarom je dit krijgt" in text
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;b&gt;leerplichtteam&lt;/b&gt;" in html  # markup from a title is escaped
    assert "<b>leerplichtteam" not in html
    with db.session() as session:
        digest = session.get(Digest, digest_id)
        assert digest is not None
        assert digest.status == AlertStatus.sent
        assert {
            a.status for a in session.scalars(select(Alert).where(Alert.digest_id == digest_id))
        } == {AlertStatus.digested}

    # A third outlet runs the story after the digest went out: the next digest
    # reports it as a follow-up, not as a new story.
    ingest.ingest(item("https://maassluis.example/1", "Maassluis Actueel", OUTLET_EDITED))
    [second] = build_due_digests(db, config, tomorrow + timedelta(days=1))
    asyncio.run(sender.drain(tomorrow + timedelta(days=1)))
    files = [p for p in outbox.glob("*.eml") if read_eml(p)["X-Newswatch-Digest-Id"] == str(second)]
    text = text_of(read_eml(files[0]))
    assert "Eerder gemeld; nu ook bij: Maassluis Actueel" in text
    assert "Overzicht: 1 bericht " in read_eml(files[0])["Subject"]


def test_english_digest_chrome(tmp_path: Path, db_url: str, db: Database) -> None:
    config = digest_config(tmp_path, db_url, language="en")
    _first, second = add_alerts(
        db, 2, subscriber=DIGEST_READER, status=AlertStatus.held, delivery="digest"
    )
    with db.transaction() as session:
        newer = session.get(Alert, second)
        assert newer is not None
        newer.article.published_at += timedelta(hours=2)
    outbox = tmp_path / "outbox"
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    build_due_digests(db, config, tomorrow)
    asyncio.run(Sender(db, FileBackend(outbox), config).drain(tomorrow))
    [path] = outbox.glob("*.eml")
    message = read_eml(path)
    assert "Digest: 2 items" in message["Subject"]
    text = text_of(message)
    assert "Your newswatch digest" in text
    assert "Why you get this" in text
    assert "Unsubscribe:" in text
    # Newest first within a topic.
    assert text.index("Samenwerking nummer 2") < text.index("Samenwerking nummer 1")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("delivery", "hourly", "is not instant, daily@HH:MM or weekly@DAY HH:MM"),
        ("delivery", "daily@25:00", "is not a time of day"),
        ("delivery", "weekly@zon 07:30", "is not a weekday"),
        ("quiet_hours", "22:00-22:00", "must not start and end at the same time"),
        ("quiet_hours", "na tienen", "is not a range like 22:00-07:00"),
        ("timezone", "Europe/Utrecht", "is not a known time zone"),
        ("language", "fy", "nl"),
    ],
)
def test_bad_delivery_settings_name_the_key(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    from newswatch.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        make_config(
            tmp_path,
            "sqlite:///unused.db",
            subscribers=[{"email": READER, "topics": [COOPERATION], key: value}],
        )
    assert message in str(caught.value)
    assert caught.value.key == f"subscribers[0].{key}"
