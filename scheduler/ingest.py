"""Store an article, classify it, and queue its alerts — in one transaction.

This is the heart of "never lost, never doubled": the article row, its
matches and one outbox row per interested subscriber are committed together.
If the process dies before the commit, none of it exists and the article is
fetched again on the next run; after the commit, the sender will deliver.

Subscribers get stories, not articles: the article joins the story of an
earlier near-duplicate (see `dedupe`), and a subscriber who already has an
alert for that story gets no second one for the next outlet or update.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Insert, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newswatch.alerts.subscriptions import suppressed_emails
from newswatch.crawler.items import ArticleItem
from newswatch.faults import fault
from newswatch.models import Alert, AlertStatus, Article, Match, Story
from newswatch.relevance import Classifier, TopicMatch
from newswatch.scheduler.dedupe import (
    Analysis,
    Candidate,
    Fingerprint,
    RecentIndex,
    analyse,
    find_story_id,
)
from newswatch.settings import Subscriber
from newswatch.storage import Database

log = logging.getLogger(__name__)

# Values per IN (...) list: well under every backend's bound-parameter limit.
_IN_BATCH = 500


@dataclass
class IngestResult:
    article_id: int | None  # None when the article was already stored
    topics: list[str]
    alerts: int
    story_id: int | None = None
    # False when the article joined an earlier story (another outlet, an update).
    new_story: bool = False


class Ingestor:
    def __init__(self, db: Database, classifier: Classifier, subscribers: list[Subscriber]) -> None:
        self.db = db
        self.classifier = classifier
        self.subscribers = subscribers
        # The dedupe window, kept in memory across articles (see RecentIndex).
        self._recent = RecentIndex()
        # Story assignment reads the window and then inserts: two ingests at
        # once could both start a story for one press release. The crawler
        # runs ingests in one worker thread anyway; the lock makes it a rule.
        self._lock = threading.Lock()

    def is_known(self, url: str, guid: str | None, source: str) -> bool:
        """True if this article is stored, by canonical URL or by the feed's guid."""
        condition = Article.url == url
        if guid:
            condition = or_(condition, (Article.guid == guid) & (Article.source_name == source))
        with self.db.session() as session:
            return session.scalar(select(Article.id).where(condition).limit(1)) is not None

    def known_among(
        self, entries: Iterable[tuple[str, str | None]], source: str
    ) -> set[tuple[str, str | None]]:
        """The (canonical URL, guid) pairs among `entries` for which `is_known` is True.

        One query per batch of a feed's entries instead of one per entry.
        """
        entries = list(entries)
        known: set[tuple[str, str | None]] = set()
        for start in range(0, len(entries), _IN_BATCH):
            known |= self._known_batch(entries[start : start + _IN_BATCH], source)
        return known

    def _known_batch(
        self, entries: list[tuple[str, str | None]], source: str
    ) -> set[tuple[str, str | None]]:
        urls = {url for url, _ in entries}
        guids = {guid for _, guid in entries if guid}
        condition = Article.url.in_(urls)
        if guids:
            condition = or_(condition, Article.guid.in_(guids) & (Article.source_name == source))
        with self.db.session() as session:
            rows = session.execute(
                select(Article.url, Article.guid, Article.source_name).where(condition)
            ).all()
        stored_urls = {url for url, _, _ in rows}
        # A row found by URL may be another source's: its guid says nothing here.
        stored_guids = {guid for _, guid, name in rows if guid and name == source}
        return {
            (url, guid)
            for url, guid in entries
            if url in stored_urls or (guid and guid in stored_guids)
        }

    def ingest(self, item: ArticleItem) -> IngestResult:
        matches = self.classifier.classify(item.title, item.text, url=item.url)
        analysis = analyse(item.text)
        prints = analysis.fingerprint()
        with self._lock:
            try:
                with self.db.transaction() as session:
                    # The common path (a new article, no topic) runs prepared Core
                    # statements on the session's connection: the ORM's unit of
                    # work cost more than the rest of ingest together.
                    conn = session.connection()
                    if conn.scalar(_STORED_URL, {"url": item.url}) is not None:
                        return IngestResult(None, [], 0)
                    story_id, new_story = _attach_story(conn, item, prints, analysis, self._recent)
                    article_id = _insert(
                        conn, _INSERT_ARTICLE, _article_values(item, prints, story_id)
                    )
                    alerts = self._queue(session, article_id, story_id, matches, new_story)
            except IntegrityError:
                # Another source stored the same URL between our check and commit.
                log.info("%s: %s was stored by another source meanwhile", item.source, item.url)
                return IngestResult(None, [], 0)
            if prints.simhash is not None:
                # Committed: a later near-duplicate can compare with it without reloading.
                self._recent.remember(article_id, prints.content_hash, analysis.sketch())
        topics = [m.topic for m in matches]
        if topics:
            log.info(
                "%s: %r matched %s, %d alert(s) queued",
                item.source,
                item.title,
                ", ".join(topics),
                alerts,
            )
        return IngestResult(article_id, topics, alerts, story_id, new_story)

    def _queue(
        self,
        session: Session,
        article_id: int,
        story_id: int,
        matches: list[TopicMatch],
        new_story: bool,
    ) -> int:
        for match in matches:
            session.add(
                Match(
                    article_id=article_id,
                    topic=match.topic,
                    score=match.score,
                    terms=list(match.terms),
                    explanation=match.to_dict(),
                )
            )
        matched = {m.topic for m in matches}
        if not matched:
            return 0
        # Later outlets of a story already alerted belong in a digest's "also
        # reported by", not in a new alert.
        alerted = set() if new_story else _alerted_for_story(session, story_id)
        # Unsubscribed, bouncing or spam-reporting addresses get nothing, even
        # while subscribers.yaml still lists them.
        suppressed = suppressed_emails(session)
        queued = 0
        for subscriber in self.subscribers:
            if subscriber.email.lower() in suppressed:
                continue
            topics = [t for t in subscriber.topics if t in matched]
            if not topics:
                continue
            if subscriber.email not in alerted:
                session.add(_alert_for(subscriber, article_id, story_id, topics))
                queued += 1
            elif subscriber.is_digest:
                # Another outlet of a story this subscriber already has: no new
                # alert, but the next digest lists it as "also reported by".
                session.add(_alert_for(subscriber, article_id, story_id, topics, also=True))
        fault("mid_crawl")  # test-only hook (newswatch/faults.py)
        return queued


