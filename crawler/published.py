"""The publication time: structured data first, then visible bylines, never chrome.

Order matters more than cleverness here: an operator's selector, then JSON-LD,
<meta> and <time>, which a site sets on purpose; then the visible byline; and
only last htmldate's guess. A date found in page chrome (the weather widget's
"dinsdag 23 juli") is never the article's.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import lxml.html
from htmldate import find_date

from newswatch.crawler.chrome import chrome_node, is_chrome
from newswatch.crawler.dom import classes, meta
from newswatch.crawler.dutch_dates import find_dates, parse_iso, to_utc
from newswatch.crawler.metadata import headline
from newswatch.crawler.overrides import select_first

log = logging.getLogger(__name__)

_DATE_META = (
    "article:published_time", "og:article:published_time", "datePublished",
    "pubdate", "publishdate", "publish-date", "publication_date", "date",
    "dc.date.issued", "dcterms.created", "dcterms.date", "parsely-pub-date", "sailthru.date",
)  # fmt: skip


def published_date(
    tree: lxml.html.HtmlElement,
    ld: dict[str, Any],
    selector: str | None,
    visible_byline: Callable[[], str],
    url: str,
    tz: ZoneInfo,
) -> datetime | None:
    """Publication time in UTC: override, JSON-LD, meta, <time>, visible byline, htmldate."""
    if selector:
        raw = select_first(tree, selector)
        if raw:
            value = parse_iso(raw, tz) or _visible_date(raw, tz)
            if value:
                return value
    for raw in (ld.get("datePublished"), meta(tree, *_DATE_META), _time_element(tree)):
        value = parse_iso(raw if isinstance(raw, str) else None, tz)
        if value:
            return value
    return _visible_date(visible_byline(), tz) or _guessed_date(tree, url, tz)


def _guessed_date(tree: lxml.html.HtmlElement, url: str, tz: ZoneInfo) -> datetime | None:
    """Last resort: htmldate's quick search (URL, date-ish elements), with chrome cut away.

    Its extensive free-text search stays off: it would read weather widgets.
    """
    clean = copy.deepcopy(tree)
    for el in clean.xpath("//header|//nav|//footer|//*[@class or @id]"):
        if el.getparent() is not None and chrome_node(el):
            el.drop_tree()
    try:
        raw = find_date(clean, url=url, extensive_search=False, original_date=True)
    except Exception:  # htmldate is a best-effort guess; never worth a failed page
        log.debug("htmldate failed on %s", url, exc_info=True)
        return None
    return parse_iso(raw, tz)


def _visible_date(text: str, tz: ZoneInfo) -> datetime | None:
    # "18°C dinsdag 23 juli 2024" is a weather widget even outside a weer-class element.
    for found in find_dates(text):
        if "°" not in text[max(0, found.start - 12) : found.start]:
            return to_utc(found.value, tz)
    return None


def _time_element(tree: lxml.html.HtmlElement) -> str | None:
    """The datetime of the article's <time>: one marked as published, else the first after
    the headline (sidebars list other articles' times too), else the first on the page.
    Chrome and update stamps never count."""
    candidates = []
    for el in tree.iter("time"):
        marks = f"{classes(el)} {el.get('itemprop') or ''}".lower()
        if not el.get("datetime") or "modified" in marks or "updated" in marks or is_chrome(el):
            continue
        if el.get("pubdate") is not None or "published" in marks or "datepublished" in marks:
            return el.get("datetime")
        candidates.append(el)
    if not candidates:
        return None
    h1 = headline(tree)
    after_h1 = set(h1.xpath("following::time")) if h1 is not None else set()
    chosen = next((el for el in candidates if el in after_h1), candidates[0])
    return chosen.get("datetime")
