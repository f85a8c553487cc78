"""`newswatch status`: what the operator needs to see at a glance.

The outbox by status (alerts and digests), every row that was given up with
its last error, how many emails may have gone out twice (resent after an
ambiguous attempt), and each source's last poll. `collect_status` returns
plain data (what `--json` prints); `format_status` makes the text view.
Kept apart from the CLI so more sections can be added without touching it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from newswatch.models import Alert, AlertStatus, Digest, Source
from newswatch.storage import Database

DEAD_SHOWN = 20


def collect_status(db: Database) -> dict[str, Any]:
    from newswatch.alerts.outbox import POSSIBLE_DUPLICATE

    with db.session() as session:
        outbox = {
            "alerts": _by_status(session, Alert),
            "digests": _by_status(session, Digest),
        }
        dead = _dead(session, Alert) + _dead(session, Digest)
        dead.sort(key=lambda row: row["queued_at"], reverse=True)
        duplicates = sum(
            int(
                session.scalar(
                    select(func.count())
                    .select_from(model)
                    .where(model.status == AlertStatus.sent, model.last_error == POSSIBLE_DUPLICATE)
                )
                or 0
            )
            for model in (Alert, Digest)
        )
        sources = [
            {
                "name": row.name,
                "last_status": row.last_status,
                "last_polled_at": _iso(row.last_polled_at),
                "last_success_at": _iso(row.last_success_at),
                "consecutive_failures": row.consecutive_failures,
                "last_error": row.last_error,
            }
            for row in session.scalars(select(Source).order_by(Source.name))
        ]
    data = {
        "outbox": outbox,
        "dead": dead[:DEAD_SHOWN],
        "dead_total": len(dead),
        "possible_duplicates": duplicates,
        "sources": sources,
    }
    data.update(_health_and_freshness(db))
    return data


def _by_status(session: Any, model: type[Alert] | type[Digest]) -> dict[str, int]:
    rows = session.execute(select(model.status, func.count()).group_by(model.status)).all()
    return {str(status): int(count) for status, count in sorted(rows)}


def _dead(session: Any, model: type[Alert] | type[Digest]) -> list[dict[str, Any]]:
    query = (
        select(model)
        .where(model.status == AlertStatus.dead)
        .order_by(model.queued_at.desc())
        .limit(DEAD_SHOWN)
    )
    return [
        {
            "kind": model.__tablename__[:-1],
            "id": row.id,
            "subscriber": row.subscriber,
            "attempts": row.attempts,
            "queued_at": _iso(row.queued_at),
            "last_error": row.last_error,
        }
        for row in session.scalars(query)
    ]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def format_status(data: dict[str, Any], zone: ZoneInfo | None = None) -> str:
    lines = ["Outbox"]
    for kind, counts in data["outbox"].items():
        summary = ", ".join(f"{n} {status}" for status, n in counts.items()) or "empty"
        lines.append(f"  {kind:<8} {summary}")
    if data["possible_duplicates"]:
        lines.append(
            f"  {data['possible_duplicates']} email(s) resent after an ambiguous attempt "
            "(possible duplicates)"
        )
    if data["dead"]:
        lines.append(f"\nGiven up ({data['dead_total']}; newest first)")
        for row in data["dead"]:
            lines.append(
                f"  {row['kind']} {row['id']} to {row['subscriber']}, "
                f"{row['attempts']} attempt(s): {row['last_error'] or '?'}"
            )
    lines.append("\nSources")
    if not data["sources"]:
        lines.append("  none polled yet")
    for source in data["sources"]:
        when = _local(source["last_polled_at"], zone) or "never"
        status = source["last_status"] or "-"
        line = f"  {source['name']:<30} {status:<12} polled {when}"
        if source["consecutive_failures"]:
            line += f", {source['consecutive_failures']} failure(s) in a row"
        lines.append(line)
    lines.extend(_format_health_and_freshness(data, zone))
    return "\n".join(lines)


def _local(iso: str | None, zone: ZoneInfo | None) -> str | None:
    if iso is None:
        return None
    moment = datetime.fromisoformat(iso)
    return (moment.astimezone(zone) if zone else moment).strftime("%Y-%m-%d %H:%M")


# --- source health, last errors, latency (see newswatch/freshness.py) ---------------------

RETRYING_SHOWN = 10


def _health_and_freshness(db: Database) -> dict[str, Any]:
    from newswatch.freshness import latency_summary
    from newswatch.scheduler.health import health_rows

    health = [
        {
            "name": row.name,
            "state": row.state(),
            "silent": row.silent,
            "consecutive_failures": row.consecutive_failures,
            "last_success_at": _iso(row.last_success_at),
            "last_item_at": _iso(row.last_item_at),
            "backoff_until": _iso(row.backoff_until),
            "last_error_kind": row.last_error_kind,
            "last_error": row.last_error,
        }
        for row in health_rows(db)
    ]
    with db.session() as session:
        retrying = [
            {
                "id": row.id,
                "subscriber": row.subscriber,
                "attempts": row.attempts,
                "next_attempt_at": _iso(row.next_attempt_at),
                "last_error": row.last_error,
            }
            for row in session.scalars(
                select(Alert)
                .where(Alert.status == AlertStatus.pending, Alert.last_error.is_not(None))
                .order_by(Alert.next_attempt_at)
                .limit(RETRYING_SHOWN)
            )
        ]
    return {"health": health, "retrying": retrying, "latency": latency_summary(db)}


def _format_health_and_freshness(data: dict[str, Any], zone: ZoneInfo | None) -> list[str]:
    from newswatch.freshness import human

    lines = []
    problems = [h for h in data["health"] if h["state"] in ("failing", "backoff", "silent")]
    if problems or data["retrying"]:
        lines.append("\nLast errors")
    for h in problems:
        error = f"{h['last_error_kind'] or '?'}: {' '.join((h['last_error'] or '').split())}"
        since = _local(h["last_success_at"], zone) or "never"
        lines.append(f"  source {h['name']}: {h['state']}, last success {since}; {error[:100]}")
    for row in data["retrying"]:
        when = _local(row["next_attempt_at"], zone)
        lines.append(
            f"  alert {row['id']} to {row['subscriber']}: {row['attempts']} attempt(s), "
            f"next {when}; {row['last_error']}"
        )
    latency = data["latency"]
    lines.append(f"\nLatency, last {latency['window_days']} days ({latency['alerts']} alert(s))")
    for key, label in (
        ("publish_to_queued", "published → queued"),
        ("publish_to_sent", "published → sent"),
    ):
        stats = latency[key]
        lines.append(
            f"  {label:<20} p50 {human(stats['p50']):>8}  p95 {human(stats['p95']):>8}"
            f"  ({stats['count']} measured)"
        )
    if latency["undated"]:
        lines.append(f"  {latency['undated']} alert(s) for articles without a publication date")
    return lines
