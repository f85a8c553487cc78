"""Feed parsing robustness: the ingest path over 2,148 third-party test feeds.

    .venv/bin/python benchmarks/feeds_robustness.py
    .venv/bin/python benchmarks/feeds_robustness.py --only dutch-real-world
    .venv/bin/python benchmarks/feeds_robustness.py --json /tmp/feeds.json

Runs `newswatch.crawler.feeds.parse_feed_bytes` — the function FeedSpider
hands every feed response to — over ../shared/corpora/feeds (feedparser's own
test suite plus 41 versions of a Dutch regional feed) with that folder's
`check.py`, which compares each file with plain feedparser: entry counts
(same / fewer / more), crashes (any exception other than our FeedParseError),
and "lost" feeds (we raised where feedparser found entries). Files that
declare HTTP headers get them, as Scrapy's response headers would be passed.

The corpus lives outside the repository (set NEWSWATCH_SHARED to its parent
folder if it is not at ../shared); without it this script says so and exits 2.
Exit code 1 when anything crashed, as check.py does.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

SHARED = Path(os.environ.get("NEWSWATCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CORPUS = SHARED / "corpora" / "feeds"
CANDIDATE = "newswatch.crawler.feeds:parse_feed_bytes"
EXPECTED = "newswatch.crawler.feeds.FeedParseError"


def load_check(corpus: Path) -> ModuleType:
    """The corpus's own check.py, imported from its path (it is not a package)."""
    path = corpus / "check.py"
    if not path.is_file():
        print(
            f"feed corpus not found: {path} is missing.\n"
            "This benchmark needs ../shared/corpora/feeds next to the repository "
            "(or NEWSWATCH_SHARED=/path/to/shared).",
            file=sys.stderr,
        )
        raise SystemExit(2)
    spec = importlib.util.spec_from_file_location("feeds_check", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def explain_differences(summary: dict[str, Any], corpus: Path, check: ModuleType) -> None:
    """Where our entry count differs from feedparser's, say why, per folder."""
    problems = [r for r in summary["problems"] if r["outcome"] in ("fewer", "more")]
    if not problems:
        print("\nentry counts: identical to feedparser on every file")
        return
    by_group: Counter[str] = Counter(f"{r['outcome']} in {r['group']}" for r in problems)
    missing = sum(r["ref_count"] - (r["count"] or 0) for r in problems)
    print(f"\nfiles with a different count: {len(problems)} ({missing} entries fewer in all)")
    for key, count in by_group.most_common(8):
        print(f"  {count:>4}  {key}")
    reasons: Counter[str] = Counter()
    for row in problems:
        data = (corpus / row["file"]).read_bytes()
        reasons.update(_dropped_reasons(data, check.declared_headers(data)))
    print("  why, judged from feedparser's own entries in those files:")
    for reason, count in reasons.most_common():
        print(f"  {count:>5}  {reason}")


def _dropped_reasons(data: bytes, headers: dict[str, str]) -> list[str]:
    """Why each feedparser entry of one file has no usable URL (parse_feed_bytes skips those)."""
    import feedparser

    parsed = feedparser.parse(data, response_headers=headers or None)
    reasons = []
    for raw in parsed.entries:
        link = raw.get("link") or raw.get("id") or ""
        if not link:
            reasons.append("entry has no link and no guid/id")
        elif not link.startswith(("http://", "https://")):
            reasons.append("link is not http(s) and no http(s) base to resolve it against")
        else:
            reasons.append("entry has an http(s) link (not explained by the link rule)")
    return reasons


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the feeds corpus folder")
    parser.add_argument("--only", help="path filter, e.g. illformed, encoding, dutch-real-world")
    parser.add_argument("--json", type=Path, help="write check.py's full per-file report here")
    args = parser.parse_args()
    check = load_check(args.corpus)
    summary = check.run(CANDIDATE, args.corpus, args.only, [EXPECTED])
    check.print_report(summary, verbose=10)
    explain_differences(summary, args.corpus, check)
    crashes = summary["outcomes"].get("crash", 0)
    print(
        f"\nresult: {summary['files']} files, {crashes} crashes, "
        f"{summary['lost_feeds']} lost feeds, entries {summary['entries']} "
        f"vs feedparser {summary['ref_entries']}"
    )
    if args.json:
        import json

        args.json.write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
