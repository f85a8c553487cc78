"""Precision, recall and F1 per topic on the labelled set.

    .venv/bin/python benchmarks/relevance.py --split tune
    .venv/bin/python benchmarks/relevance.py --split holdout
    .venv/bin/python benchmarks/relevance.py --split tune --errors   # explain every mistake

Tune config/topics.yaml on the `tune` split only; `holdout` is the judge.
`--errors` refuses to show holdout articles so that they stay unseen.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from newswatch.relevance import Classifier, load_topics
from newswatch.relevance.evaluation import evaluate, load_labelled

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["tune", "holdout", "all"], default="tune")
    parser.add_argument("--topics", type=Path, default=ROOT / "config" / "topics.yaml")
    parser.add_argument("--labelled", type=Path, default=ROOT / "tests" / "data" / "labelled.yaml")
    parser.add_argument("--errors", action="store_true", help="explain each mistake (tune only)")
    args = parser.parse_args(argv)

    classifier = Classifier(load_topics(args.topics))
    items = load_labelled(args.labelled, args.split)
    scores, details = evaluate(classifier, items)
    print(f"split={args.split} articles={len(items)} topics={args.topics}")
    print(f"{'topic':36} {'P':>6} {'R':>6} {'F1':>6}   tp  fp  fn  tn")
    for topic, s in scores.items():
        print(
            f"{topic:36} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f}  "
            f"{s.tp:3} {s.fp:3} {s.fn:3} {s.tn:3}"
        )
    if args.errors:
        if args.split != "tune":
            print("--errors only explains the tune split; holdout articles stay unseen")
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
