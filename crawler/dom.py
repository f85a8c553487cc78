"""The page as an lxml tree, and the small text helpers every finder shares.

Each finder (related blocks, dates, bylines, title) reads the same tree the
same way: whitespace squashed, class and id read together, <meta> looked up
by any of its key attributes. Those readings live here so they cannot drift.
"""

from __future__ import annotations

from typing import Any

import lxml.html
from lxml import etree

from newswatch.crawler.decoding import page_text

# Comments go at parse time: trafilatura loses the text after a comment that
# sits inside a paragraph ("<p>had suffered<!-- ad --> months of ...</p>").
_PARSER = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)


def parse_html(html: bytes | str) -> lxml.html.HtmlElement | None:
    """An lxml tree of at most MAX_CHARS characters, or None for empty/unparseable input."""
    text = page_text(html)
    if not text.strip():
        return None
    try:
        tree = lxml.html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError):
        return None
    return tree if tree is not None and len(tree) else None


def clean(value: Any) -> str | None:
    """A squashed string, or None for an empty string or a non-string."""
    if not isinstance(value, str):
        return None
    return squash(value) or None


def squash(text: str) -> str:
    """Whitespace runs to one space, ends trimmed."""
    return " ".join(text.split())


def text_of(el: etree._Element) -> str:
    return squash(el.text_content())


def classes(el: etree._Element) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}".strip()


def meta(tree: lxml.html.HtmlElement, *keys: str) -> str | None:
    """The content of the first <meta> whose property/name/itemprop is one of `keys`."""
    wanted = {k.lower() for k in keys}
    values: dict[str, str] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").lower()
        content = el.get("content") or el.get("datetime")
        if key in wanted and content and key not in values:
            values[key] = content
    return next((values[k.lower()] for k in keys if k.lower() in values), None)
