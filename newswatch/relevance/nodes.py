"""Clauses compiled into small evaluator objects.

`evaluate(ctx)` returns the hits that support the clause, `[]` when it holds
without any hit (a `none` group, a URL test), or None when it does not hold.
A support is `(start, end, target_id, label)` in folded coordinates; the label
is the term as the operator wrote it, so explanations read like the config.
"""

from __future__ import annotations

import json
import operator
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import Protocol
from urllib.parse import urlsplit

from newswatch.relevance.article import Article
from newswatch.relevance.bound import Cond, Maybe, compile_condition
from newswatch.relevance.matcher import Matcher
from newswatch.relevance.normalize import fold_phrase
from newswatch.relevance.rules import Clause, parse_comparison, parse_term

Support = tuple[int, int, int, str]
_CLAUSE_KEYS = set(Clause.model_fields)

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}


@dataclass(slots=True)
class Context:
    """Everything the evaluators need about one article, plus a memo of results.

    Positions of hits, place-name context checks and cooperation hits cost
    time, so they are worked out on first use, per target; `sig` (which
    targets occur at all, how many municipalities at most, the padded text,
    whether there is a URL) is enough to rule most articles out (bound.py).
    """

    article: Article
    present: frozenset[int]
    load_spans: Callable[[int], list[tuple[int, int]]]
    load_places: Callable[[], list[Support]]
    load_coops: Callable[[], list[tuple[Support, str]]]
    place_keys: dict[int, str]  # place target id -> what "municipalities" counts
    place_bound: int
    similarity: Callable[[], float | None] = lambda: None
    fields: frozenset[int] | None = None
    memo: dict[tuple[int, frozenset[int] | None], list[Support] | None] = field(
        default_factory=dict
    )
    sig: tuple[frozenset[int], int, str, bool] = (frozenset(), 0, "", False)
    _spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    _places: list[Support] | None = None
    _coops: list[tuple[Support, str]] | None = None

    def __post_init__(self) -> None:
        self.sig = (self.present, self.place_bound, self.article.padded, bool(self.article.url))

    def spans(self, tid: int) -> list[tuple[int, int]]:
        """Folded spans of one target (after its case check), worked out on first use."""
        found = self._spans.get(tid)
        if found is None:
            found = self._spans[tid] = self.load_spans(tid)
        return found

    @property
    def places(self) -> list[Support]:
        if self._places is None:
            self._places = self.load_places()
        return self._places

    @property
    def coops(self) -> list[tuple[Support, str]]:
        if self._coops is None:
            self._coops = self.load_coops()
        return self._coops

    def allowed(self, start: int) -> bool:
        return self.fields is None or self.article.field_of(start) in self.fields

    def eval(self, node: Node) -> list[Support] | None:
        """Evaluate `node` once per field filter: the shared lists of topics.yaml
        (*together, *strong, ...) appear in several rules and exclusions."""
        key = (id(node), self.fields)
        if key not in self.memo:
            self.memo[key] = node.evaluate(self)
        return self.memo[key]


def _always(*_: object) -> bool:
    return True


class Node(Protocol):
    # The compiled `condition()`: False only if the clause surely does not hold.
    maybe: Maybe

    def evaluate(self, ctx: Context) -> list[Support] | None: ...

    def condition(self) -> Cond:
        """Cheap and conservative, from target presence only (see bound.py)."""
        ...


@dataclass(slots=True)
class Term:
    tid: int
    label: str
    maybe: Maybe = _always

    def evaluate(self, ctx: Context) -> list[Support] | None:
        spans = ctx.spans(self.tid)
        if not spans:
            return None
        tid, label = self.tid, self.label
        fields = ctx.fields
        if fields is None:
            return [(s, e, tid, label) for s, e in spans]
        lead, body = ctx.article.bounds  # the field test of Context.allowed, inlined
        out = [(s, e, tid, label) for s, e in spans if (s >= lead) + (s >= body) in fields]
        return out or None

    def condition(self) -> Cond:
        return ("any", frozenset([self.tid]))