def _alert_for(
    subscriber: Subscriber,
    article_id: int,
    story_id: int,
    topics: list[str],
    *,
    also: bool = False,
) -> Alert:
    """An instant alert goes out pending; a digest subscriber's waits `held` for the digest."""
    digest = subscriber.is_digest
    return Alert(
        subscriber=subscriber.email,
        article_id=article_id,
        topics=topics,
        story_id=story_id,
        delivery="also" if also else ("digest" if digest else "instant"),
        status=AlertStatus.held if digest else AlertStatus.pending,
    )


# Prepared once (see dedupe's queries): the statements every article runs.
_STORED_URL = select(Article.id).where(Article.url == bindparam("url")).limit(1)
_INSERT_ARTICLE = insert(Article)
_INSERT_STORY = insert(Story)
_STORY_SEEN = (
    update(Story).where(Story.id == bindparam("story_id")).values(updated_at=bindparam("now"))
)
_STORY_TITLE = select(Story.title).where(Story.id == bindparam("story_id"))


def _insert(conn: Connection, statement: Insert, values: dict[str, Any]) -> int:
    """Insert one row; its new primary key."""
    key = conn.execute(statement, values).inserted_primary_key
    assert key is not None
    return int(key[0])


def _attach_story(
    conn: Connection,
    item: ArticleItem,
    prints: Fingerprint,
    analysis: Analysis,
    index: RecentIndex,
) -> tuple[int, bool]:
    """The story for a new article: an earlier near-duplicate's, or a new one; True if new."""
    now = datetime.now(UTC)
    candidate = Candidate(item.title, prints.content_hash, prints.simhash, analysis)
    story_id = find_story_id(conn, candidate, now=now, index=index)
    if story_id is None:
        values = {"title": item.title[:2000], "first_seen_at": now, "updated_at": now}
        return _insert(conn, _INSERT_STORY, values), True
    conn.execute(_STORY_SEEN, {"story_id": story_id, "now": now})
    title = conn.scalar(_STORY_TITLE, {"story_id": story_id})
    log.info("%s: %r joins story %d (%r)", item.source, item.title, story_id, title)
    return story_id, False


def _alerted_for_story(session: Session, story_id: int | None) -> set[str]:
    """Subscribers with an alert, in any state, for any article of the story."""
    if story_id is None:
        return set()
    return set(
        session.scalars(
            select(Alert.subscriber).join(Article).where(Article.story_id == story_id).distinct()
        )
    )


def _article_values(item: ArticleItem, prints: Fingerprint, story_id: int) -> dict[str, Any]:
    """The article row's columns (`first_seen_at` is the column default: now)."""
    return {
        "url": item.url,
        "source_name": item.source,
        "guid": item.guid,
        "title": item.title[:2000],
        "author": item.author,
        "published_at": item.published,
        "text": item.text,
        "places": list(item.places),
        "lang": item.lang,
        "content_hash": prints.content_hash,
        "simhash": prints.simhash,
        "story_id": story_id,
    }
