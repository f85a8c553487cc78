""" "More like this": how close an article is to a topic's example articles.

TF-IDF cosine over folded Dutch tokens, with no model and nothing downloaded.
Dutch compounds defeat whole-word matching, and a stemmer conflates words we
need apart (Snowball maps *gemeente* and *menen* together), so tokens are cut
to their first seven letters: "samenwerking" and "samenwerkingsovereenkomst"
share "samenwe", while "gemeente" ("gemeent") and "gemeenschappelijk"
("gemeens") stay apart. Document frequencies come from the examples plus any
background texts the caller supplies (for instance stored articles); without
background, every token that is not a stop word weighs the same.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

PREFIX = 7

# Function words and newsroom filler that say nothing about a topic.
STOPWORDS = frozenset(
    """
    aan al alle als alsnog ben bij bijvoorbeeld dan dat de deze die dit door een eens en
    er ging had heb hebben heeft het hem hen hier hij hoe hun ik in is je kan komen kon
    kunnen maar meer met mij mijn moet na naar niet nog nu of om onder ons ook op over
    per te tegen toch tot twee uit van veel voor waar want waren was wat we wel werd
    wij wil word worden wordt zal ze zei zeggen zich zij zijn zo zoals zou zullen
    jaar jaren nieuwe nieuws dinsdag maandag woensdag donderdag vrijdag zaterdag zondag
    januari februari maart april mei juni juli augustus september oktober november
    december volgens gaat gaan geen andere eerste later moment
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_WORD = re.compile(r"[a-z][a-z0-9]{2,}")


def tokens(folded: str) -> list[str]:
    """Folded text -> content tokens cut to PREFIX letters."""
    return [w[:PREFIX] for w in _WORD.findall(folded) if w not in STOPWORDS]


# Token prefixes of each folded word seen so far: articles share most of their
# words, so each word is run through the regex once per process rather than
# once per article. Bounded, and simply emptied when full.
_WORD_TOKENS: dict[str, tuple[str, ...]] = {}
_WORD_TOKENS_MAX = 10_000  # about 1.6 MB when full


def _word_tokens(word: str) -> tuple[str, ...]:
    """The token prefixes in one folded word: usually one, none for a stop word
    or a number, two for "b&w"-like words."""
    found = _WORD_TOKENS.get(word)
    if found is None:
        if len(_WORD_TOKENS) >= _WORD_TOKENS_MAX:
            _WORD_TOKENS.clear()
        found = tuple(t[:PREFIX] for t in _WORD.findall(word) if t not in STOPWORDS)
        _WORD_TOKENS[word] = found
    return found


def token_counts(folded: str) -> dict[str, int]:
    """`Counter(tokens(folded))`, in the same order, with each distinct word
    looked at once: an article repeats most of its words.

    A token never spans a space, so the words are counted with `str.split` (a
    C loop) and only the distinct words are cut into tokens. Words come in
    order of first occurrence and tokens in order within a word, so the keys
    keep the order of `tokens` (the similarity sums depend on it).
    """
    out: dict[str, int] = {}
    get, cache = out.get, _WORD_TOKENS
    for word, n in Counter(folded.split()).items():
        found = cache.get(word)
        if found is None:
            found = _word_tokens(word)
        for token in found:
            out[token] = get(token, 0) + n
    return out


Vector = dict[str, float]


def _norm(vector: Vector) -> Vector:
    length = math.sqrt(sum(v * v for v in vector.values()))
    return {k: v / length for k, v in vector.items()} if length else {}


class ExampleSet:
    """The examples of one topic, ready to compare articles against."""

    def __init__(self, example_tokens: list[list[str]], background: Iterable[list[str]] = ()):
        df: Counter[str] = Counter()
        docs = 0
        for toks in [*example_tokens, *background]:
            df.update(set(toks))
            docs += 1
        self._df, self._docs = df, docs
        # Every article asks for the IDF of each of its tokens: look it up.
        self._idfs = {token: self._idf(token) for token in df}
        self._unseen = self._idf("")
        self._examples = [self._vector(toks) for toks in example_tokens if toks]

    def __bool__(self) -> bool:
        return bool(self._examples)

    def _idf(self, token: str) -> float:
        # Smoothed so that a token in every document still counts a little.
        return math.log((1 + self._docs) / (1 + self._df.get(token, 0))) + 1.0

    def _vector(self, toks: list[str]) -> Vector:
        return self._vector_of(Counter(toks))

    def _vector_of(self, counts: Counter[str]) -> Vector:
        idfs, unseen, log = self._idfs, self._unseen, math.log
        return _norm({t: (1 + log(c)) * idfs.get(t, unseen) for t, c in counts.items()})

    def score(self, toks: list[str]) -> float:
        """Highest cosine similarity (0..1) between the article and any example."""
        return self.score_counts(Counter(toks))

    def score_counts(self, counts: Mapping[str, int]) -> float:
        """`score` from the article's token counts (see `token_counts`).

        The same sums as normalising the article's vector and taking the dot
        product with each example, in the same order, but only the shared
        tokens are divided and multiplied (a term with a missing token adds 0.0,
        which leaves a float sum unchanged)."""
        if not self._examples or not counts:
            return 0.0
        idfs, unseen, log = self._idfs, self._unseen, math.log
        weights = {t: (1 + log(c)) * idfs.get(t, unseen) for t, c in counts.items()}
        length = math.sqrt(sum(v * v for v in weights.values()))
        if not length:
            return 0.0
        best = 0.0
        for example in self._examples:
            if len(weights) < len(example):
                total = sum(v / length * example[k] for k, v in weights.items() if k in example)
            else:
                total = sum(v * (weights[k] / length) for k, v in example.items() if k in weights)
            best = max(best, total)
        return round(best, 4)