@dataclass(slots=True)
class AnyOf:
    children: list[Node]
    term_ids: frozenset[int] = frozenset()
    terms: list[Term] = field(default_factory=list)
    others: list[Node] = field(default_factory=list)
    maybe: Maybe = _always

    def __post_init__(self) -> None:
        self.terms = [c for c in self.children if isinstance(c, Term)]
        self.term_ids = frozenset(c.tid for c in self.terms)
        self.others = [c for c in self.children if not isinstance(c, Term)]

    def evaluate(self, ctx: Context) -> list[Support] | None:
        if not self.maybe(*ctx.sig):
            return None
        out: list[Support] | None = None
        present = ctx.present
        # Terms are cheap: evaluated directly, only when they occur at all.
        # Results are gathered with `extend` into a list of our own (a child's
        # list may be memoised and shared, so it is never extended in place).
        for term in self.terms:
            if term.tid in present:
                got = term.evaluate(ctx)
                if got is not None:
                    if out is None:
                        out = got  # a fresh list from Term.evaluate
                    else:
                        out.extend(got)
        for child in self.others:
            got = ctx.eval(child)
            if got is not None:
                if out is None:
                    out = list(got)
                else:
                    out.extend(got)
        return out

    def condition(self) -> Cond:
        return ("or", tuple(c.condition() for c in self.children))


@dataclass(slots=True)
class AllOf:
    children: list[Node]
    maybe: Maybe = _always

    def evaluate(self, ctx: Context) -> list[Support] | None:
        if not self.maybe(*ctx.sig):
            return None
        out: list[Support] = []
        for child in self.children:
            got = ctx.eval(child)
            if got is None:
                return None
            out += got
        return out

    def condition(self) -> Cond:
        return ("and", tuple(c.condition() for c in self.children))


@dataclass(slots=True)
class NoneOf:
    children: list[Node]
    maybe: Maybe = _always

    def evaluate(self, ctx: Context) -> list[Support] | None:
        return None if any(ctx.eval(c) is not None for c in self.children) else []

    def condition(self) -> Cond:
        return True


# A word of Dutch news text is rarely longer than this; used to skip counting
# words between hits that are obviously too far apart.
_MAX_WORD = 40
# Nor is a sentence longer than this many characters.
_MAX_SENTENCE = 600


def words_between(text: str, start: int, stop: int, limit: int) -> int:
    """The number of words in text[start:stop] of a folded text, exact up to
    `limit`; any number above `limit` when there are more.

    Most pairs tried are far apart ("zegt" and the next "op" two sentences on),
    so the obviously-too-many case is settled with two C-level counts instead
    of splitting the passage into a list of words. A run of k spaces adds
    k mod 2 to `spaces - 2 * doubles`, and there is at most one space run more
    than there are words, so words >= spaces - 2 * doubles - 1.
    """
    spaces = text.count(" ", start, stop)
    if spaces > limit and spaces - 2 * text.count("  ", start, stop) - 1 > limit:
        return limit + 1
    return len(text[start:stop].split())


