"""Politeness and bounds against a misbehaving local site, through the real CLI.

One `newswatch run --once` polls every misbehaving resource of tests/mockserver.py
at once (each is its own source); the tests then read what the crawler did from
the server's request log and what it recorded from the `sources` table. That
also shows the point of it all: the good sources in the same run are
collected as if nothing happened.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import newswatch, write_config
from mockserver import ARTICLES, MisbehavingSite
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from twisted.python.failure import Failure

from newswatch.crawler.middlewares import error_kind, failure_kind, parse_retry_after
from newswatch.crawler.runner import RETRY_AFTER_MAX, scrapy_settings
from newswatch.models import Article, Source
from newswatch.settings import CrawlSettings

FEEDS = [
    "feed",
    "klein-gzip",
    "kapotte-codering",
    "slecht-xml",
    "relatief",
    "guids",
    "html-titels",
    "druk",
    "lang-weg",
    "onderhoud",
    "fout",
    "hangt",
    "groot",
    "bom",
    "lus-a",
    "verboden/feed",
]


@dataclass
class Run:
    site: MisbehavingSite
    returncode: int
    stderr: str
    started: datetime
    sources: dict[str, dict[str, Any]]
    articles: dict[str, list[Article]]

    def hits(self, name: str) -> int:
        return len(self.site.times.get(f"/{name}.xml", []))


def read_db(db_url: str) -> tuple[dict[str, dict[str, Any]], dict[str, list[Article]]]:
    engine = create_engine(db_url)
    with Session(engine) as session:
        sources = {
            row.name: {c.name: getattr(row, c.name) for c in Source.__table__.columns}
            for row in session.scalars(select(Source))
        }
        articles: dict[str, list[Article]] = {}
        for article in session.scalars(select(Article)):
            articles.setdefault(article.source_name, []).append(article)
        session.expunge_all()
    engine.dispose()
    return sources, articles


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("politeness")
    db_url = f"sqlite:///{tmp / 'nw.db'}"
    with MisbehavingSite() as site:
        config = write_config(
            tmp / "config",
            db_url=db_url,
            sources=[{"name": name, "url": site.feed(name)} for name in FEEDS],
            crawl={"timeout": "2s"},
        )
        started = datetime.now(UTC)
        result = newswatch("--config", str(config), "run", "--once", timeout=90)
        sources, articles = read_db(db_url)
        yield Run(site, result.returncode, result.stderr, started, sources, articles)


# --- the big run: refusals are bounded and named -----------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("verboden/feed", "robots"),
        ("groot", "too_big"),
        ("bom", "too_big"),
        ("lus-a", "redirect_loop"),
        ("hangt", "timeout"),
        ("fout", "http_500"),
        ("lang-weg", "http_429"),
        ("onderhoud", "http_503"),
    ],
)
def test_refused_source_is_marked_with_its_error_kind(run: Run, source: str, kind: str) -> None:
    row = run.sources[source]
    assert row["last_status"] == "error"
    assert row["last_error_kind"] == kind, row["last_error"]
    assert row["consecutive_failures"] == 1
    assert row["items_last_run"] == 0


@pytest.mark.slow
def test_the_other_sources_are_collected_in_the_same_run(run: Run) -> None:
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    for name in ("feed", "klein-gzip", "druk"):
        assert run.sources[name]["last_status"] == "ok", name
    # These three list the same pages; whichever came first stored them.
    titles = {
        a.title for name in ("feed", "klein-gzip", "druk") for a in run.articles.get(name, [])
    }
    assert titles == {a.title for a in ARTICLES}
    assert "cycle done: 16 source(s), 8 failed" in run.stderr


@pytest.mark.slow
def test_big_page_and_gzip_bomb_are_refused_at_the_size_cap(run: Run) -> None:
    # The 50 MB page is refused on its Content-Length, before the body is read.
    assert "larger than download max size" in run.sources["groot"]["last_error"]
    # The bomb is 450 KB on the wire; inflating stops at DOWNLOAD_MAXSIZE (10 MB).
    assert "DOWNLOAD_MAXSIZE" in run.sources["bom"]["last_error"]
    # An honest gzipped feed is still read: the cap is not "refuse gzip".
    assert run.sources["klein-gzip"]["last_status"] == "ok"


@pytest.mark.slow
def test_robots_txt_disallow_means_no_request(run: Run) -> None:
    assert run.hits("verboden/feed") == 0
    assert run.site.hits["/robots.txt"] >= 1


@pytest.mark.slow
def test_redirect_loop_stops_at_the_redirect_limit(run: Run) -> None:
    # REDIRECT_MAX_TIMES = 5: the first request plus five redirects.
    assert run.hits("lus-a") + run.hits("lus-b") == 6


@pytest.mark.slow
def test_500_is_retried_once_and_a_hang_not_at_all(run: Run) -> None:
    assert run.hits("fout") == 2
    # A server that let us wait a whole timeout is not asked again in the same run.
    assert run.hits("hangt") == 1


@pytest.mark.slow
def test_retry_after_within_the_cap_is_waited_out(run: Run) -> None:
    first, second = run.site.times["/druk.xml"]
    assert second - first >= 0.9  # Retry-After: 1
    assert run.sources["druk"]["last_status"] == "ok"
    assert run.sources["druk"]["backoff_until"] is None


@pytest.mark.slow
@pytest.mark.parametrize(("source", "seconds"), [("lang-weg", 3600), ("onderhoud", 7200)])
def test_retry_after_beyond_the_cap_backs_the_source_off(
    run: Run, source: str, seconds: int
) -> None:
    # Not retried within the run (the wish is longer than RETRY_AFTER_MAX) …
    assert run.hits(source) == 1
    # … but remembered: the source is not polled again before the server's time.
    until = run.sources[source]["backoff_until"]
    expected = run.started + timedelta(seconds=seconds)
    assert abs((until - expected).total_seconds()) < 60, until


# --- broken feeds are read as far as they can be -----------------------------


@pytest.mark.slow
def test_feed_in_windows_1252_that_claims_utf_8(run: Run) -> None:
    titles = {a.title for a in run.articles["kapotte-codering"]}
    assert titles == {f"{a.title} – één café" for a in ARTICLES}


@pytest.mark.slow
def test_ill_formed_xml_yields_what_can_be_recovered(run: Run) -> None:
    assert run.sources["slecht-xml"]["last_status"] == "ok"
    assert run.articles["slecht-xml"], "nothing recovered"
    for article in run.articles["slecht-xml"]:
        assert article.title.endswith("& meer")


@pytest.mark.slow
def test_relative_links_are_made_absolute(run: Run) -> None:
    urls = {a.url for a in run.articles["relatief"]}
    assert urls == {run.site.link("relatief", a) for a in ARTICLES}


@pytest.mark.slow
def test_duplicate_and_missing_guids(run: Run) -> None:
    # Two articles sharing a GUID are two articles; the repeated entry is one.
    urls = sorted(a.url for a in run.articles["guids"])
    assert urls == sorted(run.site.link("guids", a) for a in ARTICLES)


@pytest.mark.slow
def test_html_in_titles_is_reduced_to_text(run: Run) -> None:
    titles = {a.title for a in run.articles["html-titels"]}
    assert titles == {ARTICLES[0].title, f"{ARTICLES[1].title} & meer"}


# --- one request at a time, with a delay, and a per-run item limit -----------


@pytest.mark.slow
def test_one_request_at_a_time_with_delay_and_item_limit(tmp_path: Path) -> None:
    with MisbehavingSite() as site:
        config = write_config(
            tmp_path / "config",
            db_url=f"sqlite:///{tmp_path / 'nw.db'}",
            sources=[{"name": "feed", "url": site.feed("feed")}],
            crawl={"delay": "0.4s", "max_items_per_run": 2},
        )
        result = newswatch("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr
    pages = sorted(t for path, ts in site.times.items() if "/nieuws/" in path for t in ts)
    assert len(pages) == 2  # three new items, limit two: the third waits for the next run
    every = sorted(t for ts in site.times.values() for t in ts)
    gaps = [b - a for a, b in itertools.pairwise(every)]
    # DOWNLOAD_DELAY is randomised to 0.5-1.5x; AutoThrottle never goes below it.
    assert min(gaps) >= 0.4 * 0.5 - 0.01, gaps


# --- settings and helpers, without a crawl -----------------------------------


def test_scrapy_settings_are_polite_and_bounded() -> None:
    settings = scrapy_settings(CrawlSettings(timeout=7, max_page_size=1024, delay=2))
    assert settings["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1
    assert settings["DOWNLOAD_DELAY"] == 2
    assert settings["AUTOTHROTTLE_ENABLED"] is True
    assert settings["ROBOTSTXT_OBEY"] is True
    assert settings["DOWNLOAD_TIMEOUT"] == 7
    assert settings["DOWNLOAD_MAXSIZE"] == 1024
    assert settings["REDIRECT_MAX_TIMES"] == 5
    assert settings["RETRY_AFTER_MAX"] == RETRY_AFTER_MAX == 300
    middlewares = settings["DOWNLOADER_MIDDLEWARES"]
    assert middlewares["scrapy.downloadermiddlewares.retry.RetryMiddleware"] is None
    assert middlewares["newswatch.crawler.middlewares.RetryAfterMiddleware"] == 550
    assert not [e for e in settings["RETRY_EXCEPTIONS"] if "Timeout" in str(e)]


def test_parse_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert parse_retry_after(b"120") == 120
    assert parse_retry_after(" 0 ") == 0
    later = format_datetime(now + timedelta(minutes=10), usegmt=True)
    assert parse_retry_after(later, now=now) == 600
    earlier = format_datetime(now - timedelta(minutes=10), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0
    assert parse_retry_after(None) is None
    assert parse_retry_after("morgen") is None
    assert parse_retry_after("-5") is None


@pytest.mark.parametrize(
    ("message", "status", "kind"),
    [
        ("HTTP 404", 404, "http_404"),
        ("HTTP 503", None, "http_503"),
        ("IgnoreRequest: Forbidden by robots.txt", None, "robots"),
        ("DownloadTimeoutError: Getting http://x/ took longer than 2.0 seconds.", None, "timeout"),
        ("TimeoutError: User timeout caused connection failure.", None, "timeout"),
        ("CannotResolveHostError: nergens.invalid", None, "dns"),
        ("DNSLookupError: DNS lookup failed: no results for hostname lookup", None, "dns"),
        ("DownloadConnectionRefusedError: Connection was refused", None, "connection"),
        ("ConnectionRefusedError: Connection was refused by other side: 111", None, "connection"),
        ("ResponseNeverReceived: [<twisted.python.failure.Failure ...>]", None, "connection"),
        (
            "DownloadCancelledError: Expected to receive 52428800 bytes which is larger than "
            "download max size (10485760)",
            None,
            "too_big",
        ),
        (
            "IgnoreRequest: ... exceeded DOWNLOAD_MAXSIZE (10 B) during decompression.",
            None,
            "too_big",
        ),
        ("IgnoreRequest: max redirections reached", None, "redirect_loop"),
        ("not a readable feed: no feed elements found", None, "parse"),
        ("no response", None, "other"),
        (None, 418, "http_418"),
    ],
)
def test_error_kind(message: str | None, status: int | None, kind: str) -> None:
    assert error_kind(message, status) == kind


def test_failure_kind_reads_exceptions_and_responses() -> None:
    from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest
    from scrapy.http import Response
    from scrapy.spidermiddlewares.httperror import HttpError

    assert failure_kind(IgnoreRequest("Forbidden by robots.txt")) == "robots"
    assert failure_kind(Failure(DownloadTimeoutError("took longer than 1 s"))) == "timeout"
    response = Response("http://127.0.0.1/feed.xml", status=410)
    assert failure_kind(HttpError(response, "Ignoring non-200 response")) == "http_410"


def test_the_retry_after_wait_gives_way_to_a_stopping_crawl() -> None:
    """A long Retry-After must not hold up the daemon's shutdown."""
    import asyncio

    from scrapy.settings import Settings

    from newswatch.crawler.middlewares import RetryAfterMiddleware

    class Engine:
        running = False

    class Crawler:
        engine = Engine()

    middleware = RetryAfterMiddleware(Settings({"RETRY_TIMES": 1}))
    middleware.crawler = Crawler()  # type: ignore[assignment]
    from scrapy.exceptions import IgnoreRequest

    started = time.monotonic()
    with pytest.raises(IgnoreRequest):
        asyncio.run(middleware._sleep(60))
    assert time.monotonic() - started < 1


