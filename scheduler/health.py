"""Source health: what each poll of a source did, and what the next one should do.

After every run `record()` updates the source's row: last success, last error
(kind and message), consecutive failures, items per run and in total, the
HTTP validators, the "distrust" counters and the backoff. Before every run
`plan_poll()` reads it back: skip the source while it is backing off, and
decide whether this poll is conditional (If-None-Match/If-Modified-Since) or
a full fetch.

Rules, each with its reason:

- Backoff: the first failure is often a blip, so it changes nothing. From the
  second failure in a row the source waits 2, 4, 8 … poll intervals, at most
  `MAX_BACKOFF`, so a dead site is not polled every 15 minutes for weeks but a
  recovered one is seen again within hours. A server's own Retry-After that
  was too long to wait out within the run (see crawler/middlewares.py) is
  honoured in full, even on the first failure.
- Distrust: some servers answer 304 or repeat an ETag after the feed changed.
  Every `full_fetch_every` polls (a feed source setting, default 12) and at
  least once every 24 hours the feed is fetched without conditional headers.
- Silent: a source that used to yield and now returns a feed or page with no
  entries `SILENT_AFTER` runs in a row is flagged; its feed or selector has
  probably broken. A 304 says "nothing changed", not "nothing there", so it
  neither counts as empty nor resets the count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newswatch.crawler.middlewares import error_kind
from newswatch.crawler.spiders import CrawlReport
from newswatch.models import Article
from newswatch.models import Source as SourceRow
from newswatch.storage import Database

log = logging.getLogger(__name__)

FULL_FETCH_EVERY = 12
FULL_FETCH_MAX_AGE = timedelta(hours=24)
SILENT_AFTER = 5
FAILURES_BEFORE_BACKOFF = 2
MAX_BACKOFF = timedelta(hours=6)
DISPLAY_ZONE = ZoneInfo("Europe/Amsterdam")


@dataclass(frozen=True)
class PollPlan:
    """What the next poll of one source should send, or that it should wait."""

    etag: str | None = None
    last_modified: str | None = None
    conditional: bool = False
    backoff_until: datetime | None = None

    @property
    def skip(self) -> bool:
        return self.backoff_until is not None


def plan_poll(db: Database, source: Any, now: datetime | None = None) -> PollPlan:
    """Validators, conditional-or-full, and whether the source is backing off."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        row = _row(session, source.name)
        if row is None or row.url != str(source.url):
            # A new source, or its URL changed: nothing to hold back or condition on.
            return PollPlan()
        if row.backoff_until is not None and now < row.backoff_until:
            return PollPlan(backoff_until=row.backoff_until)
        has_validators = bool(row.etag or row.last_modified)
        conditional = has_validators and not full_fetch_due(row, source, now)
        return PollPlan(row.etag, row.last_modified, conditional)


def full_fetch_due(row: SourceRow, source: Any, now: datetime) -> bool:
    """True when this poll should ignore the validators (the "distrust" fetch)."""
    every = max(1, int(getattr(source, "full_fetch_every", FULL_FETCH_EVERY)))
    if row.last_full_fetch_at is None:
        return True
    if now - row.last_full_fetch_at >= FULL_FETCH_MAX_AGE:
        return True
    # polls_since_full counts the conditional polls since the last full one:
    # with every=12 that is one full fetch and then 11 conditional ones.
    return (row.polls_since_full or 0) + 1 >= every


def skipped_report(source: Any, until: datetime) -> CrawlReport:
    """The report of a poll that did not happen because the source backs off."""
    report = CrawlReport(source=source.name, status="skipped")
    report.error = f"backing off until {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return report


