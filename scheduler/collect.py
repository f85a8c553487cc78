"""One collection run of one source: crawl it, then record how it went."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import scrapy

from newswatch import metrics, probes
from newswatch.crawler.extract import ExtractOverrides
from newswatch.crawler.listing import LinkSelector, ListingJob, ListingSpider
from newswatch.crawler.pages import PageJob
from newswatch.crawler.sitemap import SitemapJob, SitemapSpider
from newswatch.crawler.spiders import CrawlReport, FeedJob, FeedSpider
from newswatch.crawler.sru import SruJob, SruSpider
from newswatch.scheduler import robots_memory
from newswatch.scheduler.health import plan_poll, record, skipped_report
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
    plan = plan_poll(db, source)
    if plan.backoff_until is not None:
        # Failing repeatedly, or the server asked us to stay away: skip this tick.
        return _finish(skipped_report(source, plan.backoff_until))
    spider, job = _spider_and_job(source, db, ingestor, max_items)
    try:
        await runner.crawl(spider, job=job, ingest=_counted(ingestor.ingest))
    except Exception as exc:
        # A crawl that blows up is this source's problem, not the daemon's.
        log.exception("%s: crawl failed", source.name)
        job.report.status = "error"
        job.report.error = f"{type(exc).__name__}: {exc}"[:300]
    if job.report.status == "pending":
        # The spider closed without an answer for the feed (e.g. cancelled).
        job.report.status = "error"
        job.report.error = job.report.error or "no response"
    record(
        db,
        source,
        job.report,
        conditional=getattr(job, "conditional", False),
        retry_after=getattr(job, "retry_after", None),
    )
    robots_memory.save(db)
    return _finish(job.report)


def _counted(ingest: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`ingest`, with its result counted for /metrics (matches per topic, alerts queued)."""

    def counted(item: Any) -> Any:
        result = ingest(item)
        metrics.record_ingest(result)
        return result

    return counted


def _finish(report: CrawlReport) -> CrawlReport:
    metrics.record_crawl(report)
    probes.beat()
    return _log_report(report)


def _spider_and_job(
    source: Source, db: Database, ingestor: Ingestor, max_items: int
) -> tuple[type[scrapy.Spider], FeedJob | PageJob]:
    """The spider class for `source.kind` and the job that drives it."""
    common: dict[str, Any] = {
        "name": source.name,
        "url": str(source.url),
        "max_items": max_items,
        "is_known": lambda url, guid: ingestor.is_known(url, guid, source.name),
        # One query per feed or index page instead of one per entry.
        "known_among": lambda pairs: ingestor.known_among(pairs, source.name),
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
    # Only feeds speak conditional GET, so only they have validators; every
    # so often health.plan_poll() leaves them off (the "distrust" fetch).
    plan = plan_poll(db, source)
    feed = FeedJob(
        **common,
        etag=plan.etag,
        last_modified=plan.last_modified,
        conditional=plan.conditional,
    )
    return FeedSpider, feed


def _log_report(report: CrawlReport) -> CrawlReport:
    if report.status == "skipped":
        log.info("%s: skipped, %s", report.source, report.error)
    elif report.status == "error":
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
    return report
