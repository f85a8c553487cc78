"""Article extraction: main text and metadata from one news page.

trafilatura finds the main text; around it we add what Dutch regional sites
need: related-headline blocks ("Gerelateerd", "Lees ook", ...) are removed
before and after extraction so an article never inherits its neighbours'
keywords, dates come from structured data first and then from visible
bylines (never from a weather widget), and a dateline like
"SCHIEDAM/VLAARDINGEN –" is reported as places.

`extract_article` never raises on bad input; a page it cannot read gives an
`Extracted` with text "".
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import lxml.html
import trafilatura
from cssselect import SelectorError
from htmldate import find_date
from lxml import etree
from trafilatura.metadata import extract_title

from newswatch.crawler.dutch_dates import (
    author_from_byline,
    clean_name,
    find_dates,
    looks_like_byline,
    parse_iso,
    person_name,
    places_from_dateline,
    to_utc,
    zone,
)

log = logging.getLogger(__name__)

# Parsing is bounded: a runaway page (or a mis-served binary) is cut, not parsed whole.
MAX_CHARS = 5_000_000

# Headings that introduce related-content blocks. Kept exact (plus an optional
# colon) so that body sentences starting with "Lees ook het ..." survive.
RELATED_HEADINGS = re.compile(
    r"^(?:gerelateerd(?:e\s+(?:artikelen|berichten|nieuws))?|lees\s+ook|"
    r"meer\s+nieuws|ook\s+interessant|meer\s+over\s+dit\s+onderwerp|"
    r"bekijk\s+ook|meest\s+gelezen|laatste\s+nieuws|related(?:\s+(?:articles|stories))?)"
    r"\s*:?$",
    re.IGNORECASE,
)
# The same markers in extracted text: a paragraph that is only the marker, or a
# marker glued onto the last sentence ("...gemeente Vlaardingen.Gerelateerd").
_TEXT_MARKER = (
    r"(?:Gerelateerd(?:e (?:artikelen|berichten|nieuws))?|Lees ook|Meer nieuws|Ook interessant"
    r"|Meer over dit onderwerp|Bekijk ook)"
)
_MARKER_PARAGRAPH = re.compile(rf"^\s*{_TEXT_MARKER}\s*:?\s*$", re.IGNORECASE)
# Glued means no space ("Vlaardingen.GerelateerdKop..."), or the bare marker ending
# the paragraph; "Meer nieuws volgt." after a full stop and a space is body text.
_MARKER_GLUED = re.compile(
    rf"(?<=[.!?\"”’)])(?:{_TEXT_MARKER}(?![a-z])|\s+{_TEXT_MARKER}\s*:?\s*$)", re.DOTALL
)
# "GerelateerdVlaardingen en Schiedam ...": the heading glued onto the first related headline.
_MARKER_LEAD = re.compile(rf"^{_TEXT_MARKER}(?=[A-Z0-9À-Þ‘'\"“])")
_LEES_OOK_LINE = re.compile(r"^\s*(?:lees ook|bekijk ook|zie ook)\s*:", re.IGNORECASE)

# class/id tokens of containers that hold related headlines.
_RELATED_CLASS = re.compile(
    r"(?:^|[-_])(?:related|gerelateerd|lees-?ook|leesook|meer-?nieuws|ook-?interessant|"
    r"more-?news|recommended|aanbevolen)(?:$|[-_s])",
    re.IGNORECASE,
)
# Page chrome, whose dates and names are never the article's: the weather
# widget in the header is the classic false publication date. A class/id token
# is chrome when it *starts* with one of these words ("header__weather",
# "site-header", "c-nav"); "has-header-image" on <body> and "entry-header"
# (where WordPress puts the byline) are not.
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
    headline = _headline(tree)
    h1 = _text_of(headline) if headline is not None else None
    title = _select_first(tree, ov.title) or _clean(ld.get("headline")) or _page_title(tree, h1)

    # Text comes from a copy without related blocks; metadata from the whole page.
    pruned = copy.deepcopy(tree)
    remove_related_blocks(pruned)
    text = _select_text(pruned, ov.body) if ov.body else None
    if text is None:
        text = _main_text(pruned, url)
    text = trim_related_text(_normalise_paragraphs(text))
    text, leading_byline = _strip_lead(text, {title, h1})

    @functools.cache
    def visible_byline() -> str:  # costly on big pages, and structured data usually suffices
        return leading_byline + "\n" + byline_text(tree)

    author = (
        _select_first(tree, ov.author)
        or _ld_author(ld, people_only=True)
        or _meta_author(tree)
        or _author_element(tree)
        or _byline_author(visible_byline())
        or _ld_author(ld, people_only=False)  # the newsroom itself, "NU.nl"
    )
    return Extracted(
        title=title,
        published=_published(tree, ld, ov.date, visible_byline, url, tz),
        author=author,
        text=text,
        places=places_from_dateline(text),
        lang=detect_language(text) or _declared_lang(tree, ld),
        url=canonical_url(tree, url),
    )


# --- parsing -----------------------------------------------------------------

# Comments go at parse time: trafilatura loses the text after a comment that
# sits inside a paragraph ("<p>had suffered<!-- ad --> months of ...</p>").
_PARSER = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>", re.IGNORECASE)
# lxml refuses NUL and most C0 controls ("All strings must be XML compatible").
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def parse_html(html: bytes | str) -> lxml.html.HtmlElement | None:
    """An lxml tree of at most MAX_CHARS characters, or None for empty/unparseable input."""
    text = html if isinstance(html, str) else decode_html(html[: MAX_CHARS * 4])
    text = _CONTROL.sub("", _XML_DECL.sub("", text[:MAX_CHARS]))
    # NFC, as trafilatura does for its own input: keyword matching downstream
    # must not depend on whether a site sends "é" composed or decomposed.
    text = unicodedata.normalize("NFC", text)
    if not text.strip():
        return None
    try:
        tree = lxml.html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError):
        return None
    return tree if tree is not None and len(tree) else None


def _main_text(tree: lxml.html.HtmlElement, url: str) -> str:
    """trafilatura's main text of `tree` (which it prunes in place); "" if it finds none."""
    try:
        doc = trafilatura.bare_extraction(tree, url=url, include_comments=False)
    except Exception:  # a trafilatura bug on an odd page must not cost us the metadata
        log.debug("trafilatura failed on %s", url, exc_info=True)
        return ""
    return (doc.text if doc is not None else None) or ""


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return _squash(value) or None


