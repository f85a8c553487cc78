"""One collection run of one source: crawl it, then record how it went."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import scrapy
from sqlalchemy import select

from newswatch.crawler.extract import ExtractOverrides
from newswatch.crawler.listing import LinkSelector, ListingJob, ListingSpider
from newswatch.crawler.pages import PageJob
from newswatch.crawler.sitemap import SitemapJob, SitemapSpider
from newswatch.crawler.spiders import CrawlReport, FeedJob, FeedSpider
from newswatch.crawler.sru import SruJob, SruSpider
from newswatch.models import Source as SourceRow
from newswatch.scheduler.ingest import Ingestor
from newswatch.settings import (
    ListingSource,
    OfficialPublicationsSource,
    SitemapSource,
    Source,
)
from newswatch.storage import Database

log = logging.getLogger(__name__)


async def collect(
    runner: Any, source: Source, db: Database, ingestor: Ingestor, max_items: int
) -> CrawlReport:
    """Crawl `source` once through the shared runner; a fault of the source never raises."""
    spider, job = _spider_and_job(source, db, ingestor, max_items)
    try:
        await runner.crawl(spider, job=job, ingest=ingestor.ingest)
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


def _spider_and_job(
    source: Source, db: Database, ingestor: Ingestor, max_items: int
) -> tuple[type[scrapy.Spider], FeedJob | PageJob]:
    """The spider class for `source.kind` and the job that drives it."""
    common: dict[str, Any] = {
        "name": source.name,
        "url": str(source.url),
        "max_items": max_items,
        "is_known": lambda url, guid: ingestor.is_known(url, guid, source.name),
        "overrides": ExtractOverrides(**source.extract.model_dump()),
    }
    if isinstance(source, ListingSource):
        listing = ListingJob(
            **common,
            links=LinkSelector(source.links.css, source.links.xpath),
            next_page=(
                LinkSelector(source.next_page.css, source.next_page.xpath)
                if source.next_page
                else None
            ),
            max_pages=source.max_pages,
        )
        return ListingSpider, listing
    if isinstance(source, SitemapSource):
        sitemap = SitemapJob(
            **common, lastmod_window=source.lastmod_window, url_pattern=source.url_pattern
        )
        return SitemapSpider, sitemap
    if isinstance(source, OfficialPublicationsSource):
        sru = SruJob(
            **common, query=source.query, since=source.since, max_records=source.max_records
        )
        return SruSpider, sru
    # Only feeds speak conditional GET, so only they have validators.
    etag, last_modified = _validators(db, source)
    return FeedSpider, FeedJob(**common, etag=etag, last_modified=last_modified)


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
