"""The item pipeline: hand each collected article to the ingest step.

The spider's owner (the scheduler) sets `spider.ingest`; the pipeline only
calls it and keeps a failing item from stopping the crawl. A failure here is
logged and counted; the item is not marked as seen, so the next run tries
again.

Ingest (store, dedupe, classify, queue alerts) runs in one worker thread
shared by all crawls of the process, not on the reactor thread: while an
article is stored, the reactor keeps reading the downloads in flight, which
would otherwise time out under load. One thread, so ingests stay one at a
time in arrival order and story assignment stays free of races; each is one
transaction, so stopping never leaves half an article behind.

On a stop (the crawler's `crawling` flag drops), items still waiting for the
worker are not stored: they count as not fetched, like the downloads Scrapy
drops, and the next run fetches them again. The item being stored finishes,
and Scrapy's close waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler

from newswatch.crawler.items import ArticleItem

log = logging.getLogger(__name__)

Ingest = Callable[[ArticleItem], Any]

_worker: ThreadPoolExecutor | None = None
_worker_lock = threading.Lock()


def ingest_worker() -> ThreadPoolExecutor:
    """The process's single ingest thread, started on first use."""
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newswatch-ingest")
        return _worker


class IngestPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IngestPipeline:
        return cls(crawler)

    # `spider` is optional: Scrapy < 2.14 passes it, newer versions do not.
    async def process_item(self, item: ArticleItem, spider: Spider | None = None) -> ArticleItem:
        spider = spider or self.crawler.spider
        ingest: Ingest | None = getattr(spider, "ingest", None)
        if ingest is None:
            return item
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(ingest_worker(), self._ingest_unless_stopping, ingest, item)
        except Exception:
            # One bad article must not end the crawl of the others; the
            # traceback goes to the log because this is a bug or an outage.
            log.exception("%s: could not store %s", item.source, item.url)
            report = getattr(spider, "report", None)
            if report is not None:
                report.store_failures += 1
        return item

    def _ingest_unless_stopping(self, ingest: Ingest, item: ArticleItem) -> None:
        """In the worker thread: store `item`, unless its crawl is being stopped."""
        # Scrapy clears `crawling` first thing in a stop (not when a crawl
        # simply finishes); draining a long queue would hold the stop up.
        if not self.crawler.crawling:
            log.info("%s: stopping; %s not stored, fetched next run", item.source, item.url)
            return
        ingest(item)
