"""The daemon's Prometheus metrics, on a registry of their own.

Counters and the latency histogram are bumped by small, explicit calls at the
places where the numbers already exist: a source's crawl report
(`record_crawl`), an ingest result (`record_ingest`), a drain of the outbox
(`record_drain`). What lives in the database — outbox depth and per-source
health — is read when Prometheus scrapes (`DatabaseCollector`), so it is right
even for work another process did, and costs nothing between scrapes.

A dedicated `REGISTRY` (not prometheus-client's global one) keeps the process
and platform collectors out and lets tests build their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from newswatch.models import Alert, Article
from newswatch.storage import Database

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# The *_created series (when each label set first appeared) double the output
# for nothing an operator graphs.
disable_created_metrics()
REGISTRY = CollectorRegistry()

FETCHES = Counter(
    "newswatch_fetches",
    "Source polls by outcome (ok, not_modified, error, skipped) and HTTP status",
    ["source", "outcome", "http_status"],
    registry=REGISTRY,
)
ITEMS = Counter("newswatch_items", "New articles stored, per source", ["source"], registry=REGISTRY)
MATCHES = Counter(
    "newswatch_matches", "Stored articles that matched, per topic", ["topic"], registry=REGISTRY
)
ALERTS_QUEUED = Counter(
    "newswatch_alerts_queued", "Alerts written to the outbox", registry=REGISTRY
)
ALERTS = Counter(
    "newswatch_alerts",
    "Delivery attempts by outcome (sent, retried, dead, ambiguous, suppressed)",
    ["outcome"],
    registry=REGISTRY,
)
# From the article's publication (its first sighting when the source gives no
# date) to the alert's hand-over to the backend. Minutes to days.
LATENCY_BUCKETS = (60, 300, 900, 1800, 3600, 2 * 3600, 6 * 3600, 12 * 3600, 86400, 3 * 86400)
PUBLISH_TO_ALERT = Histogram(
    "newswatch_publish_to_alert_seconds",
    "Seconds from an article's publication (or first sighting) to its alert being sent",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)


def record_crawl(report: Any) -> None:
    """One source poll (a CrawlReport)."""
    status = str(report.http_status) if report.http_status else ""
    FETCHES.labels(report.source, report.status, status).inc()
    items = max(0, int(report.new_items) - int(report.store_failures))
    if items:
        ITEMS.labels(report.source).inc(items)


def record_ingest(result: Any) -> None:
    """One ingest result (an IngestResult); already-stored articles count nothing."""
    if result is None or getattr(result, "article_id", None) is None:
        return
    for topic in result.topics:
        MATCHES.labels(topic).inc()
    if result.alerts:
        ALERTS_QUEUED.inc(result.alerts)


def record_drain(stats: Any) -> None:
    """One drain of the outbox (DrainStats)."""
    for outcome in ("sent", "retried", "dead", "ambiguous", "suppressed"):
        count = int(getattr(stats, outcome, 0) or 0)
        if count:
            ALERTS.labels(outcome).inc(count)


def observe_sent_since(db: Database, since: datetime) -> int:
    """Feed the latency histogram with the alerts sent since `since`; returns how many.

    Read back from the rows rather than passed along by the sender, so it
    holds whatever path (instant, retry) got the alert out.
    """
    with db.session() as session:
        rows = session.execute(
            select(Alert.sent_at, Article.published_at, Article.first_seen_at)
            .join(Article, Alert.article_id == Article.id)
            .where(Alert.sent_at.is_not(None), Alert.sent_at >= since)
        ).all()
    for sent_at, published_at, first_seen_at in rows:
        start = published_at or first_seen_at
        if start is not None and sent_at is not None:
            # A publication date in the future (a wrong clock at the source) is not latency.
            PUBLISH_TO_ALERT.observe(max(0.0, (sent_at - start).total_seconds()))
    return len(rows)


class DatabaseCollector(Collector):
    """Outbox depth and per-source health, read from the database at scrape time."""

    def __init__(self, db: Database, sources: Callable[[], list[Any]]) -> None:
        self.db = db
        self.sources = sources  # the running config's sources (changes on reload)

    def collect(self) -> Iterator[Metric]:
        from newswatch.scheduler.health import health_rows

        depth = GaugeMetricFamily(
            "newswatch_outbox_alerts", "Alerts in the outbox by status", labels=["status"]
        )
        with self.db.session() as session:
            counts = session.execute(
                select(Alert.status, func.count()).group_by(Alert.status)
            ).all()
        for status, count in counts:
            depth.add_metric([str(getattr(status, "value", status))], float(count))
        yield depth

        failures = GaugeMetricFamily(
            "newswatch_source_consecutive_failures",
            "Failed polls in a row, per source",
            labels=["source"],
        )
        last_success = GaugeMetricFamily(
            "newswatch_source_last_success_timestamp_seconds",
            "Unix time of the last successful poll, per source (absent: never)",
            labels=["source"],
        )
        silent = GaugeMetricFamily(
            "newswatch_source_silent",
            "1 when a source that used to yield has returned nothing for several runs",
            labels=["source"],
        )
        for row in health_rows(self.db, self.sources()):
            failures.add_metric([row.name], float(row.consecutive_failures))
            silent.add_metric([row.name], 1.0 if row.silent else 0.0)
            if row.last_success_at is not None:
                last_success.add_metric([row.name], row.last_success_at.timestamp())
        yield failures
        yield last_success
        yield silent


_bound: DatabaseCollector | None = None


def bind_database(db: Database, sources: Callable[[], list[Any]]) -> None:
    """Register (or replace) the database collector on REGISTRY."""
    global _bound
    if _bound is not None:
        REGISTRY.unregister(_bound)
    _bound = DatabaseCollector(db, sources)
    REGISTRY.register(_bound)


def render(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The exposition text; blocking (the database collector queries), so call it in a thread."""
    return generate_latest(registry)
