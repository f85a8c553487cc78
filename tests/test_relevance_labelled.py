"""Precision and recall of the default topics on the labelled sets.

config/topics.yaml is tuned on tests/data/labelled.yaml (all 96 articles: its
old tune/holdout split was looked at too often to stay a judge). The judge is
tests/data/labelled-fresh.yaml, written independently by someone who did not
see the rules; see docs/benchmarks-relevance.md for the figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from newswatch.relevance import Classifier, load_topics
from newswatch.relevance.evaluation import Scores, evaluate, load_labelled

ROOT = Path(__file__).resolve().parent.parent
TUNING = ROOT / "tests" / "data" / "labelled.yaml"
FRESH = ROOT / "tests" / "data" / "labelled-fresh.yaml"
IGS = "intergemeentelijke-samenwerking"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_topics(ROOT / "config" / "topics.yaml"))


def scores(classifier: Classifier, path: Path, minimum: int) -> dict[str, Scores]:
    items = load_labelled(path, "all")
    assert len(items) >= minimum, f"{path.name} is unexpectedly small"
    return evaluate(classifier, items)[0]


def test_tuning_set_is_fully_right(classifier: Classifier) -> None:
    for topic, s in scores(classifier, TUNING, 90).items():
        assert s.false_positives == [], topic
        assert s.false_negatives == [], topic


# Measured once, after tuning was finished (docs/benchmarks-relevance.md):
# precision 23/24 = 0.958, recall 23/26 = 0.885 on the fresh set. Recall misses
# the goal, and the fresh set must not be tuned on, so the goal stays an
# expected failure; `strict` makes it fail loudly once it is reached.
@pytest.mark.xfail(strict=True, reason="fresh set: P 0.958, R 0.885 (goal 0.9 each)")
def test_fresh_set_reaches_the_goal(classifier: Classifier) -> None:
    s = scores(classifier, FRESH, 60)[IGS]
    assert s.precision >= 0.9, s.precision
    assert s.recall >= 0.9, s.recall


def test_fresh_set_does_not_regress(classifier: Classifier) -> None:
    # Only aggregate figures, so that a failure does not show the judging texts.
    s = scores(classifier, FRESH, 60)[IGS]
    assert s.precision >= 0.9, s.precision
    assert s.recall >= 0.85, s.recall
