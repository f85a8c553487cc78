"""Shared set-up for the outbox, digest and kill tests: a config folder, a
database, and stored articles with matches and alerts (Dutch text written for
these tests)."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import COOPERATION, write_config
from sendgrid_fake import SendGridFake

from newswatch.models import Alert, AlertStatus, Article, Match, Story
from newswatch.settings import Config, load_config
from newswatch.storage import Database

READER = "lezer@example.nl"
DIGEST_READER = "overzicht@example.nl"

_urls = itertools.count(1)


def make_config(
    tmp_path: Path,
    db_url: str,
    *,
    subscribers: list[dict[str, Any]] | None = None,
    email: dict[str, Any] | None = None,
) -> Config:
    if subscribers is None:
        subscribers = [{"email": READER, "name": "Anna de Vries", "topics": [COOPERATION]}]
    folder = write_config(
        tmp_path / "config", db_url=db_url, sources=[], subscribers=subscribers, email=email
    )
    return load_config(folder, env={})


def add_article(
    db: Database,
    *,
    title: str = "Goeree-Overflakkee en Hellevoetsluis delen voortaan één brandweerkazerne",
    source: str = "Omroep Voorne",
    published: datetime | None = None,
    story_id: int | None = None,
    topic: str = COOPERATION,
) -> tuple[int, int]:
    """One stored article with a match; returns (article id, story id)."""
    n = next(_urls)
    with db.transaction() as session:
        if story_id is None:
            story = Story(title=title)
            session.add(story)
            session.flush()
            story_id = story.id
        article = Article(
            url=f"https://nieuws.example/{n}/kazerne",
            source_name=source,
            title=title,
            text="De twee gemeenten gaan samenwerken in een gemeenschappelijke regeling.",
            published_at=published or datetime(2026, 11, 24, 8, 15, tzinfo=UTC),
            story_id=story_id,
        )
        session.add(article)
        session.flush()
        session.add(
            Match(
                article_id=article.id,
                topic=topic,
                score=3.0,
                terms=["gemeenschappelijke regeling"],
                explanation={"snippet": "gaan «samenwerken» in een «gemeenschappelijke regeling»"},
            )
        )
        return article.id, story_id


def add_alerts(
    db: Database,
    count: int,
    *,
    subscriber: str = READER,
    status: AlertStatus = AlertStatus.pending,
    delivery: str = "instant",
    queued_at: datetime | None = None,
) -> list[int]:
    ids = []
    for i in range(count):
        article_id, story_id = add_article(db, title=f"Samenwerking nummer {i + 1} rond")
        with db.transaction() as session:
            alert = Alert(
                subscriber=subscriber,
                article_id=article_id,
                story_id=story_id,
                topics=[COOPERATION],
                status=status,
                delivery=delivery,
                queued_at=queued_at or datetime.now(UTC) - timedelta(minutes=1),
                next_attempt_at=datetime.now(UTC) - timedelta(minutes=1),
            )
            session.add(alert)
            session.flush()
            ids.append(alert.id)
    return ids


def statuses(db: Database) -> Counter[str]:
    with db.session() as session:
        return Counter(str(s) for s in session.scalars(select_statuses()))


def select_statuses() -> Any:
    from sqlalchemy import select

    return select(Alert.status)


def sent_alert_ids(fake: SendGridFake) -> Counter[int]:
    """How often each alert id reached the fake (custom_args.alert_id)."""
    seen: Counter[int] = Counter()
    for request in fake.requests:
        if request.json:
            seen[int(request.json["custom_args"]["alert_id"])] += 1
    return seen
