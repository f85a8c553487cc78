"""Sitemap spider: sitemap.xml, sitemap indexes and Google News sitemaps.

Many news sites publish a Google News sitemap (the articles of the last two
days, with title and publication date) even when they have no feed. The
spider reads the sitemap, follows an index to its child sitemaps, keeps the
URLs whose lastmod / publication date falls inside `lastmod_window`, and
fetches the new ones, newest first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import scrapy
from lxml import etree
from scrapy.http import Response
from scrapy.utils.gz import gunzip

from newswatch.crawler.dutch_dates import parse_iso, zone
from newswatch.crawler.pages import ArticlePagesSpider, PageHint, PageJob

log = logging.getLogger(__name__)

# An index may list hundreds of sitemaps (one per month since 2009); only the
# freshest few can hold articles inside the window.
MAX_CHILD_SITEMAPS = 10
_AMSTERDAM = zone("Europe/Amsterdam")
_DATE_ONLY = re.compile(r"^\s*\d{4}-\d\d-\d\d\s*$")


@dataclass
class SitemapJob(PageJob):
    lastmod_window: float = 2 * 86400.0  # seconds
    url_pattern: str | None = None


@dataclass(frozen=True)
class SitemapEntry:
    loc: str
    when: datetime | None  # UTC; publication date if given, else lastmod
    date_only: bool = False
    title: str | None = None
    # Only a news sitemap's publication date is one; lastmod is the last change.
    published: datetime | None = None


class SitemapSpider(ArticlePagesSpider):
    """Sitemap (or index → sitemaps) → URLs inside the window → new article pages."""

    name = "sitemap"
    job: SitemapJob

    def __init__(self, job: SitemapJob, **kwargs: Any) -> None:
        super().__init__(job, **kwargs)
        self.cutoff = datetime.now(UTC) - timedelta(seconds=job.lastmod_window)
        self.pattern = re.compile(job.url_pattern) if job.url_pattern else None

    async def start(self) -> AsyncIterator[Any]:
        yield scrapy.Request(
            self.job.url,
            callback=self.parse_sitemap,
            errback=self.index_failed,
            dont_filter=True,
            cb_kwargs={"top": True},
        )

    def parse_sitemap(self, response: Response, top: bool) -> Iterator[scrapy.Request]:
        if top:
            self.report.http_status = response.status
        root = self._parse_xml(response)
        kind = etree.QName(root).localname if root is not None else None
        if kind not in ("sitemapindex", "urlset"):
            self._not_a_sitemap(response, top, kind)
            return
        if top:
            self.report.status = "ok"
        if kind == "sitemapindex":
            if not top:
                # The protocol forbids nested indexes; following them risks loops.
                log.warning("%s: nested sitemap index %s ignored", self.job.name, response.url)
                return
            yield from self._follow_children(root)
            return
        entries = [e for e in url_entries(root) if self._wanted(e)]
        entries.sort(key=_newest_first)
        self.report.entries += len(entries)
        hints = [PageHint(e.loc, e.title, e.published) for e in entries]
        yield from self.follow_new(hints)

    def _follow_children(self, root: Any) -> Iterator[scrapy.Request]:
        children = [c for c in child_sitemaps(root) if self._in_window(c)]
        children.sort(key=_newest_first)
        for child in children[:MAX_CHILD_SITEMAPS]:
            yield scrapy.Request(
                child.loc,
                callback=self.parse_sitemap,
                errback=self.later_index_failed,
                cb_kwargs={"top": False},
            )

    def _wanted(self, entry: SitemapEntry) -> bool:
        if self.pattern and not self.pattern.search(entry.loc):
            return False
        return self._in_window(entry)

    def _in_window(self, entry: SitemapEntry) -> bool:
        # No date at all: we cannot tell, so keep it; is_known and max_items bound the cost.
        if entry.when is None:
            return True
        # A bare date covers the whole (Amsterdam) day.
        end = entry.when + timedelta(days=1) if entry.date_only else entry.when
        return end >= self.cutoff

    def _parse_xml(self, response: Response) -> Any:
        body = response.body
        if body[:2] == b"\x1f\x8b":  # sitemap.xml.gz served as a file, not Content-Encoding
            max_size = self.crawler.settings.getint("DOWNLOAD_MAXSIZE")
            try:
                body = gunzip(body, max_size=max_size)
            except Exception as exc:  # too big after decompression, or not gzip after all
                log.warning("%s: cannot gunzip %s: %s", self.job.name, response.url, exc)
                return None
        return parse_xml(body)

    def _not_a_sitemap(self, response: Response, top: bool, kind: str | None) -> None:
        message = f"not a sitemap: {response.url}" + (f" (root <{kind}>)" if kind else "")
        if top:
            self.fail(message)
        else:
            self.report.page_failures += 1
            log.warning("%s: %s", self.job.name, message)


def parse_xml(body: bytes) -> Any:
    """Root element of an XML document, or None. No entities, no network, no huge trees."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)
    try:
        return etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError:
        return None


def _children(element: Any) -> dict[str, Any]:
    """First child element per local name (namespaces differ between generators)."""
    found: dict[str, Any] = {}
    for child in element:
        if isinstance(child.tag, str):
            found.setdefault(etree.QName(child).localname, child)
    return found


def _text(element: Any | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _entry(
    loc: str, date_text: str | None, title: str | None = None, *, is_publication: bool = False
) -> SitemapEntry:
    when = parse_iso(date_text, _AMSTERDAM) if date_text else None
    date_only = bool(date_text and _DATE_ONLY.match(date_text))
    # A bare date says nothing about the hour; the page's own metadata is better then.
    published = when if is_publication and not date_only else None
    return SitemapEntry(loc, when, date_only, title, published)


def url_entries(root: Any) -> Iterator[SitemapEntry]:
    """`<url>` entries of a urlset; a Google News `<news:news>` block wins for date and title."""
    for url in root:
        if not isinstance(url.tag, str) or etree.QName(url).localname != "url":
            continue
        fields = _children(url)
        loc = _text(fields.get("loc"))
        if not loc:
            continue
        news = _children(fields["news"]) if "news" in fields else {}
        published = _text(news.get("publication_date"))
        if published:
            yield _entry(loc, published, _text(news.get("title")), is_publication=True)
        else:
            yield _entry(loc, _text(fields.get("lastmod")), _text(news.get("title")))


def child_sitemaps(root: Any) -> Iterator[SitemapEntry]:
    for sitemap in root:
        if not isinstance(sitemap.tag, str) or etree.QName(sitemap).localname != "sitemap":
            continue
        fields = _children(sitemap)
        loc = _text(fields.get("loc"))
        if loc:
            yield _entry(loc, _text(fields.get("lastmod")))


def _newest_first(entry: SitemapEntry) -> float:
    # Undated entries last: a dated one is known to be fresh.
    return -entry.when.timestamp() if entry.when else float("inf")
