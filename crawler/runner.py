"""Scrapy set up once per process, with polite and bounded defaults.

Scrapy's own defaults are permissive (1 GiB pages, 180 s timeouts, robots.txt
ignored); these are the values of its project template and then some. The
Twisted reactor cannot be restarted, so the daemon keeps one runner on one
asyncio-backed reactor and runs every crawl through it.
"""

from __future__ import annotations

from typing import Any

from newswatch.settings import CrawlSettings

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# Longest Retry-After we wait out within a run; a longer one backs the source off.
RETRY_AFTER_MAX = 300.0


def install_asyncio_reactor() -> None:
    """Install Twisted's asyncio reactor; must run before anything imports the reactor."""
    from scrapy.utils.reactor import install_reactor, is_asyncio_reactor_installed

    try:
        install_reactor(ASYNCIO_REACTOR)
    except Exception:
        # Already installed (a second call in the same process, e.g. tests):
        # fine as long as it is the asyncio one.
        if not is_asyncio_reactor_installed():
            raise


def scrapy_settings(crawl: CrawlSettings) -> dict[str, Any]:
    return {
        "TWISTED_REACTOR": ASYNCIO_REACTOR,
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots_txt,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "DNS_TIMEOUT": crawl.timeout,
        # Counts decompressed bytes too: since Scrapy 2.11.1 the
        # HttpCompressionMiddleware stops inflating a gzip/deflate/br/zstd body
        # once it passes DOWNLOAD_MAXSIZE (tests/test_politeness.py checks a
        # gzip bomb), and the download handler refuses a larger Content-Length
        # before reading it.
        "DOWNLOAD_MAXSIZE": crawl.max_page_size,
        "DOWNLOAD_WARNSIZE": crawl.max_page_size // 2,
        # One request at a time per host, spaced by the delay (randomised
        # 0.5-1.5x by Scrapy); AutoThrottle only ever widens the gap when the
        # server slows down, never below the configured delay.
        "DOWNLOAD_DELAY": crawl.delay,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "CONCURRENT_REQUESTS": 8,
        # Scrapy hands each callback's output to CONCURRENT_ITEMS asyncio tasks
        # (default 100), started anew for every response. Our callbacks yield
        # one article, or a feed's requests, and ingest runs one item at a time
        # in its worker thread anyway: 99 idle tasks per page were pure cost
        # (about 1 ms of CPU per page in benchmarks/ingest.py).
        "CONCURRENT_ITEMS": 1,
        # Keeps CONCURRENT_REQUESTS_PER_DOMAIN when the delay is 0 (see downloader.py).
        "DOWNLOADER": "newswatch.crawler.downloader.PerHostDownloader",
        "AUTOTHROTTLE_ENABLED": crawl.delay > 0,
        "AUTOTHROTTLE_START_DELAY": max(crawl.delay, 0.1),
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "REDIRECT_MAX_TIMES": 5,
        "METAREFRESH_MAXDELAY": 10,
        "RETRY_TIMES": 1,
        "RETRY_EXCEPTIONS": _retry_exceptions(),
        "RETRY_AFTER_MAX": RETRY_AFTER_MAX,
        "DOWNLOADER_MIDDLEWARES": {
            # Same slot as Scrapy's retry middleware, which ignores Retry-After.
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "newswatch.crawler.middlewares.RetryAfterMiddleware": 550,
            # Same slot as Scrapy's robots.txt middleware, which forgets per crawl.
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "newswatch.crawler.robots.SharedRobotsTxtMiddleware": 100,
        },
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "ITEM_PIPELINES": {"newswatch.crawler.pipeline.IngestPipeline": 300},
    }


def _retry_exceptions() -> list[Any]:
    """Scrapy's retryable exceptions minus timeouts.

    A server that let us wait a whole DOWNLOAD_TIMEOUT is busy or stuck; asking
    again at once doubles the load and the wait. The next scheduled poll is
    the retry.
    """
    from scrapy.settings import default_settings

    return [e for e in default_settings.RETRY_EXCEPTIONS if "Timeout" not in str(e)]


def make_runner(crawl: CrawlSettings) -> Any:
    from scrapy.crawler import AsyncCrawlerRunner

    return AsyncCrawlerRunner(scrapy_settings(crawl))
