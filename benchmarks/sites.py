"""Generated loopback news sites for the benchmarks (ingest, polling, soak, latency).

Not a benchmark itself: `ingest.py` and friends import it. It generates Dutch
local-news articles from templates with a fixed seed (no third-party text),
renders them with the demo site's HTML and RSS (`newswatch.demo.site`), and
serves them from threaded HTTP/1.1 servers, one per "site", each on its own
loopback address (127.0.0.10, 127.0.0.11, ...). Separate addresses matter:
Scrapy's politeness slot is per host name, so twenty feeds on one address
would be crawled one request at a time, unlike twenty real sites.

Pages and feeds are rendered up front and kept as bytes, so the server spends
its time on sockets, not on templating. Every request is counted on the
server side (kind, status, bytes in and out), and the first time each article
page is served is recorded, which the latency benchmark needs.
"""

from __future__ import annotations

import hashlib
import os
import platform
import random
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from newswatch.demo.site import SiteArticle, article_path, render_article, render_feed

ROOT = Path(__file__).resolve().parent.parent
COOPERATION = "intergemeentelijke-samenwerking"

PLACES = [
    "Schiedam", "Vlaardingen", "Maassluis", "Leiden", "Gouda", "Zwolle", "Deventer", "Tiel",
    "Culemborg", "Buren", "Ede", "Wageningen", "Heerlen", "Kerkrade", "Alkmaar", "Castricum",
    "Heiloo", "Assen", "Emmen", "Meppel", "Hoorn", "Enkhuizen", "Zutphen", "Lochem", "Oss",
]  # fmt: skip
PEOPLE = [
    "wethouder De Vries", "burgemeester Bakker", "raadslid Yılmaz", "wethouder Jansen",
    "een woordvoerder van de gemeente", "de voorzitter van de ondernemersvereniging",
    "buurtbewoner Petra Smit", "directeur Van Dijk", "de wijkagent", "fractievoorzitter Visser",
]  # fmt: skip
THINGS = [
    "de nieuwe fietsbrug", "het zwembad", "de parkeertarieven", "de renovatie van het stadhuis",
    "de bouw van tweehonderd woningen", "de herinrichting van de Dorpsstraat", "de kermis",
    "het onderhoud van de dijken", "de bibliotheek", "de sporthal", "het nieuwe schoolgebouw",
    "de verlichting in het park", "de markt op zaterdag", "de ijsbaan", "het busvervoer",
    "de nieuwe rotonde", "het asielzoekerscentrum", "de windmolens langs de A7", "het dorpshuis",
    "de sluiting van de huisartsenpost", "het tekort aan leraren", "de zonneweide", "het museum",
    "de opvang van daklozen", "de groenstrook achter het station", "de jachthaven",
    "de kinderboerderij",
    "het carnaval", "de vervuilde grond bij de haven", "de snelheid op de dijkweg", "het hospice",
    "de verhuizing van de brandweerkazerne", "de afvalinzameling", "de nieuwe wijk Oostpolder",
]  # fmt: skip
# Free phrases mixed into sentences so that two articles share few word 3-grams,
# as unrelated real articles do (the dedupe step looks at exactly that).
ASIDES = [
    "na maanden van overleg", "tot verbazing van velen", "volgens de laatste cijfers",
    "ondanks eerdere bezwaren", "sinds de zomer", "vorige week al", "naar verluidt",
    "op verzoek van omwonenden", "met steun van de provincie", "zonder veel ophef",
    "na een lange discussie", "tegen de verwachting in", "al jaren", "eindelijk",
    "in een brief aan de raad", "tijdens een drukbezochte avond", "onder grote belangstelling",
    "volgens ingewijden", "tot ergernis van de oppositie", "mede door de hoge rente",
]  # fmt: skip
SENTENCES = [
    "Volgens {person} is {thing} in {place} hard nodig.",
    "De gemeenteraad van {place} praatte dinsdagavond tot laat over {thing}.",
    "{Person} verwacht dat {thing} ongeveer {n} miljoen euro gaat kosten.",
    "Bewoners van {place} reageerden verrast op het besluit over {thing}.",
    "Het college van {place} wil {thing} voor {year} afronden.",
    "In {place} is de overlast rond {thing} de afgelopen maanden toegenomen, zegt {person}.",
    "{Person} noemt {thing} een belangrijke stap voor de wijk.",
    "Er kwamen {n} reacties binnen op het plan voor {thing} in {place}.",
    "De provincie draagt {n} procent bij aan {thing}.",
    "Ondernemers in het centrum van {place} maken zich zorgen over {thing}.",
    "Een meerderheid van de raad in {place} steunt {thing}, al zijn er kritische vragen.",
    "Pas in {year} wordt duidelijk wat {thing} betekent voor de inwoners van {place}.",
    "{Aside} besloot {place} om {thing} uit te stellen.",
    "{Person} sprak {aside} over {thing} en {thing2}.",
    "Wie in {place} woont, merkt {aside} weinig van {thing}.",
    "De kosten van {thing} lopen {aside} op tot {n} duizend euro.",
    "Ook {thing2} staat {aside} op de agenda in {place}.",
    "{Aside} kwamen er {n} handtekeningen tegen {thing}.",
    "Het plan voor {thing} werd {aside} aangepast, vertelt {person}.",
    "In {place} zijn de meningen over {thing} verdeeld, net als over {thing2}.",
]  # fmt: skip
# Sentences that make an article about cooperation between municipalities.
COOPERATION_SENTENCES = [
    "De gemeenten {place} en {place2} brengen hun ICT onder in een gemeenschappelijke "
    "regeling die per {year} van start gaat.",
    "Het samenwerkingsverband van {place} en {place2} gaat ook de belastingen heffen.",
    "{place} wil uittreden uit de gemeenschappelijke regeling met {place2}; de "
    "ontvlechting kost naar schatting {n} miljoen euro.",
    "De ambtelijke fusie van {place} en {place2} moet de kwetsbaarheid van beide "
    "organisaties verminderen.",
]
RUBRICS = ["Nieuws", "Politiek", "Regio", "Wonen", "Verkeer"]
AUTHORS = ["Anouk de Boer", "Mark Hendriks", "Redactie", "Sanne Mulder", "Joost Kok"]


