"""Lifecycle pieces in-process: the daemon lock, config reload, retention, the clock,
readiness and metrics. The real daemon under faults is in test_faults.py."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from conftest import COOPERATION, write_config
from sqlalchemy import select

from newswatch import metrics, probes
from newswatch.models import Alert, Article, Match
from newswatch.scheduler import lifecycle
from newswatch.scheduler.lifecycle import Lifecycle
from newswatch.scheduler.lock import LockHeld, acquire_daemon_lock, watch_lock
from newswatch.scheduler.reload import Reloader, apply_config, schedule_sender, schedule_source
from newswatch.scheduler.retention import housekeeping, prune_article_text
from newswatch.settings import FeedSource, load_config
from newswatch.storage import open_database

# --- the lock ----------------------------------------------------------------------------


def test_second_lock_on_the_same_database_is_refused_naming_the_holder(db_url: str) -> None:
    first = acquire_daemon_lock(db_url, pid=4242)
    try:
        with pytest.raises(LockHeld, match=r"pid 4242"):
            acquire_daemon_lock(db_url, pid=5353)
    finally:
        first.release()
    again = acquire_daemon_lock(db_url)  # released: free for the next daemon
    again.release()


def _kill_lock_session(db_url: str, pid: int) -> None:
    """What a server restart or a network blip does to the lock's connection."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (f"newswatch daemon pid {pid}",),
        ).fetchall()
    assert killed == [(True,)]


def test_lost_lock_session_is_taken_again(db_url: str) -> None:
    lock = acquire_daemon_lock(db_url, pid=4242)
    try:
        if db_url.startswith("sqlite"):
            assert lock.check() is False  # an flock cannot be lost
            return
        assert lock.check() is False  # the session is alive
        _kill_lock_session(db_url, 4242)
        assert lock.check() is True  # lost, and taken again
        with pytest.raises(LockHeld, match=r"pid 4242"):
            acquire_daemon_lock(db_url, pid=5353)
        assert lock.check() is False
    finally:
        lock.release()


