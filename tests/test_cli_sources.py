"""`newswatch sources` (health table) and `newswatch sources discover URL`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from conftest import DATA, newswatch, write_config

from newswatch.demo.site import SiteServer, load_site


class HomepageSite(SiteServer):
    """The test site plus a homepage that announces its feed."""

    def respond(self, path: str, headers: Any) -> tuple[int, dict[str, str], bytes]:
        if path == "/":
            page = (
                '<html><head><title>Maasstad Lokaal</title><link rel="alternate" '
                'type="application/rss+xml" title="Maasstad Lokaal nieuws" href="/feed.xml">'
                "</head><body><h1>Maasstad Lokaal</h1></body></html>"
            )
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()
        return super().respond(path, headers)


def test_sources_shows_health_per_source(tmp_path: Path, site: SiteServer) -> None:
    config = write_config(
        tmp_path / "config",
        db_url=f"sqlite:///{tmp_path / 'nw.db'}",
        sources=[
            {"name": "Maasstad Lokaal", "kind": "feed", "url": site.feed_url},
            {"name": "Kapot", "kind": "feed", "url": f"{site.url}/weg.xml"},
        ],
    )
    assert newswatch("--config", str(config), "run", "--once").returncode == 0
    result = newswatch("--config", str(config), "sources")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["SOURCE", "STATE"]
    ok = next(line for line in lines if line.startswith("Maasstad Lokaal"))
    broken = next(line for line in lines if line.startswith("Kapot"))
    assert " ok " in ok
    assert "http_404" in broken


def test_discover_prints_a_ready_entry() -> None:
    with HomepageSite(load_site(DATA / "site.yaml"), site_name="Maasstad Lokaal") as site:
        result = newswatch("sources", "discover", site.url + "/", "--every", "30m")
    assert result.returncode == 0, result.stderr
    entries = yaml.safe_load(
        "sources:\n"
        + "".join(line + "\n" for line in result.stdout.splitlines() if not line.startswith("#"))
    )
    assert {
        "name": "Maasstad Lokaal",
        "kind": "feed",
        "url": site.feed_url,
        "every": "30m",
    } in entries["sources"]


def test_discover_without_feed_says_so() -> None:
    with SiteServer(load_site(DATA / "site.yaml")) as site:
        page = site.url + "/nieuws/" + site.articles[0].slug
        result = newswatch("sources", "discover", page)
    assert result.returncode == 1
    assert "no feed found" in result.stderr
