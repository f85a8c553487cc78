"""The classifier: topics.yaml compiled once, then one scan per article.

classifier = Classifier(load_topics(Path("config/topics.yaml")))
for match in classifier.classify(title, text, url=url):
    print(match.explain())
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from newswatch.relevance.article import FIELD_NAMES, TAIL_FOLDED, TITLE, Article
from newswatch.relevance.bound import Bound, compile_bound, compile_flags
from newswatch.relevance.explain import Hit, RuleScore, TopicMatch, snippet
from newswatch.relevance.gazetteer import accept_place, load_gazetteer
from newswatch.relevance.matcher import Matcher, Target, case_signature
from newswatch.relevance.nodes import Compiler, Context, Node, Support, cost
from newswatch.relevance.normalize import fold
from newswatch.relevance.rules import FieldWeights, Topic, TopicsFile
from newswatch.relevance.similarity import ExampleSet, tokens

ALL_FIELDS = frozenset(range(3))


@dataclass(slots=True)
class _Rule:
    name: str
    node: Node
    weight: float
    max: float | None
    fields: frozenset[int] | None
    bound: float = 0.0  # the most this rule can add
    cost: int = 0


@dataclass(slots=True)
class _Exclusion:
    name: str
    node: Node
    penalty: float
    veto: bool
    unless: Node | None
    fields: frozenset[int] | None = None
    unless_first: bool = False


@dataclass(slots=True)
class _Topic:
    topic: Topic
    rules: list[_Rule]
    exclusions: list[_Exclusion]
    require: Node | None
    examples: ExampleSet
    bound: Bound  # (P, pb, T, U) -> the most the rules that may hold can add
    by_cost: list[_Rule]  # the rules, cheapest first (ties in file order)
    may_hold: Callable[..., tuple[bool, ...]]  # (P, pb, T, U) -> per rule of by_cost


class Classifier:
    """Compiles ONE Aho-Corasick automaton for all terms of all topics."""

    def __init__(
        self,
        topics: TopicsFile,
        *,
        example_text: Callable[[str], str | None] | None = None,
        background: Iterable[str] = (),
    ) -> None:
        """`example_text(url)` fetches stored examples given by URL; `background`
        texts (e.g. recent stored articles) give the similarity score its IDF."""
        self.topics = topics
        self.matcher = Matcher()
        self.matcher.add_gazetteer(load_gazetteer())
        for word in TAIL_FOLDED:
            self.matcher.add_marker(word)
        background_tokens = [tokens(fold(t).text) for t in background]
        self._topics = [self._compile(t, example_text, background_tokens) for t in topics.topics]
        self.matcher.build()

    @property
    def topic_ids(self) -> list[str]:
        return [t.topic.id for t in self._topics]

    # --- compiling -------------------------------------------------------------------

    def _compile(
        self,
        topic: Topic,
        example_text: Callable[[str], str | None] | None,
        background: list[list[str]],
    ) -> _Topic:
        comp = Compiler(self.matcher)
        rules = [
            _Rule(
                r.name or _describe(r, i),
                comp.compile(r),
                r.weight,
                r.max,
                frozenset(FIELD_NAMES.index(f) for f in r.in_) if r.in_ else None,
            )
            for i, r in enumerate(topic.rules)
        ]
        for rule in rules:
            fields = rule.fields if rule.fields is not None else ALL_FIELDS
            best = max(topic.fields.of(FIELD_NAMES[f]) for f in fields)
            rule.bound = rule.max if rule.max is not None else rule.weight * max(best, 1.0)
            rule.cost = cost(rule.node)
        exclusions = [
            _Exclusion(
                x.name or _describe(x, i),
                comp.compile(x),
                x.penalty or 0.0,
                x.veto,
                comp.compile(x.unless) if x.unless else None,
                frozenset(FIELD_NAMES.index(f) for f in x.in_) if x.in_ else None,
            )
            for i, x in enumerate(topic.exclude)
        ]
        for excl in exclusions:
            excl.unless_first = excl.unless is not None and cost(excl.unless) < cost(excl.node)
        require = comp.compile(topic.require) if topic.require else None
        texts = [
            ex.text or (example_text(ex.url) if example_text and ex.url else None)
            for ex in topic.examples
        ]
        examples = ExampleSet([tokens(fold(t).text) for t in texts if t], background)
        bound = compile_bound([(rule.node.condition(), rule.bound) for rule in rules])
        by_cost = sorted(rules, key=lambda r: r.cost)
        may_hold = compile_flags([rule.node.condition() for rule in by_cost])
        return _Topic(topic, rules, exclusions, require, examples, bound, by_cost, may_hold)

    # --- classifying -----------------------------------------------------------------

    def classify(
        self,
        title: str,
        text: str,
        *,
        url: str | None = None,
        topic: str | None = None,
        include_unmatched: bool = False,
    ) -> list[TopicMatch]:
        """The topics this article matches, best first, each with its explanation.

        `include_unmatched` also returns topics that scored above zero but stayed
        under their threshold (for `newswatch explain` and `rules test`).
        """
        topics = self._topics
        if topic is not None:
            topics = [t for t in topics if t.topic.id == topic]
            if not topics:
                raise ValueError(f"unknown topic {topic!r}; known: {', '.join(self.topic_ids)}")
        article = Article.prepare(title, text, url)
        ctx = self._context(article)
        if not ctx.present.isdisjoint(self.matcher.marker_targets):
            trimmed = article.without_tail()
            if trimmed is not article:
                article, ctx = trimmed, self._context(trimmed)
        out = []
        for compiled in topics:
            if not include_unmatched and self._bound(compiled, ctx) < compiled.topic.threshold:
                continue  # cannot reach the threshold: most articles stop here
            match = self._score(compiled, ctx, include_unmatched)
            if match is not None and (match.matched or match.score > 0):
                out.append(match)
        return sorted(out, key=lambda m: -m.score)

    @staticmethod
    def _bound(compiled: _Topic, ctx: Context) -> float:
        """An upper bound of the score from which terms occur at all (no evaluation)."""
        return compiled.bound(*ctx.sig)

    def _context(self, article: Article) -> Context:
        matcher = self.matcher
        scan = matcher.scan(article.padded)
        present = scan.present
        targets = matcher.targets
        place_key = matcher.place_key
        place_keys = {tid: place_key[tid] for tid in matcher.place_targets & present}

        def spans(tid: int) -> list[tuple[int, int]]:
            found = scan.spans_of(tid)
            if tid in matcher.case_targets:
                found = [sp for sp in found if self._case_ok(article, targets[tid], sp)]
            return found

        def coops() -> list[tuple[Support, str]]:
            return [
                ((s, e, tid, targets[tid].label), targets[tid].coops[0].kind)
                for tid in sorted(matcher.coop_targets & present)
                for s, e in ctx.spans(tid)
            ]

        ctx = Context(
            article,
            present,
            load_spans=spans,
            load_places=lambda: self._places(
                article, scan.spans_of_many(frozenset(place_keys)), place_keys.keys()
            ),
            load_coops=coops,
            place_keys=place_keys,
            place_bound=len(set(place_keys.values())),
        )
        return ctx

    @staticmethod
    def _case_ok(article: Article, target: Target, span: tuple[int, int]) -> bool:
        start, end = article.span(*span)
        sig = case_signature(article.orig[start:end])
        return sig.startswith(target.case_sig or "")

    def _places(
        self, article: Article, spans: dict[int, list[tuple[int, int]]], tids: Iterable[int]
    ) -> list[Support]:
        """Accepted municipality mentions; a name inside a longer name is dropped
        ("Bergen" in "Bergen op Zoom", "Cuijk" in "Land van Cuijk")."""
        targets = self.matcher.targets
        orig, identity = article.orig, article.folded.offsets is None
        found: list[Support] = []
        for tid in tids:
            place, label = targets[tid].places[0], targets[tid].label
            for s, e in spans.get(tid, ()):
                o_start, o_end = (s, e) if identity else article.span(s, e)
                if not place.needs and orig[o_start].isupper():
                    # The common case, inlined: a capitalised, unambiguous name.
                    if orig.find("rovincie", max(0, o_start - 11), o_start) == -1:
                        found.append((s, e, tid, label))
                elif accept_place(place, orig, o_start, o_end, article.field_start(o_start)):
                    found.append((s, e, tid, label))
        found.sort(key=lambda h: (h[0], -h[1]))
        kept: list[Support] = []
        for hit in found:
            if kept and hit[0] >= kept[-1][0] and hit[1] <= kept[-1][1]:
                continue
            kept.append(hit)
        return kept

    def _score(self, compiled: _Topic, ctx: Context, explain_all: bool) -> TopicMatch | None:
        topic = compiled.topic
        sim_cache: list[float | None] = []

        def similarity() -> float | None:
            if not sim_cache:
                examples = compiled.examples
                counts = ctx.article.token_counts()
                sim_cache.append(examples.score_counts(counts) if examples else None)
            return sim_cache[0]

        ctx.similarity = similarity
        result = self._rule_scores(compiled, ctx, topic.fields, explain_all)
        if result is None:
            return None  # exclusions only subtract: no need to look further
        scores, supports = result
        penalties, vetoed = self._exclusions(compiled, ctx)
        total = round(sum(s.points for s in scores) + sum(p.points for p in penalties), 2)
        required = compiled.require is None or ctx.eval(compiled.require) is not None
        matched = required and not vetoed and total >= topic.threshold
        if not (matched or explain_all):
            return None
        rules = scores + penalties
        return self._explain(compiled, ctx, total, matched, rules, supports, similarity())

    def _rule_scores(
        self, compiled: _Topic, ctx: Context, weights: FieldWeights, explain_all: bool
    ) -> tuple[list[RuleScore], list[Support]] | None:
        """Points of the rules that hold, cheapest rules first. Returns None as soon
        as the threshold is out of reach (unless every rule must be explained)."""
        flags = compiled.may_hold(*ctx.sig)
        candidates = [rule for rule, ok in zip(compiled.by_cost, flags, strict=True) if ok]
        reachable = sum(rule.bound for rule in candidates)
        threshold = compiled.topic.threshold
        got_points: dict[int, RuleScore] = {}
        supports: list[Support] = []
        for rule in candidates:
            if not explain_all and reachable < threshold:
                return None
            ctx.fields = rule.fields
            got = ctx.eval(rule.node)
            ctx.fields = None
            points = 0.0 if got is None else _points(rule, got, ctx, weights)
            reachable -= rule.bound - points
            if got is not None:
                got_points[id(rule)] = RuleScore(rule.name, points)
                supports += got
        if not explain_all and reachable < threshold:
            return None
        # Report in the order of the file, which is the order operators think in.
        return [got_points[id(r)] for r in compiled.rules if id(r) in got_points], supports

    @staticmethod
    def _exclusions(compiled: _Topic, ctx: Context) -> tuple[list[RuleScore], bool]:
        fired: list[RuleScore] = []
        vetoed = False
        for excl in compiled.exclusions:
            # Both the test and `unless` decide; the cheaper one is tried first
            # ("a company near a cooperation word" is a costly proximity test,
            # "a cooperation form is named" a cheap one).
            if excl.unless_first and ctx.eval(excl.unless) is not None:  # type: ignore[arg-type]
                continue
            ctx.fields = excl.fields
            hit = ctx.eval(excl.node)
            ctx.fields = None
            if hit is None:
                continue
            if excl.unless is not None and ctx.eval(excl.unless) is not None:
                continue
            vetoed = vetoed or excl.veto
            points = -excl.penalty if excl.penalty else 0.0  # a veto has no points
            fired.append(RuleScore(excl.name + (" (veto)" if excl.veto else ""), points))
        return fired, vetoed

    def _explain(
        self,
        compiled: _Topic,
        ctx: Context,
        score: float,
        matched: bool,
        rules: list[RuleScore],
        supports: list[Support],
        similarity: float | None,
    ) -> TopicMatch:
        article = ctx.article
        hits: dict[tuple[int, int], Hit] = {}
        places: list[str] = []
        labels: list[str] = []
        reach = -1  # furthest end of the passages kept so far
        place_targets, orig = self.matcher.place_targets, article.orig
        folded, identity = article.folded.text, article.folded.offsets is None
        size, text_start = len(folded), article.text_start
        lead, body = article.bounds
        # Ties (one particle shared by two split verbs) are broken by label, so
        # that the explanation does not depend on the order of a set.
        for s, e, tid, label in sorted(set(supports), key=lambda h: (h[0], -h[1], h[3], h[2])):
            if tid in place_targets:
                if label not in places:
                    places.append(label)
            else:
                labels.append(label)
            if (s and folded[s - 1] != " ") or (e < size and folded[e] != " "):
                s, e = article.whole_words(s, e)
            if e <= reach:
                continue  # "samenwerk*" inside "*samenwerking*": show the passage once
            reach = e
            o_start, o_end = (s, e) if identity else article.span(s, e)
            field = (s >= lead) + (s >= body)  # Article.field_of, inlined
            base = 0 if field == TITLE else text_start
            text = orig[o_start:o_end]
            hits[(s, e)] = Hit(label, FIELD_NAMES[field], o_start - base, o_end - base, text)
        terms = list(dict.fromkeys(labels))
        return TopicMatch(
            topic=compiled.topic.id,
            score=score,
            threshold=compiled.topic.threshold,
            terms=terms,
            hits=list(hits.values()),
            snippet=_snippet(article, list(hits.values())),
            similarity=similarity,
            matched=matched,
            rules=rules,
            municipalities=places,
            excluded_by=[r.name for r in rules if r.points < 0 or r.name.endswith("(veto)")],
        )


def _points(rule: _Rule, got: list[Support], ctx: Context, weights: FieldWeights) -> float:
    """weight x the best field weight; with `max`, every distinct hit counts up to max."""
    by_field = (float(weights.title), float(weights.lead), float(weights.body))
    lead, body = ctx.article.bounds
    # Places support a rule but are not what it counts; nor is the particle of a
    # split verb (tid -1), which belongs to the verb form before it.
    place_keys = ctx.place_keys
    anchors = [h for h in got if h[2] not in place_keys and h[2] != -1] or got
    # The field of each hit, inlined (see Article.field_of): a rule with `max`
    # may count dozens of hits.
    factors = [by_field[(h[0] >= lead) + (h[0] >= body)] for h in anchors]
    if not factors:
        return rule.weight  # a test without hits (url, similarity, none)
    if rule.max is None:
        return round(rule.weight * max(factors), 2)
    distinct = {}
    for h, f in zip(anchors, factors, strict=True):
        distinct[(h[0], h[1])] = max(f, distinct.get((h[0], h[1]), 0.0))
    return round(min(rule.max, rule.weight * sum(distinct.values())), 2)


def _snippet(article: Article, hits: list[Hit]) -> str:
    """Prefer a passage from the text; fall back to the title."""
    in_text = [(h.start, h.end) for h in hits if h.field != "title"]
    if in_text:
        return snippet(article.text, in_text)
    return snippet(article.title, [(h.start, h.end) for h in hits])


def _describe(clause: object, index: int) -> str:
    """A readable name for an unnamed rule: its first few terms."""
    words: list[str] = []
    for key in ("term", "separable", "any", "all", "near"):
        value = getattr(clause, key, None)
        if isinstance(value, str):
            words.append(value)
        elif isinstance(value, list):
            words += [c.term or c.separable or "…" for c in value[:3]]
    for key in ("municipalities", "similarity"):
        value = getattr(clause, key, None)
        if value is not None:
            words.append(f"{key} {value}")
    return ", ".join(words) if words else f"rule {index + 1}"