def record(
    db: Database,
    source: Any,
    report: CrawlReport,
    *,
    conditional: bool = True,
    retry_after: float | None = None,
    now: datetime | None = None,
) -> None:
    """Save how a run went: health, backoff, distrust counters and validators.

    `conditional` is whether the feed request carried validators;
    `retry_after` a server's wish to be left alone that the run could not wait
    out (seconds).
    """
    now = now or datetime.now(UTC)
    with db.transaction() as session:
        row = _row(session, source.name)
        if row is None:
            row = SourceRow(name=source.name, url=str(source.url))
            session.add(row)
            _reset_crawl_state(row)
        if row.url != str(source.url):
            row.url = str(source.url)
            _reset_crawl_state(row)
        items = max(0, report.new_items - report.store_failures)
        used_to_yield = (row.total_items or 0) > 0
        row.last_polled_at = now
        row.last_status = report.status
        row.items_last_run = items
        row.total_items = (row.total_items or 0) + items
        if report.status == "error":
            _record_failure(row, report, source, retry_after, now)
        else:
            _record_success(row, report, retry_after, now)
            _count_empty(row, report, used_to_yield)
            _count_distrust(row, conditional, report, now)


def _reset_crawl_state(row: SourceRow) -> None:
    # Validators, backoff and distrust belong to the old URL; totals stay.
    row.etag = row.last_modified = None
    row.backoff_until = row.last_full_fetch_at = None
    row.consecutive_failures = row.empty_runs = row.polls_since_full = 0
    row.items_last_run = 0
    row.total_items = row.total_items or 0


def _record_failure(
    row: SourceRow, report: CrawlReport, source: Any, retry_after: float | None, now: datetime
) -> None:
    row.consecutive_failures = (row.consecutive_failures or 0) + 1
    row.last_error = report.error
    row.last_error_kind = error_kind(report.error, report.http_status)
    every = float(getattr(source, "every", 900.0))
    until = backoff_until(row.consecutive_failures, every, now)
    if retry_after:
        wish = now + timedelta(seconds=retry_after)
        until = wish if until is None else max(until, wish)
    row.backoff_until = until
    if until is not None:
        log.warning(
            "%s: %d failure(s) in a row (%s); next poll not before %s UTC",
            source.name,
            row.consecutive_failures,
            row.last_error_kind,
            f"{until:%Y-%m-%d %H:%M}",
        )


def _record_success(
    row: SourceRow, report: CrawlReport, retry_after: float | None, now: datetime
) -> None:
    row.consecutive_failures = 0
    row.last_success_at = now
    # The feed answered, but a page may still have asked us to stay away.
    row.backoff_until = now + timedelta(seconds=retry_after) if retry_after else None
    # Keep the old validators if any article failed to store: the next
    # poll must then see the full feed again instead of a 304.
    if report.status == "ok" and report.store_failures == 0:
        row.etag, row.last_modified = report.etag, report.last_modified


def _count_empty(row: SourceRow, report: CrawlReport, used_to_yield: bool) -> None:
    if report.status != "ok":
        return  # 304: nothing changed, which says nothing about the selector
    if report.entries == 0 and report.new_items == 0 and used_to_yield:
        row.empty_runs = (row.empty_runs or 0) + 1
        if row.empty_runs == SILENT_AFTER:
            log.warning(
                "%s: no entries %d runs in a row although it used to yield; "
                "its feed or selector has probably broken",
                row.name,
                SILENT_AFTER,
            )
    else:
        row.empty_runs = 0


def _count_distrust(row: SourceRow, conditional: bool, report: CrawlReport, now: datetime) -> None:
    if conditional:
        row.polls_since_full = (row.polls_since_full or 0) + 1
    elif report.status == "ok":
        row.polls_since_full = 0
        row.last_full_fetch_at = now


def backoff_until(failures: int, every: float, now: datetime) -> datetime | None:
    """When a source failing `failures` times in a row may be polled again.

    2, 4, 8 … poll intervals after this failure, capped. Half an interval is
    taken off because the scheduler's tick and this failure's time differ by
    the crawl's duration: without the slack, "two intervals" could turn into
    three.
    """
    if failures < FAILURES_BEFORE_BACKOFF:
        return None
    steps = 2 ** min(failures - FAILURES_BEFORE_BACKOFF + 1, 20)
    delay = min(timedelta(seconds=every * steps), max(MAX_BACKOFF, timedelta(seconds=every)))
    return now + delay - timedelta(seconds=every / 2)


def _row(session: Session, name: str) -> SourceRow | None:
    return session.scalar(select(SourceRow).where(SourceRow.name == name))


