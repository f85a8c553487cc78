"""The `sitemap` source kind: indexes, plain and Google News sitemaps, the lastmod window."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import newswatch, write_config
from sources_server import SourcesServer, article_page, paragraphs
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from newswatch.models import Article

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
NOW = datetime.now(UTC)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).isoformat(timespec="seconds")


def urlset(entries: list[tuple[str, str | None]]) -> str:
    urls = "".join(
        f"<url><loc>{loc}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "") + "</url>"
        for loc, lastmod in entries
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SITEMAP_NS}">{urls}</urlset>'


def sitemap_index(entries: list[tuple[str, str]]) -> str:
    maps = "".join(
        f"<sitemap><loc>{loc}</loc><lastmod>{lastmod}</lastmod></sitemap>"
        for loc, lastmod in entries
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<sitemapindex xmlns="{SITEMAP_NS}">{maps}</sitemapindex>'
    )


def news_sitemap(base: str, entries: list[tuple[str, str, str]]) -> str:
    urls = "".join(
        f"<url><loc>{base}{path}</loc><news:news><news:publication>"
        "<news:name>Rivierstad Nieuws</news:name><news:language>nl</news:language>"
        f"</news:publication><news:publication_date>{date}</news:publication_date>"
        f"<news:title>{title}</news:title></news:news></url>"
        for path, date, title in entries
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="{SITEMAP_NS}" xmlns:news="{NEWS_NS}">{urls}</urlset>'
    )


@pytest.fixture
def server() -> Iterator[SourcesServer]:
    with SourcesServer() as server:
        yield server


def add_article(server: SourcesServer, path: str, title: str) -> None:
    server.html(path, article_page(title, paragraphs(title.lower()), date="20-11-2026"))


def stored(db: Path) -> dict[str, Article]:
    engine = create_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        articles = {a.url: a for a in session.scalars(select(Article))}
        session.expunge_all()
    engine.dispose()
    return articles


def run(tmp_path: Path, source: dict[str, object]) -> tuple[dict[str, Article], str]:
    db = tmp_path / "nw.db"
    config = write_config(tmp_path / "config", db_url=f"sqlite:///{db}", sources=[source])
    result = newswatch("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr
    return stored(db), result.stderr


def test_index_to_sitemaps_within_the_lastmod_window(tmp_path: Path, server: SourcesServer) -> None:
    base = server.url
    server.xml(
        "/sitemap.xml",
        sitemap_index(
            [
                (f"{base}/sitemap-nieuws-nu.xml", ago(hours=3)),
                (f"{base}/sitemap-nieuws-2019.xml.gz", "2019-12-31"),  # outside the window
                (f"{base}/sitemap-paginas.xml", ago(hours=30)),
            ]
        ),
    )
    server.xml(
        "/sitemap-nieuws-nu.xml",
        urlset(
            [
                (f"{base}/nieuws/sluis-gerenoveerd", ago(hours=2)),
                (f"{base}/nieuws/kermis-gaat-door", ago(days=1, hours=4)),
                (f"{base}/nieuws/oud-bericht", ago(days=9)),  # older than 2d: skipped
            ]
        ),
    )
    server.add(
        "/sitemap-paginas.xml",
        (
            200,
            "application/x-gzip",
            gzip.compress(urlset([(f"{base}/over-ons", ago(hours=30))]).encode()),
        ),
    )
    add_article(server, "/nieuws/sluis-gerenoveerd", "Sluis na renovatie weer in gebruik")
    add_article(server, "/nieuws/kermis-gaat-door", "Kermis gaat ondanks regen door")
    add_article(server, "/nieuws/oud-bericht", "Een bericht van lang geleden")
    add_article(server, "/over-ons", "Over ons")

    articles, _ = run(
        tmp_path,
        {
            "name": "Rivierstad",
            "kind": "sitemap",
            "url": f"{base}/sitemap.xml",
            "url_pattern": "/nieuws/",
        },
    )
    assert set(articles) == {f"{base}/nieuws/sluis-gerenoveerd", f"{base}/nieuws/kermis-gaat-door"}
    # lastmod is the last change, not the publication: the page's byline date wins.
    assert {a.published_at.date().isoformat() for a in articles.values() if a.published_at} == {
        "2026-11-19"  # 20-11-2026 00:00 in Amsterdam, stored in UTC
    }
    paths = server.paths()
    assert "/sitemap-nieuws-nu.xml" in paths
    assert "/sitemap-paginas.xml" in paths  # gzip-compressed file, read and filtered by pattern
    assert "/sitemap-nieuws-2019.xml.gz" not in paths
    assert "/nieuws/oud-bericht" not in paths
    assert "/over-ons" not in paths


def test_google_news_sitemap_gives_title_and_date(tmp_path: Path, server: SourcesServer) -> None:
    base = server.url
    published = (NOW - timedelta(hours=5)).replace(microsecond=0)
    server.xml(
        "/news-sitemap.xml",
        news_sitemap(
            base,
            [
                (
                    "/2026/raad-kiest-voorzitter",
                    published.isoformat(),
                    "Raad kiest nieuwe voorzitter",
                ),
                ("/2026/oude-zaak", ago(days=4), "Oude zaak"),
            ],
        ),
    )
    add_article(server, "/2026/raad-kiest-voorzitter", "Paginakop die de sitemap niet wint")
    add_article(server, "/2026/oude-zaak", "Oude zaak")

    articles, _ = run(
        tmp_path,
        {
            "name": "Rivierstad",
            "kind": "sitemap",
            "url": f"{base}/news-sitemap.xml",
            "lastmod_window": "1d",
        },
    )
    assert list(articles) == [f"{base}/2026/raad-kiest-voorzitter"]
    article = articles[f"{base}/2026/raad-kiest-voorzitter"]
    assert article.title == "Raad kiest nieuwe voorzitter"
    assert article.published_at is not None
    assert article.published_at.replace(tzinfo=UTC) == published  # stored as naive UTC
    assert "gemeenteraad" in article.text
    assert "/2026/oude-zaak" not in server.paths()


def test_second_run_fetches_only_new_urls(tmp_path: Path, server: SourcesServer) -> None:
    base = server.url
    entries = [(f"{base}/nieuws/eerste", ago(hours=1))]
    server.add("/sitemap.xml", lambda query: (200, "application/xml", urlset(entries)))
    add_article(server, "/nieuws/eerste", "Eerste bericht")
    add_article(server, "/nieuws/tweede", "Tweede bericht")
    source = {"name": "Rivierstad", "kind": "sitemap", "url": f"{base}/sitemap.xml"}
    articles, _ = run(tmp_path, source)
    assert len(articles) == 1

    entries.append((f"{base}/nieuws/tweede", ago(minutes=5)))
    server.received.clear()
    articles, _ = run(tmp_path, source)
    assert len(articles) == 2
    assert "/nieuws/eerste" not in server.paths()
    assert "/nieuws/tweede" in server.paths()


def test_an_html_page_is_not_a_sitemap(tmp_path: Path, server: SourcesServer) -> None:
    server.html("/sitemap.xml", "<html><body><p>Pagina niet gevonden</p></body></html>")
    _, stderr = run(
        tmp_path, {"name": "Rivierstad", "kind": "sitemap", "url": f"{server.url}/sitemap.xml"}
    )
    assert "Rivierstad: failed: not a sitemap" in stderr
