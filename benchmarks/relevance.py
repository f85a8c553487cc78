"""Precision, recall and F1 per topic on a labelled set.

    .venv/bin/python benchmarks/relevance.py                       # tests/data/labelled.yaml, all
    .venv/bin/python benchmarks/relevance.py --errors              # explain every mistake
    .venv/bin/python benchmarks/relevance.py --file tests/data/labelled-fresh.yaml --errors
    .venv/bin/python benchmarks/relevance.py --file tests/data/labelled-round3.yaml --errors
    .venv/bin/python benchmarks/relevance.py --file tests/data/labelled-judge.yaml   # the judge

How the sets are used (docs/benchmarks-relevance.md): config/topics.yaml is
tuned on the files in TUNING_FILES: tests/data/labelled.yaml,
tests/data/labelled-fresh.yaml (judged the second round once),
tests/data/labelled-round3.yaml (judged the third round once, as
labelled-judge.yaml) and tests/data/labelled-round4.yaml (written for the
fourth round, with positives phrased without the obvious keywords and hard
negatives). The judge, tests/data/labelled-judge.yaml, was written
independently by someone else and added once the rules were final;
`--errors` refuses to explain mistakes on any file but the tuning sets, so
that judging texts stay unread by whoever tunes the rules.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from newswatch.relevance import Classifier, load_topics
from newswatch.relevance.evaluation import Scores, evaluate, load_labelled

ROOT = Path(__file__).resolve().parent.parent
TUNING = ROOT / "tests" / "data" / "labelled.yaml"
# Files whose mistakes may be read: a judging set is never one of them.
TUNING_FILES = (
    TUNING,
    ROOT / "tests" / "data" / "labelled-fresh.yaml",
    ROOT / "tests" / "data" / "labelled-round3.yaml",
    ROOT / "tests" / "data" / "labelled-round4.yaml",
)


def report(scores: dict[str, Scores]) -> None:
    print(f"{'topic':36} {'P':>6} {'R':>6} {'F1':>6}   tp  fp  fn  tn")
    for topic, s in scores.items():
        print(
            f"{topic:36} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f}  "
            f"{s.tp:3} {s.fp:3} {s.fn:3} {s.tn:3}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", "--labelled", dest="file", type=Path, default=TUNING)
    parser.add_argument(
        "--split",
        choices=["tune", "holdout", "all"],
        default="all",
        help="only the articles of this split (labelled.yaml keeps its old split labels)",
    )
    parser.add_argument("--topics", type=Path, default=ROOT / "config" / "topics.yaml")
    parser.add_argument("--errors", action="store_true", help="explain each mistake (tuning sets)")
    args = parser.parse_args(argv)

    classifier = Classifier(load_topics(args.topics))
    items = load_labelled(args.file, args.split)
    scores, details = evaluate(classifier, items)
    print(f"file={args.file} split={args.split} articles={len(items)} topics={args.topics}")
    report(scores)
    if args.errors:
        if args.file.resolve() not in {path.resolve() for path in TUNING_FILES}:
            print("--errors only explains the tuning sets; judging texts stay unread")
            return 2
        by_id = {item.id: item for item in items}
        for topic, s in scores.items():
            for kind, ids in (("FALSE POSITIVE", s.false_positives), ("MISSED", s.false_negatives)):
                for item_id in ids:
                    item = by_id[item_id]
                    print(f"\n=== {kind} {topic}: {item_id} ({item.kind}) {item.title}")
                    for match in details[item_id]:
                        if match.topic == topic:
                            print(match.explain())
    return 0


if __name__ == "__main__":
    sys.exit(main())
