"""Article extraction in worker processes, so that it runs on another core.

Extraction (trafilatura and our metadata steps) is about a third of the CPU a
collected page costs, and a pure function of the page's bytes. In the crawling
process it shares one core with Scrapy and the ingest thread (Python's GIL);
in a worker process it runs beside them. `crawl.extract_workers` says how
many workers (0: extract in the crawling process).

Workers are started with "spawn", not "fork": the crawling process has
threads and a running event loop, which a forked child would inherit in an
undefined state. A worker that dies (a crash in a C library on a hostile
page) breaks the pool: that page is extracted in the crawling process
instead, and the next page starts a new pool. A worker also exits on its own
within a second of its crawling process dying (a SIGKILL runs no clean-up):
an orphan would live on and keep the crawler's stdout and stderr open.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from newswatch.crawler.extract import Extracted, ExtractOverrides, extract_article

log = logging.getLogger(__name__)

_workers = 0
_pool: ProcessPoolExecutor | None = None


def configure(workers: int) -> None:
    """Use `workers` extraction processes from now on (0: none)."""
    global _workers
    if workers != _workers:
        shutdown()
        _workers = workers


def shutdown(*, wait: bool = False) -> None:
    """Stop the workers; pages being extracted are not waited for unless `wait`."""
    global _pool
    if _pool is not None:
        pool, _pool = _pool, None
        pool.shutdown(wait=wait, cancel_futures=True)


async def warm() -> None:
    """Start the workers now rather than on the first page (each imports the
    extraction code once, about a second)."""
    if _workers <= 0:
        return
    loop = asyncio.get_running_loop()
    pool = _get_pool()
    await asyncio.gather(*(loop.run_in_executor(pool, _ready) for _ in range(_workers)))


def worker_pids() -> list[int]:
    """The workers' process ids (benchmarks add up their CPU time)."""
    return list(_pool._processes) if _pool is not None else []


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        context = multiprocessing.get_context("spawn")
        _pool = ProcessPoolExecutor(
            max_workers=_workers,
            mp_context=context,
            initializer=_watch_parent,
            initargs=(os.getpid(),),
        )
    return _pool


async def extract(html: bytes, url: str, overrides: ExtractOverrides) -> Extracted:
    """`extract_article`, in a worker process when there are any."""
    if _workers <= 0:
        return extract_article(html, url, overrides=overrides)
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_get_pool(), _extract, html, url, overrides)
    except BrokenProcessPool:
        log.warning("extraction worker died on %s; extracted here, a new worker follows", url)
        shutdown()
    except OSError as exc:
        # No processes here (a sandbox without /dev/shm, a process limit):
        # say so once and extract in the crawling process from now on.
        log.warning("extraction workers unavailable (%s); extracting in the crawler", exc)
        configure(0)
    return extract_article(html, url, overrides=overrides)


def _extract(html: bytes, url: str, overrides: ExtractOverrides) -> Extracted:
    # In the worker; a module-level function, so that it can be pickled.
    return extract_article(html, url, overrides=overrides)


def _ready() -> bool:
    return True


def _watch_parent(parent: int) -> None:
    """In each worker: exit once the crawling process is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)  # nothing to clean up: the worker holds no state of its own

    threading.Thread(target=watch, name="newswatch-parent-watch", daemon=True).start()
