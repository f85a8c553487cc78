"""What the daemon does around its jobs: reload, housekeeping, clock watch, drain.

Kept out of `daemon.py` so the service stays about collecting and sending.
`Lifecycle.start()` runs after the scheduler has started; `drain()` is the
second half of a stop, after the scheduler was paused:

1. stop the Scrapy runner: spiders close, in-flight downloads are dropped;
2. wait for running jobs (an item being stored is one transaction in the
   ingest worker thread, which finishes it; items still queued for that
   thread are left for the next run; an email being handed over in a worker
   thread completes or leaves its row pending);
3. at the deadline (10 s after the signal, minus a margin for the exit),
   cancel what is still running — a crawl stuck on a server that never
   answers must not hold the stop hostage.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from newswatch.scheduler.reload import Reloader
from newswatch.scheduler.retention import housekeeping

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0
EXIT_MARGIN = 1.0  # of the 10 s, kept for closing the loop, the database and the process
CRAWL_STOP_SECONDS = 3.0  # for spiders to close before their crawls are cancelled
CLOCK_CHECK_EVERY = 5.0
CLOCK_JUMP = 60.0  # a wall clock step larger than this is a jump, not drift
HOUSEKEEPING_DELAY = timedelta(minutes=1)  # after start: let the first polls go first


class Lifecycle:
    def __init__(
        self,
        service: Any,
        scheduler: Any,
        make_sender: Callable[[Any], Any],
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.scheduler = scheduler
        poll = service.config.settings.config_poll
        self.reloader = Reloader(service, scheduler, make_sender, poll_every=poll)
        self.wall = wall
        self.mono = mono
        self._clock_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.reloader.start()
        retention = self.service.config.settings.retention
        self.scheduler.add_job(
            self.service._tracked,
            "interval",
            seconds=retention.every,
            next_run_time=datetime.now(UTC) + HOUSEKEEPING_DELAY,
            args=[self.housekeeping],
            id="housekeeping",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self._clock_task = asyncio.ensure_future(self._watch_clock())

    async def housekeeping(self) -> None:
        days = self.service.config.settings.retention.article_text_days
        # Blocking database work: a worker thread, so the crawls carry on meanwhile.
        report = await asyncio.to_thread(housekeeping, self.service.db, days)
        log.info(
            "housekeeping: %d article text(s) pruned%s",
            report.pruned,
            ", sqlite optimised" if report.optimized else "",
        )

    async def _watch_clock(self) -> None:
        """Notice wall clock jumps (NTP step, suspend, an operator's `date -s`).

        APScheduler schedules by the wall clock. A forward jump makes every job
        due at once; coalescing runs each once, which is fine. A backward jump
        would leave every job waiting for the lost time, so they are set to
        run now instead.
        """
        offset = self.wall() - self.mono()
        while True:
            await asyncio.sleep(CLOCK_CHECK_EVERY)
            current = self.wall() - self.mono()
            step, offset = current - offset, current
            if abs(step) < CLOCK_JUMP:
                continue
            log.warning("the wall clock jumped %+.0f s", step)
            if step < 0:
                self.run_jobs_now()

    def run_jobs_now(self) -> None:
        now = datetime.now(UTC)
        for job in self.scheduler.get_jobs():
            if job.id != "housekeeping":
                job.modify(next_run_time=now)

    async def stop(self) -> None:
        if self._clock_task is not None:
            self._clock_task.cancel()
        await self.reloader.stop()


async def drain(service: Any, deadline: float) -> None:
    """Stop crawls and wait for running jobs until `deadline` (loop time); cancel the rest."""
    loop = asyncio.get_running_loop()
    # Closing a spider waits for its downloads in flight; one stuck on a server
    # that never answers would wait for the whole download timeout.
    budget = min(CRAWL_STOP_SECONDS, max(0.1, deadline - loop.time()))
    try:
        await asyncio.wait_for(service.runner.stop(), budget)
    except TimeoutError:
        crawls = list(getattr(service.runner, "_active", ()))
        log.warning("%d crawl(s) did not stop within %.0f s; cancelling them", len(crawls), budget)
        for crawl in crawls:
            crawl.cancel()
    jobs = set(service._jobs)
    if jobs:
        _, pending = await asyncio.wait(jobs, timeout=max(0.1, deadline - loop.time()))
        for task in pending:
            task.cancel()
        if pending:
            log.warning("%d job(s) cancelled at the stop deadline", len(pending))
            await asyncio.wait(pending, timeout=1)


def stop_deadline(loop: asyncio.AbstractEventLoop) -> float:
    return loop.time() + DRAIN_SECONDS - EXIT_MARGIN
