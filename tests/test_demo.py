"""`newswatch demo` runs offline and alerts exactly the demo's cooperation articles."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT, newswatch

from newswatch.demo import SITE
from newswatch.demo.site import load_site


def test_demo_alerts_the_cooperation_articles() -> None:
    result = newswatch("--config", str(ROOT / "config"), "demo")
    assert result.returncode == 0, result.stderr
    articles = load_site(SITE)
    wanted = [a for a in articles if a.expect != "none"]
    assert f"Collected {len(articles)} article(s)" in result.stdout
    assert "(unexpected)" not in result.stdout
    assert f"{len(wanted)} email(s) written to" in result.stdout
    outbox = Path(re.search(r"written to (\S+)", result.stdout).group(1))  # type: ignore[union-attr]
    assert len(list(outbox.glob("*.eml"))) == len(wanted)