def generate_article(
    rng: random.Random, index: int, published: datetime, cooperation: bool | None = None
) -> SiteArticle:
    """One ~450-word article; unless told, about one in twenty is about municipal cooperation."""
    place = rng.choice(PLACES)
    if cooperation is None:
        cooperation = rng.random() < 0.05
    paragraphs = [_paragraph(rng, place, cooperation and i == 1) for i in range(6)]
    thing = rng.choice(THINGS)
    title = f"{place}: discussie over {thing} ({index})"
    if cooperation:
        title = f"{place} en buurgemeente werken samen in gemeenschappelijke regeling ({index})"
    return SiteArticle(
        slug=f"{index:05d}-{place.lower()}",
        title=title,
        published=published,
        rubric=rng.choice(RUBRICS),
        author=rng.choice(AUTHORS),
        dateline=place.upper(),
        paragraphs=paragraphs,
        related=[f"{rng.choice(PLACES)}: {rng.choice(THINGS)}" for _ in range(3)],
        expect=COOPERATION if cooperation else "none",
        kind="generated",
    )


def _paragraph(rng: random.Random, place: str, cooperation: bool) -> str:
    templates = [rng.choice(SENTENCES) for _ in range(rng.randint(4, 7))]
    if cooperation:
        templates[1:1] = rng.sample(COOPERATION_SENTENCES, 2)
    return " ".join(_fill(rng, t, place) for t in templates)


def _fill(rng: random.Random, template: str, place: str) -> str:
    person = rng.choice(PEOPLE)
    other = rng.choice([p for p in PLACES if p != place])
    aside = rng.choice(ASIDES)
    return template.format(
        aside=aside,
        Aside=aside[0].upper() + aside[1:],
        thing2=rng.choice(THINGS),
        place=place if rng.random() < 0.6 else rng.choice(PLACES),
        place2=other,
        person=person,
        Person=person[0].upper() + person[1:],
        thing=rng.choice(THINGS),
        n=rng.randint(2, 400),
        year=rng.randint(2027, 2031),
    )


# --- serving -------------------------------------------------------------------


@dataclass
class Feed:
    """One feed of one site: the newest `size` articles, pre-rendered with an ETag."""

    path: str
    size: int
    articles: list[SiteArticle] = field(default_factory=list)
    # (body, ETag), replaced in one assignment so a reader never sees a mixed pair.
    rendered: tuple[bytes, str] = (b"", "")


