"""CSS selectors from sources.yaml (`ExtractOverrides`) applied to a page.

A per-source selector is the operator's fix for a site the heuristics get
wrong, so it wins over them; an invalid one is logged and ignored rather than
costing the page.
"""

from __future__ import annotations

import logging

import lxml.html
from cssselect import SelectorError
from lxml import etree

from newswatch.crawler.dom import clean, text_of

log = logging.getLogger(__name__)


def _select(tree: lxml.html.HtmlElement, selector: str) -> list[etree._Element]:
    try:
        return tree.cssselect(selector)
    except (SelectorError, SyntaxError, ValueError):
        log.warning("ignoring invalid CSS selector %r from sources.yaml", selector)
        return []


def select_first(tree: lxml.html.HtmlElement, selector: str | None) -> str | None:
    """The first non-empty content/datetime/text among the elements `selector` picks."""
    if not selector:
        return None
    for el in _select(tree, selector):
        value = clean(el.get("content") or el.get("datetime") or el.text_content())
        if value:
            return value
    return None


_BLOCKS = ("p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre")


def select_text(tree: lxml.html.HtmlElement, selector: str) -> str | None:
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
            text = text_of(block)
            if text:
                paras.append(text)
    return "\n".join(paras) if paras else None
