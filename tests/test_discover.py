"""`discover_feeds` and `sources_entry`: finding a site's feeds for `sources discover URL`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError

import pytest
from sources_server import SourcesServer

from newswatch.crawler.discover import DiscoveredFeed, discover_feeds, sources_entry
from newswatch.settings import FeedSource, SourcesFile
from newswatch.yamlfile import parse_yaml, validate

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{title}</title><link>{base}/</link>
<description>Lokaal nieuws</description>
<item><title>Nieuwe bibliotheek opent haar deuren</title><link>{base}/nieuws/bieb</link>
<guid>{base}/nieuws/bieb</guid></item>
<item><title>Gemeente zoekt vrijwilligers</title><link>{base}/nieuws/vrijwilligers</link>
<guid>{base}/nieuws/vrijwilligers</guid></item>
</channel></rss>"""

HOME_WITH_LINK = """<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8">
<title>Havenstad Actueel</title>
<link rel="alternate" type="application/rss+xml" title="Havenstad Actueel" href="/nieuws/feed.xml">
<link rel="alternate" type="application/rss+xml" title="Havenstad Actueel » Reacties-feed"
      href="/comments/feed/">
<link rel="stylesheet" href="/stijl.css">
</head><body><h1>Havenstad Actueel</h1><p>Het laatste nieuws uit de haven.</p></body></html>"""

HOME_PLAIN = """<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8">
<title>Dorpskrant</title></head><body><p>Welkom bij de dorpskrant.</p></body></html>"""


@pytest.fixture
def server() -> Iterator[SourcesServer]:
    with SourcesServer() as server:
        yield server


def test_finds_the_alternate_link_and_skips_comment_feeds(server: SourcesServer) -> None:
    server.html("/", HOME_WITH_LINK)
    server.xml("/nieuws/feed.xml", RSS.format(title="Havenstad Actueel", base=server.url))
    server.xml("/comments/feed/", RSS.format(title="Reacties", base=server.url))

    feeds = discover_feeds(f"{server.url}/", timeout=5)

    assert feeds[0] == DiscoveredFeed(
        url=f"{server.url}/nieuws/feed.xml", title="Havenstad Actueel", found_by="link", entries=2
    )
    assert all("comments" not in f.url for f in feeds)
    assert all(r.user_agent and r.user_agent.startswith("newswatch/") for r in server.received)


def test_finds_a_feed_at_a_common_path_and_ignores_html(server: SourcesServer) -> None:
    server.html("/", HOME_PLAIN)
    # A site that answers every path with its home page must not count as a feed.
    server.html("/rss", HOME_PLAIN)
    server.xml("/rss.xml", RSS.format(title="Dorpskrant", base=server.url), "text/xml")

    feeds = discover_feeds(server.url, timeout=5)

    assert [(f.url, f.found_by, f.entries) for f in feeds] == [(f"{server.url}/rss.xml", "path", 2)]
    asked = server.paths()
    assert "/feed/" in asked
    assert "/rss/index.xml" in asked
    assert "/?format=feed&type=rss" in asked


def test_a_feed_url_is_its_own_answer(server: SourcesServer) -> None:
    server.xml("/feed/", RSS.format(title="Polderpost", base=server.url), "application/rss+xml")
    feeds = discover_feeds(f"{server.url}/feed/", timeout=5)
    assert [(f.url, f.found_by) for f in feeds] == [(f"{server.url}/feed/", "page")]
    assert server.paths() == ["/feed/"]  # nothing else tried


def test_no_feed_gives_an_empty_list(server: SourcesServer) -> None:
    server.html("/", HOME_PLAIN)
    assert discover_feeds(server.url, timeout=5) == []


def test_unreachable_site_raises_urlerror() -> None:
    with pytest.raises(URLError):
        discover_feeds("http://127.0.0.1:9/", timeout=2)


def test_sources_entry_is_valid_sources_yaml() -> None:
    feed = DiscoveredFeed(
        url="https://www.havenstad.example/nieuws/feed.xml",
        title='Havenstad: "Actueel" & meer',
        found_by="link",
        entries=2,
    )
    entry = sources_entry(feed)
    assert entry.startswith("  - name: ")
    text = "sources:\n" + entry
    parsed = validate(parse_yaml(text, Path("sources.yaml")), SourcesFile, Path("sources.yaml"))
    (source,) = parsed.sources
    assert isinstance(source, FeedSource)
    assert source.name == 'Havenstad: "Actueel" & meer'
    assert str(source.url) == feed.url
    assert source.every == 900

    untitled = DiscoveredFeed(
        url="https://dorp.example/rss", title=None, found_by="path", entries=0
    )
    assert "name: dorp.example" in sources_entry(untitled)
    assert "name: Dorpskrant" in sources_entry(untitled, name="Dorpskrant")
