"""Run the daemon's real HTTP endpoint (newswatch/web.py) in a thread, for tests.

    with serve(db, settings) as server:
        status, body, headers = request("POST", server.url + "/unsubscribe/" + token)

The aiohttp server runs on its own asyncio loop in a background thread and
listens on 127.0.0.1 on a free port; tests talk to it over real HTTP with
urllib, like a mail client or SendGrid would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from newswatch.settings import Settings
from newswatch.storage import Database
from newswatch.web import WebDeps, start_web, stop_web

SECRET = b"test-secret-0123456789abcdef0123"


@dataclass
class Server:
    url: str
    deps: WebDeps


@contextlib.contextmanager
def serve(db: Database, settings: Settings | None = None) -> Iterator[Server]:
    config = SimpleNamespace(settings=settings or Settings())
    deps = WebDeps(db, SECRET, lambda: config)  # type: ignore[arg-type,return-value]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    handle = asyncio.run_coroutine_threadsafe(start_web(deps, "127.0.0.1:0"), loop).result(10)
    try:
        yield Server(handle.url, deps)
    finally:
        asyncio.run_coroutine_threadsafe(stop_web(handle), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def request(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, Any]:
    """(status, body text, headers), also for 4xx/5xx answers."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode(), exc.headers
