"""Checking rules against what is stored: `rules test`, `--diff` and `explain`.

The daemon's verdicts are the rows in `matches`; re-running a topic as it now
stands in topics.yaml over stored articles shows what an edit would change
before the daemon picks it up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from newswatch.models import Article, Match
from newswatch.relevance.classifier import Classifier
from newswatch.relevance.explain import TopicMatch
from newswatch.storage import Database

BATCH = 500


@dataclass(frozen=True)
class Verdict:
    article_id: int
    title: str
    url: str
    first_seen_at: datetime
    now: TopicMatch | None  # the current rules' match, if any
    stored: bool  # whether the running daemon matched it


def stored_articles(db: Database, since: datetime) -> Iterator[Article]:
    """Articles first seen since `since`, in batches so memory stays flat."""
    last_id = 0
    while True:
        with db.session() as session:
            batch = list(
                session.scalars(
                    select(Article)
                    .where(Article.first_seen_at >= since, Article.id > last_id)
                    .order_by(Article.id)
                    .limit(BATCH)
                )
            )
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id


def matched_ids(db: Database, topic: str, since: datetime) -> set[int]:
    with db.session() as session:
        query = (
            select(Match.article_id)
            .join(Article)
            .where(Match.topic == topic, Article.first_seen_at >= since)
        )
        return set(session.scalars(query))


def review_topic(
    db: Database, classifier: Classifier, topic: str, since: datetime
) -> Iterator[Verdict]:
    """The current rules' verdict on every stored article, next to the daemon's."""
    stored = matched_ids(db, topic, since)
    for article in stored_articles(db, since):
        matches = classifier.classify(article.title, article.text, url=article.url, topic=topic)
        now = matches[0] if matches else None
        if now is not None or article.id in stored:
            yield Verdict(
                article.id,
                article.title,
                article.url,
                article.first_seen_at,
                now,
                article.id in stored,
            )


def find_article(db: Database, ref: str) -> Article | None:
    """An article by numeric id or by URL."""
    with db.session() as session:
        if ref.isdigit():
            return session.get(Article, int(ref))
        from newswatch.crawler.urls import canonical_url

        query = select(Article).where(Article.url.in_({ref, canonical_url(ref)}))
        return session.scalars(query).first()


def stored_matches(db: Database, article_id: int) -> list[Match]:
    with db.session() as session:
        return list(session.scalars(select(Match).where(Match.article_id == article_id)))
