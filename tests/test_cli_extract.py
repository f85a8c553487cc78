"""`newswatch extract FILE_OR_URL [--url URL]` prints one JSON object."""

from __future__ import annotations

import json

from conftest import DATA, newswatch

from newswatch.demo.site import SiteServer, article_path, load_site

KEYS = {"title", "published", "author", "text", "places", "lang", "url"}


def test_extract_a_file_prints_the_article_as_json() -> None:
    page = DATA / "pages" / "waterweg_byline.html"
    url = (
        "https://waterweg24.example/nl/nieuws/nieuws/maassluis-en-westland-delen-milieustraat/41873"
    )
    result = newswatch("extract", str(page), "--url", url)
    assert result.returncode == 0, result.stderr
    article = json.loads(result.stdout)
    assert set(article) == KEYS
    assert article["title"] == "Maassluis en Westland delen voortaan hun milieustraat"
    assert article["published"] == "2022-11-14T00:00:00+01:00"  # shown in Europe/Amsterdam
    assert article["author"] == "Anke Verhoef"
    assert article["places"] == ["Maassluis", "Westland"]
    assert article["lang"] == "nl"
    assert article["text"].startswith("MAASSLUIS/WESTLAND – De gemeenten")


def test_extract_a_url_from_a_local_site() -> None:
    with SiteServer(load_site(DATA / "site.yaml")) as site:
        first = site.articles[0]
        result = newswatch("extract", site.url + article_path(first))
    assert result.returncode == 0, result.stderr
    article = json.loads(result.stdout)
    assert article["title"] == first.title
    assert "Gerelateerd" not in article["text"]
    assert not any(headline in article["text"] for headline in first.related)


def test_extract_a_missing_file_is_a_usage_error() -> None:
    result = newswatch("extract", "/nergens/pagina.html")
    assert result.returncode == 2
    assert "cannot read /nergens/pagina.html" in result.stderr
