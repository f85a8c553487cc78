"""Related-headline blocks ("Gerelateerd", "Lees ook", "Meer nieuws", ...).

Dutch regional sites put their neighbours' headlines inside and under the
article. Left in, an article about a bridge inherits the keywords of the
three headlines next to it, so the blocks are removed twice: from the tree
before extraction (`remove_related_blocks`) and from the extracted text,
for the runs trafilatura still lets through (`trim_related_text`).
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from newswatch.crawler.dom import classes, squash, text_of

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


# --- in the tree, before extraction -------------------------------------------


def remove_related_blocks(tree: lxml.html.HtmlElement) -> None:
    """Drop related-headline blocks in place: by class/id and by their heading."""
    body_len = len(tree.text_content())
    for el in tree.xpath("//*[@class or @id]"):
        if el.tag in ("html", "body", "main", "article") or el.getparent() is None:
            continue
        tokens = classes(el).split()
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
        if len(text) > 60 or not RELATED_HEADINGS.match(squash(text)):
            continue
        el = text.getparent()
        if text.is_tail:
            loose.append(el)
            continue
        # Climb out of inline wrappers: <h3><span>Lees ook</span></h3> -> <h3>.
        while (parent := el.getparent()) is not None and parent.tag in _HEADING_TAGS:
            if text_of(parent) != text_of(el):
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
    text = len(text_of(el))
    if not text:
        return 0.0
    links = sum(len(text_of(a)) for a in el.iter("a"))
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


# --- in the text, after extraction --------------------------------------------


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
