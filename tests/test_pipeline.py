"""The item pipeline: ingest runs in one worker thread, off the reactor, one item at a time."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from newswatch.crawler.items import ArticleItem
from newswatch.crawler.pipeline import IngestPipeline
from newswatch.crawler.spiders import CrawlReport


def _item(n: int) -> ArticleItem:
    return ArticleItem(
        url=f"https://a.example/{n}",
        source="A",
        title=f"Bericht {n}",
        text="tekst",
        published=datetime(2026, 11, 26, 9, tzinfo=UTC),
    )


def _pipeline(ingest: Any, *, crawling: bool = True) -> tuple[IngestPipeline, Any]:
    spider = SimpleNamespace(ingest=ingest, report=CrawlReport(source="A"))
    crawler = SimpleNamespace(crawling=crawling, spider=spider)
    return IngestPipeline(crawler), spider  # type: ignore[arg-type]


def test_items_are_ingested_in_one_worker_thread_one_at_a_time() -> None:
    seen: list[tuple[str, str]] = []
    busy = threading.Lock()

    def ingest(item: ArticleItem) -> None:
        assert busy.acquire(blocking=False), "two ingests at once"
        try:
            time.sleep(0.002)
            seen.append((item.url, threading.current_thread().name))
        finally:
            busy.release()

    pipeline, spider = _pipeline(ingest)
    loop_thread: list[str] = []

    async def run() -> list[ArticleItem]:
        loop_thread.append(threading.current_thread().name)
        return await asyncio.gather(*(pipeline.process_item(_item(n), spider) for n in range(20)))

    items = asyncio.run(run())
    assert [i.url for i in items] == [_item(n).url for n in range(20)]
    assert [url for url, _ in seen] == [_item(n).url for n in range(20)]  # in arrival order
    threads = {name for _, name in seen}
    assert len(threads) == 1
    assert threads.pop().startswith("newswatch-ingest")
    assert loop_thread[0] not in {name for _, name in seen}


def test_a_failing_item_is_counted_and_the_crawl_goes_on() -> None:
    def ingest(item: ArticleItem) -> None:
        if item.url.endswith("/1"):
            raise RuntimeError("database gone")

    pipeline, spider = _pipeline(ingest)

    async def run() -> list[ArticleItem]:
        return [await pipeline.process_item(_item(n), spider) for n in range(3)]

    assert len(asyncio.run(run())) == 3
    assert spider.report.store_failures == 1


def test_items_waiting_when_the_crawl_stops_are_not_stored() -> None:
    stored: list[str] = []
    pipeline, spider = _pipeline(lambda item: stored.append(item.url), crawling=False)
    asyncio.run(pipeline.process_item(_item(1), spider))
    assert stored == []
    assert spider.report.store_failures == 0


def test_feed_spider_asks_is_known_once_per_feed_with_the_same_answers() -> None:
    from newswatch.crawler.feeds import FeedEntry
    from newswatch.crawler.spiders import FeedJob, FeedSpider

    stored = {("https://a.example/1", None), ("https://a.example/moved", "g2")}

    def is_known(url: str, guid: str | None) -> bool:
        return url == "https://a.example/1" or guid == "g2"

    batches: list[int] = []

    def known_among(pairs: list[tuple[str, str | None]]) -> set[tuple[str, str | None]]:
        batches.append(len(pairs))
        return {p for p in pairs if is_known(*p)}

    entries = [
        FeedEntry(link=link, guid=guid, title="t", summary="s", published=None)
        for link, guid in [
            ("https://a.example/1", None),
            ("https://a.example/2", "g1"),
            ("https://a.example/moved", "g2"),
            ("https://a.example/2", "g3"),  # a second entry for one page
            ("https://a.example/3", None),
        ]
    ]
    assert {(e.link, e.guid) for e in entries if is_known(e.link, e.guid)} == stored
    plain = FeedSpider(FeedJob(name="A", url="https://a.example/feed", is_known=is_known))
    batched = FeedSpider(
        FeedJob(name="A", url="https://a.example/feed", is_known=is_known, known_among=known_among)
    )
    expected = [r.url for r in plain._follow_new(entries)]
    assert expected == ["https://a.example/2", "https://a.example/3"]
    assert [r.url for r in batched._follow_new(entries)] == expected
    assert batches == [5]
