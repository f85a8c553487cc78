"""`/readyz` and `/metrics`: is the daemon doing its job, and the numbers behind it.

`/healthz` (in web.py) only says the loop answers. `/readyz` says whether the
daemon is useful: the database answers, the scheduler runs, and a source poll
finished recently. "Recently" is measured on the monotonic clock, so a wall
clock jump neither fakes nor hides a stall.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import text

from newswatch import metrics
from newswatch.storage import Database

DB_CHECK_TIMEOUT = 3.0
# A poll must have finished within twice the shortest source interval plus
# this slack (a slow crawl, the sender's turn).
RECENT_SLACK = 120.0


@dataclass
class Heartbeat:
    """When the process started and when a source poll last finished (monotonic)."""

    started: float
    last_poll: float | None = None


HEARTBEAT = Heartbeat(time.monotonic())


def beat() -> None:
    """A source poll finished (whatever its outcome: the daemon is working)."""
    HEARTBEAT.last_poll = time.monotonic()


def _ping(db: Database) -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def database_reason(db: Database) -> str | None:
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping, db), DB_CHECK_TIMEOUT)
    except TimeoutError:
        return f"database did not answer within {DB_CHECK_TIMEOUT:.0f} s"
    except Exception as exc:
        # Any driver error means "not reachable" here; the message says which.
        return f"database unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return None


def scheduler_reason(service: Any) -> str | None:
    from apscheduler.schedulers.base import STATE_RUNNING

    scheduler = getattr(service, "scheduler", None)
    if scheduler is None:
        return "scheduler not started"
    if scheduler.state != STATE_RUNNING:
        return "scheduler not running (paused or stopping)"
    return None


def recency_reason(sources: list[Any], now: float | None = None) -> str | None:
    if not sources:
        return None  # nothing to poll: nothing can be late
    now = time.monotonic() if now is None else now
    limit = 2 * min(float(s.every) for s in sources) + RECENT_SLACK
    reference = HEARTBEAT.last_poll if HEARTBEAT.last_poll is not None else HEARTBEAT.started
    age = now - reference
    if age <= limit:
        return None
    what = "last source poll finished" if HEARTBEAT.last_poll is not None else "started"
    return f"no source poll finished for {age:.0f} s ({what} then; limit {limit:.0f} s)"


async def readiness_reasons(db: Database, service: Any, sources: list[Any]) -> list[str]:
    reasons = [await database_reason(db), scheduler_reason(service), recency_reason(sources)]
    return [r for r in reasons if r]


async def readyz(request: web.Request) -> web.Response:
    from newswatch.web import DEPS

    deps = request.app[DEPS]
    sources = getattr(deps.config, "sources", [])
    reasons = await readiness_reasons(deps.db, deps.service, sources)
    if reasons:
        body = "not ready\n" + "".join(f"- {r}\n" for r in reasons)
        return web.Response(status=503, text=body)
    return web.Response(text="ready\n")


async def metrics_page(_request: web.Request) -> web.Response:
    body = await asyncio.to_thread(metrics.render)
    return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})


def add_routes(app: web.Application) -> None:
    from newswatch.web import DEPS

    deps = app[DEPS]
    metrics.bind_database(deps.db, lambda: getattr(deps.config, "sources", []))
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
