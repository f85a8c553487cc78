"""A local stand-in for SendGrid's v3 Mail Send API, on a real socket.

    with SendGridFake() as fake:
        backend = SendGridBackend(SecretStr(fake.api_key), fake.url, timeout=2)
        fake.script([Reply.rate_limited(reset_in=30), Reply.error(502)])
        ...
        fake.requests[0].json["personalizations"][0]["to"]

It answers `POST /v3/mail/send`: a wrong or missing `Authorization: Bearer <key>`
gets 401 (as SendGrid does), anything else the next scripted `Reply`, or 202
with an `X-Message-Id` once the script is used up. Every request that reaches
the server is recorded before it is answered, so a test can see that a request
arrived even when the client gave up waiting for the reply.

The real `sendgrid` client talks to it over HTTP; nothing is mocked. For a
pytest fixture, import `sendgrid_fake` from this module into a conftest.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import pytest

MAIL_SEND_PATH = "/v3/mail/send"
DEFAULT_KEY = "SG.fake-key-0123456789.abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Reply:
    """One scripted answer. `delay` seconds pass before anything is sent back."""

    status: int = 202
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0

    @classmethod
    def accepted(cls, message_id: str | None = None) -> Reply:
        """202 with the given X-Message-Id (else the fake numbers them)."""
        return cls(202, {"X-Message-Id": message_id} if message_id else {})

    @classmethod
    def rate_limited(cls, reset_in: float = 60.0, *, retry_after: bool = False) -> Reply:
        """429 like SendGrid sends it: X-RateLimit-Reset is a Unix time."""
        headers = {
            "X-RateLimit-Limit": "600",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time() + reset_in)),
        }
        if retry_after:
            headers["Retry-After"] = str(int(reset_in))
        return cls(429, headers, _errors("too many requests"))

    @classmethod
    def error(cls, status: int, message: str | None = None) -> Reply:
        return cls(status, {"Content-Type": "application/json"}, _errors(message or str(status)))

    @classmethod
    def slow(cls, delay: float, then: Reply | None = None) -> Reply:
        """Wait `delay` seconds, then answer `then` (default 202): for client timeouts."""
        base = then or cls()
        return cls(base.status, base.headers, base.body, delay)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any  # the parsed body, or None if it was not JSON


def _errors(message: str) -> bytes:
    return json.dumps({"errors": [{"message": message, "field": None, "help": None}]}).encode()


class SendGridFake:
    def __init__(self, api_key: str = DEFAULT_KEY) -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self._script: deque[Reply] = deque()
        self._ids = itertools.count(1)
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> SendGridFake:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # Handler threads are joined on close (no stray threads between tests); slow
        # replies wake up early through _closing, so the join is quick.
        server.daemon_threads = False
        server.block_on_close = True
        server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._server = server
        # A short poll interval keeps close() (and so every test's teardown) fast.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="sendgrid-fake"
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is None:
            return
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None

    def __enter__(self) -> SendGridFake:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- what tests use ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to give the client as `host`, e.g. http://127.0.0.1:40123."""
        if self._server is None:
            raise RuntimeError("the fake is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[Recorded]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def script(self, replies: Iterable[Reply | int]) -> None:
        """Queue answers for the next requests; an int means Reply.error(status)
        (or a plain 202 for 202)."""
        with self._lock:
            for reply in replies:
                if isinstance(reply, int):
                    reply = Reply.accepted() if reply == 202 else Reply.error(reply)
                self._script.append(reply)

    @property
    def pending(self) -> int:
        """Scripted answers not used yet."""
        with self._lock:
            return len(self._script)

    # -- called from handler threads --------------------------------------------------

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_reply(self) -> Reply:
        with self._lock:
            reply = self._script.popleft() if self._script else Reply()
            if 200 <= reply.status < 300 and "X-Message-Id" not in reply.headers:
                headers = {**reply.headers, "X-Message-Id": f"fake-{next(self._ids)}"}
                reply = Reply(reply.status, headers, reply.body, reply.delay)
            return reply

    def _wait(self, seconds: float) -> None:
        self._closing.wait(seconds)


def _handler_for(fake: SendGridFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 10  # a client that connects and says nothing must not block close()
        server_version = "sendgrid-fake/1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = None
            fake._record(Recorded("POST", self.path, dict(self.headers.items()), body, parsed))
            if self.path != MAIL_SEND_PATH:
                self._answer(Reply.error(404, "not found"))
            elif self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                self._answer(Reply.error(401, "The provided authorization grant is invalid"))
            else:
                reply = fake._next_reply()
                if reply.delay:
                    fake._wait(reply.delay)
                self._answer(reply)

        def _answer(self, reply: Reply) -> None:
            # The client may have timed out and hung up; that is the point of slow replies.
            with contextlib.suppress(OSError):
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


@pytest.fixture
def sendgrid_fake() -> Iterator[SendGridFake]:
    with SendGridFake() as fake:
        yield fake
