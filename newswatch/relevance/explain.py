"""What a match says about itself: the "why you got this" of emails and the CLI."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any, NamedTuple

OPEN, CLOSE = "«", "»"


class Hit(NamedTuple):
    """One matched passage. `start`/`end` index the title or the text, per `field`.

    A named tuple rather than a frozen dataclass: a matched article has dozens
    of passages, and a tuple is built in a third of the time."""

    term: str
    field: str
    start: int
    end: int
    text: str


class RuleScore(NamedTuple):
    """A rule (or exclusion, with negative points) that contributed to the score."""

    name: str
    points: float


@dataclass(slots=True)
class TopicMatch:
    """A topic's verdict on one article, with everything needed to explain it."""

    topic: str
    score: float
    threshold: float
    terms: list[str]
    hits: list[Hit]
    snippet: str
    similarity: float | None = None
    matched: bool = True
    rules: list[RuleScore] = field(default_factory=list)
    municipalities: list[str] = field(default_factory=list)
    excluded_by: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, for storage and `newswatch classify`."""
        return {
            "topic": self.topic,
            "score": self.score,
            "threshold": self.threshold,
            "matched": self.matched,
            "terms": list(self.terms),
            "municipalities": list(self.municipalities),
            "rules": [rule._asdict() for rule in self.rules],
            "excluded_by": list(self.excluded_by),
            "similarity": self.similarity,
            "snippet": self.snippet,
            "hits": [hit._asdict() for hit in self.hits],
        }

    def explain(self) -> str:
        """A few plain-text lines for an email or a terminal."""
        lines = [f"{self.topic}: score {self.score:g} (threshold {self.threshold:g})"]
        if self.terms:
            lines.append("matched: " + ", ".join(self.terms))
        if self.municipalities:
            lines.append("municipalities: " + ", ".join(self.municipalities))
        for rule in self.rules:
            lines.append(f"  {rule.points:+g}  {rule.name}")
        if self.similarity is not None:
            lines.append(f"similarity to examples: {self.similarity:.2f}")
        if self.snippet:
            lines.append(f"“{self.snippet}”")
        return "\n".join(lines)


_WS = re.compile(r"\s+")


def snippet(text: str, spans: list[tuple[int, int]], width: int = 240) -> str:
    """A passage of `text` around the densest group of spans, spans marked «like this»."""
    if not spans:
        return _WS.sub(" ", text[:width]).strip()
    spans = sorted(set(spans))
    lead_in = width // 4
    starts = [s for s, _ in spans]

    def density(span: tuple[int, int]) -> int:
        lo = span[0] - lead_in
        return bisect_right(starts, lo + width) - bisect_left(starts, lo)

    anchor = max(spans, key=density)
    start = max(0, anchor[0] - lead_in)
    end = min(len(text), start + width)
    # Widen to whole words so the snippet does not begin or end mid-word.
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    out, pos = [], start
    for s, e in spans:
        if s >= pos and e <= end:
            out += [text[pos:s], OPEN, text[s:e], CLOSE]
            pos = e
    out.append(text[pos:end])
    body = _WS.sub(" ", "".join(out)).strip()
    return ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")
