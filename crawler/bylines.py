"""Authors, and the byline zone where visible names and dates are read.

When structured data has no author (or no date), the visible byline does:
byline-ish elements and the short lines between the headline and the body,
with page chrome skipped. `dutch_dates` decides what a byline line means;
this module decides which lines are byline.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from newswatch.crawler.chrome import is_chrome
from newswatch.crawler.dom import classes, meta, squash, text_of
from newswatch.crawler.dutch_dates import (
    author_from_byline,
    clean_name,
    find_dates,
    looks_like_byline,
    person_name,
)
from newswatch.crawler.metadata import headline


def meta_author(tree: lxml.html.HtmlElement) -> str | None:
    """The author a <meta> tag names, if it is a person's name."""
    # article:author is often a profile URL, which person_name rejects.
    raw = meta(tree, "author", "article:author", "dc.creator", "parsely-author", "sailthru.author")
    return person_name(raw)


_AUTHOR_XPATH = (
    "//body//*[@rel='author' or @itemprop='author' or contains(@class, 'author')"
    " or contains(@class, 'auteur') or contains(@class, 'byline')]"
)


def author_element(tree: lxml.html.HtmlElement) -> str | None:
    """The name in a byline element: <span class="author">, <a rel="author">, itemprop."""
    for el in tree.xpath(_AUTHOR_XPATH):
        names = el.xpath(".//*[@itemprop='name']") or [el]
        text = text_of(names[0])
        if not text or len(text) > 80 or is_chrome(el):
            continue
        name = author_from_byline(text) or clean_name(person_name(text) or "")
        if name:
            return name
    return None


_BYLINE_CLASS = re.compile(r"byline|meta|date|datum|time|author|auteur|publi|posted|info", re.I)


def byline_text(tree: lxml.html.HtmlElement) -> str:
    """Visible text where bylines live: byline-ish elements and the lines after the <h1>.

    Chrome (header, nav, footer, weather, cookie bar) is skipped, so a weather
    widget's date can never become the publication date.
    """
    lines: list[str] = []
    for el in tree.xpath("//body//*[@class or @id]"):
        if el.tag in ("script", "style"):
            continue
        if _BYLINE_CLASS.search(classes(el)) and not is_chrome(el):
            text = text_of(el)
            if 0 < len(text) <= 200:
                lines.append(text)
    h1 = headline(tree)
    if h1 is not None:
        # Unmarked lines must look like a byline to lend a date; without a date
        # they still may name the author ("Door Jan de Vries").
        after = _lines_after(h1, limit=400)
        lines += [line for line in after if looks_like_byline(line) or not find_dates(line)]
    return "\n".join(lines)


_BODY_BLOCKS = {"p", "li", "blockquote", "td"}


def _lines_after(start: etree._Element, limit: int) -> list[str]:
    """Short text that follows `start` in document order, until the body text begins.

    A byline sits between the headline and the body; the body's first
    paragraph ("vanaf maandag 1 juli 2024 ...") must not date the article.
    """
    lines: list[str] = []
    size = 0
    for text in start.xpath("following::text()"):
        line = squash(text)
        parent = text.getparent()
        if not line or parent is None or parent.tag in ("script", "style") or is_chrome(parent):
            continue
        block = next((b for b in (parent, *parent.iterancestors()) if b.tag in _BODY_BLOCKS), None)
        if block is not None and len(text_of(block)) > 200:
            break  # a long paragraph: the body has begun
        lines.append(line)
        size += len(line)
        if size >= limit:
            break
    return lines


def byline_author(zone_text: str) -> str | None:
    """The author named by the first byline line in `zone_text` that names one."""
    for line in zone_text.splitlines():
        name = author_from_byline(line)
        if name:
            return name
    return None


def strip_lead(text: str, titles: set[str | None]) -> tuple[str, str]:
    """Drop the headline and a byline line that open the text; return (text, byline).

    The headline is reported separately, and a dateline ("SCHIEDAM –") only
    counts at the very start of the body.
    """
    heads = {t.casefold() for t in titles if t}
    byline = ""
    paras = text.split("\n\n")
    while paras and len(paras[0]) <= 200:
        first = paras[0]
        if first.casefold() in heads:
            paras.pop(0)
        elif not byline and looks_like_byline(first):
            byline = paras.pop(0)  # "08-05-2019 Nieuws Kor Kegel"
        else:
            break
    return "\n\n".join(paras), byline
