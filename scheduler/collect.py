"""One collection run of one source: crawl it, then record how it went."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from newswatch.crawler.spiders import CrawlReport, FeedJob, FeedSpider
from newswatch.models import Source as SourceRow
from newswatch.scheduler.ingest import Ingestor
from newswatch.settings import Source
from newswatch.storage import Database

log = logging.getLogger(__name__)


async def collect(
    runner: Any, source: Source, db: Database, ingestor: Ingestor, max_items: int
) -> CrawlReport:
    """Crawl `source` once through the shared runner; a fault of the source never raises."""
    etag, last_modified = _validators(db, source)
    job = FeedJob(
        name=source.name,
        url=str(source.url),
        etag=etag,
        last_modified=last_modified,
        max_items=max_items,
        is_known=lambda url, guid: ingestor.is_known(url, guid, source.name),
    )
    try:
        await runner.crawl(FeedSpider, job=job, ingest=ingestor.ingest)
    except Exception as exc:
        # A crawl that blows up is this source's problem, not the daemon's.
        log.exception("%s: crawl failed", source.name)
        job.report.status = "error"
        job.report.error = f"{type(exc).__name__}: {exc}"[:300]
    if job.report.status == "pending":
        # The spider closed without an answer for the feed (e.g. cancelled).
        job.report.status = "error"
        job.report.error = job.report.error or "no response"
    record(db, source, job.report)
    _log_report(job.report)
    return job.report


def _validators(db: Database, source: Source) -> tuple[str | None, str | None]:
    with db.session() as session:
        row = session.scalar(select(SourceRow).where(SourceRow.name == source.name))
        if row is None or row.url != str(source.url):
            # A new source, or its URL changed: the old validators mean nothing.
            return None, None
        return row.etag, row.last_modified


def record(db: Database, source: Source, report: CrawlReport) -> None:
    """Save health and, only after a clean run, the new HTTP validators."""
    now = datetime.now(UTC)
    with db.transaction() as session:
        row = session.scalar(select(SourceRow).where(SourceRow.name == source.name))
        if row is None:
            row = SourceRow(name=source.name, url=str(source.url), consecutive_failures=0)
            session.add(row)
        if row.url != str(source.url):
            row.url, row.etag, row.last_modified = str(source.url), None, None
        row.last_polled_at = now
        row.last_status = report.status
        row.items_last_run = report.new_items
        if report.status == "error":
            row.consecutive_failures = (row.consecutive_failures or 0) + 1
            row.last_error = report.error
            return
        row.consecutive_failures = 0
        row.last_success_at = now
        # Keep the old validators if any article failed to store: the next
        # poll must then see the full feed again instead of a 304.
        if report.status == "ok" and report.store_failures == 0:
            row.etag, row.last_modified = report.etag, report.last_modified


def _log_report(report: CrawlReport) -> None:
    if report.status == "error":
        log.warning("%s: failed: %s", report.source, report.error)
    elif report.status == "not_modified":
        log.info("%s: not modified (304)", report.source)
    else:
        log.info(
            "%s: %d entries, %d new%s",
            report.source,
            report.entries,
            report.new_items,
            f", {report.page_failures} page(s) unreachable" if report.page_failures else "",
        )
