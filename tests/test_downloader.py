"""One request at a time per host, also with `crawl.delay: 0` (crawler/downloader.py).

Scrapy 2.14+ started a host's whole queue of article pages at once when there
was no download delay; the site below counts how many of its pages are being
served at the same moment.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import DATA, newswatch, write_config
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from newswatch.demo.site import SiteServer, load_site
from newswatch.models import Article


@dataclass
class CountingSite(SiteServer):
    """The test site, slow enough per page for overlapping requests to show."""

    in_flight: int = 0
    most_at_once: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(self, path: str, headers: Any) -> tuple[int, dict[str, str], bytes]:
        if not path.startswith("/nieuws/"):
            return super().respond(path, headers)
        with self._lock:
            self.in_flight += 1
            self.most_at_once = max(self.most_at_once, self.in_flight)
        try:
            time.sleep(0.05)
            return super().respond(path, headers)
        finally:
            with self._lock:
                self.in_flight -= 1


def test_pages_of_one_host_are_fetched_one_at_a_time_without_a_delay(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'nw.db'}"
    with CountingSite(load_site(DATA / "site.yaml"), site_name="Maasstad Lokaal") as site:
        pages = len(site.articles)
        config = write_config(
            tmp_path / "config",
            db_url=db_url,
            sources=[{"name": "Maasstad", "url": site.feed_url}],
            crawl={"delay": "0s"},
        )
        result = newswatch("--config", str(config), "run", "--once", timeout=90)
    assert result.returncode == 0, result.stderr
    engine = create_engine(db_url)
    with Session(engine) as session:
        stored = session.scalar(select(func.count()).select_from(Article))
    engine.dispose()
    assert stored == pages > 1
    assert site.most_at_once == 1