def make_middleware(**settings: Any) -> Any:
    from scrapy.settings import Settings

    from newswatch.crawler.middlewares import RetryAfterMiddleware
    from newswatch.crawler.spiders import FeedJob

    class Stats:
        def inc_value(self, *args: Any, **kwargs: Any) -> None:
            pass

    job = FeedJob(name="Druk", url="http://127.0.0.1:1/feed.xml")
    crawler = SimpleNamespace(
        settings=Settings({"RETRY_TIMES": 1, **settings}),
        stats=Stats(),
        engine=SimpleNamespace(running=True),
    )
    crawler.spider = SimpleNamespace(job=job, crawler=crawler)
    middleware = RetryAfterMiddleware(crawler.settings)
    middleware.crawler = crawler  # type: ignore[assignment]
    return middleware, job


def answer(status: int, retry_after: str | None = None) -> Any:
    from scrapy import Request
    from scrapy.http import Response

    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    request = Request("http://127.0.0.1:1/feed.xml")
    return request, Response(request.url, status=status, headers=headers, request=request)


def test_middleware_retries_within_the_cap_and_holds_the_host() -> None:
    from scrapy import Request

    middleware, job = make_middleware()
    request, response = answer(429, "2")
    retry = middleware.process_response(request, response)
    assert isinstance(retry, Request)
    assert retry.meta["retry_times"] == 1
    wait = middleware._not_before["127.0.0.1:1"] - time.monotonic()
    assert 1.5 < wait <= 2
    assert job.retry_after is None
    # Out of retries: give up, and let the wish back the source off.
    again = middleware.process_response(retry, answer(429, "2")[1])
    assert again.status == 429
    assert job.retry_after == 2


def test_middleware_gives_up_at_once_beyond_the_cap() -> None:
    middleware, job = make_middleware(RETRY_AFTER_MAX=60)
    request, response = answer(503, "61")
    assert middleware.process_response(request, response) is response
    assert job.retry_after == 61
    assert not middleware._not_before


def test_middleware_leaves_other_answers_to_scrapy_retry() -> None:
    from scrapy import Request

    middleware, job = make_middleware()
    request, response = answer(500)
    assert isinstance(middleware.process_response(request, response), Request)
    request, response = answer(429)  # no Retry-After: plain retry
    assert isinstance(middleware.process_response(request, response), Request)
    request, response = answer(404, "3600")  # Retry-After only counts on 429/503
    assert middleware.process_response(request, response) is response
    assert job.retry_after is None
    assert not middleware._not_before
