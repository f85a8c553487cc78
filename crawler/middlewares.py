"""Downloader middleware for polite retries, and naming what went wrong.

Scrapy's RetryMiddleware retries a 429 or 503 at once, ignoring the
`Retry-After` header the server sent with it; that is exactly the impolite
hammering the header asks us not to do. `RetryAfterMiddleware` replaces it:
it waits as long as the server asks before retrying, and holds back every
other request to that host meanwhile. The wait is bounded (`RETRY_AFTER_MAX`,
five minutes by default) because a crawl that sleeps for hours blocks its
source's next runs and the daemon's shutdown; a longer wish ends the attempt
for this run and is handed to the source's health record (`job.retry_after`)
so the scheduler backs the source off for as long as the server asked.

`error_kind` and `failure_kind` turn a failure into a short, stable kind for
the health table: http_<status>, timeout, dns, connection, robots, too_big,
redirect_loop, parse, or other.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.exceptions import IgnoreRequest

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings
    from twisted.python.failure import Failure

log = logging.getLogger(__name__)

# Status codes whose Retry-After we honour (RFC 9110 §10.2.3, RFC 6585 §4).
RETRY_AFTER_STATUSES = frozenset({429, 503})
DEFAULT_RETRY_AFTER_MAX = 300.0
# While waiting, check this often whether the crawl is being stopped, so a
# daemon shutdown is not held up by a long Retry-After.
_WAKE_EVERY = 0.5


def parse_retry_after(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP-date).

    None when absent or unreadable; never negative (a date in the past means
    "now").
    """
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; be lenient with naive ones
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware, plus a bounded wait for Retry-After on 429/503."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.max_wait = settings.getfloat("RETRY_AFTER_MAX", DEFAULT_RETRY_AFTER_MAX)
        # host -> monotonic time before which no request goes to it
        self._not_before: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        middleware = cls(crawler.settings)
        middleware.crawler = crawler
        return middleware

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        # Every request to a host that asked us to wait waits, not just the
        # retried one: Retry-After is about the server, not one URL.
        wait = self._not_before.get(_host(request.url), 0.0) - time.monotonic()
        if wait > 0:
            await self._sleep(wait)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if request.meta.get("dont_retry", False):
            return response
        if response.status not in RETRY_AFTER_STATUSES:
            return self._plain_retry(request, response, spider)
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if wait is None:
            return self._plain_retry(request, response, spider)
        if wait > self.max_wait:
            log.warning(
                "%s asks to wait %.0f s (HTTP %d); more than %.0f s, giving up for this run",
                request.url,
                wait,
                response.status,
                self.max_wait,
            )
            self._note_wish(wait)
            return response
        retry = get_retry_request(
            request,
            spider=self.crawler.spider,
            reason=f"HTTP {response.status}, Retry-After {wait:.0f} s",
            max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
            priority_adjust=request.meta.get("priority_adjust", self.priority_adjust),
        )
        if retry is None:
            self._note_wish(wait)  # still refused after our retries: respect it next run too
            return response
        host = _host(request.url)
        self._not_before[host] = max(self._not_before.get(host, 0.0), time.monotonic() + wait)
        return retry

    def _plain_retry(
        self, request: Request, response: Response, spider: Spider | None
    ) -> Request | Response:
        # Scrapy < 2.14 passes (and requires) the spider; newer versions do not.
        if spider is None:
            return super().process_response(request, response)
        return super().process_response(request, response, spider)  # type: ignore[call-arg]

    async def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            engine = getattr(self.crawler, "engine", None)
            if engine is not None and not engine.running:
                raise IgnoreRequest("crawl stopped while waiting for Retry-After")
            await asyncio.sleep(min(left, _WAKE_EVERY))

    def _note_wish(self, seconds: float) -> None:
        """Hand the server's wish to the job, for the source's backoff."""
        job = getattr(self.crawler.spider, "job", None)
        if job is not None and hasattr(job, "retry_after"):
            job.retry_after = max(job.retry_after or 0.0, seconds)


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


# --- naming failures ---------------------------------------------------------

# (pattern on "ExceptionType: message", kind), first match wins. Patterns
# rather than isinstance checks because the spider reports failures as text
# and Scrapy/Twisted exception classes move between versions.
_KINDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), kind)
    for pattern, kind in (
        (r"robots\.txt", "robots"),
        (r"max ?size|larger than download max|DOWNLOAD_MAXSIZE", "too_big"),
        (r"max redirections|redirect loop", "redirect_loop"),
        (r"timeout|timed out|took longer than", "timeout"),
        (r"DNSLookup|CannotResolveHost|resolve host|name or service not known", "dns"),
        (
            r"Connect|ConnectionLost|ConnectionDone|ResponseNeverReceived|DownloadFailed"
            r"|DataLoss|ResponseFailed|Refused|reset by peer",
            "connection",
        ),
        (r"not a readable feed|FeedParseError|parse", "parse"),
    )
)
_HTTP = re.compile(r"^HTTP (\d{3})\b")


def error_kind(message: str | None, http_status: int | None = None) -> str:
    """The kind of a failure as the spider reported it (text and HTTP status)."""
    text = message or ""
    match = _HTTP.match(text)
    if match:
        return f"http_{match.group(1)}"
    for pattern, kind in _KINDS:
        if pattern.search(text):
            return kind
    if http_status is not None and http_status >= 400:
        return f"http_{http_status}"
    return "other"


def failure_kind(failure: Failure | BaseException) -> str:
    """The kind of a Twisted failure or an exception, e.g. in an errback."""
    value: Any = getattr(failure, "value", failure)
    response = getattr(value, "response", None)
    if response is not None and getattr(response, "status", 0) >= 400:
        return f"http_{response.status}"
    return error_kind(f"{type(value).__name__}: {value}")
