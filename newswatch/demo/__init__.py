"""`newswatch demo`: the whole path, offline, in a few seconds.

Serves the bundled sample site (our own Dutch articles: cooperation news and
look-alikes) on 127.0.0.1, writes a throw-away config that points at it and
uses the operator's topics.yaml, runs one cycle with a temporary database
and file outbox, and prints what was alerted and where the emails are.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import click
import yaml
from sqlalchemy import select

from newswatch.demo.site import SiteServer, load_site
from newswatch.errors import ConfigError
from newswatch.logs import setup_logging
from newswatch.models import Alert, Article
from newswatch.settings import config_dir_from, load_config
from newswatch.storage import open_database

SITE = Path(__file__).parent / "site.yaml"
DEMO_SUBSCRIBER = "demo@example.org"


def run_demo(config_option: str | None, *, keep: bool = False) -> int:
    topics = config_dir_from(config_option, os.environ) / "topics.yaml"
    if not topics.exists():
        click.echo(f"newswatch: demo needs a topics file; {topics} not found", err=True)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="newswatch-demo-"))
    site = SiteServer(load_site(SITE)).start()
    try:
        config_dir = _write_config(workdir, site.feed_url, topics)
        try:
            config = load_config(config_dir, env={})
        except ConfigError as exc:
            click.echo(f"newswatch: config error: {exc}", err=True)
            return 2
        setup_logging("WARNING")
        db = open_database(config.settings.database_url)
        from newswatch.scheduler.daemon import Service, run_on_reactor

        async def cycle() -> int:
            await Service(config, db).run_once()
            if keep:
                click.echo(f"Serving the demo site at {site.url} — Ctrl-C to stop.")
                await asyncio.Event().wait()
            return 0

        run_on_reactor(cycle)
        _report(db, site, workdir)
        db.dispose()
        return 0
    finally:
        site.stop()


def _write_config(workdir: Path, feed_url: str, topics: Path) -> Path:
    config_dir = workdir / "config"
    config_dir.mkdir()
    settings = {
        "database_url": f"sqlite:///{workdir / 'newswatch.db'}",
        "email": {"backend": "file", "outbox_dir": str(workdir / "outbox")},
        "crawl": {"delay": "0s", "timeout": "10s"},
    }
    sources = {"sources": [{"name": "Waterweg Nieuws (demo)", "kind": "feed", "url": feed_url}]}
    subscribers = {
        "subscribers": [{"email": DEMO_SUBSCRIBER, "name": "Demo", "topics": _topic_ids(topics)}]
    }
    for name, data in (("settings", settings), ("sources", sources), ("subscribers", subscribers)):
        (config_dir / f"{name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    shutil.copy(topics, config_dir / "topics.yaml")
    # Example articles for "more like this" are referenced relative to topics.yaml.
    if (topics.parent / "examples").is_dir():
        shutil.copytree(topics.parent / "examples", config_dir / "examples")
    return config_dir


def _topic_ids(topics: Path) -> list[str]:
    data = yaml.safe_load(topics.read_text(encoding="utf-8")) or {}
    return [t["id"] for t in data.get("topics", []) if isinstance(t, dict) and "id" in t]


def _report(db: object, site: SiteServer, workdir: Path) -> None:
    expected = {a.title: a.expect for a in site.articles}
    with db.session() as session:  # type: ignore[attr-defined]
        articles = list(session.scalars(select(Article).order_by(Article.published_at)))
        alerted = {a.article_id: a for a in session.scalars(select(Alert))}
        click.echo(f"Collected {len(articles)} article(s) from the demo site {site.url}\n")
        for article in articles:
            alert = alerted.get(article.id)
            mark = "ALERT" if alert else "  -  "
            topics = ", ".join(alert.topics) if alert else ""
            want = expected.get(article.title, "?")
            ok = (want != "none") == bool(alert)
            click.echo(f"  [{mark}] {article.title}  {topics}{'' if ok else '   (unexpected)'}")
    outbox = workdir / "outbox"
    emails = sorted(outbox.glob("*.eml")) if outbox.exists() else []
    click.echo(f"\n{len(emails)} email(s) written to {outbox}")
    for email in emails:
        click.echo(f"  {email}")
    click.echo(f"Database: {workdir / 'newswatch.db'}")