def _squash(text: str) -> str:
    """Whitespace runs to one space, ends trimmed."""
    return " ".join(text.split())


def _text_of(el: etree._Element) -> str:
    return _squash(el.text_content())


def _normalise_paragraphs(text: str) -> str:
    """One blank line between paragraphs, inner whitespace collapsed."""
    paras = (_squash(p) for p in text.splitlines())
    return "\n\n".join(p for p in paras if p)


def _classes(el: etree._Element) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}".strip()


def is_chrome(el: etree._Element) -> bool:
    """True if `el` or an ancestor is page chrome: header, nav, footer, weather, cookie bar."""
    return _chrome_node(el) or any(_chrome_node(a) for a in el.iterancestors())


def _chrome_node(node: etree._Element) -> bool:
    tag = node.tag if isinstance(node.tag, str) else ""
    if tag in ("html", "body", "main", "article"):
        return False
    if tag in ("nav", "footer") or (tag in ("header", "aside") and not _in_article(node)):
        return True
    return any(_chrome_token(t) for t in _classes(node).lower().split())


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


# --- related blocks ----------------------------------------------------------


def remove_related_blocks(tree: lxml.html.HtmlElement) -> None:
    """Drop related-headline blocks in place: by class/id and by their heading."""
    body_len = len(tree.text_content())
    for el in tree.xpath("//*[@class or @id]"):
        if el.tag in ("html", "body", "main", "article") or el.getparent() is None:
            continue
        tokens = _classes(el).split()
        # A class name alone is weak evidence ("entry-content-related-enabled"):
        # the element must also look like a block of headlines.
        if (
            any(_RELATED_CLASS.search(t) for t in tokens)
            and len(el.text_content()) < body_len / 2
            and _looks_like_teasers(el)
        ):
            el.drop_tree()
    headings, loose = _related_headings(tree)
    for el in loose:
        el.tail = None  # the heading text itself
        _drop_teasers_after(el)
    for heading in headings:
        # An earlier drop may already have taken this heading with it.
        if heading.getroottree().getroot() is tree:
            _drop_related_section(heading)


_HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "div", "span", "strong", "b", "header"}


def _related_headings(
    tree: lxml.html.HtmlElement,
) -> tuple[list[etree._Element], list[etree._Element]]:
    """Elements whose whole text is a related-block heading such as "Lees ook", and
    elements followed by such a heading as loose text ("...</p>Gerelateerd<a>...")."""
    found: list[etree._Element] = []
    loose: list[etree._Element] = []
    for text in tree.xpath("//body//text()"):
        if len(text) > 60 or not RELATED_HEADINGS.match(_squash(text)):
            continue
        el = text.getparent()
        if text.is_tail:
            loose.append(el)
            continue
        # Climb out of inline wrappers: <h3><span>Lees ook</span></h3> -> <h3>.
        while (parent := el.getparent()) is not None and parent.tag in _HEADING_TAGS:
            if _text_of(parent) != _text_of(el):
                break
            el = parent
        if el.tag in _HEADING_TAGS and not any(a in found for a in el.iterancestors()):
            found.append(el)
    return found, loose


def _drop_teasers_after(el: etree._Element) -> None:
    """Drop the headline-like siblings that follow `el`, up to the first ordinary one."""
    sibling = el.getnext()
    while sibling is not None and (
        not isinstance(sibling.tag, str) or _looks_like_teasers(sibling)
    ):
        nxt = sibling.getnext()
        sibling.drop_tree()
        sibling = nxt


def _drop_related_section(heading: etree._Element) -> None:
    parent = heading.getparent()
    if parent is None or parent.getparent() is None:
        return
    # "<p><strong>Lees ook:</strong> <a>Kop</a></p>": the whole paragraph is the block.
    if parent.tag in ("p", "li") and _link_density(parent) > 0.5:
        parent.drop_tree()
        return
    # A small container whose remaining content is headlines: drop the container.
    if parent.tag not in ("body", "main", "article") and _is_link_list(parent, heading):
        parent.drop_tree()
        return
    # Otherwise the heading sits among body paragraphs: drop it and the teaser
    # siblings after it, stopping at the first ordinary paragraph.
    _drop_teasers_after(heading)
    heading.drop_tree()


def _link_density(el: etree._Element) -> float:
    text = len(_text_of(el))
    if not text:
        return 0.0
    links = sum(len(_text_of(a)) for a in el.iter("a"))
    return links / text


def _is_link_list(container: etree._Element, heading: etree._Element) -> bool:
    rest = [c for c in container if c is not heading and isinstance(c.tag, str)]
    if not rest or container.text_content().count(" ") > 400:
        return False
    return all(_looks_like_teasers(c) for c in rest if c.text_content().strip())


def _looks_like_teasers(el: etree._Element) -> bool:
    if not isinstance(el.tag, str):
        return False
    if el.tag in ("ul", "ol") or el.tag == "article":
        return True
    if not any(True for _ in el.iter("a")):
        return False
    return _link_density(el) >= 0.4 or any(
        True for a in el.iter("a") for _ in a.iter("h2", "h3", "h4", "h5", "img")
    )


def trim_related_text(text: str) -> str:
    """Cut related-headline runs that survived into the extracted text."""
    paras = text.split("\n\n")
    kept: list[str] = []
    for para in paras:
        if _MARKER_PARAGRAPH.match(para) or _MARKER_LEAD.match(para):
            break  # everything after a bare "Gerelateerd" is headlines
        if _LEES_OOK_LINE.match(para):
            continue  # "Lees ook: <kop>" interrupts the body; the body goes on
        glued = _MARKER_GLUED.search(para)
        if glued:  # the rest of the paragraph, if any, is glued-on headlines
            kept.append(para[: glued.start()].rstrip())
            break
        kept.append(para)
    return "\n\n".join(p for p in kept if p)


# --- overrides ---------------------------------------------------------------


