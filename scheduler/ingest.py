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

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from newswatch.alerts.subscriptions import suppressed_emails
from newswatch.crawler.items import ArticleItem
from newswatch.faults import fault
from newswatch.models import Alert, AlertStatus, Article, Match, Story
from newswatch.relevance import Classifier, TopicMatch
from newswatch.scheduler.dedupe import Analysis, RecentIndex, analyse, find_story
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
        with self._lock:
            try:
                with self.db.transaction() as session:
                    if session.scalar(select(Article.id).where(Article.url == item.url)):
                        return IngestResult(None, [], 0)
                    article = _article_row(item, analysis)
                    story, new_story = _attach_story(session, article, self._recent, analysis)
                    session.add(article)
                    session.flush()
                    alerts = self._queue(session, article, matches, new_story)
            except IntegrityError:
                # Another source stored the same URL between our check and commit.
                log.info("%s: %s was stored by another source meanwhile", item.source, item.url)
                return IngestResult(None, [], 0)
            if article.simhash is not None:
                # Committed: a later near-duplicate can compare with it without reloading.
                self._recent.remember(article.id, article.content_hash, analysis.sketch())
        topics = [m.topic for m in matches]
        if topics:
            log.info(
                "%s: %r matched %s, %d alert(s) queued",
                item.source,
                item.title,
                ", ".join(topics),
                alerts,
            )
        return IngestResult(article.id, topics, alerts, story.id, new_story)

    def _queue(
        self, session: Session, article: Article, matches: list[TopicMatch], new_story: bool
    ) -> int:
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
        if not matched:
            return 0
        # Later outlets of a story already alerted belong in a digest's "also
        # reported by", not in a new alert.
        alerted = set() if new_story else _alerted_for_story(session, article.story_id)
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
                session.add(_alert_for(subscriber, article, topics))
                queued += 1
            elif subscriber.is_digest:
                # Another outlet of a story this subscriber already has: no new
                # alert, but the next digest lists it as "also reported by".
                session.add(_alert_for(subscriber, article, topics, also=True))
        fault("mid_crawl")  # test-only hook (newswatch/faults.py)
        return queued


def _alert_for(
    subscriber: Subscriber, article: Article, topics: list[str], *, also: bool = False
) -> Alert:
    """An instant alert goes out pending; a digest subscriber's waits `held` for the digest."""
    digest = subscriber.is_digest
    return Alert(
        subscriber=subscriber.email,
        article_id=article.id,
        topics=topics,
        story_id=article.story_id,
        delivery="also" if also else ("digest" if digest else "instant"),
        status=AlertStatus.held if digest else AlertStatus.pending,
    )


def _attach_story(
    session: Session, article: Article, index: RecentIndex, analysis: Analysis
) -> tuple[Story, bool]:
    """Put `article` into the story of an earlier near-duplicate, or a new one; True if new."""
    now = datetime.now(UTC)
    story = find_story(session, article, now=now, index=index, analysis=analysis)
    new_story = story is None
    if story is None:
        story = Story(title=article.title, first_seen_at=now, updated_at=now)
        session.add(story)
    else:
        story.updated_at = now
        log.info(
            "%s: %r joins story %d (%r)", article.source_name, article.title, story.id, story.title
        )
    article.story = story
    return story, new_story


def _alerted_for_story(session: Session, story_id: int | None) -> set[str]:
    """Subscribers with an alert, in any state, for any article of the story."""
    if story_id is None:
        return set()
    return set(
        session.scalars(
            select(Alert.subscriber).join(Article).where(Article.story_id == story_id).distinct()
        )
    )


def _article_row(item: ArticleItem, analysis: Analysis) -> Article:
    prints = analysis.fingerprint()
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
        content_hash=prints.content_hash,
        simhash=prints.simhash,
    )
