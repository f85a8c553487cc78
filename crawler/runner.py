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
        "DOWNLOAD_MAXSIZE": crawl.max_page_size,
        "DOWNLOAD_WARNSIZE": crawl.max_page_size // 2,
        "DOWNLOAD_DELAY": crawl.delay,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "CONCURRENT_REQUESTS": 8,
        "AUTOTHROTTLE_ENABLED": crawl.delay > 0,
        "AUTOTHROTTLE_START_DELAY": max(crawl.delay, 0.1),
        "REDIRECT_MAX_TIMES": 5,
        "RETRY_TIMES": 1,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "ITEM_PIPELINES": {"newswatch.crawler.pipeline.IngestPipeline": 300},
    }


def make_runner(crawl: CrawlSettings) -> Any:
    from scrapy.crawler import AsyncCrawlerRunner

    return AsyncCrawlerRunner(scrapy_settings(crawl))