def _select(tree: lxml.html.HtmlElement, selector: str) -> list[etree._Element]:
    try:
        return tree.cssselect(selector)
    except (SelectorError, SyntaxError, ValueError):
        log.warning("ignoring invalid CSS selector %r from sources.yaml", selector)
        return []


def _select_first(tree: lxml.html.HtmlElement, selector: str | None) -> str | None:
    if not selector:
        return None
    for el in _select(tree, selector):
        value = _clean(el.get("content") or el.get("datetime") or el.text_content())
        if value:
            return value
    return None


_BLOCKS = ("p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre")


def _select_text(tree: lxml.html.HtmlElement, selector: str) -> str | None:
    """Text of the elements a body selector picks, paragraph by paragraph."""
    paras: list[str] = []
    for el in _select(tree, selector):
        for bad in list(el.iter("script", "style", "noscript", "form", "button")):
            bad.drop_tree()
        # Outermost blocks only, so an <li> holding a <p> is not printed twice.
        outer = [
            b for b in el.iter(*_BLOCKS) if not any(p.tag in _BLOCKS for p in b.iterancestors())
        ]
        for block in outer or [el]:
            text = _text_of(block)
            if text:
                paras.append(text)
    return "\n".join(paras) if paras else None


# --- metadata ----------------------------------------------------------------

_ARTICLE_TYPES = {
    "newsarticle", "article", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "backgroundnewsarticle", "socialmediaposting", "webpage",
}  # fmt: skip


def json_ld_article(tree: lxml.html.HtmlElement) -> dict[str, Any]:
    """The most article-like JSON-LD object on the page ({} if none).

    Its author references ({"@id": ...}, as Yoast writes them) are resolved
    against the other objects on the page.
    """
    objects: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() == "application/ld+json":
            objects += _ld_objects(_load_json(script.text or ""))
    best: dict[str, Any] = {}
    best_rank = 99
    for obj in objects:
        types = obj.get("@type")
        names = [t.lower() for t in (types if isinstance(types, list) else [types]) if t]
        ranks = [1 if n == "webpage" else 0 for n in names if n in _ARTICLE_TYPES]
        if ranks and min(ranks) < best_rank:
            best, best_rank = obj, min(ranks)
    by_id = {o["@id"]: o for o in objects if isinstance(o.get("@id"), str)}
    authors = best.get("author")
    if authors:
        authors = authors if isinstance(authors, list) else [authors]
        best = {**best, "author": [_resolve(a, by_id) for a in authors]}
    return best


def _resolve(ref: Any, by_id: dict[str, dict[str, Any]]) -> Any:
    if isinstance(ref, dict) and "name" not in ref and ref.get("@id") in by_id:
        return by_id[ref["@id"]]
    return ref


def _load_json(raw: str) -> Any:
    raw = raw.strip().removeprefix("<!--").removesuffix("-->").strip()
    raw = raw.removeprefix("//<![CDATA[").removesuffix("//]]>").strip()
    try:
        return json.loads(raw, strict=False)
    except (ValueError, RecursionError):
        return None


def _ld_objects(data: Any, depth: int = 0) -> list[dict[str, Any]]:
    if depth > 5:
        return []
    if isinstance(data, list):
        return [o for item in data for o in _ld_objects(item, depth + 1)]
    if not isinstance(data, dict):
        return []
    found = [data]
    for key in ("@graph", "mainEntity"):
        if key in data:
            found += _ld_objects(data[key], depth + 1)
    return found


def _ld_author(ld: dict[str, Any], *, people_only: bool) -> str | None:
    """Author names from JSON-LD; organisations only when `people_only` is False."""
    names = []
    for author in ld.get("author") or []:
        if isinstance(author, dict):
            kind = str(author.get("@type") or "").lower()
            if people_only and kind == "organization":
                continue
            author = author.get("name")
        name = person_name(author) if isinstance(author, str) else None
        if name and name not in names:
            names.append(name)
    return ", ".join(names) or None


