"""A misbehaving news site on 127.0.0.1, in the spirit of Scrapy's tests/mockserver.

Real sockets, a real HTTP server in a background thread, and one resource per
way a regional site can go wrong: broken encodings, ill-formed XML, relative
links, duplicate or missing GUIDs, HTML in titles, an ETag that lies, 429 and
503 with Retry-After, 500s, a hang, a 50 MB page, a gzip bomb, a redirect
loop and a robots.txt that forbids a path. All text is our own writing.

    with MisbehavingSite() as site:
        site.feed("kapotte-codering")  # -> http://127.0.0.1:PORT/kapotte-codering.xml
"""

from __future__ import annotations

import gzip
import html
import re
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from http.server import ThreadingHTTPServer
from typing import Any

from newswatch.demo.site import SiteArticle, SiteServer, _handler, article_path, render_feed

RSS = "application/rss+xml; charset=utf-8"
BIG_PAGE_BYTES = 50 * 1024**2
BOMB_BYTES = 100 * 1024**2  # inflated size; a few hundred KB on the wire
LYING_ETAG = '"altijd-dezelfde"'

ARTICLES = [
    SiteArticle(
        slug="brug-dicht",
        title="Spoorbrug twee weekenden dicht voor onderhoud",
        published=datetime(2026, 11, 20, 8, 30, tzinfo=UTC),
        rubric="Verkeer",
        author="Fenna Kortland",
        dateline="MAASSLUIS",
        paragraphs=[
            "De spoorbrug over de Boonervliet gaat twee weekenden dicht.",
            "Aannemers vervangen de leuningen en het wegdek van het fietspad.",
            "Fietsers worden omgeleid via de Westlandseweg.",
        ],
        related=[],
        expect="none",
        kind="",
    ),
    SiteArticle(
        slug="markt-verhuist",
        title="Weekmarkt verhuist tijdelijk naar het Havenplein",
        published=datetime(2026, 11, 21, 10, 0, tzinfo=UTC),
        rubric="Nieuws",
        author="Redactie",
        dateline="VLAARDINGEN",
        paragraphs=[
            "De zaterdagmarkt staat vanaf december op het Havenplein.",
            "De Markt krijgt nieuwe bestrating en blijft tot het voorjaar afgezet.",
        ],
        related=[],
        expect="none",
        kind="",
    ),
    SiteArticle(
        slug="kerstconcert",
        title="Kerstconcert in de Grote Kerk uitverkocht",
        published=datetime(2026, 11, 22, 19, 15, tzinfo=UTC),
        rubric="Cultuur",
        author="Jorrit van Oeveren",
        dateline="SCHIEDAM",
        paragraphs=[
            "Binnen een dag waren alle kaarten voor het kerstconcert verkocht.",
            "Het stadskoor zingt samen met twee basisscholen.",
        ],
        related=[],
        expect="none",
        kind="",
    ),
]

# Written later, to appear behind the lying ETag.
LATE_ARTICLE = SiteArticle(
    slug="nieuwe-speeltuin",
    title="Buurt kiest ontwerp voor nieuwe speeltuin",
    published=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
    rubric="Wijken",
    author="Redactie",
    dateline="MAASSLUIS",
    paragraphs=[
        "Bewoners van de Steendijkpolder kozen uit drie ontwerpen.",
        "Het winnende ontwerp heeft een waterpomp en een klimheuvel.",
    ],
    related=[],
    expect="none",
    kind="",
)


def _rss(items: str, home: str, title: str = "Mock Lokaal") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>{home}/</link>"
        f"<description>Lokaal nieuws</description>{items}</channel></rss>"
    )


def _item(title: str, link: str, guid: str | None, description: str = "") -> str:
    guid_xml = f"<guid isPermaLink='false'>{guid}</guid>" if guid else ""
    return (
        f"<item><title>{title}</title><link>{link}</link>{guid_xml}"
        f"<pubDate>Sat, 21 Nov 2026 10:00:00 +0000</pubDate>"
        f"<description>{description}</description></item>"
    )


