"""Turning feed bytes into entries.

Scrapy fetches the bytes (bounded, polite, conditional); feedparser only
parses them, so it never opens a URL or a local path itself. feedparser does
not raise on broken feeds: it sets `bozo` and recovers what it can. We keep
that stance: a feed that yields entries is used even when ill-formed, and
only a response with nothing feed-like in it is an error.
"""

from __future__ import annotations

import calendar
import html
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from newswatch.errors import NewswatchError

log = logging.getLogger(__name__)

_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


class FeedParseError(NewswatchError):
    """The response is not a feed we can read (HTML, empty, garbage)."""


@dataclass(frozen=True)
class FeedEntry:
    link: str
    guid: str | None
    title: str
    summary: str
    published: datetime | None


def parse_feed_bytes(data: bytes, headers: dict[str, str] | None = None) -> list[FeedEntry]:
    """Entries of an RSS/Atom/JSON feed; raises FeedParseError if it is none.

    `headers` are the response headers; feedparser uses Content-Type and
    Content-Location for the encoding and the base URL of relative links.
    """
    parsed = feedparser.parse(data, response_headers=_lower(headers))
    if not parsed.entries and not parsed.get("version"):
        reason = parsed.get("bozo_exception") or "no feed elements found"
        raise FeedParseError(f"not a readable feed: {_one_line(str(reason))}")
    if parsed.get("bozo"):
        log.debug("feed is ill-formed but readable: %s", parsed.get("bozo_exception"))
    base = _base_url(parsed, headers)
    entries = (_entry(raw, base) for raw in parsed.entries)
    return [entry for entry in entries if entry is not None]


def _entry(raw: Any, base: str | None) -> FeedEntry | None:
    link = _link(raw, base)
    if not link:
        return None
    guid = raw.get("id") or None
    return FeedEntry(
        link=link,
        guid=str(guid)[:2000] if guid else None,
        title=plain_text(raw.get("title") or ""),
        summary=plain_text(raw.get("summary") or ""),
        published=_published(raw),
    )


def _link(raw: Any, base: str | None) -> str | None:
    link = raw.get("link")
    if not link:
        # Some feeds carry the URL only as a permalink guid.
        guid = raw.get("id") or ""
        link = guid if raw.get("guidislink") or str(guid).startswith("http") else None
    if not link:
        return None
    link = urljoin(base, link.strip()) if base else link.strip()
    return link if link.startswith(("http://", "https://")) else None


def _published(raw: Any) -> datetime | None:
    struct = raw.get("published_parsed") or raw.get("updated_parsed")
    if not struct:
        return None
    try:
        # feedparser normalises to UTC; timegm reads the struct as UTC.
        return datetime.fromtimestamp(calendar.timegm(struct), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _base_url(parsed: Any, headers: dict[str, str] | None) -> str | None:
    lowered = _lower(headers) or {}
    return lowered.get("content-location") or parsed.feed.get("link") or None


def plain_text(value: str) -> str:
    """Feed titles may carry markup and entities; subscribers see text."""
    return _SPACE.sub(" ", html.unescape(_TAGS.sub(" ", value))).strip()


def _lower(headers: dict[str, str] | None) -> dict[str, str] | None:
    return {k.lower(): v for k, v in headers.items()} if headers else None


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text)[:300]
