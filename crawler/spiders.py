"""Spiders, one per kind of source. Each is driven by a `sources.yaml` entry.

A spider only collects: it yields ArticleItems and records what happened
(the `report`). Storing, classifying and alerting happen in the pipeline's
`ingest` callback, so a spider can be tested on its own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import scrapy
import tldextract
from scrapy.http import Response
from twisted.python.failure import Failure

from newswatch.crawler.extract import ExtractOverrides
from newswatch.crawler.extract_pool import extract
from newswatch.crawler.feeds import FeedEntry, FeedParseError, parse_feed_bytes
from newswatch.crawler.items import ArticleItem
from newswatch.crawler.urls import canonical_url

log = logging.getLogger(__name__)

KnownAmong = Callable[[list[tuple[str, str | None]]], set[tuple[str, str | None]]]


@dataclass
class CrawlReport:
    """The outcome of one run of one source, for health and logs."""

    source: str
    status: str = "pending"  # ok | not_modified | error | skipped (backing off)
    error: str | None = None
    http_status: int | None = None
    entries: int = 0
    new_items: int = 0
    page_failures: int = 0
    store_failures: int = 0
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FeedJob:
    """Everything a FeedSpider needs to know, passed in by the scheduler."""

    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    max_items: int = 200
    is_known: Callable[[str, str | None], bool] = lambda url, guid: False
    # `is_known` for a whole feed at once: the (canonical URL, guid) pairs that
    # are stored, in one query. Optional; without it, `is_known` per entry.
    known_among: KnownAmong | None = None
    # Per-source CSS selectors from sources.yaml (`extract:`).
    overrides: ExtractOverrides = field(default_factory=ExtractOverrides)
    # False for the periodic "distrust" fetch: no If-None-Match/If-Modified-Since,
    # because some servers answer 304 or repeat an ETag after a change.
    conditional: bool = True
    # Set by RetryAfterMiddleware: seconds a server asked us to stay away
    # (Retry-After) beyond what a run waits out; the source backs off that long.
    retry_after: float | None = None
    report: CrawlReport = field(init=False)

    def __post_init__(self) -> None:
        self.report = CrawlReport(source=self.name)


class FeedSpider(scrapy.Spider):
    """Fetch a feed conditionally, then every new item's page."""

    name = "feed"

    def __init__(self, job: FeedJob, **kwargs: Any) -> None:
        super().__init__(name=f"feed:{job.name}", **kwargs)
        self.job = job
        self.report = job.report
        self._on_article, self._on_article_error = stable_callbacks(
            self.parse_article, self.article_failed
        )

    async def start(self) -> AsyncIterator[Any]:
        headers = {}
        if self.job.conditional and self.job.etag:
            headers["If-None-Match"] = self.job.etag
        if self.job.conditional and self.job.last_modified:
            headers["If-Modified-Since"] = self.job.last_modified
        yield scrapy.Request(
            self.job.url,
            headers=headers,
            callback=self.parse_feed,
            errback=self.feed_failed,
            dont_filter=True,
            meta={"handle_httpstatus_list": [304]},
        )

    def parse_feed(self, response: Response) -> Iterator[Any]:
        self.report.http_status = response.status
        if response.status == 304:
            self.report.status = "not_modified"
            return
        try:
            entries = parse_feed_bytes(response.body, _headers(response))
        except FeedParseError as exc:
            self._fail(str(exc))
            return
        self.report.status = "ok"
        self.report.entries = len(entries)
        self.report.etag = _header(response, "ETag")
        self.report.last_modified = _header(response, "Last-Modified")
        yield from self._follow_new(entries)

    def _follow_new(self, entries: list[FeedEntry]) -> Iterator[scrapy.Request]:
        pairs = [(canonical_url(entry.link), entry.guid) for entry in entries]
        is_known = known_checker(self.job.is_known, self.job.known_among, pairs)
        seen: set[str] = set()
        for entry, (url, guid) in zip(entries, pairs, strict=True):
            if url in seen or is_known(url, guid):
                continue
            seen.add(url)
            if len(seen) > self.job.max_items:
                log.warning("%s: more than %d new items, the rest waits", self.job.name, len(seen))
                break
            yield scrapy.Request(
                entry.link,
                callback=self._on_article,
                errback=self._on_article_error,
                cb_kwargs={"entry": entry},
                meta={"entry": entry},
            )

    async def parse_article(
        self, response: Response, entry: FeedEntry
    ) -> AsyncIterator[ArticleItem]:
        extracted = await extract(response.body, response.url, self.job.overrides)
        url = _article_url(entry.link, response.url, extracted.url)
        text = extracted.text or entry.summary
        self.report.new_items += 1
        yield ArticleItem(
            url=url,
            source=self.job.name,
            title=entry.title or extracted.title or url,
            text=text,
            published=entry.published or extracted.published,
            author=extracted.author,
            guid=entry.guid,
            places=list(extracted.places),
            lang=extracted.lang,
        )

    def article_failed(self, failure: Failure) -> Iterator[ArticleItem]:
        # The page is gone, blocked by robots.txt, too big or too slow: the
        # feed's own title and summary still tell the subscriber something,
        # and dropping the item would lose it for good after the next 304.
        entry: FeedEntry = failure.request.meta["entry"]  # type: ignore[attr-defined]
        self.report.page_failures += 1
        log.warning(
            "%s: page %s not fetched (%s); using the feed summary",
            self.job.name,
            entry.link,
            _describe(failure),
        )
        self.report.new_items += 1
        yield ArticleItem(
            url=canonical_url(entry.link),
            source=self.job.name,
            title=entry.title or entry.link,
            text=entry.summary,
            published=entry.published,
            guid=entry.guid,
            from_feed_only=True,
        )

    def feed_failed(self, failure: Failure) -> None:
        response = getattr(failure.value, "response", None)
        if response is not None:
            self.report.http_status = response.status
        self._fail(_describe(failure))

    def _fail(self, message: str) -> None:
        self.report.status = "error"
        self.report.error = message


