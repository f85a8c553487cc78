"""Clauses compiled into small evaluator objects.

`evaluate(ctx)` returns the hits that support the clause, `[]` when it holds
without any hit (a `none` group, a URL test), or None when it does not hold.
A support is `(start, end, target_id, label)` in folded coordinates; the label
is the term as the operator wrote it, so explanations read like the config.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import Protocol
from urllib.parse import urlsplit

from newswatch.relevance.article import Article
from newswatch.relevance.matcher import Matcher
from newswatch.relevance.normalize import fold_phrase
from newswatch.relevance.rules import Clause, parse_comparison, parse_term

Support = tuple[int, int, int, str]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


@dataclass(slots=True)
class Context:
    """Everything the evaluators need about one article."""

    article: Article
    terms: dict[int, list[tuple[int, int]]]
    places: list[Support]
    place_keys: dict[int, str]
    coops: list[tuple[Support, str]]
    similarity: Callable[[], float | None]
    fields: frozenset[int] | None = None

    def allowed(self, start: int) -> bool:
        return self.fields is None or self.article.field_of(start) in self.fields


class Node(Protocol):
    def evaluate(self, ctx: Context) -> list[Support] | None: ...


@dataclass(slots=True)
class Term:
    tid: int
    label: str

    def evaluate(self, ctx: Context) -> list[Support] | None:
        spans = ctx.terms.get(self.tid)
        if not spans:
            return None
        out = [(s, e, self.tid, self.label) for s, e in spans if ctx.allowed(s)]
        return out or None


@dataclass(slots=True)
class AnyOf:
    children: list[Node]

    def evaluate(self, ctx: Context) -> list[Support] | None:
        out: list[Support] | None = None
        for child in self.children:
            got = child.evaluate(ctx)
            if got is not None:
                out = (out or []) + got
        return out


@dataclass(slots=True)
class AllOf:
    children: list[Node]

    def evaluate(self, ctx: Context) -> list[Support] | None:
        out: list[Support] = []
        for child in self.children:
            got = child.evaluate(ctx)
            if got is None:
                return None
            out += got
        return out


@dataclass(slots=True)
class NoneOf:
    children: list[Node]

    def evaluate(self, ctx: Context) -> list[Support] | None:
        return None if any(c.evaluate(ctx) is not None for c in self.children) else []


@dataclass(slots=True)
class Near:
    """All children within `within` words of the first (and in one sentence, if asked)."""

    children: list[Node]
    within: int
    sentence: bool
    ordered: bool
    label: str | None = None

    def evaluate(self, ctx: Context) -> list[Support] | None:
        lists = [child.evaluate(ctx) for child in self.children]
        if any(not hits for hits in lists):
            return None
        out: list[Support] = []
        for anchor in lists[0]:  # type: ignore[union-attr]
            chosen = self._chain(ctx, anchor, lists[1:])  # type: ignore[arg-type]
            if chosen:
                out += chosen
        if self.label:
            out = [(s, e, t, self.label) for s, e, t, _ in out]
        return out or None

    def _chain(self, ctx: Context, anchor: Support, rest: list[list[Support]]) -> list[Support]:
        chosen, prev = [anchor], anchor
        for hits in rest:
            best, best_gap = None, self.within + 1
            for hit in hits:
                if self.ordered and hit[0] < prev[1]:
                    continue
                gap = self._gap(ctx, anchor, hit)
                if gap < best_gap:
                    best, best_gap = hit, gap
            if best is None:
                return []
            chosen.append(best)
            prev = best
        return chosen

    def _gap(self, ctx: Context, a: Support, b: Support) -> int:
        """Words between a and b, or a large number when they may not pair."""
        first, second = (a, b) if a[0] <= b[0] else (b, a)
        if first[1] > second[0]:
            return self.within + 1  # overlapping spans are the same words
        if self.sentence and not ctx.article.same_sentence(first[0], second[0]):
            return self.within + 1
        return ctx.article.words_between(first[1], second[0])


@dataclass(slots=True)
class Places:
    """`municipalities: ">= 2"`: distinct municipalities named in the allowed fields."""

    op: str
    count: float

    def evaluate(self, ctx: Context) -> list[Support] | None:
        hits = [h for h in ctx.places if ctx.allowed(h[0])]
        distinct = {ctx.place_keys[h[2]] for h in hits}
        return hits if _OPS[self.op](len(distinct), self.count) else None


@dataclass(slots=True)
class Coops:
    kinds: frozenset[str] | None

    def evaluate(self, ctx: Context) -> list[Support] | None:
        hits = [
            h
            for h, kind in ctx.coops
            if ctx.allowed(h[0]) and (not self.kinds or kind in self.kinds)
        ]
        return hits or None


@dataclass(slots=True)
class Url:
    patterns: list[str]

    def evaluate(self, ctx: Context) -> list[Support] | None:
        url = ctx.article.url
        if not url:
            return None
        host = (urlsplit(url if "//" in url else f"//{url}").hostname or "").lower()
        ok = any(fnmatch(host, p) or fnmatch(url.lower(), p) for p in self.patterns)
        return [] if ok else None


@dataclass(slots=True)
class Similar:
    op: str
    value: float

    def evaluate(self, ctx: Context) -> list[Support] | None:
        score = ctx.similarity()
        return [] if score is not None and _OPS[self.op](score, self.value) else None


@dataclass(slots=True)
class Compiler:
    """Turns clauses into nodes, registering every term with the shared matcher."""

    matcher: Matcher
    uses: set[str] = field(default_factory=set)  # "places", "coops", "url", "similarity"
    term_ids: set[int] = field(default_factory=set)

    def compile(self, clause: Clause) -> Node:
        if clause.term is not None:
            return self._term(clause.term, clause.mode, clause.case)
        if clause.separable is not None:
            return self._separable(clause)
        if clause.near is not None:
            children = [self.compile(c) for c in clause.near]
            return Near(children, clause.within or 10_000, clause.sentence, clause.ordered)
        parts = self._parts(clause)
        return parts[0] if len(parts) == 1 else AllOf(parts)

    def _parts(self, clause: Clause) -> list[Node]:
        parts: list[Node] = []
        if clause.any is not None:
            parts.append(AnyOf([self.compile(c) for c in clause.any]))
        if clause.all is not None:
            parts.append(AllOf([self.compile(c) for c in clause.all]))
        if clause.none is not None:
            parts.append(NoneOf([self.compile(c) for c in clause.none]))
        if clause.municipalities is not None:
            self.uses.add("places")
            parts.append(Places(*parse_comparison(clause.municipalities)))
        if clause.cooperations is not None:
            self.uses.add("coops")
            kinds = None if clause.cooperations == "any" else frozenset(clause.cooperations)
            parts.append(Coops(kinds))
        if clause.url is not None:
            self.uses.add("url")
            parts.append(Url([p.lower() for p in clause.url]))
        if clause.similarity is not None:
            self.uses.add("similarity")
            parts.append(Similar(*parse_comparison(clause.similarity)))
        return parts

    def _term(self, raw: str, mode: str | None, case: bool, label: str | None = None) -> Term:
        core, written_mode = parse_term(raw)
        tid = self.matcher.add_term(core, mode or written_mode, case=case, label=raw.strip())
        self.term_ids.add(tid)
        return Term(tid, label or raw.strip())

    def _separable(self, clause: Clause) -> Node:
        """opzeggen/op/[zeg, zegt, ...] -> opzeggen, opzegt, "op te zeggen", "zegt ... op"."""
        verb = fold_phrase(clause.separable or "")
        particle = fold_phrase(clause.particle or "")
        forms = [fold_phrase(f) for f in clause.forms or []]
        label = clause.separable or verb
        rest = verb[len(particle) :]
        joined = [
            self._term(w, "word", False, label)
            for w in dict.fromkeys([verb] + [particle + f for f in forms])
        ]
        te_form = self._term(f"{particle} te {rest}", "word", False, label)
        split = Near(
            [
                AnyOf([self._term(f, "word", False, label) for f in forms]),
                self._term(particle, "word", False, label),
            ],
            clause.within or 8,
            sentence=True,
            ordered=True,
            label=label,
        )
        return AnyOf([*joined, te_form, split])