@cache
def gzip_bomb() -> bytes:
    """BOMB_BYTES of zeros, gzipped in chunks so building it stays cheap."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: gzip container
    chunk = bytes(1024**2)
    parts = [compressor.compress(chunk) for _ in range(BOMB_BYTES // len(chunk))]
    parts.append(compressor.flush())
    return b"".join(parts)


@dataclass
class MisbehavingSite(SiteServer):
    """SiteServer plus misbehaving resources; `respond()` routes by path."""

    articles: list[SiteArticle] = field(default_factory=lambda: list(ARTICLES))
    site_name: str = "Mock Lokaal"
    robots: str = "User-agent: *\nDisallow: /verboden/\n"
    # 429 with Retry-After on /druk.xml this many times, then the feed.
    busy_times: int = 1
    busy_retry_after: str = "1"
    # Articles the lying feed lists; its ETag never changes.
    lying_articles: list[SiteArticle] = field(default_factory=lambda: list(ARTICLES[:2]))
    times: dict[str, list[float]] = field(default_factory=dict)
    request_headers: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def feed(self, name: str) -> str:
        return f"{self.url}/{name}.xml"

    def start(self) -> MisbehavingSite:
        gzip_bomb()  # built before serving, or building it would eat the client's timeout
        server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # release hanging handlers
        super().stop()

    def __enter__(self) -> MisbehavingSite:
        return self.start()

    def respond(self, path: str, headers: Any) -> tuple[int, dict[str, str], bytes]:
        self.times.setdefault(path, []).append(time.monotonic())
        self.request_headers.setdefault(path, []).append(dict(headers.items()))
        name = path.strip("/").removesuffix(".xml").replace("-", "_").replace("/", "__")
        handler = getattr(self, f"_r_{name}", None)
        if handler is not None:
            return handler(headers)
        # /<feed>/nieuws/<slug>: each feed links its own copy of the pages, so
        # one feed's articles are not "already known" because another had them.
        prefixed = re.match(r"^/[\w-]+(/nieuws/[\w-]+)$", path)
        return super().respond(prefixed.group(1) if prefixed else path, headers)

    def link(self, feed: str, article: SiteArticle, *, relative: bool = False) -> str:
        """The URL feed `feed` gives `article`."""
        path = f"/{feed}{article_path(article)}"
        return path if relative else self.url + path

    # --- feeds that parse, badly --------------------------------------------

    def _r_kapotte_codering(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        # Declares UTF-8, is Windows-1252: "één" and "café" are invalid UTF-8.
        items = "".join(
            _item(
                f"{a.title} – één café",
                self.link("kapotte-codering", a),
                a.slug,
                "Geëmigreerde bewoners keren terug",
            )
            for a in self.articles
        )
        return 200, {"Content-Type": RSS}, _rss(items, self.url).encode("cp1252")

    def _r_slecht_xml(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        # A bare ampersand, an unclosed description and no closing tags at all.
        items = "".join(
            f"<item><title>{a.title} & meer</title><link>{self.link('slecht-xml', a)}</link>"
            f"<description>Zie pagina</item>"
            for a in self.articles
        )
        body = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>' + items
        return 200, {"Content-Type": RSS}, body.encode()

    def _r_relatief(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        items = "".join(
            _item(a.title, self.link("relatief", a, relative=True), a.slug) for a in self.articles
        )
        return 200, {"Content-Type": RSS}, _rss(items, self.url).encode()

    def _r_guids(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        one, two, three = self.articles[:3]
        items = (
            # Two different articles share one GUID (a CMS that reuses ids).
            _item(one.title, self.link("guids", one), "nieuws-1")
            + _item(two.title, self.link("guids", two), "nieuws-1")
            # No GUID at all.
            + _item(three.title, self.link("guids", three), None)
            # The first article again, same link, same GUID.
            + _item(one.title, self.link("guids", one), "nieuws-1")
        )
        return 200, {"Content-Type": RSS}, _rss(items, self.url).encode()

    def _r_html_titels(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        one, two = self.articles[:2]
        items = _item(
            html.escape(f"<b>{one.title}</b>"), self.link("html-titels", one), one.slug
        ) + _item(
            f"<![CDATA[<em>{two.title}</em> &amp; meer]]>",
            self.link("html-titels", two),
            two.slug,
        )
        return 200, {"Content-Type": RSS}, _rss(items, self.url).encode()

    def _r_liegende_etag(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        if headers.get("If-None-Match") == LYING_ETAG:
            return 304, {"ETag": LYING_ETAG}, b""
        body = render_feed(self.lying_articles, self.url, self.site_name)
        return 200, {"Content-Type": RSS, "ETag": LYING_ETAG}, body

    # --- feeds that refuse ---------------------------------------------------

    def _r_druk(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        if len(self.times["/druk.xml"]) <= self.busy_times:
            retry = {"Retry-After": self.busy_retry_after}
            return 429, {"Content-Type": "text/plain", **retry}, b"te veel verzoeken"
        return 200, {"Content-Type": RSS}, render_feed(self.articles[:1], self.url, "Druk")

    def _r_onderhoud(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        until = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
        return 503, {"Content-Type": "text/plain", "Retry-After": until}, b"onderhoud"

    def _r_lang_weg(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        return 429, {"Content-Type": "text/plain", "Retry-After": "3600"}, b"kom later terug"

    def _r_fout(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        return 500, {"Content-Type": "text/plain"}, b"interne fout"

    def _r_hangt(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        self._stopping.wait(60)  # until the client gives up or the test ends
        return 200, {"Content-Type": RSS}, b""

    def _r_groot(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": RSS}, b" " * BIG_PAGE_BYTES

    def _r_bom(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": RSS, "Content-Encoding": "gzip"}, gzip_bomb()

    def _r_klein_gzip(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        # A normal compressed feed, so the bomb test cannot pass by refusing gzip.
        body = gzip.compress(render_feed(self.articles, self.url, self.site_name))
        return 200, {"Content-Type": RSS, "Content-Encoding": "gzip"}, body

    def _r_lus_a(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        return 302, {"Location": f"{self.url}/lus-b.xml"}, b""

    def _r_lus_b(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        return 302, {"Location": f"{self.url}/lus-a.xml"}, b""

    def _r_verboden__feed(self, headers: Any) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": RSS}, render_feed(self.articles, self.url, "Verboden")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The crawler hangs up on the 50 MB page and the bomb on purpose;
        # the broken pipe that follows is the expected outcome, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)
