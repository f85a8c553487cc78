"""The item pipeline: hand each collected article to the ingest step.

The spider's owner (the scheduler) sets `spider.ingest`; the pipeline only
calls it and keeps a failing item from stopping the crawl. A failure here is
logged and counted; the item is not marked as seen, so the next run tries
again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler

from newswatch.crawler.items import ArticleItem

log = logging.getLogger(__name__)

Ingest = Callable[[ArticleItem], Any]


class IngestPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IngestPipeline:
        return cls(crawler)

    # `spider` is optional: Scrapy < 2.14 passes it, newer versions do not.
    def process_item(self, item: ArticleItem, spider: Spider | None = None) -> ArticleItem:
        spider = spider or self.crawler.spider
        ingest: Ingest | None = getattr(spider, "ingest", None)
        if ingest is None:
            return item
        try:
            ingest(item)
        except Exception:
            # One bad article must not end the crawl of the others; the
            # traceback goes to the log because this is a bug or an outage.
            log.exception("%s: could not store %s", item.source, item.url)
            report = getattr(spider, "report", None)
            if report is not None:
                report.store_failures += 1
        return item
