"""Page chrome: header, navigation, footer, cookie bar and weather widget.

Chrome's dates and names are never the article's: the weather widget in the
header is the classic false publication date, and a logo in the header is
often an <h1>. Every metadata finder asks `is_chrome` before it trusts an element.
"""

from __future__ import annotations

import re

from lxml import etree

from newswatch.crawler.dom import classes

# A class/id token is chrome when it *starts* with one of these words
# ("header__weather", "site-header", "c-nav"); "has-header-image" on <body> and
# "entry-header" (where WordPress puts the byline) are not.
_CHROME_HEADS = {
    "header", "nav", "navbar", "navigation", "menu", "topmenu", "mainmenu", "footer",
    "cookie", "cookies", "cookiebar", "consent", "gdpr", "breadcrumb", "breadcrumbs",
    "masthead", "topbar", "sidebar",
}  # fmt: skip
# Weather words count anywhere in a token ("widget-weer"), but as a whole part,
# so that "weergave" (display) is not weather.
_WEATHER_PARTS = {"weer", "weather", "forecast", "temperatuur", "temperature", "weerbericht"}
_CHROME_PREFIXES = {"site", "page", "main", "global", "top"}
_TOKEN_PARTS = re.compile(r"[-_]+")


def is_chrome(el: etree._Element) -> bool:
    """True if `el` or an ancestor is page chrome: header, nav, footer, weather, cookie bar."""
    return chrome_node(el) or any(chrome_node(a) for a in el.iterancestors())


def chrome_node(node: etree._Element) -> bool:
    """True if `node` itself (ancestors aside) is page chrome."""
    tag = node.tag if isinstance(node.tag, str) else ""
    if tag in ("html", "body", "main", "article"):
        return False
    if tag in ("nav", "footer") or (tag in ("header", "aside") and not _in_article(node)):
        return True
    return any(_chrome_token(t) for t in classes(node).lower().split())


def _chrome_token(token: str) -> bool:
    parts = [p for p in _TOKEN_PARTS.split(token) if p]
    if any(p in _WEATHER_PARTS for p in parts):
        return True
    # Skip a "site-"/"page-" prefix and a BEM namespace ("c-header", "l-nav").
    while len(parts) > 1 and (parts[0] in _CHROME_PREFIXES or len(parts[0]) <= 2):
        parts = parts[1:]
    return bool(parts) and parts[0] in _CHROME_HEADS


def _in_article(el: etree._Element) -> bool:
    return any(a.tag == "article" for a in el.iterancestors())
