"""The article's headline, title and canonical URL.

The headline element is also the anchor the date and byline finders read
from (a byline sits right after it), so it is found once, here, the same way
for all of them: the first <h1> outside page chrome.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

import lxml.html
from lxml import etree
from trafilatura.metadata import extract_title

from newswatch.crawler.chrome import is_chrome
from newswatch.crawler.dom import clean, meta, text_of


def headline(tree: lxml.html.HtmlElement) -> etree._Element | None:
    """The first <h1> with text outside page chrome (a logo in the header is often an h1)."""
    return next((h for h in tree.iter("h1") if not is_chrome(h) and text_of(h)), None)


_TITLE_SEPARATORS = re.compile(r"\s+[|–—:-]\s+|\s+::\s+")


def page_title(tree: lxml.html.HtmlElement, h1: str | None) -> str | None:
    """og:title without the site name, else the <h1>, else trafilatura's guess."""
    og = clean(meta(tree, "og:title", "twitter:title"))
    if og and h1 and og.casefold().startswith(h1.casefold()):
        return h1  # "Kop - Waterweg24" -> "Kop"
    if og:
        site = clean(meta(tree, "og:site_name", "application-name"))
        parts = _TITLE_SEPARATORS.split(og)
        if site and len(parts) > 1 and parts[-1].casefold() == site.casefold():
            og = og[: og.rfind(parts[-1])].rstrip(" |–—:-")
        return og
    if h1:
        return h1
    try:
        return clean(extract_title(tree))
    except Exception:  # only a fallback; never worth a failed page
        return None


def canonical_url(tree: lxml.html.HtmlElement, url: str) -> str:
    """<link rel="canonical">, else og:url, resolved against `url`; else `url` itself."""
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            return urljoin(url, link.get("href", "").strip())
    og = meta(tree, "og:url")
    return urljoin(url, og.strip()) if og else url