def _meta(tree: lxml.html.HtmlElement, *keys: str) -> str | None:
    """The content of the first <meta> whose property/name/itemprop is one of `keys`."""
    wanted = {k.lower() for k in keys}
    values: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        content = meta.get("content") or meta.get("datetime")
        if key in wanted and content and key not in values:
            values[key] = content
    return next((values[k.lower()] for k in keys if k.lower() in values), None)


_DATE_META = (
    "article:published_time", "og:article:published_time", "datePublished",
    "pubdate", "publishdate", "publish-date", "publication_date", "date",
    "dc.date.issued", "dcterms.created", "dcterms.date", "parsely-pub-date", "sailthru.date",
)  # fmt: skip


def _published(
    tree: lxml.html.HtmlElement,
    ld: dict[str, Any],
    selector: str | None,
    visible_byline: Callable[[], str],
    url: str,
    tz: ZoneInfo,
) -> datetime | None:
    """Publication time in UTC: override, JSON-LD, meta, <time>, visible byline, htmldate."""
    if selector:
        raw = _select_first(tree, selector)
        if raw:
            value = parse_iso(raw, tz) or _visible_date(raw, tz)
            if value:
                return value
    for raw in (ld.get("datePublished"), _meta(tree, *_DATE_META), _time_element(tree)):
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
        if el.getparent() is not None and _chrome_node(el):
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
        marks = f"{_classes(el)} {el.get('itemprop') or ''}".lower()
        if not el.get("datetime") or "modified" in marks or "updated" in marks or is_chrome(el):
            continue
        if el.get("pubdate") is not None or "published" in marks or "datepublished" in marks:
            return el.get("datetime")
        candidates.append(el)
    if not candidates:
        return None
    h1 = _headline(tree)
    after_h1 = set(h1.xpath("following::time")) if h1 is not None else set()
    chosen = next((el for el in candidates if el in after_h1), candidates[0])
    return chosen.get("datetime")


def _meta_author(tree: lxml.html.HtmlElement) -> str | None:
    # article:author is often a profile URL, which person_name rejects.
    raw = _meta(tree, "author", "article:author", "dc.creator", "parsely-author", "sailthru.author")
    return person_name(raw)


_AUTHOR_XPATH = (
    "//body//*[@rel='author' or @itemprop='author' or contains(@class, 'author')"
    " or contains(@class, 'auteur') or contains(@class, 'byline')]"
)


def _author_element(tree: lxml.html.HtmlElement) -> str | None:
    """The name in a byline element: <span class="author">, <a rel="author">, itemprop."""
    for el in tree.xpath(_AUTHOR_XPATH):
        names = el.xpath(".//*[@itemprop='name']") or [el]
        text = _text_of(names[0])
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
        if _BYLINE_CLASS.search(_classes(el)) and not is_chrome(el):
            text = _text_of(el)
            if 0 < len(text) <= 200:
                lines.append(text)
    h1 = _headline(tree)
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
        line = _squash(text)
        parent = text.getparent()
        if not line or parent is None or parent.tag in ("script", "style") or is_chrome(parent):
            continue
        block = next((b for b in (parent, *parent.iterancestors()) if b.tag in _BODY_BLOCKS), None)
        if block is not None and len(_text_of(block)) > 200:
            break  # a long paragraph: the body has begun
        lines.append(line)
        size += len(line)
        if size >= limit:
            break
    return lines


def _byline_author(zone_text: str) -> str | None:
    for line in zone_text.splitlines():
        name = author_from_byline(line)
        if name:
            return name
    return None


def _strip_lead(text: str, titles: set[str | None]) -> tuple[str, str]:
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


def _headline(tree: lxml.html.HtmlElement) -> etree._Element | None:
    """The first <h1> with text outside page chrome (a logo in the header is often an h1)."""
    return next((h for h in tree.iter("h1") if not is_chrome(h) and _text_of(h)), None)


_TITLE_SEPARATORS = re.compile(r"\s+[|–—:-]\s+|\s+::\s+")


