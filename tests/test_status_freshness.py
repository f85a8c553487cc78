"""`newswatch status`: source health, last errors and publish → queued/sent percentiles,
from the four moments every alert has on record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import newswatch, write_config

from newswatch.freshness import alert_times, latency_summary, percentile
from newswatch.models import Alert, AlertStatus, Article, Digest
from newswatch.models import Source as SourceRow
from newswatch.storage import Database, open_database

NOW = datetime.now(UTC).replace(microsecond=0)


def add_alert(
    db: Database,
    slug: str,
    *,
    published: timedelta | None,
    queued: timedelta,
    sent: timedelta | None,
    digest: bool = False,
) -> None:
    """An article published `published` before NOW, queued and sent that long before NOW."""
    with db.transaction() as session:
        article = Article(
            url=f"https://example.org/{slug}",
            source_name="Lokaal",
            title=slug,
            text="x",
            published_at=NOW - published if published is not None else None,
            first_seen_at=NOW - queued,
        )
        session.add(article)
        session.flush()
        alert = Alert(
            subscriber="a@example.org",
            article_id=article.id,
            topics=[],
            queued_at=NOW - queued,
            status=AlertStatus.sent if sent is not None else AlertStatus.pending,
        )
        if digest and sent is not None:
            row = Digest(
                subscriber="a@example.org",
                period_end=NOW - sent,
                status=AlertStatus.sent,
                sent_at=NOW - sent,
            )
            session.add(row)
            session.flush()
            alert.digest_id, alert.status = row.id, AlertStatus.digested
        elif sent is not None:
            alert.sent_at = NOW - sent
        session.add(alert)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 0.5) == 10
    assert percentile(values, 0.95) == 19
    assert percentile([], 0.5) is None


def test_every_alert_has_its_four_moments_including_digests(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'nw.db'}")
    add_alert(db, "los", published=timedelta(hours=2), queued=timedelta(hours=1), sent=None)
    add_alert(
        db,
        "digest",
        published=timedelta(hours=5),
        queued=timedelta(hours=4),
        sent=timedelta(hours=3),
        digest=True,
    )
    times = {t.title: t for t in alert_times(db, NOW - timedelta(days=1))}
    assert times["digest"].published_at == NOW - timedelta(hours=5)
    assert times["digest"].first_seen_at == NOW - timedelta(hours=4)
    assert times["digest"].queued_at == NOW - timedelta(hours=4)
    assert times["digest"].sent_at == NOW - timedelta(hours=3)  # the digest's
    assert times["los"].sent_at is None
    db.dispose()


def test_latency_percentiles_over_the_last_seven_days(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'nw.db'}")
    for minutes in (5, 10, 15, 20):  # published N min before queued, sent 1 min after
        add_alert(
            db,
            f"a{minutes}",
            published=timedelta(minutes=60 + minutes),
            queued=timedelta(minutes=60),
            sent=timedelta(minutes=59),
        )
    add_alert(
        db, "oud", published=timedelta(days=9), queued=timedelta(days=8), sent=timedelta(days=8)
    )
    add_alert(db, "zonder-datum", published=None, queued=timedelta(hours=1), sent=None)

    summary = latency_summary(db, now=NOW)

    assert summary["alerts"] == 5  # the one from 8 days ago is outside the window
    assert summary["undated"] == 1
    assert summary["publish_to_queued"] == {"count": 4, "p50": 600.0, "p95": 1200.0}
    assert summary["publish_to_sent"] == {"count": 4, "p50": 660.0, "p95": 1260.0}
    db.dispose()


def test_status_command_shows_health_errors_and_latency(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nw.db'}"
    db = open_database(url)
    add_alert(
        db,
        "a",
        published=timedelta(minutes=30),
        queued=timedelta(minutes=20),
        sent=timedelta(minutes=19),
    )
    with db.transaction() as session:
        session.add(
            SourceRow(
                name="Kapot",
                url="https://example.org/feed.xml",
                last_polled_at=NOW,
                last_status="error",
                last_error="HTTP 500",
                last_error_kind="http",
                consecutive_failures=3,
            )
        )
    db.dispose()
    config = write_config(tmp_path / "config", db_url=url, sources=[])

    text = newswatch("--config", str(config), "status", timeout=60)
    as_json = newswatch("--config", str(config), "status", "--json", timeout=60)

    assert text.returncode == 0, text.stderr
    assert "source Kapot: failing" in text.stdout
    assert "http: HTTP 500" in text.stdout
    assert "published → queued" in text.stdout
    assert "10.0 min" in text.stdout
    data = json.loads(as_json.stdout)
    assert data["latency"]["publish_to_sent"]["p50"] == 660.0
    assert data["health"][0]["state"] == "failing"
    assert data["latency"]["recent"][0]["published_at"] is not None