def test_lock_taken_by_another_meanwhile_stops_the_daemon(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("an flock is only lost with its process")
    lock = acquire_daemon_lock(db_url, pid=4242)
    _kill_lock_session(db_url, 4242)
    newcomer = acquire_daemon_lock(db_url, pid=5353)  # sees the lock free

    async def watch() -> tuple[bool, bool]:
        stop = asyncio.Event()
        lost = await asyncio.wait_for(watch_lock(lock, stop, every=0.05), 10)
        return lost, stop.is_set()

    try:
        assert asyncio.run(watch()) == (True, True)
        assert "daemon lock lost to another process, stopping" in caplog.text
        assert "pid 5353" in caplog.text
    finally:
        lock.release()
        newcomer.release()


# --- config reload ------------------------------------------------------------------------


class StubScheduler:
    """Records what the reload asks of the scheduler."""

    def __init__(self, ids: list[str]) -> None:
        self.jobs: dict[str, dict[str, Any]] = {i: {} for i in ids}
        self.calls: list[tuple[str, str]] = []

    def add_job(self, func: Any, trigger: str, **kwargs: Any) -> None:
        self.jobs[kwargs["id"]] = kwargs
        self.calls.append(("add", kwargs["id"]))

    def get_job(self, job_id: str) -> Any:
        return self.jobs.get(job_id)

    def remove_job(self, job_id: str) -> None:
        del self.jobs[job_id]
        self.calls.append(("remove", job_id))


def stub_service(config: Any) -> SimpleNamespace:
    async def job(*_args: Any) -> None:
        return None

    return SimpleNamespace(
        config=config,
        ingestor=SimpleNamespace(classifier=None, subscribers=[]),
        sender=None,
        _tracked=job,
        _collect_then_send=job,
        _send_job=job,
    )


def feed(name: str, every: str = "15m") -> dict[str, Any]:
    return {"name": name, "kind": "feed", "url": f"http://127.0.0.1:9/{name}.xml", "every": every}


def write_sources(config: Path, sources: list[dict[str, Any]]) -> None:
    (config / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "config",
        db_url=f"sqlite:///{tmp_path / 'nw.db'}",
        sources=[feed("Blijft"), feed("Weg"), feed("Anders")],
    )


def test_apply_config_adds_removes_and_reschedules_sources(config_dir: Path) -> None:
    old = load_config(config_dir)
    service = stub_service(old)
    scheduler = StubScheduler(["source:Blijft", "source:Weg", "source:Anders", "sender"])
    write_sources(config_dir, [feed("Blijft"), feed("Anders", every="5m"), feed("Nieuw")])
    new = load_config(config_dir)

    summary = apply_config(service, scheduler, new, new.classifier(), lambda c: ("sender", c))

    assert (summary.added, summary.removed, summary.changed) == (["Nieuw"], ["Weg"], ["Anders"])
    assert set(scheduler.jobs) == {"source:Blijft", "source:Anders", "source:Nieuw", "sender"}
    assert scheduler.jobs["source:Anders"]["seconds"] == 300
    assert ("add", "source:Blijft") not in scheduler.calls  # unchanged: left alone
    assert service.config is new
    assert service.sender == ("sender", new)
    assert service.ingestor.subscribers == new.subscribers


def test_invalid_config_is_refused_with_file_line_and_key(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = load_config(config_dir)
    service = stub_service(old)
    scheduler = StubScheduler(["source:Blijft", "source:Weg", "source:Anders"])
    reloader = Reloader(service, scheduler, lambda c: None, poll_every=0)
    write_sources(config_dir, [feed("Blijft", every="vaak")])

    with caplog.at_level(logging.ERROR):
        assert asyncio.run(reloader.reload("test")) is False

    assert service.config is old
    assert scheduler.calls == []
    message = caplog.records[-1].getMessage()
    assert "sources.yaml, line 2, key 'sources[0].every'" in message
    assert "the running config stays in force" in message


def test_watcher_notices_a_changed_file_and_reloads(config_dir: Path) -> None:
    service = stub_service(load_config(config_dir))
    scheduler = StubScheduler(["source:Blijft", "source:Weg", "source:Anders"])

    async def scenario() -> None:
        reloader = Reloader(service, scheduler, lambda c: None, poll_every=0.05)
        reloader.start()
        try:
            write_sources(config_dir, [feed("Blijft")])
            for _ in range(100):
                if ("remove", "source:Weg") in scheduler.calls:
                    break
                await asyncio.sleep(0.05)
        finally:
            await reloader.stop()

    asyncio.run(scenario())
    assert ("remove", "source:Weg") in scheduler.calls
    assert [s.name for s in service.config.sources] == ["Blijft"]


# --- the clock --------------------------------------------------------------------------


def test_forward_clock_jump_runs_each_job_once_not_once_per_missed_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """APScheduler reads the wall clock; jump it an hour ahead under a 1 s interval."""
    import apscheduler.schedulers.base as base
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    offset = [0.0]

    class JumpingClock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return datetime.now(tz) + timedelta(seconds=offset[0])

    monkeypatch.setattr(base, "datetime", JumpingClock)
    runs: Counter[str] = Counter()

    async def tracked(job: Any, *args: Any) -> None:
        await job(*args)

    async def collect(source: Any) -> None:
        runs[source.name] += 1

    async def send() -> None:
        runs["sender"] += 1

    service = SimpleNamespace(_tracked=tracked, _collect_then_send=collect, _send_job=send)

    async def scenario() -> tuple[Counter[str], Counter[str]]:
        scheduler = AsyncIOScheduler(timezone=UTC)
        now = JumpingClock.now(UTC)
        for name in ("a", "b", "c"):
            source = FeedSource(name=name, url="http://x/", every=1)
            schedule_source(scheduler, service, source, now)
        schedule_sender(scheduler, service, 1.0, now)
        scheduler.start()
        await asyncio.sleep(1.5)
        before = Counter(runs)
        offset[0] = 3600.0
        scheduler.wakeup()
        await asyncio.sleep(1.5)
        scheduler.shutdown(wait=False)
        return before, Counter(runs)

    before, after = asyncio.run(scenario())
    for job in ("a", "b", "c", "sender"):
        assert before[job] >= 1
        # Without coalescing this would be ~3600 runs each.
        assert after[job] - before[job] <= 3, (job, before, after)


def test_backward_clock_jump_brings_jobs_forward(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(lifecycle, "CLOCK_CHECK_EVERY", 0.02)
    wall = [1_000_000.0]
    modified: list[str] = []

    class Job:
        def __init__(self, job_id: str) -> None:
            self.id = job_id

        def modify(self, **_changes: Any) -> None:
            modified.append(self.id)

    scheduler = SimpleNamespace(get_jobs=lambda: [Job("source:a"), Job("housekeeping")])
    service = stub_service(load_config(config_dir))
    watch = Lifecycle(service, scheduler, lambda c: None, wall=lambda: wall[0], mono=lambda: 0.0)

    async def scenario() -> None:
        task = asyncio.ensure_future(watch._watch_clock())
        await asyncio.sleep(0.05)
        wall[0] -= 7200  # the wall clock goes back two hours
        await asyncio.sleep(0.1)
        task.cancel()

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    assert modified == ["source:a"]  # housekeeping keeps its daily rhythm
    assert "wall clock jumped -7200 s" in caplog.text


# --- retention -----------------------------------------------------------------------------


def test_retention_prunes_old_text_and_keeps_matches_and_alerts(db_url: str) -> None:
    db = open_database(db_url)
    now = datetime.now(UTC)
    with db.transaction() as session:
        for days, slug in ((200, "oud"), (10, "nieuw")):
            article = Article(
                url=f"https://example.org/{slug}",
                source_name="Lokaal",
                title=slug,
                text=f"tekst van {slug}",
                first_seen_at=now - timedelta(days=days),
            )
            session.add(article)
            session.flush()
            session.add(
                Match(article_id=article.id, topic=COOPERATION, score=5, terms=[], explanation={})
            )
            session.add(Alert(subscriber="a@example.org", article_id=article.id, topics=[]))

    assert prune_article_text(db, 180, now=now) == 1
    assert prune_article_text(db, 180, now=now) == 0  # idempotent
    report = housekeeping(db, 180)
    with db.session() as session:
        texts = dict(session.execute(select(Article.title, Article.text)).all())
        pruned = dict(session.execute(select(Article.title, Article.text_pruned_at)).all())
        assert session.scalar(select(Match.id).limit(1)) is not None
        assert len(list(session.scalars(select(Alert)))) == 2
    assert texts == {"oud": "", "nieuw": "tekst van nieuw"}
    assert pruned["oud"] is not None
    assert pruned["nieuw"] is None
    assert report.optimized == db_url.startswith("sqlite")
    db.dispose()


def test_retention_zero_keeps_everything(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'nw.db'}")
    assert prune_article_text(db, 0) == 0
    db.dispose()


# --- readiness and metrics -------------------------------------------------------------------


def test_recency_uses_the_shortest_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    sources = [SimpleNamespace(every=60.0), SimpleNamespace(every=900.0)]
    monkeypatch.setattr(probes, "HEARTBEAT", probes.Heartbeat(started=1000.0, last_poll=None))
    assert probes.recency_reason(sources, now=1000.0 + 2 * 60 + probes.RECENT_SLACK) is None
    reason = probes.recency_reason(sources, now=2000.0)
    assert reason is not None
    assert "no source poll finished for 1000 s" in reason
    probes.HEARTBEAT.last_poll = 1990.0
    assert probes.recency_reason(sources, now=2000.0) is None
    assert probes.recency_reason([], now=1e9) is None


def test_metrics_text_has_counters_and_database_gauges(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'nw.db'}")
    report = SimpleNamespace(
        source="Lokaal", status="ok", http_status=200, new_items=2, store_failures=0
    )
    metrics.record_crawl(report)
    metrics.record_ingest(SimpleNamespace(article_id=1, topics=[COOPERATION], alerts=1))
    metrics.record_drain(SimpleNamespace(sent=1, retried=0, dead=0))
    with db.transaction() as session:
        article = Article(url="https://example.org/a", source_name="Lokaal", title="t", text="x")
        session.add(article)
        session.flush()
        session.add(Alert(subscriber="a@example.org", article_id=article.id, topics=[]))
    metrics.bind_database(db, lambda: [SimpleNamespace(name="Lokaal", url="https://x/")])

    text = metrics.render().decode()

    assert 'newswatch_fetches_total{http_status="200",outcome="ok",source="Lokaal"}' in text
    assert 'newswatch_items_total{source="Lokaal"}' in text
    assert f'newswatch_matches_total{{topic="{COOPERATION}"}}' in text
    assert 'newswatch_alerts_total{outcome="sent"}' in text
    assert 'newswatch_outbox_alerts{status="pending"} 1.0' in text
    assert 'newswatch_source_consecutive_failures{source="Lokaal"} 0.0' in text
    assert "newswatch_publish_to_alert_seconds_bucket" in text
    db.dispose()


def test_readyz_says_why_not_and_metrics_answer(tmp_path: Path) -> None:
    from web_helpers import request, serve

    db = open_database(f"sqlite:///{tmp_path / 'nw.db'}")
    with serve(db) as server:  # no daemon behind it: no scheduler
        status, body, _ = request("GET", server.url + "/readyz")
        assert status == 503
        assert "scheduler not started" in body
        status, body, headers = request("GET", server.url + "/metrics")
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "newswatch_outbox_alerts" in body
    db.dispose()
