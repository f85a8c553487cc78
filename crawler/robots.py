"""robots.txt remembered across crawls.

Every poll of a source is its own Scrapy crawler, and Scrapy's
RobotsTxtMiddleware keeps parsed robots.txt files per crawler only, so each
poll of an unchanged feed cost two requests: robots.txt and the feed's 304.
This middleware shares the parsed files process-wide for a day (an hour when
fetching robots.txt failed), which is how long crawlers commonly trust one.
"""

from __future__ import annotations

import time
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

# netloc -> (parser, or None when robots.txt could not be fetched; monotonic time)
_CACHE: dict[str, tuple[Any, float]] = {}
TTL = 24 * 3600.0
ERROR_TTL = 3600.0


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's middleware, seeded from and feeding a process-wide cache."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        now = time.monotonic()
        for netloc, (parser, fetched) in list(_CACHE.items()):
            if now - fetched < (TTL if parser is not None else ERROR_TTL):
                self._parsers[netloc] = parser
            else:
                del _CACHE[netloc]
        self._seeded = set(self._parsers)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedRobotsTxtMiddleware:
        middleware = cls(crawler)
        crawler.signals.connect(middleware._remember, signal=signals.spider_closed)
        return middleware

    def _remember(self, *args: Any, **kwargs: Any) -> None:
        now = time.monotonic()
        for netloc, parser in self._parsers.items():
            if netloc in self._seeded:
                continue  # keep the original fetch time, or it would never expire
            if parser is None or hasattr(parser, "allowed"):  # skip fetches still pending
                _CACHE[netloc] = (parser, now)


def forget_all() -> None:
    """Drop every remembered robots.txt (tests; a config reload may call it)."""
    _CACHE.clear()
