"""The daemon's HTTP endpoint: one small aiohttp server on the daemon's event loop.

It serves what must reach the daemon from outside: the unsubscribe links in
emails, SendGrid's Event Webhook, and `/healthz`. The route logic lives next
to what it changes (`alerts/unsubscribe.py`, `alerts/webhook.py`); this module
only builds the application and runs it. More routes (readiness, metrics) are
added in `build_app`.

Handlers do their database work in a worker thread (`asyncio.to_thread`):
SQLite may wait up to its busy timeout for a lock, and that must not stall the
crawls and the scheduler that share the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from newswatch.errors import NewswatchError
from newswatch.settings import Config
from newswatch.storage import Database

if TYPE_CHECKING:
    from newswatch.scheduler.daemon import Service

log = logging.getLogger(__name__)

# SendGrid posts events in batches; a few MB is plenty, and a cap keeps a
# stranger from making us buffer gigabytes.
MAX_BODY = 8 * 1024**2


class WebError(NewswatchError):
    """The HTTP endpoint could not start (e.g. the port is taken)."""


@dataclass
class WebDeps:
    """What the routes need. `config` is read per request through `config_source`,
    so a daemon that reloads its config hands the routes the new one."""

    db: Database
    secret: bytes
    config_source: Callable[[], Config]
    service: Service | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # per-process flags, e.g. logged once

    @property
    def config(self) -> Config:
        return self.config_source()

    @classmethod
    def from_service(cls, service: Service, secret: bytes) -> WebDeps:
        return cls(service.db, secret, lambda: service.config, service)


DEPS = web.AppKey("deps", WebDeps)


@dataclass
class WebHandle:
    runner: web.AppRunner
    address: tuple[str, int]  # the bound host and port (the real port when 0 was asked for)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host if ':' not in host else f'[{host}]'}:{port}"


def build_app(deps: WebDeps) -> web.Application:
    from newswatch import probes
    from newswatch.alerts import unsubscribe, webhook

    app = web.Application(client_max_size=MAX_BODY)
    app[DEPS] = deps
    app.router.add_get("/healthz", healthz)
    probes.add_routes(app)  # /readyz, /metrics
    unsubscribe.add_routes(app)
    webhook.add_routes(app)
    return app


async def healthz(_request: web.Request) -> web.Response:
    """Alive: the loop answers. (Readiness is a separate question.)"""
    return web.Response(text="ok\n")


def split_listen(listen: str) -> tuple[str, int]:
    """`127.0.0.1:8470` / `[::1]:8470` -> host and port."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise WebError(f"http.listen {listen!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


async def start_web(deps: WebDeps, listen: str) -> WebHandle:
    """Serve the routes on `listen`; raises WebError with a clear message if it cannot bind."""
    host, port = split_listen(listen)
    # A short shutdown grace: SendGrid retries what we drop, and the daemon must
    # stop within its 10 s drain.
    runner = web.AppRunner(
        build_app(deps), access_log=None, handle_signals=False, shutdown_timeout=2.0
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        reason = exc.strerror or str(exc)
        raise WebError(
            f"cannot listen on {listen}: {reason} "
            "(another newswatch or program uses it? change http.listen)"
        ) from exc
    bound = runner.addresses[0]
    handle = WebHandle(runner, (str(bound[0]), int(bound[1])))
    log.info("HTTP endpoint listening on %s", handle.url)
    return handle


async def stop_web(handle: WebHandle) -> None:
    await handle.runner.cleanup()
    log.info("HTTP endpoint stopped")
