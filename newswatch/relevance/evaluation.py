"""Precision and recall of the classifier on a labelled set of articles.

The labelled file is YAML with an `articles:` list of
`{id, title, text, topics: [...], kind, region, split: tune|holdout, url?}`.
Used by `benchmarks/relevance.py` and by the test that guards the default topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from newswatch.relevance.classifier import Classifier
from newswatch.relevance.explain import TopicMatch


@dataclass(frozen=True, slots=True)
class Labelled:
    id: str
    title: str
    text: str
    topics: frozenset[str]
    kind: str = ""
    region: str = ""
    split: str = "tune"
    url: str | None = None


@dataclass(slots=True)
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_labelled(path: Path, split: str = "all") -> list[Labelled]:
    """Articles of one split ('tune', 'holdout' or 'all')."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    items = [
        Labelled(
            id=str(a["id"]),
            title=a.get("title") or "",
            text=a.get("text") or "",
            topics=frozenset(a.get("topics") or []),
            kind=a.get("kind", ""),
            region=a.get("region", ""),
            split=a.get("split", "tune"),
            url=a.get("url"),
        )
        for a in data["articles"]
    ]
    return [a for a in items if split == "all" or a.split == split]


def evaluate(
    classifier: Classifier, items: list[Labelled]
) -> tuple[dict[str, Scores], dict[str, list[TopicMatch]]]:
    """Scores per topic, plus every article's matches (including near misses)."""
    scores = {topic: Scores() for topic in classifier.topic_ids}
    details: dict[str, list[TopicMatch]] = {}
    for item in items:
        matches = classifier.classify(item.title, item.text, url=item.url, include_unmatched=True)
        details[item.id] = matches
        predicted = {m.topic for m in matches if m.matched}
        for topic, s in scores.items():
            truth, guess = topic in item.topics, topic in predicted
            if truth and guess:
                s.tp += 1
            elif guess:
                s.fp += 1
                s.false_positives.append(item.id)
            elif truth:
                s.fn += 1
                s.false_negatives.append(item.id)
            else:
                s.tn += 1
    return scores, details
