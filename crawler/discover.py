"""`newswatch sources discover URL`: find a site's feeds and print a sources.yaml entry.

A one-shot helper for the operator, not a crawl: plain HTTP with a timeout,
a size cap and the configured User-Agent, at most a dozen small requests.
Candidates come from the page's `<link rel="alternate">` tags and from the
paths the common platforms use (WordPress `/feed/`, Drupal `/rss.xml`, the
regional broadcasters' `/rss/index.xml`, Joomla `?format=feed&type=rss`).
A candidate counts only if it parses as a feed.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.request
from dataclasses import dataclass
from urllib.error import URLError
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
import yaml

from newswatch.crawler.feeds import FeedParseError, parse_feed_bytes
from newswatch.crawler.urls import canonical_url

log = logging.getLogger(__name__)

FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/feed+json": "json",
    "application/json": "json",
    "application/rdf+xml": "rss",
    "text/xml": "rss",
    "application/xml": "rss",
}
# Relative to the site root, in the order platforms are common in Dutch local news.
COMMON_PATHS = ("/feed/", "/rss", "/rss.xml", "/rss/index.xml")
# Joomla serves the feed of any listing page with these parameters.
JOOMLA_QUERY = "format=feed&type=rss"
MAX_BYTES = 2 * 1024 * 1024
MAX_LINK_CANDIDATES = 8
_COMMENTS = re.compile(r"\b(?:reacties|comments)\b", re.IGNORECASE)


@dataclass(frozen=True)
class DiscoveredFeed:
    url: str  # where the feed answered (after redirects)
    title: str | None  # the feed's own title, else the link's title attribute
    found_by: str  # "page" (the URL itself), "link" (<link rel=alternate>) or "path"
    entries: int


@dataclass(frozen=True)
class _Fetched:
    url: str
    body: bytes
    content_type: str


def discover_feeds(
    url: str, *, timeout: float = 10.0, budget: float = 60.0, user_agent: str | None = None
) -> list[DiscoveredFeed]:
    """Feeds of the site at `url`, autodiscovered ones first; [] if none answer.

    `timeout` bounds each request, `budget` the whole search (candidates not
    tried in time are skipped). Raises ValueError for a non-http(s) URL and
    OSError (URLError, timeouts) only when `url` itself cannot be fetched.
    """
    agent = user_agent or _default_user_agent()
    deadline = time.monotonic() + budget
    page = _fetch(url, timeout, agent)
    own = _as_feed(page, None, "page")
    if own:
        return [own]
    found: dict[str, DiscoveredFeed] = {}
    for candidate, title, how in _candidates(page):
        if time.monotonic() > deadline:
            log.warning("feed discovery: time budget spent, %s and later not tried", candidate)
            break
        try:
            fetched = _fetch(candidate, timeout, agent)
        except (OSError, ValueError) as exc:
            log.debug("%s: %s", candidate, exc)
            continue
        feed = _as_feed(fetched, title, how)
        if feed and canonical_url(feed.url) not in found:
            found[canonical_url(feed.url)] = feed
    return list(found.values())


def sources_entry(feed: DiscoveredFeed, name: str | None = None, every: str = "15m") -> str:
    """A ready `sources.yaml` list item (indented for the `sources:` list)."""
    entry = {
        "name": name or feed.title or urlsplit(feed.url).hostname or feed.url,
        "kind": "feed",
        "url": feed.url,
        "every": every,
    }
    text = yaml.safe_dump([entry], allow_unicode=True, sort_keys=False, width=1000)
    return "".join(f"  {line}\n" for line in text.splitlines())


def _candidates(page: _Fetched) -> list[tuple[str, str | None, str]]:
    """(url, title, found_by) to try: the page's alternate links, then common paths."""
    out = [(href, title, "link") for href, title in alternate_links(page.body, page.url)]
    parts = urlsplit(page.url)
    root = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    out += [(root + path, None, "path") for path in COMMON_PATHS]
    joomla_query = f"{parts.query}&{JOOMLA_QUERY}" if parts.query else JOOMLA_QUERY
    out.append((urlunsplit(parts._replace(query=joomla_query, fragment="")), None, "path"))
    seen: set[str] = set()
    unique = []
    for url, title, how in out:
        if canonical_url(url) not in seen:
            seen.add(canonical_url(url))
            unique.append((url, title, how))
    return unique


def alternate_links(html: bytes, base_url: str) -> list[tuple[str, str | None]]:
    """(absolute href, title) of `<link rel="alternate" type="<feed type>">` tags."""
    if not html.strip():
        return []
    try:
        document = lxml.html.document_fromstring(html[:MAX_BYTES])
    except (ValueError, lxml.etree.ParserError):
        return []
    links = []
    for link in document.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            title = (link.get("title") or "").strip() or None
            if title and _COMMENTS.search(title):
                continue  # WordPress comment feeds are feeds too, but not of news
            links.append((urljoin(base_url, href), title))
    return links[:MAX_LINK_CANDIDATES]


def _as_feed(fetched: _Fetched, title: str | None, how: str) -> DiscoveredFeed | None:
    """The response as a feed, or None when it is HTML or otherwise not a feed."""
    if "html" in fetched.content_type and b"<rss" not in fetched.body[:2000]:
        return None
    headers = {"content-location": fetched.url, "content-type": fetched.content_type}
    try:
        entries = parse_feed_bytes(fetched.body, headers)
    except FeedParseError:
        return None
    return DiscoveredFeed(
        url=fetched.url,
        title=_feed_title(fetched) or title,
        found_by=how,
        entries=len(entries),
    )


def _feed_title(fetched: _Fetched) -> str | None:
    import feedparser

    parsed = feedparser.parse(fetched.body)
    title = " ".join(str(parsed.feed.get("title") or "").split())
    return title or None


def _fetch(url: str, timeout: float, user_agent: str) -> _Fetched:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url!r} is not an http(s) URL")
    # http(s) only (checked above); urllib's redirects cannot switch to file: either.
    request = urllib.request.Request(url, headers={"User-Agent": user_agent})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        # Read one byte past the cap: a page that big is refused, not cut,
        # because a truncated feed would parse as a broken one.
        body = response.read(MAX_BYTES + 1)
        if len(body) > MAX_BYTES:
            raise URLError(f"{url} is larger than {MAX_BYTES} bytes")
        return _Fetched(
            url=response.geturl(),
            body=body,
            content_type=(response.headers.get("Content-Type") or "").lower(),
        )


def _default_user_agent() -> str:
    from newswatch.settings import CrawlSettings

    return CrawlSettings().user_agent
