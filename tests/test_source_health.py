"""Source health: failures and backoff, items per run, "silent" sources, the
feed distrust fetch, and the health table.

The rules are tested on `record()`/`plan_poll()` with a real database and
made-up reports (fast); the lying ETag, the backoff skipping a poll and the
daemon surviving a gzip bomb are tested end to end on the real CLI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import newswatch, write_config
from daemonproc import wait_for
from mockserver import LATE_ARTICLE, LYING_ETAG, MisbehavingSite
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from newswatch.crawler.spiders import CrawlReport
from newswatch.models import Article
from newswatch.models import Source as SourceRow
from newswatch.scheduler.health import (
    FULL_FETCH_MAX_AGE,
    MAX_BACKOFF,
    SILENT_AFTER,
    backoff_until,
    format_health_table,
    health_rows,
    plan_poll,
    record,
    skipped_report,
)
from newswatch.storage import Database, open_database

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
EVERY = 900.0


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'health.db'}")
    yield database
    database.dispose()


def source(name: str = "Waterweg", **extra: Any) -> Any:
    return SimpleNamespace(name=name, url="http://127.0.0.1:1/feed.xml", every=EVERY, **extra)


def ok(entries: int = 3, new: int = 3, **kw: Any) -> CrawlReport:
    report = CrawlReport(source="Waterweg", status="ok", entries=entries, new_items=new, **kw)
    report.etag = report.etag or '"v1"'
    return report


def not_modified() -> CrawlReport:
    return CrawlReport(source="Waterweg", status="not_modified", http_status=304)


def failed(error: str = "HTTP 500", status: int | None = 500) -> CrawlReport:
    return CrawlReport(source="Waterweg", status="error", error=error, http_status=status)


def row(db: Database, name: str = "Waterweg") -> SourceRow:
    with db.session() as session:
        found = session.scalar(select(SourceRow).where(SourceRow.name == name))
        assert found is not None
        return found


# --- failures and backoff ------------------------------------------------------


def test_failures_are_counted_named_and_back_off_exponentially(db: Database) -> None:
    src = source()
    record(db, src, failed(), now=T0)
    first = row(db)
    assert (first.consecutive_failures, first.last_error_kind) == (1, "http_500")
    assert first.backoff_until is None  # one failure may be a blip
    assert not plan_poll(db, src, now=T0 + timedelta(seconds=1)).skip

    record(db, src, failed("DownloadTimeoutError: took longer than 30 s", None), now=T0)
    second = row(db)
    assert (second.consecutive_failures, second.last_error_kind) == (2, "timeout")
    assert second.backoff_until == T0 + timedelta(seconds=2 * EVERY - EVERY / 2)
    assert plan_poll(db, src, now=T0 + timedelta(seconds=EVERY)).skip  # next tick: skipped
    assert not plan_poll(db, src, now=T0 + timedelta(seconds=2 * EVERY)).skip  # the one after

    record(db, src, failed(), now=T0)
    assert row(db).backoff_until == T0 + timedelta(seconds=4 * EVERY - EVERY / 2)


def test_backoff_is_capped() -> None:
    assert backoff_until(1, EVERY, T0) is None
    assert backoff_until(50, EVERY, T0) == T0 + MAX_BACKOFF - timedelta(seconds=EVERY / 2)
    # A source polled less often than the cap still waits at least one interval.
    daily = 86400.0
    assert backoff_until(9, daily, T0) == T0 + timedelta(seconds=daily / 2)


def test_success_resets_failures_and_backoff_but_keeps_the_last_error(db: Database) -> None:
    src = source()
    for _ in range(3):
        record(db, src, failed("IgnoreRequest: Forbidden by robots.txt", None), now=T0)
    record(db, src, ok(), now=T0 + timedelta(hours=3))
    healed = row(db)
    assert healed.consecutive_failures == 0
    assert healed.backoff_until is None
    assert healed.last_success_at == T0 + timedelta(hours=3)
    assert (healed.last_error_kind, healed.last_status) == ("robots", "ok")


def test_retry_after_wish_is_honoured_even_on_the_first_failure(db: Database) -> None:
    src = source()
    record(db, src, failed("HTTP 429", 429), retry_after=7200, now=T0)
    assert row(db).backoff_until == T0 + timedelta(hours=2)
    plan = plan_poll(db, src, now=T0 + timedelta(minutes=119))
    assert plan.skip
    report = skipped_report(src, plan.backoff_until)  # type: ignore[arg-type]
    assert (report.status, report.error) == ("skipped", "backing off until 2026-11-28 14:00 UTC")
    assert not plan_poll(db, src, now=T0 + timedelta(minutes=120)).skip


def test_a_page_asking_to_wait_backs_off_a_working_feed(db: Database) -> None:
    record(db, source(), ok(), retry_after=3600, now=T0)
    assert row(db).backoff_until == T0 + timedelta(hours=1)
    assert row(db).consecutive_failures == 0


# --- items per run -------------------------------------------------------------


def test_items_per_run_and_in_total(db: Database) -> None:
    src = source()
    record(db, src, ok(entries=5, new=5), now=T0)
    record(db, src, ok(entries=5, new=2, store_failures=1, etag='"v2"'), now=T0)
    record(db, src, not_modified(), now=T0)
    stored = row(db)
    assert stored.items_last_run == 0
    assert stored.total_items == 6
    # An article failed to store in run two: its validators were not kept,
    # so the next poll cannot get a 304 that hides the article for good.
    assert stored.etag == '"v1"'


# --- silent ----------------------------------------------------------------------


def test_a_source_that_used_to_yield_turns_silent_after_n_empty_runs(db: Database) -> None:
    src = source()
    record(db, src, ok(), now=T0)
    for i in range(SILENT_AFTER - 1):
        record(db, src, ok(entries=0, new=0), now=T0)
        record(db, src, not_modified(), now=T0)  # a 304 is not "empty" and resets nothing
        assert row(db).empty_runs == i + 1
    assert not health_rows(db)[0].silent
    record(db, src, ok(entries=0, new=0), now=T0)
    assert health_rows(db)[0].silent
    assert health_rows(db)[0].state(T0) == "silent"
    record(db, src, ok(entries=4, new=0), now=T0)  # entries again, even if all known
    assert row(db).empty_runs == 0


def test_a_source_that_never_yielded_is_not_silent(db: Database) -> None:
    src = source()
    for _ in range(SILENT_AFTER + 1):
        record(db, src, ok(entries=0, new=0), now=T0)
    assert row(db).empty_runs == 0


# --- distrust: the full fetch without validators ----------------------------------


def conditional_polls(db: Database, src: Any, now: datetime) -> list[bool]:
    """Poll 14 times, a 304 each time the poll was conditional; which were?"""
    seen = []
    for _ in range(14):
        plan = plan_poll(db, src, now=now)
        seen.append(plan.conditional)
        record(
            db,
            src,
            not_modified() if plan.conditional else ok(),
            conditional=plan.conditional,
            now=now,
        )
    return seen


def test_full_fetch_every_n_polls(db: Database) -> None:
    src = source()  # no full_fetch_every: the default, 12
    assert plan_poll(db, src, now=T0).conditional is False  # a new source
    record(db, src, ok(), conditional=False, now=T0)
    assert row(db).last_full_fetch_at == T0
    polls = conditional_polls(db, src, T0)
    # 11 conditional polls, then the full one, then conditional again.
    assert polls == [True] * 11 + [False] + [True] * 2


def test_full_fetch_every_is_read_from_the_source(db: Database) -> None:
    src = source(full_fetch_every=3)
    record(db, src, ok(), conditional=False, now=T0)
    assert conditional_polls(db, src, T0)[:6] == [True, True, False, True, True, False]
    always = source("Altijd", full_fetch_every=1)
    record(db, always, ok(), conditional=False, now=T0)
    assert not any(conditional_polls(db, always, T0))


def test_full_fetch_after_24_hours(db: Database) -> None:
    src = source()
    record(db, src, ok(), conditional=False, now=T0)
    assert plan_poll(db, src, now=T0 + FULL_FETCH_MAX_AGE - timedelta(seconds=1)).conditional
    assert not plan_poll(db, src, now=T0 + FULL_FETCH_MAX_AGE).conditional


def test_a_failed_full_fetch_is_tried_again(db: Database) -> None:
    src = source(full_fetch_every=2)
    record(db, src, ok(), conditional=False, now=T0)
    record(db, src, not_modified(), conditional=True, now=T0)
    assert not plan_poll(db, src, now=T0).conditional
    record(db, src, failed(), conditional=False, now=T0)
    assert not plan_poll(db, src, now=T0).conditional


def test_a_feed_without_validators_is_always_fetched_in_full(db: Database) -> None:
    src = source()
    report = ok()
    report.etag = None
    record(db, src, report, conditional=False, now=T0)
    record(db, src, report, conditional=False, now=T0 + timedelta(minutes=15))
    plan = plan_poll(db, src, now=T0 + timedelta(minutes=30))
    assert (plan.conditional, plan.etag) == (False, None)
    assert row(db).last_full_fetch_at == T0 + timedelta(minutes=15)


def test_a_new_url_forgets_validators_backoff_and_distrust_state(db: Database) -> None:
    src = source()
    record(db, src, ok(), conditional=False, now=T0)
    for _ in range(3):
        record(db, src, failed(), now=T0)
    moved = SimpleNamespace(**{**vars(src), "url": "http://127.0.0.1:1/rss"})
    assert plan_poll(db, moved, now=T0) == plan_poll(db, source("Nieuw"), now=T0)
    record(db, moved, ok(new=1), conditional=False, now=T0)
    fresh = row(db)
    assert (fresh.url, fresh.consecutive_failures, fresh.total_items) == (moved.url, 0, 4)


# --- the health table --------------------------------------------------------------


def test_health_rows_and_table(db: Database) -> None:
    record(db, source("Goed"), ok(), conditional=False, now=T0)
    for _ in range(2):
        record(db, source("Kapot"), failed("IgnoreRequest: max redirections reached", None), now=T0)
    record(db, source("Stil"), ok(), now=T0)
    for _ in range(SILENT_AFTER):
        record(db, source("Stil"), ok(entries=0, new=0), now=T0)
    record(db, source("Weg"), ok(), now=T0)  # no longer in the config
    with db.transaction() as session:
        for minutes in (0, 30):
            session.add(
                Article(
                    url=f"http://127.0.0.1:1/nieuws/{minutes}",
                    source_name="Goed",
                    title="Bericht",
                    text="Tekst",
                    first_seen_at=T0 + timedelta(minutes=minutes),
                )
            )
    configured = [source(n) for n in ("Goed", "Kapot", "Stil", "Nieuw")]

    rows = health_rows(db, configured)
    assert [r.name for r in rows] == ["Goed", "Kapot", "Stil", "Nieuw"]
    now = T0 + timedelta(minutes=5)
    assert [r.state(now) for r in rows] == ["ok", "backoff", "silent", "new"]
    assert [r.name for r in health_rows(db)] == ["Goed", "Kapot", "Stil", "Weg"]

    table = format_health_table(rows, now=now, zone=ZoneInfo("Europe/Amsterdam"))
    lines = table.splitlines()
    header = "SOURCE STATE LAST SUCCESS LAST ITEM FAILS ITEMS TOTAL LAST ERROR"
    assert lines[0].split() == header.split()
    # Times in Europe/Amsterdam (CET in November).
    assert lines[1].split()[:8] == [
        "Goed",
        "ok",
        "2026-11-28",
        "13:00",
        "2026-11-28",
        "13:30",
        "0",
        "3",
    ]
    assert rows[0].last_item_at == T0 + timedelta(minutes=30)
    assert "backoff until 2026-11-28 13:22" in lines[2]
    assert "redirect_loop: IgnoreRequest: max redirections reached" in lines[2]
    assert f"silent ({SILENT_AFTER} empty runs)" in lines[3]
    assert lines[4].split() == ["Nieuw", "new", "-", "-", "0", "0", "0"]
    # Columns line up: every state starts where the header's STATE does.
    column = lines[0].index("STATE")
    assert all(line[column - 2 : column] == "  " and line[column] != " " for line in lines[1:])


# --- end to end: lying ETag, backoff skipping a poll, daemon and bomb ------------


@dataclass
class Polls:
    site: MisbehavingSite
    db_url: str
    stderr: list[str]


def backdate_full_fetch(db_url: str, name: str) -> None:
    engine = create_engine(db_url)
    with Session(engine) as session, session.begin():
        stale = datetime.now(UTC) - FULL_FETCH_MAX_AGE - timedelta(hours=1)
        session.execute(
            update(SourceRow).where(SourceRow.name == name).values(last_full_fetch_at=stale)
        )
    engine.dispose()


def source_row(db_url: str, name: str) -> SourceRow:
    engine = create_engine(db_url)
    with Session(engine) as session:
        found = session.scalar(select(SourceRow).where(SourceRow.name == name))
        assert found is not None
        session.expunge(found)
    engine.dispose()
    return found


@pytest.fixture(scope="module")
def polls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Polls]:
    """Three runs of a lying-ETag feed and an always-failing one.

    Between runs two and three the lying feed's last full fetch is moved back
    past 24 hours, so run three must fetch it without validators.
    """
    tmp = tmp_path_factory.mktemp("health")
    db_url = f"sqlite:///{tmp / 'nw.db'}"
    with MisbehavingSite() as site:
        config = write_config(
            tmp / "config",
            db_url=db_url,
            sources=[
                {"name": "Liegt", "url": site.feed("liegende-etag")},
                {"name": "Stuk", "url": site.feed("fout")},
            ],
        )
        stderr = []
        for i in range(3):
            if i == 1:
                site.lying_articles.append(LATE_ARTICLE)  # behind the same ETag
            if i == 2:
                backdate_full_fetch(db_url, "Liegt")
            result = newswatch("--config", str(config), "run", "--once")
            assert result.returncode == 0, result.stderr
            stderr.append(result.stderr)
        yield Polls(site, db_url, stderr)


def titles(db_url: str) -> set[str]:
    engine = create_engine(db_url)
    with Session(engine) as session:
        found = set(session.scalars(select(Article.title)))
    engine.dispose()
    return found


@pytest.mark.slow
def test_a_lying_etag_is_caught_by_the_full_fetch(polls: Polls) -> None:
    sent = [h.get("If-None-Match") for h in polls.site.request_headers["/liegende-etag.xml"]]
    assert sent == [None, LYING_ETAG, None]  # new, conditional, distrust
    statuses = [s for p, s in polls.site.statuses if p == "/liegende-etag.xml"]
    assert statuses == [200, 304, 200]
    assert LATE_ARTICLE.title in titles(polls.db_url)
    assert "Liegt: not modified (304)" in polls.stderr[1]
    stored = source_row(polls.db_url, "Liegt")
    assert stored.polls_since_full == 0
    assert stored.total_items == 3


@pytest.mark.slow
def test_a_failing_source_is_skipped_while_it_backs_off(polls: Polls) -> None:
    # Run 1 fails (a blip, no backoff), run 2 fails (backoff), run 3 is skipped.
    # Each failing run asks twice: the request and its one retry.
    assert len(polls.site.times["/fout.xml"]) == 4
    assert "Stuk: skipped, backing off until" in polls.stderr[2]
    stored = source_row(polls.db_url, "Stuk")
    assert stored.consecutive_failures == 2
    assert stored.last_error_kind == "http_500"
    assert stored.backoff_until is not None
    assert stored.backoff_until > datetime.now(UTC)


@pytest.mark.slow
def test_daemon_survives_gzip_bomb_and_huge_page(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'nw.db'}"
    with MisbehavingSite() as site:
        config = write_config(
            tmp_path / "config",
            db_url=db_url,
            sources=[
                {"name": "Bom", "url": site.feed("bom"), "every": "1s"},
                {"name": "Groot", "url": site.feed("groot"), "every": "1s"},
                {"name": "Goed", "url": site.feed("feed"), "every": "1s"},
            ],
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "newswatch", "--config", str(config), "run"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            # Both bad sources fail twice (so they back off), the good one keeps polling.
            assert wait_for(lambda: len(site.times.get("/bom.xml", [])) >= 2, timeout=60)
            assert wait_for(lambda: len(site.times.get("/groot.xml", [])) >= 2, timeout=60)
            assert wait_for(lambda: len(site.times.get("/feed.xml", [])) >= 3, timeout=60)
            assert proc.poll() is None, "the daemon died"
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert source_row(db_url, "Bom").last_error_kind == "too_big"
    assert source_row(db_url, "Groot").last_error_kind == "too_big"
    good = source_row(db_url, "Goed")
    assert (good.last_error_kind, good.total_items) == (None, 3)