def stable_callbacks(*methods: Callable[..., Any]) -> tuple[Callable[..., Any], ...]:
    """The spider's bound methods, made once for every request of a crawl.

    Scrapy checks each callback's source for a generator that returns a value
    (inspect.getsource and ast.parse, about 0.5 ms) and caches the answer by
    weak reference to the callable. `self.parse_article` is a new object on
    every access, and once the previous request is gone so is its cache
    entry: with one request at a time per source, half the pages paid for
    the check again. Holding one bound method per spider keeps the entry.
    """
    return methods


def known_checker(
    is_known: Callable[[str, str | None], bool],
    known_among: KnownAmong | None,
    pairs: list[tuple[str, str | None]],
) -> Callable[[str, str | None], bool]:
    """`is_known` for the entries of one index page, asked in one batch when the job can."""
    if known_among is None or not pairs:
        return is_known
    known = known_among(pairs)
    return lambda url, guid: (url, guid) in known


def _describe(failure: Failure) -> str:
    """A one-line, operator-readable reason for a failed request."""
    value = failure.value
    response = getattr(value, "response", None)
    if response is not None:
        return f"HTTP {response.status}"
    text = str(value) or type(value).__name__
    return f"{type(value).__name__}: {text}"[:300]


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _headers(response: Response) -> dict[str, str]:
    headers = {"content-location": response.url}
    content_type = _header(response, "Content-Type")
    if content_type:
        headers["content-type"] = content_type
    return headers


# The public suffix list as shipped with tldextract (a Scrapy dependency): no
# network fetch at run time. Private suffixes count, so two blogs on one
# hosting domain are two sites.
_SUFFIXES = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
)


def _site(url: str) -> str:
    """The registered domain ("ad.nl" for www.ad.nl); host and port for IPs and localhost."""
    parts = _SUFFIXES(url)
    domain = getattr(parts, "top_domain_under_public_suffix", None)
    if domain is None:  # tldextract < 5.3
        domain = parts.registered_domain
    return domain or urlsplit(url).netloc.lower()


def _article_url(feed_link: str, page_url: str, declared: str | None) -> str:
    """The URL to store an article under: the page's own canonical when it can be trusted.

    Outlets link to one article through several URLs (AMP, print, tracking
    redirects); `<link rel="canonical">` names the one. It is trusted only on
    the page's own site — syndicated copies point at the original outlet,
    whose own article would then collide with ours — and never when it is
    the site's home page, a common CMS misconfiguration that would make every
    article look stored. Without a declared canonical the feed link stays, so
    that the spider's `is_known` check (by feed link) keeps recognising it.
    """
    fallback = canonical_url(feed_link)
    if not declared or declared == page_url:
        return fallback
    candidate = canonical_url(declared)
    parts = urlsplit(candidate)
    if parts.scheme not in ("http", "https") or _site(candidate) != _site(page_url):
        return fallback
    if parts.path in ("", "/") and not parts.query:
        return fallback
    return candidate
