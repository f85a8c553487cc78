"""Extraction quality: our `extract_article` next to plain trafilatura, in one run.

    .venv/bin/python benchmarks/extraction.py                  # AEB set (181 pages)
    .venv/bin/python benchmarks/extraction.py --dataset all    # + trafilatura's eval set
    .venv/bin/python benchmarks/extraction.py --dutch          # + the 3 Dutch smoke pages
    .venv/bin/python benchmarks/extraction.py --metadata       # + title/date/author, traf set

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


def _norm(value: Any) -> str:
    if isinstance(value, list):
        value = "; ".join(value)
    return " ".join(str(value or "").split()).casefold()


def metadata_agreement(score: Any) -> None:
    """Exact title/date/author matches on the ~850 annotated pages of trafilatura's set.

    Dates are compared as the Amsterdam calendar day for us (that is what we
    store), and as trafilatura's own day for it; American evening posts differ
    by one day for that reason alone.
    """
    from trafilatura.metadata import extract_metadata

    hits = {(f, who): 0 for f in ("title", "date", "author") for who in ("ours", "traf")}
    pages = 0
    for _, url, html, item in score.iter_traf():
        if "title" not in item:
            continue
        pages += 1
        ours = extract_json(html, url)
        theirs = extract_metadata(html, default_url=url)
        got = {
            ("title", "ours"): ours["title"],
            ("date", "ours"): (ours["published"] or "")[:10],
            ("author", "ours"): ours["author"],
            ("title", "traf"): theirs.title if theirs else None,
            ("date", "traf"): theirs.date if theirs else None,
            ("author", "traf"): theirs.author if theirs else None,
        }
        for (field, who), value in got.items():
            hits[field, who] += _norm(value) == _norm(item[field])
    print(f"\nmetadata, exact match on {pages} annotated pages of the traf set:")
    for field in ("title", "date", "author"):
        print(
            f"  {field:<7} newswatch {hits[field, 'ours'] / pages:.3f}"
            f"   trafilatura.extract_metadata {hits[field, 'traf'] / pages:.3f}"
        )


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
    ap.add_argument("--metadata", action="store_true", help="title/date/author on the traf set")
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

    if args.metadata:
        metadata_agreement(score)

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
