from __future__ import annotations

import pytest

from newswatch.crawler.urls import canonical_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://WWW.Rijnmond.NL/nieuws/1/Slug", "https://www.rijnmond.nl/nieuws/1/Slug"),
        ("https://a.nl/x?utm_source=rss&utm_medium=feed&id=4", "https://a.nl/x?id=4"),
        ("https://a.nl/x?fbclid=abc#reacties", "https://a.nl/x"),
        ("https://a.nl:443/x", "https://a.nl/x"),
        ("http://a.nl:80/x", "http://a.nl/x"),
        ("http://127.0.0.1:8080/x?b=2&a=1", "http://127.0.0.1:8080/x?b=2&a=1"),
        ("https://a.nl", "https://a.nl/"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical
