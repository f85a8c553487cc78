"""robots.txt remembered across crawls.

Every poll of a source is its own Scrapy crawler, and Scrapy's
RobotsTxtMiddleware keeps parsed robots.txt files per crawler only, so each
poll of an unchanged feed cost two requests: robots.txt and the feed's 304.
This middleware shares the parsed files process-wide for a day (an hour when
fetching robots.txt failed), which is how long crawlers commonly trust one.

A `run --once` from cron is a new process every time, so the files are also
kept in the database (scheduler/robots_memory.py): every fetch is noted in
`_FETCHED` for the caller to save, and a new process is `seed`ed with the
files earlier processes fetched. Bodies are kept, not parsers, and parsed
again by the first crawler that needs them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Response
from scrapy.utils.misc import build_from_crawler

# netloc -> (parser, or None when robots.txt could not be fetched; monotonic time)
_CACHE: dict[str, tuple[Any, float]] = {}
TTL = 24 * 3600.0
ERROR_TTL = 3600.0
# netloc -> (robots.txt body, or None when it could not be fetched; time.time()
# of the fetch): fetched since the caller last saved them, and handed down by
# earlier processes and not parsed yet.
_FETCHED: dict[str, tuple[bytes | None, float]] = {}
_SEEDS: dict[str, tuple[bytes | None, float]] = {}


def _ttl(found: object) -> float:
    """How long a robots.txt (a parser or a body; None: the fetch failed) is trusted."""
    return TTL if found is not None else ERROR_TTL


def seed(entries: Iterable[tuple[str, bytes | None, float]]) -> int:
    """Files fetched by earlier processes: (netloc, body or None, time.time() of
    the fetch). Those still fresh are used instead of asking again; how many."""
    now = time.time()
    fresh = 0
    for netloc, body, fetched in entries:
        if netloc not in _CACHE and now - fetched < _ttl(body):
            _SEEDS[netloc] = (body, fetched)
            fresh += 1
    return fresh


def take_fetched() -> dict[str, tuple[bytes | None, float]]:
    """The fetches since the last call, to be saved; the list starts empty again."""
    taken = dict(_FETCHED)
    _FETCHED.clear()
    return taken


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's middleware, seeded from and feeding a process-wide cache."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._parse_seeds(crawler)
        now = time.monotonic()
        for netloc, (parser, fetched) in list(_CACHE.items()):
            if now - fetched < _ttl(parser):
                self._parsers[netloc] = parser
            else:
                del _CACHE[netloc]
        self._seeded = set(self._parsers)

    def _parse_seeds(self, crawler: Crawler) -> None:
        """Seeds become cache entries, aged by the time since their fetch."""
        wall_age = time.time() - time.monotonic()
        for netloc, (body, fetched) in list(_SEEDS.items()):
            parser = None if body is None else build_from_crawler(self._parserimpl, crawler, body)
            _CACHE[netloc] = (parser, fetched - wall_age)
        _SEEDS.clear()

    # Scrapy's hooks for a fetched robots.txt and a failed fetch; the arguments
    # after `netloc` differ between Scrapy versions, so they are passed on as-is.
    def _parse_robots(self, response: Response, netloc: str, *args: Any) -> Any:
        _FETCHED[netloc] = (response.body, time.time())
        return super()._parse_robots(response, netloc, *args)

    def _robots_error(self, exc: Exception, netloc: str, *args: Any) -> Any:
        _FETCHED[netloc] = (None, time.time())
        return super()._robots_error(exc, netloc, *args)

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
    _SEEDS.clear()
    _FETCHED.clear()
