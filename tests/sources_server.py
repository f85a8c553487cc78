"""A small HTTP server for the source-kind tests: routes you fill in, requests it records.

Every page and XML document served here is written by the tests themselves
(own Dutch text); nothing is fetched from or copied off the internet.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# A route answers with (status, content type, body); a callable gets the query.
Body = bytes | str
Answer = tuple[int, str, Body]
Route = Answer | Callable[[dict[str, list[str]]], Answer]


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    user_agent: str | None


@dataclass
class SourcesServer:
    routes: dict[str, Route] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, route: Route) -> None:
        """`path` may carry a query ("/nieuws?page=2"); it must then match exactly."""
        self.routes[path] = route

    def html(self, path: str, text: str) -> None:
        self.add(path, (200, "text/html; charset=utf-8", text))

    def xml(self, path: str, text: str, content_type: str = "application/xml") -> None:
        self.add(path, (200, content_type, text))

    def paths(self) -> list[str]:
        """Every path requested, with its query string as sent."""
        return [r.path for r in self.received]

    def __enter__(self) -> SourcesServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


def _handler(server: SourcesServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            server.received.append(Received(self.path, query, self.headers.get("User-Agent")))
            route = server.routes.get(self.path) or server.routes.get(parts.path)
            if route is None:
                status, kind, body = 404, "text/plain", "niet gevonden"
            else:
                status, kind, body = route(query) if callable(route) else route
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def article_page(
    title: str, paragraphs: list[str], *, date: str = "", author: str = "Redactie"
) -> str:
    """An article page in the style of a Dutch local news site."""
    esc = html.escape
    body = "".join(f"<p>{esc(p)}</p>\n" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8"><title>{esc(title)}</title>
<meta property="og:title" content="{esc(title)}"></head><body>
<header><nav><a href="/">Home</a> <a href="/nieuws">Nieuws</a></nav></header>
<main><article>
<h1 class="kop">{esc(title)}</h1>
<div class="byline">{esc(date)} Nieuws <span class="auteur">{esc(author)}</span></div>
<div class="tekst">
{body}</div>
</article></main>
<footer>Colofon · Adverteren</footer>
</body></html>
"""


def paragraphs(topic: str) -> list[str]:
    """Three paragraphs of plain Dutch filler about `topic`, long enough to extract."""
    return [
        f"De gemeenteraad sprak dinsdagavond uitgebreid over {topic}. Verschillende "
        "fracties stelden vragen over de kosten en over de planning van het project.",
        "Wethouder Van Dijk zegde toe de raad voor de zomer opnieuw te informeren. "
        "Volgens haar ligt het plan op schema, al zijn er nog enkele open punten.",
        "Inwoners kunnen hun mening geven tijdens een inloopavond in het stadskantoor. "
        "De datum daarvan wordt later bekendgemaakt op de website van de gemeente.",
    ]
