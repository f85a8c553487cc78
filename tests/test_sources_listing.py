"""The `listing` source kind: index pages with article links, pagination, a page limit."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import newswatch, write_config
from sources_server import SourcesServer, article_page, paragraphs
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from newswatch.errors import ConfigError
from newswatch.models import Article
from newswatch.settings import load_config

# Three index pages of three articles each, newest first, linked by "Volgende".
TOPICS = [
    ("verbouwing-stadskantoor", "Verbouwing stadskantoor duurder uit"),
    ("nieuwe-fietsbrug", "Nieuwe fietsbrug over de Vlaardingse Vaart"),
    ("markt-verhuist", "Weekmarkt verhuist naar het Liesveld"),
    ("zwembad-open", "Zwembad gaat weer open na onderhoud"),
    ("raad-begroting", "Raad stemt in met begroting"),
    ("bomen-kap", "Bomenkap aan de Westlandseweg uitgesteld"),
    ("haven-feest", "Havenfeest trekt duizenden bezoekers"),
    ("school-nieuwbouw", "Nieuwbouw basisschool kan beginnen"),
    ("parkeren-centrum", "Parkeren in centrum wordt duurder"),
]


def index_page(page: int, last: int) -> str:
    teasers = "".join(
        f'<div class="teaser"><h2><a href="/artikel/{slug}#reacties">{html.escape(title)}</a>'
        "</h2><p>Lees meer</p></div>\n"
        for slug, title in TOPICS[(page - 1) * 3 : page * 3]
    )
    volgende = (
        f'<a class="volgende" href="/nieuws?page={page + 1}">Volgende</a>' if page < last else ""
    )
    return (
        '<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8"><title>Nieuws</title></head>'
        '<body><nav><a href="/">Home</a> <a href="/contact">Contact</a></nav>'
        f'<div class="overzicht">{teasers}</div><div class="paginering">{volgende}</div>'
        "</body></html>"
    )


@pytest.fixture
def listing_site() -> Iterator[SourcesServer]:
    with SourcesServer() as server:
        server.html("/nieuws", index_page(1, 3))
        for page in (2, 3):
            server.html(f"/nieuws?page={page}", index_page(page, 3))
        for slug, title in TOPICS:
            server.html(
                f"/artikel/{slug}",
                article_page(
                    title, paragraphs(title.lower()), date="12-11-2026", author="Els Bakker"
                ),
            )
        yield server


def stored(db: Path) -> list[Article]:
    engine = create_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        articles = list(session.scalars(select(Article)))
        session.expunge_all()
    engine.dispose()
    return articles


def test_listing_follows_next_pages_up_to_the_limit(
    tmp_path: Path, listing_site: SourcesServer
) -> None:
    db = tmp_path / "nw.db"
    source = {
        "name": "Stadsnieuws",
        "kind": "listing",
        "url": f"{listing_site.url}/nieuws",
        "links": {"css": "div.teaser h2 a"},
        "next_page": "a.volgende",
        "max_pages": 2,
    }
    config = write_config(tmp_path / "config", db_url=f"sqlite:///{db}", sources=[source])
    result = newswatch("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr

    articles = stored(db)
    assert sorted(a.title for a in articles) == sorted(t for _, t in TOPICS[:6])
    assert all(a.source_name == "Stadsnieuws" for a in articles)
    assert all("gemeenteraad" in a.text for a in articles)
    assert all("#" not in a.url for a in articles)  # fragments dropped, stored once
    paths = listing_site.paths()
    assert "/nieuws?page=2" in paths
    assert "/nieuws?page=3" not in paths  # max_pages: 2
    assert not any(p.startswith("/artikel/" + slug) for slug, _ in TOPICS[6:] for p in paths)


def test_second_run_stops_at_a_page_of_known_articles(
    tmp_path: Path, listing_site: SourcesServer
) -> None:
    db = tmp_path / "nw.db"
    source = {
        "name": "Stadsnieuws",
        "kind": "listing",
        "url": f"{listing_site.url}/nieuws",
        "links": "div.teaser a",
        "next_page": {"xpath": "//a[@class='volgende']/@href"},
    }
    config = write_config(tmp_path / "config", db_url=f"sqlite:///{db}", sources=[source])
    assert newswatch("--config", str(config), "run", "--once").returncode == 0
    assert len(stored(db)) == 9  # default max_pages 3
    listing_site.received.clear()

    result = newswatch("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr
    # Page 1 brought nothing new, so neither page 2 nor any article was fetched.
    assert [p for p in listing_site.paths() if p != "/robots.txt"] == ["/nieuws"]
    assert len(stored(db)) == 9


def test_extract_overrides_and_xpath_links(tmp_path: Path, listing_site: SourcesServer) -> None:
    db = tmp_path / "nw.db"
    source = {
        "name": "Stadsnieuws",
        "kind": "listing",
        "url": f"{listing_site.url}/nieuws",
        "links": {"xpath": "//div[@class='overzicht']//h2/a"},
        "max_pages": 1,
        "extract": {"author": "span.auteur", "title": "h1.kop", "body": "div.tekst"},
    }
    config = write_config(tmp_path / "config", db_url=f"sqlite:///{db}", sources=[source])
    result = newswatch("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr
    articles = stored(db)
    assert len(articles) == 3
    assert {a.author for a in articles} == {"Els Bakker"}
    assert {a.title for a in articles} == {t for _, t in TOPICS[:3]}


def test_index_page_error_fails_the_source(tmp_path: Path, listing_site: SourcesServer) -> None:
    source = {
        "name": "Weg",
        "kind": "listing",
        "url": f"{listing_site.url}/bestaat-niet",
        "links": "a",
    }
    config = write_config(
        tmp_path / "config", db_url=f"sqlite:///{tmp_path / 'nw.db'}", sources=[source]
    )
    result = newswatch("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr
    assert "Weg: failed: HTTP 404" in result.stderr


def test_listing_without_selector_is_a_config_error(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config",
        db_url=f"sqlite:///{tmp_path / 'nw.db'}",
        sources=[
            {"name": "Feed", "kind": "feed", "url": "https://example.org/feed.xml"},
            {"name": "Zonder", "kind": "listing", "url": "https://example.org/nieuws"},
        ],
    )
    with pytest.raises(ConfigError) as info:
        load_config(config, env={})
    err = info.value
    assert err.path == config / "sources.yaml"
    assert err.key == "sources[1].links"
    lines = (config / "sources.yaml").read_text().splitlines()
    assert err.line is not None
    assert "Zonder" in "\n".join(lines[err.line - 1 : err.line + 3])
    assert "required" in err.message

    result = newswatch("--config", str(config), "check")
    assert result.returncode == 2
    assert "sources[1].links" in result.stderr


def test_listing_typo_and_bad_selector_name_line_and_key(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config",
        db_url=f"sqlite:///{tmp_path / 'nw.db'}",
        sources=[{"name": "L", "kind": "listing", "url": "https://example.org/", "links": "a"}],
    )
    path = config / "sources.yaml"
    data = yaml.safe_load(path.read_text())
    data["sources"][0]["max_page"] = 2
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_config(config, env={})
    assert info.value.key == "sources[0].max_page"
    assert "max_page" in path.read_text().splitlines()[info.value.line - 1]

    data["sources"][0].pop("max_page")
    data["sources"][0]["links"] = {"css": "div[["}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_config(config, env={})
    assert info.value.key == "sources[0].links.css"
    assert "not a valid CSS selector" in info.value.message
