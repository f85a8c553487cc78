"""`newswatch db copy --to URL`: every row moves, ids keep working, a full target is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from conftest import COOPERATION, newswatch, write_config
from sqlalchemy import func, select

from newswatch.models import (
    Alert,
    AlertStatus,
    Article,
    Base,
    Digest,
    Match,
    Meta,
    Story,
    Subscription,
)
from newswatch.models import Source as SourceRow
from newswatch.storage import open_database


def fill(url: str) -> dict[str, int]:
    db = open_database(url)
    now = datetime.now(UTC)
    with db.transaction() as session:
        feed = "https://example.org/feed.xml"
        session.add(SourceRow(name="Lokaal", url=feed, last_success_at=now))
        story = Story(title="Samen verder")
        session.add(story)
        session.flush()
        digest = Digest(subscriber="a@example.org", period_end=now, status=AlertStatus.sent)
        session.add(digest)
        session.flush()
        for n in range(3):
            article = Article(
                url=f"https://example.org/{n}",
                source_name="Lokaal",
                title=f"Artikel {n}",
                text="tekst",
                published_at=now,
                places=["Capelle aan den IJssel"],
                story_id=story.id,
            )
            session.add(article)
            session.flush()
            session.add(
                Match(
                    article_id=article.id,
                    topic=COOPERATION,
                    score=4.5,
                    terms=["samenwerking"],
                    explanation={"snippet": "…"},
                )
            )
            session.add(
                Alert(
                    subscriber="a@example.org",
                    article_id=article.id,
                    topics=[COOPERATION],
                    digest_id=digest.id if n == 0 else None,
                )
            )
        session.add(Subscription(email="weg@example.org", changed_by="link"))
        session.add(Meta(key="token_secret", value="geheim"))
    counts = table_counts(db)
    db.dispose()
    return counts


def table_counts(db: object) -> dict[str, int]:
    with db.engine.connect() as conn:  # type: ignore[attr-defined]
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
            for t in Base.metadata.sorted_tables
        }


def test_copy_moves_every_row_and_the_target_takes_new_ones(tmp_path: Path, db_url: str) -> None:
    source_url = f"sqlite:///{tmp_path / 'bron.db'}"
    expected = fill(source_url)
    config = write_config(tmp_path / "config", db_url=source_url, sources=[])

    result = newswatch("--config", str(config), "db", "copy", "--to", db_url, timeout=120)

    assert result.returncode == 0, result.stderr
    assert f"copied {sum(expected.values())} row(s)" in result.stdout
    target = open_database(db_url)
    assert table_counts(target) == expected
    with target.transaction() as session:
        copied = session.scalar(select(Article).where(Article.url == "https://example.org/0"))
        assert copied is not None
        assert copied.places == ["Capelle aan den IJssel"]
        assert copied.published_at is not None
        assert copied.published_at.tzinfo is not None
        alert = session.scalar(select(Alert).where(Alert.article_id == copied.id))
        assert alert is not None
        assert alert.digest_id is not None
        # A new row gets a fresh id (PostgreSQL: the sequence was moved on).
        session.add(Article(url="https://example.org/nieuw", source_name="x", title="t", text=""))
    target.dispose()

    again = newswatch("--config", str(config), "db", "copy", "--to", db_url, timeout=120)
    assert again.returncode == 1
    assert "already holds data" in again.stderr