# --- the health table --------------------------------------------------------


@dataclass(frozen=True)
class SourceHealth:
    """One line of `newswatch sources`."""

    name: str
    url: str | None
    last_status: str | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_kind: str | None
    consecutive_failures: int
    items_last_run: int
    total_items: int
    empty_runs: int
    backoff_until: datetime | None
    # When this source last brought an article newswatch had not seen (from
    # the articles table): tells a quiet source from a broken one.
    last_item_at: datetime | None = None

    @property
    def silent(self) -> bool:
        return self.empty_runs >= SILENT_AFTER

    def state(self, now: datetime | None = None) -> str:
        """One word for the operator: new, ok, not_modified, failing, backoff, silent."""
        now = now or datetime.now(UTC)
        if self.last_polled_at is None:
            return "new"
        if self.backoff_until is not None and now < self.backoff_until:
            return "backoff"
        if self.consecutive_failures:
            return "failing"
        if self.silent:
            return "silent"
        return self.last_status or "ok"


def health_rows(db: Database, configured: list[Any] | None = None) -> list[SourceHealth]:
    """Health of every source in the database, plus configured ones never polled.

    `configured` is the config's source list; with it, sources removed from
    the config are left out and new ones show as "new".
    """
    with db.session() as session:
        rows = {row.name: row for row in session.scalars(select(SourceRow))}
        newest = dict(
            session.execute(
                select(Article.source_name, func.max(Article.first_seen_at)).group_by(
                    Article.source_name
                )
            ).all()
        )
    if configured is None:
        names = sorted(rows)
        urls: dict[str, str | None] = {}
    else:
        names = [source.name for source in configured]
        urls = {source.name: str(source.url) for source in configured}
    return [_health(name, rows.get(name), urls.get(name), newest.get(name)) for name in names]


def _health(
    name: str, row: SourceRow | None, url: str | None, last_item_at: datetime | None
) -> SourceHealth:
    if row is None:
        return SourceHealth(name, url, None, None, None, None, None, 0, 0, 0, 0, None)
    return SourceHealth(
        name=name,
        url=url or row.url,
        last_status=row.last_status,
        last_polled_at=row.last_polled_at,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        last_error_kind=row.last_error_kind,
        consecutive_failures=row.consecutive_failures or 0,
        items_last_run=row.items_last_run or 0,
        total_items=row.total_items or 0,
        empty_runs=row.empty_runs or 0,
        backoff_until=row.backoff_until,
        last_item_at=_utc(last_item_at),
    )


def _utc(value: datetime | None) -> datetime | None:
    # func.max() bypasses the column type: SQLite hands back a naive UTC value.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


_COLUMNS = ("SOURCE", "STATE", "LAST SUCCESS", "LAST ITEM", "FAILS", "ITEMS", "TOTAL", "LAST ERROR")


def format_health_table(
    rows: list[SourceHealth], now: datetime | None = None, zone: ZoneInfo = DISPLAY_ZONE
) -> str:
    """A plain-text table; times in `zone` (Europe/Amsterdam by default)."""
    now = now or datetime.now(UTC)
    lines = [_COLUMNS, *(_cells(row, now, zone) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(_COLUMNS) - 1)]
    out = []
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        out.append("  ".join([*cells, line[-1]]).rstrip())
    return "\n".join(out)


def _cells(row: SourceHealth, now: datetime, zone: ZoneInfo) -> tuple[str, ...]:
    state = row.state(now)
    if state == "backoff" and row.backoff_until is not None:
        state = f"backoff until {_time(row.backoff_until, zone)}"
    elif state == "silent":
        state = f"silent ({row.empty_runs} empty runs)"
    error = ""
    if row.last_error_kind:
        error = f"{row.last_error_kind}: {_one_line(row.last_error or '')}"[:80]
    return (
        row.name,
        state,
        _time(row.last_success_at, zone),
        _time(row.last_item_at, zone),
        str(row.consecutive_failures),
        str(row.items_last_run),
        str(row.total_items),
        error,
    )


def _time(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "-"


def _one_line(text: str) -> str:
    return " ".join(text.split())
