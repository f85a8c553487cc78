"""The `newswatch` command line.

Exit codes: 0 success, 1 runtime failure, 2 a config or usage error (nothing
touched the database).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from newswatch.errors import ConfigError, StorageError
from newswatch.logs import setup_logging
from newswatch.settings import Config, config_dir_from, load_config
from newswatch.storage import open_database, safe_url

log = logging.getLogger("newswatch")


class Context:
    def __init__(self, config_option: str | None, log_format: str, verbose: bool) -> None:
        self.config_option = config_option
        self.log_format = log_format
        self.verbose = verbose

    def load(self) -> Config:
        directory = config_dir_from(self.config_option, os.environ)
        try:
            config = load_config(directory)
        except ConfigError as exc:
            fail(f"config error: {exc}", code=2)
        key = config.sendgrid_api_key.get_secret_value() if config.sendgrid_api_key else ""
        level = "DEBUG" if self.verbose else config.settings.log_level
        setup_logging(level, self.log_format, secrets=[key])
        return config


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"newswatch: {message}", err=True)
    sys.exit(code)


@click.group()
@click.option(
    "--config",
    "config_option",
    metavar="DIR",
    envvar="NEWSWATCH_CONFIG",
    help="Config folder (default ./config; env NEWSWATCH_CONFIG).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    envvar="NEWSWATCH_LOG_FORMAT",
    show_default=True,
    help="Log line format.",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def main(ctx: click.Context, config_option: str | None, log_format: str, verbose: bool) -> None:
    """newswatch: watch Dutch regional news and email subscribers about matches."""
    ctx.obj = Context(config_option, log_format, verbose)


@main.command()
@click.option(
    "--once", is_flag=True, help="One full cycle (all sources, classify, send), then exit."
)
@click.pass_obj
def run(obj: Context, once: bool) -> None:
    """Run the daemon (or one cycle with --once)."""
    config = obj.load()
    db = _open(config)
    from newswatch.scheduler.daemon import Service, install_stop_handlers, run_on_reactor

    async def main_once() -> int:
        service = Service(config, db)
        reports, stats = await service.run_once()
        failed = [r.source for r in reports if r.status == "error"]
        log.info(
            "cycle done: %d source(s), %d failed; outbox: %s", len(reports), len(failed), stats
        )
        return 0

    async def main_forever() -> int:
        stop = asyncio.Event()
        install_stop_handlers(stop)
        await Service(config, db).serve(stop)
        return 0

    try:
        code = run_on_reactor(main_once if once else main_forever)
    finally:
        db.dispose()
    sys.exit(code)


@main.command()
@click.pass_obj
def check(obj: Context) -> None:
    """Validate the config folder and exit (0 when valid)."""
    config = obj.load()
    click.echo(
        f"config OK: {len(config.sources)} source(s), {len(config.topics.topics)} topic(s), "
        f"{len(config.subscribers)} subscriber(s); "
        f"database {safe_url(config.settings.database_url)}"
    )


@main.command()
@click.option("--keep", is_flag=True, help="Keep serving the demo site until Ctrl-C.")
@click.pass_obj
def demo(obj: Context, keep: bool) -> None:
    """Run one cycle against a bundled offline sample site and show the alerts."""
    from newswatch.demo import run_demo

    sys.exit(run_demo(obj.config_option, keep=keep))


@main.command()
@click.argument("source", metavar="FILE_OR_URL")
@click.option("--url", help="The page's URL, when SOURCE is a file.")
def extract(source: str, url: str | None) -> None:
    """Extract one article and print it as JSON."""
    from newswatch.crawler.extract import extract_json

    if source.startswith(("http://", "https://")):
        html, url = _fetch(source), url or source
    else:
        try:
            html = Path(source).read_bytes()
        except OSError as exc:
            fail(f"cannot read {source}: {exc.strerror}", code=2)
        url = url or Path(source).resolve().as_uri()
    click.echo(json.dumps(extract_json(html, url), ensure_ascii=False, indent=2))


def _fetch(url: str) -> bytes:
    import urllib.request

    from newswatch.settings import CrawlSettings

    crawl = CrawlSettings()
    request = urllib.request.Request(url, headers={"User-Agent": crawl.user_agent})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=crawl.timeout) as response:  # noqa: S310
            return bytes(response.read(crawl.max_page_size))
    except OSError as exc:
        fail(f"cannot fetch {url}: {exc}")


def _open(config: Config) -> Any:
    try:
        return open_database(config.settings.database_url)
    except StorageError as exc:
        fail(str(exc))
