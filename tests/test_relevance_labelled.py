"""Precision and recall of the default topics on the labelled sets.

config/topics.yaml is tuned on tests/data/labelled.yaml (all 96 articles: its
old tune/holdout split was looked at too often to stay a judge) and on
tests/data/labelled-fresh.yaml (the judge of the second round, used once as
such). The judge is now tests/data/labelled-judge.yaml, written independently
by someone who did not see the rules; see docs/benchmarks-relevance.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from newswatch.relevance import Classifier, load_topics
from newswatch.relevance.evaluation import Scores, evaluate, load_labelled

ROOT = Path(__file__).resolve().parent.parent
TUNING = ROOT / "tests" / "data" / "labelled.yaml"
FRESH = ROOT / "tests" / "data" / "labelled-fresh.yaml"
JUDGE = ROOT / "tests" / "data" / "labelled-judge.yaml"
IGS = "intergemeentelijke-samenwerking"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_topics(ROOT / "config" / "topics.yaml"))


def scores(classifier: Classifier, path: Path, minimum: int) -> dict[str, Scores]:
    items = load_labelled(path, "all")
    assert len(items) >= minimum, f"{path.name} is unexpectedly small"
    return evaluate(classifier, items)[0]


@pytest.mark.parametrize(("path", "minimum"), [(TUNING, 90), (FRESH, 60)], ids=["96", "fresh"])
def test_tuning_sets_are_fully_right(classifier: Classifier, path: Path, minimum: int) -> None:
    # The fresh set judged the second round once (P 0.958, R 0.885); since then
    # it is tuning data too (docs/benchmarks-relevance.md).
    for topic, s in scores(classifier, path, minimum).items():
        assert s.false_positives == [], topic
        assert s.false_negatives == [], topic


# Measured once, after the rules and the speed work of the third round were
# finished (docs/benchmarks-relevance.md): precision 28/28 = 1.000, recall
# 28/32 = 0.875 on the judging set. Recall misses the goal, and the judging set
# must not be tuned on, so the goal stays an expected failure; `strict` makes it
# fail loudly once it is reached.
@pytest.mark.xfail(strict=True, reason="judging set: P 1.000, R 0.875 (goal 0.9 each)")
def test_judging_set_reaches_the_goal(classifier: Classifier) -> None:
    s = scores(classifier, JUDGE, 70)[IGS]
    assert s.precision >= 0.9, s.precision
    assert s.recall >= 0.9, s.recall


def test_judging_set_does_not_regress(classifier: Classifier) -> None:
    # Only aggregate figures, so that a failure does not show the judging texts.
    s = scores(classifier, JUDGE, 70)[IGS]
    assert s.precision >= 0.9, s.precision
    assert s.recall >= 0.85, s.recall
