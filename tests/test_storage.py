"""Storage on SQLite and PostgreSQL: migrations, uniqueness, UTC round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from newswatch.crawler.items import ArticleItem
from newswatch.models import Alert, Article
from newswatch.storage import open_database


def test_migrations_create_the_schema_and_are_idempotent(db_url: str) -> None:
    db = open_database(db_url)
    tables = set(inspect(db.engine).get_table_names())
    assert {"articles", "matches", "alerts", "sources", "alembic_version"} <= tables
    db.dispose()
    open_database(db_url).dispose()  # a second upgrade is a no-op


def test_article_url_is_unique(db_url: str) -> None:
    db = open_database(db_url)
    with db.transaction() as session:
        session.add(Article(url="https://a.nl/1", source_name="A", title="t", text="x"))
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(Article(url="https://a.nl/1", source_name="B", title="t", text="y"))
    db.dispose()


def test_one_alert_per_subscriber_and_article(db_url: str) -> None:
    db = open_database(db_url)
    with db.transaction() as session:
        article = Article(url="https://a.nl/2", source_name="A", title="t", text="x")
        session.add(article)
        session.flush()
        session.add(Alert(subscriber="a@example.org", article_id=article.id, topics=["x"]))
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(Alert(subscriber="a@example.org", article_id=article.id, topics=["x"]))
    db.dispose()


def test_datetimes_come_back_as_utc(db_url: str) -> None:
    db = open_database(db_url)
    amsterdam = timezone(timedelta(hours=1))
    published = datetime(2026, 11, 24, 9, 15, tzinfo=amsterdam)
    with db.transaction() as session:
        session.add(
            Article(
                url="https://a.nl/3", source_name="A", title="t", text="x", published_at=published
            )
        )
    with db.session() as session:
        stored = session.scalar(select(Article.published_at))
    assert stored == published
    assert stored is not None
    assert stored.utcoffset() == timedelta(0)
    db.dispose()


def test_naive_datetimes_are_refused(db_url: str) -> None:
    db = open_database(db_url)
    with pytest.raises(Exception, match="naive datetime"), db.transaction() as session:
        session.add(
            Article(
                url="https://a.nl/4",
                source_name="A",
                title="t",
                text="x",
                published_at=datetime(2026, 1, 1),
            )
        )
    db.dispose()


def test_ingest_stores_matches_and_alerts_in_one_go(db_url: str) -> None:
    from conftest import ROOT

    from newswatch.relevance import Classifier, load_topics
    from newswatch.scheduler.ingest import Ingestor
    from newswatch.settings import Subscriber

    db = open_database(db_url)
    classifier = Classifier(load_topics(ROOT / "config" / "topics.yaml"))
    subscribers = [
        Subscriber(email="a@example.org", topics=["intergemeentelijke-samenwerking"]),
        Subscriber(email="b@example.org", topics=["gemeentelijke-herindeling"]),
    ]
    ingestor = Ingestor(db, classifier, subscribers)
    item = ArticleItem(
        url="https://a.nl/5",
        source="A",
        title="Drie gemeenten richten samen een ICT-organisatie op",
        text=(
            "GOES/KAPELLE/BORSELE – De gemeenten Goes, Kapelle en Borsele brengen hun "
            "ICT-beheer onder in een nieuwe bedrijfsvoeringsorganisatie. De drie colleges "
            "stemden in met de gemeenschappelijke regeling."
        ),
        published=datetime(2026, 11, 24, 8, tzinfo=UTC),
    )
    result = ingestor.ingest(item)
    assert result.article_id is not None
    assert "intergemeentelijke-samenwerking" in result.topics
    assert result.alerts == 1
    assert ingestor.ingest(item).article_id is None  # stored once
    assert ingestor.is_known("https://a.nl/5", None, "A")
    with db.session() as session:
        alerts = list(session.scalars(select(Alert)))
    assert [a.subscriber for a in alerts] == ["a@example.org"]
    db.dispose()


def test_known_among_answers_like_is_known_in_one_batch(db_url: str) -> None:
    from newswatch.scheduler.ingest import Ingestor

    db = open_database(db_url)
    with db.transaction() as session:
        session.add(Article(url="https://a.nl/1", source_name="A", guid="g1", title="t", text="x"))
        session.add(Article(url="https://b.nl/2", source_name="B", guid="g2", title="t", text="y"))
    ingestor = Ingestor(db, classifier=None, subscribers=[])  # type: ignore[arg-type]
    entries: list[tuple[str, str | None]] = [
        ("https://a.nl/1", None),  # stored, by URL
        ("https://a.nl/moved", "g1"),  # stored, by this source's guid
        ("https://a.nl/other", "g2"),  # g2 is another source's guid: new
        ("https://b.nl/2", "x"),  # another source's URL: stored
        ("https://a.nl/new", None),
        ("https://a.nl/new", "g1"),  # same URL, but a known guid
    ]
    expected = {e for e in entries if ingestor.is_known(e[0], e[1], "A")}
    assert expected == {entries[0], entries[1], entries[3], entries[5]}
    assert ingestor.known_among(entries, "A") == expected
    # More entries than one IN (...) list holds.
    many = [(f"https://a.nl/x{i}", f"h{i}") for i in range(1200)] + entries
    assert ingestor.known_among(many, "A") == expected
    assert ingestor.known_among([], "A") == set()
    db.dispose()


def test_migrations_build_the_schema_the_models_describe(db_url: str) -> None:
    """An upgrade by migrations and a fresh install by the models agree, column by column."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from newswatch.models import Base

    db = open_database(db_url)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        db.dispose()
    assert differences == []
