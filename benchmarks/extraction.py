"""Extraction quality: our `extract_article` next to plain trafilatura, in one run.

    .venv/bin/python benchmarks/extraction.py                  # AEB set (181 pages)
    .venv/bin/python benchmarks/extraction.py --dataset all    # + trafilatura's eval set
    .venv/bin/python benchmarks/extraction.py --dutch          # + the 3 Dutch smoke pages

Scores come from ../shared/corpora/extraction/score.py (the article-extraction
benchmark's own shingle F1) and ../shared/corpora/dutch-html/check.py. Both
live outside the repository; without them this script says so and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Any

from newswatch.crawler.extract import extract_article, extract_json

SHARED = Path(os.environ.get("NEWSWATCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
EXTRACTION = SHARED / "corpora" / "extraction"
DUTCH = SHARED / "corpora" / "dutch-html"


def ours(html: str, url: str) -> str | None:
    """The text the classifier sees."""
    return extract_article(html, url).text


def plain_trafilatura(html: str, url: str) -> str | None:
    """The same call score.py's built-in adapter makes."""
    import trafilatura

    return trafilatura.extract(html, url=url or None, include_comments=False)


def dutch_article(html: str, url: str) -> dict[str, Any]:
    """check.py's shape: title, date (YYYY-MM-DD, Amsterdam), text."""
    data = extract_json(html, url)
    return {"title": data["title"], "date": data["published"], "text": data["text"]}


def _import(folder: Path, name: str) -> Any:
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=["aeb", "traf", "all"], default="aeb")
    ap.add_argument("--limit", type=int, default=None, help="first N pages only (smoke test)")
    ap.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples for ± (aeb)")
    ap.add_argument("--dutch", action="store_true", help="also run dutch-html/check.py")
    args = ap.parse_args(argv)

    if not (EXTRACTION / "score.py").is_file():
        print(
            f"benchmark data not found: {EXTRACTION / 'score.py'} is missing.\n"
            "Check out the shared corpora next to the repository (../shared) "
            "or point NEWSWATCH_SHARED at them.",
            file=sys.stderr,
        )
        return 2
    score = _import(EXTRACTION, "score")
    extractors = (("newswatch extract_article", ours), ("trafilatura (plain)", plain_trafilatura))
    for name, fn in extractors:
        result = score.score(fn, args.dataset, args.limit, args.bootstrap)
        for r in result.values() if args.dataset == "all" else [result]:
            print(score._fmt(name, r))
            for err in r["error_samples"][:3]:
                print("   error:", err[:200])

    if args.dutch:
        if not (DUTCH / "check.py").is_file():
            print(f"Dutch smoke pages not found at {DUTCH}; skipped.", file=sys.stderr)
        else:
            print("\ndutch-html/check.py, newswatch:")
            _import(DUTCH, "check").main(["__main__:dutch_article"])
            print("dutch-html/check.py, trafilatura:")
            _import(DUTCH, "check").main(["trafilatura"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
