"""Article extraction: main text and metadata from one news page.

trafilatura finds the main text; around it we add what Dutch regional sites
need: related-headline blocks ("Gerelateerd", "Lees ook", ...) are removed
before and after extraction so an article never inherits its neighbours'
keywords, dates come from structured data first and then from visible
bylines (never from a weather widget), and a dateline like
"SCHIEDAM/VLAARDINGEN –" is reported as places.

This module only orchestrates; each step lives in its own module:

    decoding    bytes -> text (BOM, UTF-8, meta charset, cp1252, size cap)
    dom         the lxml tree and shared text helpers
    chrome      header/nav/footer/weather detection
    related     related-headline blocks, in the tree and in the text
    overrides   CSS selectors from sources.yaml
    jsonld      the article's JSON-LD object
    metadata    headline, title, canonical URL
    bylines     authors and the byline zone
    published   the publication time
    language    the article's language
    dutch_dates what a Dutch date, byline or dateline string means

`extract_article` never raises on bad input; a page it cannot read gives an
`Extracted` with text "".
"""

from __future__ import annotations

import copy
import functools
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import lxml.html
import trafilatura

from newswatch.crawler.bylines import (
    author_element,
    byline_author,
    byline_text,
    meta_author,
    strip_lead,
)
from newswatch.crawler.decoding import decode_html
from newswatch.crawler.dom import clean, parse_html, squash, text_of
from newswatch.crawler.dutch_dates import places_from_dateline, zone
from newswatch.crawler.jsonld import json_ld_article, ld_author
from newswatch.crawler.language import declared_lang, detect_language
from newswatch.crawler.metadata import canonical_url, headline, page_title
from newswatch.crawler.overrides import select_first, select_text
from newswatch.crawler.published import published_date
from newswatch.crawler.related import remove_related_blocks, trim_related_text

# decode_html, detect_language and trim_related_text are re-exported: they were
# defined here before the split, and tests/test_extract.py imports them from here.
__all__ = [
    "ExtractOverrides",
    "Extracted",
    "decode_html",
    "detect_language",
    "extract_article",
    "extract_json",
    "trim_related_text",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractOverrides:
    """Per-source CSS selectors from sources.yaml; each one wins over the heuristics."""

    body: str | None = None
    title: str | None = None
    date: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class Extracted:
    title: str | None
    published: datetime | None  # timezone-aware, UTC; a bare date means local midnight
    author: str | None
    text: str  # paragraphs separated by "\n\n"; "" when nothing was found
    places: list[str]  # from a dateline like "SCHIEDAM/VLAARDINGEN –"
    lang: str | None
    url: str | None  # canonical / og:url when present, else the url passed in


def extract_article(
    html: bytes | str,
    url: str,
    *,
    overrides: ExtractOverrides | None = None,
    timezone: str = "Europe/Amsterdam",
) -> Extracted:
    """Main text and metadata of one article page. Never raises on bad HTML."""
    try:
        return _extract(html, url, overrides or ExtractOverrides(), timezone)
    except Exception:  # a crawler must survive any page; the page is data, not a bug
        log.warning("extraction failed for %s", url, exc_info=True)
        return Extracted(None, None, None, "", [], None, url)


def extract_json(html: bytes | str, url: str) -> dict[str, Any]:
    """What `newswatch extract` prints: `Extracted` with `published` in Amsterdam time."""
    art = extract_article(html, url)
    published = art.published.astimezone(zone("Europe/Amsterdam")) if art.published else None
    return {
        "title": art.title,
        "published": published.isoformat() if published else None,
        "author": art.author,
        "text": art.text,
        "places": art.places,
        "lang": art.lang,
        "url": art.url,
    }


def _extract(html: bytes | str, url: str, ov: ExtractOverrides, timezone: str) -> Extracted:
    tree = parse_html(html)
    if tree is None:
        return Extracted(None, None, None, "", [], None, url)
    tz = zone(timezone)
    ld = json_ld_article(tree)
    h1_el = headline(tree)
    h1 = text_of(h1_el) if h1_el is not None else None
    title = select_first(tree, ov.title) or clean(ld.get("headline")) or page_title(tree, h1)

    # Text comes from a copy without related blocks; metadata from the whole page.
    pruned = copy.deepcopy(tree)
    remove_related_blocks(pruned)
    text = select_text(pruned, ov.body) if ov.body else None
    if text is None:
        text = _main_text(pruned, url)
    text = trim_related_text(_normalise_paragraphs(text))
    text, leading_byline = strip_lead(text, {title, h1})

    @functools.cache
    def visible_byline() -> str:  # costly on big pages, and structured data usually suffices
        return leading_byline + "\n" + byline_text(tree)

    author = (
        select_first(tree, ov.author)
        or ld_author(ld, people_only=True)
        or meta_author(tree)
        or author_element(tree)
        or byline_author(visible_byline())
        or ld_author(ld, people_only=False)  # the newsroom itself, "NU.nl"
    )
    return Extracted(
        title=title,
        published=published_date(tree, ld, ov.date, visible_byline, url, tz),
        author=author,
        text=text,
        places=places_from_dateline(text),
        lang=detect_language(text) or declared_lang(tree, ld),
        url=canonical_url(tree, url),
    )


def _main_text(tree: lxml.html.HtmlElement, url: str) -> str:
    """trafilatura's main text of `tree` (which it prunes in place); "" if it finds none."""
    try:
        doc = trafilatura.bare_extraction(tree, url=url, include_comments=False)
    except Exception:  # a trafilatura bug on an odd page must not cost us the metadata
        log.debug("trafilatura failed on %s", url, exc_info=True)
        return ""
    return (doc.text if doc is not None else None) or ""


def _normalise_paragraphs(text: str) -> str:
    """One blank line between paragraphs, inner whitespace collapsed."""
    paras = (squash(p) for p in text.splitlines())
    return "\n\n".join(p for p in paras if p)