@dataclass(slots=True)
class Near:
    """All children within `within` words of the first (and in one sentence, if asked)."""

    children: list[Node]
    within: int
    sentence: bool
    ordered: bool
    label: str | None = None
    maybe: Maybe = _always

    def condition(self) -> Cond:
        return ("and", tuple(c.condition() for c in self.children))

    def evaluate(self, ctx: Context) -> list[Support] | None:
        if not self.maybe(*ctx.sig):
            return None
        lists = [ctx.eval(child) for child in self.children]
        if any(not hits for hits in lists):
            return None
        rest = [sorted(hits) for hits in lists[1:]]  # type: ignore[type-var]
        starts = [[hit[0] for hit in hits] for hits in rest]
        out: list[Support] = []
        for anchor in lists[0]:  # type: ignore[union-attr]
            chosen, prev = [anchor], anchor
            for hits, hit_starts in zip(rest, starts, strict=True):
                best = self._nearest(ctx, anchor, prev, hits, hit_starts)
                if best is None:
                    break
                chosen.append(best)
                prev = best
            else:
                out += chosen
        if self.label:
            out = [(s, e, t, self.label) for s, e, t, _ in out]
        return out or None

    def _nearest(
        self,
        ctx: Context,
        anchor: Support,
        prev: Support,
        hits: list[Support],
        starts: list[int],
    ) -> Support | None:
        """The hit closest to `anchor` that may pair with it, or None.

        Walks outwards from the anchor in both directions. In each direction the
        first hit that is too far away, or in another sentence, ends the walk:
        every hit beyond it is further away, and across the same sentence break.
        """
        best, best_gap = None, self.within + 1
        pivot = bisect_left(starts, anchor[0])
        after = range(pivot, len(hits))
        before = range(pivot - 1, -1, -1) if not self.ordered else range(0)
        for indices in (after, before):
            for i in indices:
                hit = hits[i]
                if self.ordered and hit[0] < prev[1]:
                    continue
                if anchor[0] <= hit[0] < anchor[1] or hit[0] <= anchor[0] < hit[1]:
                    continue  # overlapping spans are the same words
                gap = self._gap(ctx, anchor, hit)
                if gap is not None and gap < best_gap:
                    best, best_gap = hit, gap
                break
        return best

    def _gap(self, ctx: Context, a: Support, b: Support) -> int | None:
        """Words between a and b, or None when they are too far apart to pair."""
        first, second = (a, b) if a[0] <= b[0] else (b, a)
        chars = second[0] - first[1]
        if chars > (self.within + 1) * _MAX_WORD or (self.sentence and chars > _MAX_SENTENCE):
            return None
        article = ctx.article
        # Words are counted before the sentence is checked: counting is cheaper
        # than the search for a sentence break, and both must pass.
        within, text = self.within, article.folded.text
        gap = 0 if within > 1000 else words_between(text, first[1], second[0], within)
        if gap > within:
            return None
        if self.sentence and not article.same_sentence(first[0], second[0]):
            return None
        return gap


@dataclass(slots=True)
class SplitVerb:
    """A separable verb split over its clause: "zegt de overeenkomst op".

    The finite forms come from the automaton. The particle is a very common word
    ("op", "uit"), so rather than scanning for it everywhere it is looked up
    after each verb form, up to the end of the sentence. In the padded folded
    text every non-letter is a space, so " op " found with str.find is exactly
    the particle as a word of its own (a C loop; "zegt" and "op" are in most
    news articles, so every article pays for this search).
    """

    forms: Node
    particle: str
    within: int
    label: str
    key: str = field(init=False)
    maybe: Maybe = _always

    def __post_init__(self) -> None:
        self.key = f" {self.particle} "

    def condition(self) -> Cond:
        return ("and", (self.forms.condition(), ("text", self.key)))

    def evaluate(self, ctx: Context) -> list[Support] | None:
        hits = ctx.eval(self.forms)
        if not hits:
            return None
        article, out = ctx.article, []
        text, padded, key = article.folded.text, article.padded, self.key
        size = len(self.particle)
        reach = (self.within + 1) * _MAX_WORD
        for start, end, tid, _ in hits:
            # padded[i] is text[i - 1]: the key's leading space sits at padded
            # index p, so the particle starts at folded position p.
            at = padded.find(key, end + 1, end + reach + 2)
            if at == -1 or not ctx.allowed(at):
                continue
            if words_between(text, end, at, self.within) > self.within:
                continue
            if article.same_sentence(start, at):
                out += [(start, end, tid, self.label), (at, at + size, -1, self.label)]
        return out or None


@dataclass(slots=True)
class Places:
    """`municipalities: ">= 2"`: distinct municipalities named in the allowed fields."""

    op: str
    count: float
    maybe: Maybe = _always

    def evaluate(self, ctx: Context) -> list[Support] | None:
        fields = ctx.fields
        if fields is None:
            hits = list(ctx.places)
        else:
            # An article names dozens of places: the field test of
            # Article.field_of, inlined.
            lead, body = ctx.article.bounds
            hits = [h for h in ctx.places if (h[0] >= lead) + (h[0] >= body) in fields]
        place_keys = ctx.place_keys
        distinct = {place_keys[h[2]] for h in hits}
        return hits if _OPS[self.op](len(distinct), self.count) else None

    def condition(self) -> Cond:
        return ("places", self.count) if self.op in (">=", ">", "==") else True