def _page_title(tree: lxml.html.HtmlElement, h1: str | None) -> str | None:
    """og:title without the site name, else the <h1>, else trafilatura's guess."""
    og = _clean(_meta(tree, "og:title", "twitter:title"))
    if og and h1 and og.casefold().startswith(h1.casefold()):
        return h1  # "Kop - Waterweg24" -> "Kop"
    if og:
        site = _clean(_meta(tree, "og:site_name", "application-name"))
        parts = _TITLE_SEPARATORS.split(og)
        if site and len(parts) > 1 and parts[-1].casefold() == site.casefold():
            og = og[: og.rfind(parts[-1])].rstrip(" |–—:-")
        return og
    if h1:
        return h1
    try:
        return _clean(extract_title(tree))
    except Exception:  # only a fallback; never worth a failed page
        return None


def canonical_url(tree: lxml.html.HtmlElement, url: str) -> str:
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            return urljoin(url, link.get("href", "").strip())
    og = _meta(tree, "og:url")
    return urljoin(url, og.strip()) if og else url


def _declared_lang(tree: lxml.html.HtmlElement, ld: dict[str, Any]) -> str | None:
    for raw in (
        tree.get("lang"),
        ld.get("inLanguage") if isinstance(ld.get("inLanguage"), str) else None,
        _meta(tree, "og:locale", "content-language", "language"),
    ):
        lang = normalise_lang(raw)
        if lang:
            return lang
    return None


# --- decoding ----------------------------------------------------------------

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


def decode_html(data: bytes) -> str:
    """Bytes to text the way browsers do it, without ever raising.

    BOM first; then strict UTF-8, because cp1252 text is almost never valid
    UTF-8 while many pages that declare latin-1 are UTF-8 in fact; then the
    declared charset; then cp1252 with replacement characters.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    m = _META_CHARSET.search(data[:4096])
    declared = m.group(1).decode("ascii", "ignore").lower() if m else ""
    # Browsers read latin-1 and ascii as windows-1252 (WHATWG), and so do we.
    if declared in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii", "utf-8", "utf8"):
        declared = "cp1252"
    try:
        return data.decode(declared or "cp1252", errors="replace")
    except LookupError:  # a charset name Python does not know
        return data.decode("cp1252", errors="replace")


# --- language ----------------------------------------------------------------

# Frequent function words that are (nearly) unique to one language; words that
# several languages share ("de", "en", "in", "die", "que", "para") are left out.
# nl/en/de/fr are what Dutch regional sites publish; es/it/pt/pl are there so
# that a Spanish page is not called French for want of a better guess.
_STOPWORD_LISTS = {
    "nl": "het een van niet voor zijn ook aan bij wordt worden naar maar nog heeft hebben deze "
    "dit wij geen werd zal zou hun waar wel veel hij uit tot meer",
    "en": "the and of to that for with was are it by this be from has have not but which "
    "they their would been were who",
    "de": "der und das ist nicht mit von zu sich auf ein eine dem auch für wird im sie bei "
    "werden nach wurde sind oder aus noch",
    "fr": "le les et des est une du dans pour pas sur au avec ce qui sont par elle plus mais ont "
    "cette",
    "es": "el los las y pero sus fue también cuando muy sin una",
    "it": "il della delle degli che per sono gli alla anche più dei nel nella questo è ha hanno",
    "pt": "os do dos não uma com em ao foi também são pelo pela",
    "pl": "się jest że jak od za po jego ale czy przez tak być które",
}
_STOPWORDS = {lang: frozenset(words.split()) for lang, words in _STOPWORD_LISTS.items()}
_WORD = re.compile(r"[^\W\d_]+")


def detect_language(text: str) -> str | None:
    """A language code from function-word counts; None if the text is too short to tell."""
    counts: Counter[str] = Counter()
    for word in _WORD.findall(text[:20_000].lower()):
        for lang, words in _STOPWORDS.items():
            if word in words:
                counts[lang] += 1
    ranked = counts.most_common(2)
    if not ranked or ranked[0][1] < 5:
        return None
    if len(ranked) > 1 and ranked[0][1] < 2 * ranked[1][1]:
        return None
    return ranked[0][0]


def normalise_lang(raw: str | None) -> str | None:
    """ "nl-NL", "nl_NL", "NL" -> "nl"; junk -> None."""
    m = re.match(r"^\s*([a-zA-Z]{2,3})(?:[-_]|$)", raw or "")
    return m.group(1).lower() if m else None
