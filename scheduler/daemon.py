"""The daemon: one process, one asyncio event loop, everything on it.

Twisted's asyncio reactor drives the loop so Scrapy's AsyncCrawlerRunner and
APScheduler's AsyncIOScheduler share it. The reactor cannot be restarted,
which is why crawls run through one long-lived runner instead of a
CrawlerProcess per job. Shutdown goes: pause the scheduler (no new jobs) →
stop the runner (close spiders; each stored item is its own transaction, so
nothing is half-written) → wait for running jobs → shut the scheduler down,
all within 10 s of the signal (scheduler/lifecycle.py cancels what is left).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import OperationalError

from newswatch import metrics
from newswatch.alerts.outbox import DrainStats, Sender
from newswatch.alerts.tokens import load_secret
from newswatch.crawler import extract_pool
from newswatch.crawler.runner import install_asyncio_reactor, make_runner
from newswatch.crawler.spiders import CrawlReport
from newswatch.scheduler import robots_memory
from newswatch.scheduler.collect import collect
from newswatch.scheduler.ingest import Ingestor
from newswatch.scheduler.lifecycle import Lifecycle, drain, stop_deadline
from newswatch.scheduler.reload import schedule_sender, schedule_source
from newswatch.settings import Config, Source
from newswatch.storage import Database
from newswatch.web import WebDeps, WebError, WebHandle, start_web, stop_web

log = logging.getLogger(__name__)


def make_backend(config: Config) -> Any:
    from newswatch.alerts.backends import FileBackend, SendGridBackend

    email = config.settings.email
    if email.backend == "sendgrid":
        assert config.sendgrid_api_key is not None  # checked when the config was loaded
        return SendGridBackend(
            config.sendgrid_api_key,
            host=str(email.sendgrid_host).rstrip("/"),
            timeout=email.timeout,
        )
    return FileBackend(email.outbox_dir)


class Service:
    """Collection, classification and delivery, wired to one config and database."""

    def __init__(self, config: Config, db: Database) -> None:
        self.config = config
        self.db = db
        self.runner = make_runner(config.settings.crawl)
        extract_pool.configure(config.settings.crawl.extract_workers)
        robots_memory.load(db)  # what earlier runs learnt; see robots_memory.py
        self.ingestor = Ingestor(db, config.classifier(), config.subscribers)
        self.sender = self.make_sender(config)
        self.scheduler: Any = None  # set by serve(); /readyz looks at it
        self._send_lock = asyncio.Lock()
        self._jobs: set[asyncio.Task[Any]] = set()

    async def collect_source(self, source: Source) -> CrawlReport:
        max_items = self.config.settings.crawl.max_items_per_run
        return await collect(self.runner, source, self.db, self.ingestor, max_items)

    async def collect_all(self) -> list[CrawlReport]:
        return list(await asyncio.gather(*(self.collect_source(s) for s in self.config.sources)))

    def make_sender(self, config: Config) -> Sender:
        return Sender(self.db, make_backend(config), config)

    async def send_due(self) -> DrainStats:
        started = datetime.now(UTC)
        async with self._send_lock:  # one drain at a time, or two could send one row
            stats = await self.sender.drain()
        metrics.record_drain(stats)
        if stats.sent:
            await asyncio.to_thread(metrics.observe_sent_since, self.db, started)
        if stats.sent or stats.retried or stats.dead:
            log.info("outbox: %s", stats)
        return stats

    async def build_digests(self, now: datetime | None = None) -> list[int]:
        """Build every digest whose slot has come (alerts/digest.py); returns their ids."""
        from newswatch.alerts.digest import build_due_digests

        moment = now or datetime.now(UTC)
        return await asyncio.to_thread(build_due_digests, self.db, self.config, moment)

    async def run_once(self) -> tuple[list[CrawlReport], DrainStats]:
        reports = await self.collect_all()
        await self.build_digests()
        return reports, await self.send_due()

    async def serve(self, stop: asyncio.Event) -> None:
        """Run scheduled jobs until `stop` is set, then shut down in order."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        scheduler = AsyncIOScheduler(timezone=self.config.zone)
        now = datetime.now(UTC)
        for source in self.config.sources:
            schedule_source(scheduler, self, source, now)  # shared with config reload
        schedule_sender(scheduler, self, self.config.settings.email.send_every, now)
        # Digest slots are minutes apart at the finest; checking every minute (or
        # every send tick, if that is shorter) sends a digest at most that late.
        scheduler.add_job(
            self._tracked,
            "interval",
            seconds=min(60.0, self.config.settings.email.send_every),
            next_run_time=now,
            args=[self._digest_job],
            id="digests",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        scheduler.start()
        self.scheduler = scheduler
        # Reload on SIGHUP / file change, daily housekeeping, clock watch (lifecycle.py).
        lifecycle = Lifecycle(self, scheduler, self.make_sender)
        lifecycle.start()
        web = await self._start_web()
        log.info(
            "newswatch running: %d source(s), %d subscriber(s), %d topic(s)",
            len(self.config.sources),
            len(self.config.subscribers),
            len(self.config.topics.topics),
        )
        await stop.wait()
        deadline = stop_deadline(asyncio.get_running_loop())  # 10 s from the signal
        log.info("stopping: pausing the scheduler")
        scheduler.pause()
        await lifecycle.stop()
        if web is not None:
            await stop_web(web)
        await drain(self, deadline)
        scheduler.shutdown(wait=False)
        log.info("stopped")

    async def _start_web(self) -> WebHandle | None:
        """The HTTP endpoint; if it cannot start, say so once and run on without it.

        Exiting instead would make systemd restart us into the same taken port
        over and over, and collecting and sending do not need the endpoint.
        """
        listen = self.config.settings.http.listen
        try:
            secret = await asyncio.to_thread(load_secret, self.db)
            return await start_web(WebDeps.from_service(self, secret), listen)
        except WebError as exc:
            log.error(
                "HTTP endpoint not started: %s; unsubscribe links and the webhook are down", exc
            )
            return None

    async def _tracked(self, job: Callable[..., Awaitable[Any]], *args: Any) -> None:
        # APScheduler does not wait for coroutine jobs on shutdown; we do.
        task = asyncio.current_task()
        assert task is not None
        self._jobs.add(task)
        try:
            await job(*args)
        except OperationalError as exc:
            # Locked by another process or unreachable: an outage, not a bug, so
            # one line per run instead of a traceback; the next run tries again.
            first_line = str(exc.orig or exc).splitlines()[0][:200]
            log.warning(
                "job %s: database unavailable (%s); retried on its next run",
                getattr(job, "__name__", job),
                first_line,
            )
        except Exception:
            log.exception("job %s failed; the daemon carries on", getattr(job, "__name__", job))
        finally:
            self._jobs.discard(task)

    async def _collect_then_send(self, source: Source) -> None:
        report = await self.collect_source(source)
        if report.new_items:
            await self.send_due()  # instant alerts should not wait for the sender's tick

    async def _send_job(self) -> None:
        await self.send_due()

    async def _digest_job(self) -> None:
        if await self.build_digests():
            await self.send_due()


def run_on_reactor(main: Callable[[], Awaitable[int]]) -> int:
    """Run `main` as an asyncio task under Twisted's asyncio reactor; return its exit code."""
    install_asyncio_reactor()
    from twisted.internet import reactor

    _tune_gc()

    outcome: dict[str, Any] = {}

    async def wrapper() -> None:
        try:
            outcome["code"] = await main()
        except BaseException as exc:  # handed back to the caller below
            outcome["error"] = exc
        finally:
            reactor.callLater(0, reactor.stop)  # type: ignore[attr-defined]

    def start() -> None:
        outcome["task"] = asyncio.ensure_future(wrapper())

    reactor.callWhenRunning(start)  # type: ignore[attr-defined]
    reactor.run(installSignalHandlers=False)  # type: ignore[attr-defined]
    if "error" in outcome:
        raise outcome["error"]
    return int(outcome.get("code", 1))


def _tune_gc() -> None:
    # Everything imported so far (Scrapy, lxml, the classifier's tables) lives
    # as long as the process: freeze it so the cyclic collector stops
    # re-scanning it, and collect young objects less often — a crawl makes
    # many short-lived objects, and collection took ~12 % of ingest CPU.
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def install_stop_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, sig, stop)


def _on_signal(sig: signal.Signals, stop: asyncio.Event) -> None:
    log.info("received %s", sig.name)
    stop.set()
