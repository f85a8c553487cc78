"""The article's JSON-LD (schema.org) object, the first source for most metadata.

Structured data is what a site says about itself on purpose, so it is
trusted before anything read off the visible page. Sites write it loosely:
@graph and mainEntity nesting, Yoast's {"@id": ...} author references,
HTML comments and CDATA around the JSON.
"""

from __future__ import annotations

import json
from typing import Any

import lxml.html

from newswatch.crawler.dutch_dates import person_name

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


def ld_author(ld: dict[str, Any], *, people_only: bool) -> str | None:
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
