"""Listing spider: for sites without a feed, read article links off an index page.

Maassluis24, Vlaardingen24 and many local weeklies publish no feed, but their
news index ("/artikelen/nieuws?page=N", "/nieuws?start=N") lists the newest
articles first. The spider reads the links with the configured selector,
follows the next-page link up to `max_pages` pages, and fetches the articles
it has not stored yet.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import scrapy
from parsel import SelectorList
from scrapy.http import Response, TextResponse

from newswatch.crawler.pages import ArticlePagesSpider, PageHint, PageJob
from newswatch.crawler.urls import canonical_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkSelector:
    """Exactly one of a CSS selector or an XPath expression."""

    css: str | None = None
    xpath: str | None = None

    def select(self, response: TextResponse) -> SelectorList[Any]:
        return response.css(self.css) if self.css else response.xpath(self.xpath or "")


@dataclass
class ListingJob(PageJob):
    links: LinkSelector = LinkSelector(css="a")
    next_page: LinkSelector | None = None
    max_pages: int = 3


class ListingSpider(ArticlePagesSpider):
    """Index page → article links (→ next page, up to max_pages) → new article pages."""

    name = "listing"
    job: ListingJob

    async def start(self) -> AsyncIterator[Any]:
        yield scrapy.Request(
            self.job.url,
            callback=self.parse_listing,
            errback=self.index_failed,
            dont_filter=True,
            cb_kwargs={"page": 1},
        )

    def parse_listing(self, response: Response, page: int) -> Iterator[scrapy.Request]:
        if page == 1:
            self.report.http_status = response.status
        if not isinstance(response, TextResponse):  # an image or PDF: no selectors
            self._not_html(response, page)
            return
        if page == 1:
            self.report.status = "ok"
        urls = links(self.job.links.select(response), response)
        self.report.entries += len(urls)
        if not urls:
            # Zero links usually means the site changed its markup.
            log.warning("%s: the links selector matched nothing on %s", self.job.name, response.url)
        requests = list(self.follow_new([PageHint(url) for url in urls]))
        yield from requests
        if requests:
            # A page with only known articles means the rest is older still.
            yield from self._next_page(response, page)

    def _next_page(self, response: TextResponse, page: int) -> Iterator[scrapy.Request]:
        if self.job.next_page is None or page >= self.job.max_pages:
            return
        found = links(self.job.next_page.select(response), response)
        if not found or canonical_url(found[0]) == canonical_url(response.url):
            return
        yield scrapy.Request(
            found[0],
            callback=self.parse_listing,
            errback=self.later_index_failed,
            cb_kwargs={"page": page + 1},
        )

    def _not_html(self, response: Response, page: int) -> None:
        message = f"not an HTML page: {response.url}"
        if page == 1:
            self.fail(message)
        else:
            self.report.page_failures += 1
            log.warning("%s: %s", self.job.name, message)


def links(selection: SelectorList[Any], response: TextResponse) -> list[str]:
    """Absolute http(s) URLs from a selection, in page order, without repeats.

    A selected `<a>` gives its href; another element gives the first link
    inside it (so `article.teaser` works as well as `article.teaser a`); an
    attribute or text result (`a::attr(href)`, `//a/@href`) is the URL itself.
    """
    out: list[str] = []
    for selected in selection:
        if isinstance(selected.root, str):
            href: str | None = selected.root
        else:
            href = selected.attrib.get("href") or selected.xpath(".//a/@href").get()
        if not href or not href.strip():
            continue
        url = response.urljoin(href.strip())
        if url.startswith(("http://", "https://")) and url not in out:
            out.append(url)
    return out
