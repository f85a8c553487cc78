"""Store an article, classify it, and queue its alerts — in one transaction.

This is the heart of "never lost, never doubled": the article row, its
matches and one outbox row per interested subscriber are committed together.
If the process dies before the commit, none of it exists and the article is
fetched again on the next run; after the commit, the sender will deliver.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newswatch.crawler.items import ArticleItem
from newswatch.models import Alert, Article, Match
from newswatch.relevance import Classifier, TopicMatch
from newswatch.settings import Subscriber
from newswatch.storage import Database

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    article_id: int | None  # None when the article was already stored
    topics: list[str]
    alerts: int


class Ingestor:
    def __init__(self, db: Database, classifier: Classifier, subscribers: list[Subscriber]) -> None:
        self.db = db
        self.classifier = classifier
        self.subscribers = subscribers

    def is_known(self, url: str, guid: str | None, source: str) -> bool:
        """True if this article is stored, by canonical URL or by the feed's guid."""
        condition = Article.url == url
        if guid:
            condition = or_(condition, (Article.guid == guid) & (Article.source_name == source))
        with self.db.session() as session:
            return session.scalar(select(Article.id).where(condition).limit(1)) is not None

    def ingest(self, item: ArticleItem) -> IngestResult:
        matches = self.classifier.classify(item.title, item.text, url=item.url)
        try:
            with self.db.transaction() as session:
                if session.scalar(select(Article.id).where(Article.url == item.url)):
                    return IngestResult(None, [], 0)
                article = _article_row(item)
                session.add(article)
                session.flush()
                alerts = self._queue(session, article, matches)
        except IntegrityError:
            # Another source stored the same URL between our check and commit.
            log.info("%s: %s was stored by another source meanwhile", item.source, item.url)
            return IngestResult(None, [], 0)
        topics = [m.topic for m in matches]
        if topics:
            log.info(
                "%s: %r matched %s, %d alert(s) queued",
                item.source,
                item.title,
                ", ".join(topics),
                alerts,
            )
        return IngestResult(article.id, topics, alerts)

    def _queue(self, session: Session, article: Article, matches: list[TopicMatch]) -> int:
        for match in matches:
            session.add(
                Match(
                    article_id=article.id,
                    topic=match.topic,
                    score=match.score,
                    terms=list(match.terms),
                    explanation=match.to_dict(),
                )
            )
        matched = {m.topic for m in matches}
        queued = 0
        for subscriber in self.subscribers:
            topics = [t for t in subscriber.topics if t in matched]
            if topics:
                session.add(
                    Alert(subscriber=subscriber.email, article_id=article.id, topics=topics)
                )
                queued += 1
        return queued


def _article_row(item: ArticleItem) -> Article:
    return Article(
        url=item.url,
        source_name=item.source,
        guid=item.guid,
        title=item.title[:2000],
        author=item.author,
        published_at=item.published,
        text=item.text,
        places=list(item.places),
        lang=item.lang,
    )