@dataclass(slots=True)
class Coops:
    kinds: frozenset[str] | None
    tids: frozenset[int]  # the cooperation targets of these kinds
    maybe: Maybe = _always

    def evaluate(self, ctx: Context) -> list[Support] | None:
        hits = [
            h
            for h, kind in ctx.coops
            if ctx.allowed(h[0]) and (not self.kinds or kind in self.kinds)
        ]
        return hits or None

    def condition(self) -> Cond:
        return ("any", self.tids)


@dataclass(slots=True)
class Url:
    patterns: list[str]
    maybe: Maybe = _always

    def evaluate(self, ctx: Context) -> list[Support] | None:
        url = ctx.article.url
        if not url:
            return None
        host = (urlsplit(url if "//" in url else f"//{url}").hostname or "").lower()
        ok = any(fnmatch(host, p) or fnmatch(url.lower(), p) for p in self.patterns)
        return [] if ok else None

    def condition(self) -> Cond:
        return ("url",)


@dataclass(slots=True)
class Similar:
    op: str
    value: float
    maybe: Maybe = _always

    def evaluate(self, ctx: Context) -> list[Support] | None:
        score = ctx.similarity()
        return [] if score is not None and _OPS[self.op](score, self.value) else None

    def condition(self) -> Cond:
        return True


@dataclass(slots=True)
class Compiler:
    """Turns clauses into nodes, registering every term with the shared matcher."""

    matcher: Matcher
    _cache: dict[str, Node] = field(default_factory=dict)

    def compile(self, clause: Clause) -> Node:
        """One node per distinct clause, so that repeated lists are evaluated once."""
        key = json.dumps(clause.model_dump(include=_CLAUSE_KEYS), sort_keys=True, default=str)
        if key not in self._cache:
            self._cache[key] = _arm(self._compile(clause))
        return self._cache[key]

    def _compile(self, clause: Clause) -> Node:
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
            parts.append(Places(*parse_comparison(clause.municipalities)))
        if clause.cooperations is not None:
            kinds = None if clause.cooperations == "any" else frozenset(clause.cooperations)
            tids = frozenset(
                i
                for i, t in enumerate(self.matcher.targets)
                if t.coops and (kinds is None or t.coops[0].kind in kinds)
            )
            parts.append(Coops(kinds, tids))
        if clause.url is not None:
            parts.append(Url([p.lower() for p in clause.url]))
        if clause.similarity is not None:
            parts.append(Similar(*parse_comparison(clause.similarity)))
        return parts

    def _term(self, raw: str, mode: str | None, case: bool, label: str | None = None) -> Term:
        core, written_mode = parse_term(raw)
        tid = self.matcher.add_term(core, mode or written_mode, case=case, label=raw.strip())
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
        finite = AnyOf([self._term(f, "word", False, label) for f in forms])
        split = SplitVerb(finite, particle, clause.within or 8, label)
        return AnyOf([*joined, te_form, split])


def _arm(node: Node) -> Node:
    """Compile the `maybe` test of a node and of its children that lack one."""
    if node.maybe is _always:
        node.maybe = compile_condition(node.condition())
    for child in getattr(node, "children", []):
        _arm(child)
    if isinstance(node, SplitVerb):
        _arm(node.forms)
    return node


def cost(node: Node) -> int:
    """Rough evaluation cost, to try cheap rules first."""
    # Place names need a context check each, and an article names many places.
    own = {"Near": 4, "SplitVerb": 2, "Places": 6, "Similar": 8}.get(type(node).__name__, 0)
    children = list(getattr(node, "children", []))
    if isinstance(node, SplitVerb):
        children.append(node.forms)
    return own + sum(cost(c) for c in children)
