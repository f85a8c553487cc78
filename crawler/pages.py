"""What the listing and sitemap spiders share: fetching new article pages.

Both kinds find article URLs somewhere (a listing page, a sitemap) and then
fetch each page that is not stored yet, like FeedSpider does for a feed's
items. Unlike a feed, there is no summary to fall back on when a page fails,
so a failed page is only counted; it is not stored, so the next run tries it
again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from newswatch.crawler.extract import ExtractOverrides
from newswatch.crawler.extract_pool import extract
from newswatch.crawler.items import ArticleItem
from newswatch.crawler.spiders import (
    CrawlReport,
    KnownAmong,
    _describe,
    known_checker,
    stable_callbacks,
)
from newswatch.crawler.urls import canonical_url

log = logging.getLogger(__name__)


@dataclass
class PageJob:
    """The part of a job every page-collecting spider needs."""

    name: str
    url: str
    max_items: int = 200
    is_known: Callable[[str, str | None], bool] = lambda url, guid: False
    # `is_known` for a batch of pages in one query (see FeedJob).
    known_among: KnownAmong | None = None
    overrides: ExtractOverrides = field(default_factory=ExtractOverrides)
    # Seconds a server asked us to stay away (Retry-After beyond what one run waits).
    retry_after: float | None = None
    report: CrawlReport = field(init=False)

    def __post_init__(self) -> None:
        self.report = CrawlReport(source=self.name)


@dataclass(frozen=True)
class PageHint:
    """What the index already told us about a page (a news sitemap has title and date)."""

    url: str
    title: str | None = None
    published: datetime | None = None


class ArticlePagesSpider(scrapy.Spider):
    """Base for spiders that discover article URLs and then fetch the new ones."""

    def __init__(self, job: PageJob, **kwargs: Any) -> None:
        super().__init__(name=f"{self.name}:{job.name}", **kwargs)
        self.job = job
        self.report = job.report
        self._queued: set[str] = set()
        self._limit_logged = False
        self._on_article, self._on_article_error = stable_callbacks(
            self.parse_article, self.article_failed
        )

    def follow_new(self, hints: list[PageHint]) -> Iterator[scrapy.Request]:
        """Requests for pages not stored and not already queued in this run."""
        is_known = self.job.is_known
        if self.job.known_among is not None:
            # A sitemap can list thousands of pages: ask for them in batches.
            pairs = [(canonical_url(hint.url), None) for hint in hints]
            is_known = known_checker(is_known, self.job.known_among, pairs)
        for hint in hints:
            url = canonical_url(hint.url)
            if url in self._queued or is_known(url, None):
                continue
            if len(self._queued) >= self.job.max_items:
                if not self._limit_logged:
                    log.warning(
                        "%s: more than %d new pages, the rest waits",
                        self.job.name,
                        len(self._queued),
                    )
                    self._limit_logged = True
                return
            self._queued.add(url)
            yield scrapy.Request(
                hint.url,
                callback=self._on_article,
                errback=self._on_article_error,
                cb_kwargs={"hint": hint},
            )

    async def parse_article(self, response: Response, hint: PageHint) -> AsyncIterator[ArticleItem]:
        extracted = await extract(response.body, response.url, self.job.overrides)
        url = canonical_url(hint.url)
        self.report.new_items += 1
        yield ArticleItem(
            url=url,
            source=self.job.name,
            title=hint.title or extracted.title or url,
            text=extracted.text,
            published=hint.published or extracted.published,
            author=extracted.author,
            places=list(extracted.places),
            lang=extracted.lang,
        )

    def article_failed(self, failure: Failure) -> None:
        self.report.page_failures += 1
        log.warning(
            "%s: page %s not fetched (%s)",
            self.job.name,
            failure.request.url,  # type: ignore[attr-defined]
            _describe(failure),
        )

    def index_failed(self, failure: Failure) -> None:
        """The first index (listing page, sitemap, SRU answer) failed: the run failed."""
        response = getattr(failure.value, "response", None)
        if response is not None:
            self.report.http_status = response.status
        self.fail(_describe(failure))

    def later_index_failed(self, failure: Failure) -> None:
        """A further index page failed: what was found so far still counts."""
        self.report.page_failures += 1
        log.warning(
            "%s: %s not fetched (%s)",
            self.job.name,
            failure.request.url,  # type: ignore[attr-defined]
            _describe(failure),
        )

    def fail(self, message: str) -> None:
        self.report.status = "error"
        self.report.error = message