@dataclass
class Stats:
    """What the servers answered; all sites together, guarded by `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[str] = field(default_factory=Counter)  # by kind: robots, feed_200, ...
    bytes_out: int = 0
    bytes_in: int = 0
    first_request: float | None = None
    last_request: float | None = None
    # Article URL -> wall-clock time (time.time()) its page was first served.
    first_served: dict[str, float] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "total": sum(self.requests.values()),
                "bytes_out": self.bytes_out,
                "bytes_in": self.bytes_in,
                "first_request": self.first_request,
                "last_request": self.last_request,
            }

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.bytes_out = self.bytes_in = 0
            self.first_request = self.last_request = None


class Site:
    """One news site: robots.txt, feeds and article pages on one loopback address."""

    def __init__(self, host: str, name: str, stats: Stats) -> None:
        self.host = host
        self.name = name
        self.stats = stats
        self.feeds: dict[str, Feed] = {}
        self.pages: dict[str, bytes] = {}
        self._server = _QuietServer((host, 0), _handler(self))
        self.url = f"http://{host}:{self._server.server_address[1]}"

    def add_feed(self, path: str, size: int) -> Feed:
        feed = Feed(path, size)
        self.feeds[path] = feed
        self._render_feed(feed)
        return feed

    def publish(self, feed: Feed, articles: list[SiteArticle]) -> list[str]:
        """Put `articles` on the site and at the top of `feed`; their URLs."""
        for article in articles:
            self.pages[article_path(article)] = render_article(article, self.name).encode()
        feed.articles = (articles[::-1] + feed.articles)[: feed.size]
        self._render_feed(feed)
        return [self.url + article_path(a) for a in articles]

    def _render_feed(self, feed: Feed) -> None:
        body = render_feed(feed.articles, self.url, self.name)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        feed.rendered = (body, etag)

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def respond(self, path: str, headers: Any) -> tuple[str, int, dict[str, str], bytes]:
        """(kind, status, headers, body) for a GET of `path`."""
        if path == "/robots.txt":
            return "robots", 200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"
        feed = self.feeds.get(path)
        if feed is not None:
            body, etag = feed.rendered
            if headers.get("If-None-Match") == etag:
                return "feed_304", 304, {"ETag": etag}, b""
            content_type = "application/rss+xml; charset=utf-8"
            return "feed_200", 200, {"Content-Type": content_type, "ETag": etag}, body
        page = self.pages.get(path)
        if page is not None:
            return "page", 200, {"Content-Type": "text/html; charset=utf-8"}, page
        return "not_found", 404, {"Content-Type": "text/plain"}, b"niet gevonden"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog of 5 drops connections when a
    # daemon polls 200 feeds at once; real web servers accept far more.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Crawlers drop keep-alive connections when a spider closes; that is
        # not worth a traceback in the benchmark's output.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as real sites do; Scrapy reuses connections.
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            kind, status, headers, body = site.respond(path, self.headers)
            head = [f"HTTP/1.1 {status} {self.responses[status][0]}"]
            head += [f"{k}: {v}" for k, v in headers.items()]
            head.append(f"Content-Length: {len(body)}")
            raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
            self.wfile.write(raw)
            self._count(kind, path, len(raw))

        def _count(self, kind: str, path: str, sent: int) -> None:
            now = time.monotonic()
            received = len(self.requestline) + 2 + len(bytes(self.headers)) + 2
            stats = site.stats
            with stats.lock:
                stats.requests[kind] += 1
                stats.bytes_out += sent
                stats.bytes_in += received
                stats.first_request = stats.first_request or now
                stats.last_request = now
                if kind == "page":
                    stats.first_served.setdefault(site.url + path, time.time())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class SiteFarm:
    """`hosts` sites with `feeds_per_host` feeds each, all on loopback, sharing one Stats."""

    def __init__(self, hosts: int, feeds_per_host: int, feed_size: int, seed: int = 7) -> None:
        self.stats = Stats()
        self.rng = random.Random(seed)
        self.count = 0
        self.sites = [
            Site(f"127.0.0.{10 + i}", f"Streekbode {i + 1}", self.stats) for i in range(hosts)
        ]
        self.feeds: list[tuple[Site, Feed]] = [
            (site, site.add_feed(f"/feed-{k}.xml", feed_size))
            for site in self.sites
            for k in range(feeds_per_host)
        ]

    def fill(self, per_feed: int, newest: datetime | None = None) -> int:
        """Publish `per_feed` articles on every feed, dated a minute apart; how many."""
        newest = newest or datetime.now(UTC)
        for site, feed in self.feeds:
            batch = [self.new_article(newest - timedelta(minutes=m)) for m in range(per_feed)]
            site.publish(feed, batch[::-1])
        return per_feed * len(self.feeds)

    def new_article(
        self, published: datetime | None = None, cooperation: bool | None = None
    ) -> SiteArticle:
        self.count += 1
        when = published or datetime.now(UTC)
        return generate_article(self.rng, self.count, when, cooperation)

    def publish_one(self, feed_index: int, cooperation: bool | None = None) -> tuple[str, float]:
        """Publish one new article on one feed now; its URL and the wall-clock time it went up."""
        site, feed = self.feeds[feed_index % len(self.feeds)]
        article = self.new_article(cooperation=cooperation)
        (url,) = site.publish(feed, [article])
        return url, time.time()

    @property
    def feed_urls(self) -> list[str]:
        return [site.url + feed.path for site, feed in self.feeds]

    def __enter__(self) -> SiteFarm:
        for site in self.sites:
            site.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for site in self.sites:
            site.stop()


# --- config folders -------------------------------------------------------------


def write_config(
    directory: Path,
    *,
    feed_urls: list[str],
    every: str = "15m",
    crawl: dict[str, Any] | None = None,
    subscribers: int = 1,
    source_extra: dict[str, Any] | None = None,
    settings_extra: dict[str, Any] | None = None,
    digest_subscribers: int = 0,
) -> Path:
    """A config folder for `feed_urls` with the shipped topics, SQLite and a file outbox.

    Mirrors tests/conftest.py's write_config (which tests/ owns), with crawl
    delay 0 so that politeness pauses do not hide the cost of the work.
    """
    directory.mkdir(parents=True, exist_ok=True)
    var = directory.parent
    settings = {
        "database_url": f"sqlite:///{var / 'newswatch.db'}",
        "log_level": "WARNING",
        "email": {"backend": "file", "outbox_dir": str(var / "outbox")},
        "crawl": {"delay": "0s", "timeout": "10s", "max_items_per_run": 200, **(crawl or {})},
        # Never the default port: a real daemon may be running on this machine.
        "http": {"listen": f"127.0.0.1:{free_port()}"},
        **(settings_extra or {}),
    }
    sources = [
        {
            "name": f"bron-{i:03d}",
            "kind": "feed",
            "url": url,
            "every": every,
            **(source_extra or {}),
        }
        for i, url in enumerate(feed_urls)
    ]
    people = [
        {"email": f"lezer{i}@example.org", "topics": [COOPERATION]} for i in range(subscribers)
    ] + [
        {"email": f"digest{i}@example.org", "topics": [COOPERATION], "delivery": "daily@07:30"}
        for i in range(digest_subscribers)
    ]
    files = {
        "settings": settings,
        "sources": {"sources": sources},
        "subscribers": {"subscribers": people},
    }
    for name, data in files.items():
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    (directory / "topics.yaml").write_text((ROOT / "config" / "topics.yaml").read_text())
    examples = ROOT / "config" / "examples"
    if examples.is_dir():  # topics.yaml may point at example articles next to it
        for path in examples.rglob("*"):
            if path.is_file():
                target = directory / "examples" / path.relative_to(examples)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
    return directory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def newswatch_command(config: Path, *args: str) -> list[str]:
    """The real command line, run with this interpreter."""
    return [sys.executable, "-m", "newswatch", "--config", str(config), *args]


def clean_env() -> dict[str, str]:
    """The environment minus NEWSWATCH_*/SENDGRID_* that would override the config."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("NEWSWATCH_", "SENDGRID"))}


# --- process measurements --------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # fields 14 and 15 of stat(5)


def proc_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def proc_open_fds(pid: int) -> int:
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


def machine() -> str:
    """One line about the machine, for the printed report."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPU {platform.machine()}, Python {platform.python_version()}, "
        f"load average {load}"
    )
