"""A small regional news site served from a YAML file, on 127.0.0.1.

Used by `newswatch demo` (with the bundled `site.yaml`) and by the tests
(with their own). It renders article pages the way Dutch local sites do —
byline line "DD-MM-YYYY Rubriek Auteur", an upper-case dateline, a weather
widget with today's date in the header, a "Gerelateerd" block — plus an RSS
feed that honours If-None-Match with 304, and a robots.txt.
"""

from __future__ import annotations

import hashlib
import html
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class SiteArticle:
    slug: str
    title: str
    published: datetime
    rubric: str
    author: str
    dateline: str
    paragraphs: list[str]
    related: list[str]
    expect: str
    kind: str


def load_site(path: Path) -> list[SiteArticle]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    articles = []
    for raw in data["articles"]:
        published = raw["published"]
        if isinstance(published, str):
            published = datetime.fromisoformat(published)
        articles.append(
            SiteArticle(
                slug=raw["slug"],
                title=raw["title"],
                published=published,
                rubric=raw.get("rubric", "Nieuws"),
                author=raw.get("author", "Redactie"),
                dateline=raw.get("dateline", ""),
                paragraphs=list(raw["paragraphs"]),
                related=list(raw.get("related", [])),
                expect=raw.get("expect", "none"),
                kind=raw.get("kind", ""),
            )
        )
    return articles


def article_path(article: SiteArticle) -> str:
    return f"/nieuws/{article.slug}"


def render_article(article: SiteArticle, site_name: str) -> str:
    esc = html.escape
    first, *rest = article.paragraphs
    lead = f"{esc(article.dateline)} – {esc(first)}" if article.dateline else esc(first)
    body = "".join(f"<p>{esc(p)}</p>\n" for p in rest)
    related = "".join(
        f'<li><a href="/nieuws/x{i}">{esc(r)}</a></li>' for i, r in enumerate(article.related)
    )
    return f"""<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8">
<title>{esc(article.title)} - {esc(site_name)}</title>
<meta property="og:title" content="{esc(article.title)}">
</head><body>
<header><div class="weer">7 °C zaterdag 28 november 2026</div>
<nav><a href="/">Home</a> <a href="/nieuws">Nieuws</a> <a href="/sport">Sport</a></nav></header>
<div class="cookiebar">Wij gebruiken cookies om deze site te verbeteren.
<button>Akkoord</button></div>
<main><article>
<h1>{esc(article.title)}</h1>
<div class="byline">{article.published:%d-%m-%Y} {esc(article.rubric)} {esc(article.author)}</div>
<div class="content">
<p>{lead}</p>
{body}</div>
</article>
<aside class="gerelateerd"><h3>Gerelateerd</h3><ul>{related}</ul></aside>
</main>
<footer>© {esc(site_name)} · Colofon · Adverteren</footer>
</body></html>
"""


def render_feed(articles: list[SiteArticle], base_url: str, site_name: str) -> bytes:
    esc = html.escape
    items = []
    for article in sorted(articles, key=lambda a: a.published, reverse=True):
        link = base_url + article_path(article)
        items.append(
            f"<item><title>{esc(article.title)}</title><link>{esc(link)}</link>"
            f'<guid isPermaLink="true">{esc(link)}</guid>'
            f"<pubDate>{format_datetime(article.published)}</pubDate>"
            f"<description>{esc(article.paragraphs[0])}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{esc(site_name)}</title><link>{esc(base_url)}/</link>"
        "<description>Lokaal nieuws</description><language>nl</language>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


@dataclass
class SiteServer:
    """Serve `articles` on 127.0.0.1 in a background thread."""

    articles: list[SiteArticle]
    site_name: str = "Waterweg Nieuws"
    robots: str = "User-agent: *\nAllow: /\n"
    hits: Counter[str] = field(default_factory=Counter)
    statuses: list[tuple[str, int]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def feed_url(self) -> str:
        return f"{self.url}/feed.xml"

    def start(self) -> SiteServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def respond(self, path: str, headers: Any) -> tuple[int, dict[str, str], bytes]:
        """The answer for a GET of `path`; tests override this for misbehaviour."""
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, self.robots.encode()
        if path == "/feed.xml":
            body = render_feed(self.articles, self.url, self.site_name)
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if headers.get("If-None-Match") == etag:
                return 304, {"ETag": etag}, b""
            return 200, {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": etag}, body
        for article in self.articles:
            if path == article_path(article):
                page = render_article(article, self.site_name).encode()
                return 200, {"Content-Type": "text/html; charset=utf-8"}, page
        return 404, {"Content-Type": "text/plain"}, b"niet gevonden"


def _handler(site: SiteServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            site.hits[path] += 1
            status, headers, body = site.respond(path, self.headers)
            site.statuses.append((path, status))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test and demo output clean; `hits` records requests

    return Handler
