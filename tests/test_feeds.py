"""Feed bytes → entries: recover what can be recovered, refuse what is no feed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newswatch.crawler.feeds import FeedParseError, parse_feed_bytes, plain_text

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Lokaal</title><link>https://lokaal.example/</link>
<item><title>Raad &lt;b&gt;stemt in&lt;/b&gt; met uittreding</title>
<link>/nieuws/raad-stemt-in</link><guid isPermaLink="false">nw-1</guid>
<pubDate>Tue, 24 Nov 2026 09:15:00 +0100</pubDate>
<description>&lt;p&gt;De raad van Maassluis besloot &amp;amp; zo voort.&lt;/p&gt;
</description></item>
<item><title>Zonder link</title><guid isPermaLink="false">nw-2</guid></item>
<item><title>Permalink als guid</title><guid>https://lokaal.example/nieuws/3</guid></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title>
<entry><title type="html">Samenwerking &amp;amp; ontvlechting</title>
<link href="https://atom.example/a/1"/><id>tag:atom.example,2026:1</id>
<updated>2026-11-24T08:00:00Z</updated><summary>Kort.</summary></entry></feed>"""


def test_rss_relative_links_html_titles_and_dates() -> None:
    entries = parse_feed_bytes(RSS.encode(), {"Content-Location": "https://lokaal.example/feed"})
    assert [e.link for e in entries] == [
        "https://lokaal.example/nieuws/raad-stemt-in",
        "https://lokaal.example/nieuws/3",
    ]
    first = entries[0]
    assert first.title == "Raad stemt in met uittreding"
    assert first.summary == "De raad van Maassluis besloot & zo voort."
    assert first.guid == "nw-1"
    assert first.published == datetime(2026, 11, 24, 8, 15, tzinfo=UTC)


def test_atom() -> None:
    (entry,) = parse_feed_bytes(ATOM.encode())
    assert entry.title == "Samenwerking & ontvlechting"
    assert entry.link == "https://atom.example/a/1"
    assert entry.published == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_ill_formed_feed_still_yields_entries() -> None:
    broken = RSS.replace("</channel></rss>", "<item><title>half").encode()
    entries = parse_feed_bytes(broken, {"Content-Location": "https://lokaal.example/feed"})
    assert entries[0].title == "Raad stemt in met uittreding"


def test_latin1_declared_feed() -> None:
    data = (
        RSS.replace("utf-8", "iso-8859-1")
        .replace("besloot", "besloot financiële")
        .encode("iso-8859-1")
    )
    entries = parse_feed_bytes(data, {"Content-Location": "https://lokaal.example/feed"})
    assert "financiële" in entries[0].summary


@pytest.mark.parametrize("data", [b"", b"<html><body>Niet gevonden</body></html>", b"\x00\xff\xfe"])
def test_not_a_feed_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(FeedParseError, match="not a readable feed"):
        parse_feed_bytes(data)


def test_plain_text() -> None:
    assert plain_text("<em>Oss</em> &amp;  Uden\n") == "Oss & Uden"
