"""Scrapy's downloader, with its per-host concurrency kept when there is no delay.

Since Scrapy 2.14 the downloader starts each request of a slot's queue as an
asyncio task, and the request counts as transferring only once that task
first runs. With a download delay a slot starts one request per call and
waits, so nothing goes wrong. Without one, `_process_queue` keeps taking
requests while the slot still looks free, and starts its whole queue at once:
with CONCURRENT_REQUESTS_PER_DOMAIN = 1, up to CONCURRENT_REQUESTS requests
ran at the same time against one host. A source's crawl is one host with a
queue of article pages, so this happened on every crawl with `crawl.delay: 0`
(benchmarks/ingest.py: up to 7 at once, and three connections out of four
opened anew, because the connection pool keeps one per host).

`PerHostDownloader` counts a request as transferring from the moment its
task is scheduled. Everything else is Scrapy's: `_process_queue` below is
Scrapy 2.14-2.19's with that one line added, so a Scrapy upgrade should be
checked against it (tests/test_downloader.py fails if a host gets two
requests at once again).
"""

from __future__ import annotations

from time import monotonic

from scrapy.core.downloader import Downloader, Slot

try:
    from scrapy.utils.asyncio import call_later
    from scrapy.utils.defer import _schedule_coro
except ImportError:  # Scrapy < 2.14 starts downloads at once: nothing to correct
    call_later = _schedule_coro = None  # type: ignore[assignment]


class PerHostDownloader(Downloader):
    """Scrapy's Downloader; a slot never starts more downloads than its concurrency."""

    def _process_queue(self, slot: Slot) -> None:
        if _schedule_coro is None:
            super()._process_queue(slot)
            return
        if slot.latercall:
            return  # a delayed call is pending and will process the queue
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            # The fix: counted now, not when the task first runs (`_download`
            # adds it again, a set, and removes it when the download ends).
            slot.transferring.add(request)
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:  # one request per delay: the next waits for its turn
                self._process_queue(slot)
                break
