"""The `newswatch` command line.

Exit codes: 0 success, 1 runtime failure, 2 a config or usage error (nothing
touched the database).
"""

from __future__ import annotations

import asyncio
import gc
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
    # One daemon per database, --once included: taken before the migrations,
    # so two processes never upgrade the schema at the same time.
    lock = _daemon_lock(config)
    db = _open(config)
    from newswatch.crawler import extract_pool
    from newswatch.scheduler.daemon import Service, install_stop_handlers, run_on_reactor
    from newswatch.scheduler.lock import watch_lock

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
        watcher = asyncio.ensure_future(watch_lock(lock, stop))
        await Service(config, db).serve(stop)
        lost = watcher.done() and watcher.result()
        watcher.cancel()
        return 1 if lost else 0

    try:
        code = run_on_reactor(main_once if once else main_forever)
    finally:
        extract_pool.shutdown()
        db.dispose()
        lock.release()
    # The interpreter's final garbage collection walks the whole heap (topics,
    # gazetteer, Scrapy) for a second or more; nothing left needs finalising,
    # and the stop must end within 10 s of the signal.
    gc.freeze()
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
        return open_database(
            config.settings.database_url, busy_timeout=config.settings.database_busy_timeout
        )
    except StorageError as exc:
        fail(str(exc))


def _daemon_lock(config: Config) -> Any:
    from newswatch.scheduler.lock import LockHeld, acquire_daemon_lock

    try:
        return acquire_daemon_lock(config.settings.database_url)
    except (LockHeld, StorageError) as exc:
        fail(str(exc))


@main.command()
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="JSON lines: {id, title, text, url?, published?, source?}; - for stdin.",
)
@click.option("--topic", help="Only this topic.")
@click.pass_obj
def classify(obj: Context, input_path: str, topic: str | None) -> None:
    """Classify articles from a JSON-lines file with the configured topics."""
    config = obj.load()
    classifier = config.classifier()
    if topic is not None and topic not in classifier.topic_ids:
        fail(f"unknown topic {topic!r}; known: {', '.join(classifier.topic_ids)}", code=2)
    bad = 0
    with click.open_file(input_path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = _article_record(line)
            except ValueError as exc:
                bad += 1
                click.echo(f"newswatch: {input_path}, line {number}: {exc}", err=True)
                continue
            matches = classifier.classify(
                record["title"], record["text"], url=record.get("url"), topic=topic
            )
            out = {"id": record.get("id"), "matches": [m.to_dict() for m in matches]}
            click.echo(json.dumps(out, ensure_ascii=False))
    if bad:
        sys.exit(1)


def _article_record(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    for key in ("title", "text"):
        if not isinstance(record.get(key, ""), str):
            raise ValueError(f"{key!r} must be a string")
    if not record.get("title") and not record.get("text"):
        raise ValueError("needs a 'title' or a 'text'")
    record.setdefault("title", "")
    record.setdefault("text", "")
    return record


@main.group()
def rules() -> None:
    """Try topic rules against stored articles."""


@rules.command("test")
@click.argument("topic")
@click.option("--since", default="30d", show_default=True, help="How far back: 7d, 12h, …")
@click.option("--diff", is_flag=True, help="Only what changes against the running rules.")
@click.pass_obj
def rules_test(obj: Context, topic: str, since: str, diff: bool) -> None:
    """Run TOPIC as it now stands in topics.yaml over stored articles."""
    from datetime import UTC, datetime, timedelta

    from newswatch.relevance.review import review_topic
    from newswatch.settings import parse_duration

    config = obj.load()
    classifier = config.classifier()
    if topic not in classifier.topic_ids:
        fail(f"unknown topic {topic!r}; known: {', '.join(classifier.topic_ids)}", code=2)
    try:
        start = datetime.now(UTC) - timedelta(seconds=parse_duration(since))
    except ValueError as exc:
        fail(f"--since: {exc}", code=2)
    db = _open(config)
    counts = {"+": 0, "-": 0, "=": 0}
    for verdict in review_topic(db, classifier, topic, start):
        mark = (
            "="
            if (verdict.now is not None) == verdict.stored
            else ("+" if verdict.now is not None else "-")
        )
        counts[mark] += 1
        if diff and mark == "=":
            continue
        score = f"{verdict.now.score:5.1f}" if verdict.now else "   - "
        click.echo(f"{mark} {score}  #{verdict.article_id}  {verdict.title}")
        if verdict.now is not None and verdict.now.terms:
            click.echo(f"           {', '.join(verdict.now.terms)}")
    click.echo(
        f"{counts['='] + counts['+']} match(es) with the rules in topics.yaml; "
        f"{counts['+']} added, {counts['-']} removed against the running rules"
    )


@main.command()
@click.argument("article")
@click.pass_obj
def explain(obj: Context, article: str) -> None:
    """Why ARTICLE (an id or URL) matched, or did not."""
    from newswatch.relevance.review import find_article, stored_matches

    config = obj.load()
    db = _open(config)
    row = find_article(db, article)
    if row is None:
        fail(f"no stored article {article!r}", code=2)
    click.echo(f"#{row.id} {row.title}\n{row.url}\nsource: {row.source_name}")
    stored = stored_matches(db, row.id)
    click.echo(f"\nMatched when stored: {', '.join(m.topic for m in stored) or 'nothing'}")
    results = config.classifier().classify(row.title, row.text, url=row.url, include_unmatched=True)
    if not results:
        click.echo("\nThe current rules give it no points for any topic.")
    for match in results:
        verdict = "MATCH" if match.matched else "no match"
        click.echo(f"\n[{verdict}] {match.explain()}")


@main.group(invoke_without_command=True)
@click.pass_context
def sources(ctx: click.Context) -> None:
    """Source health: last success, errors, backoff, silent sources."""
    if ctx.invoked_subcommand is not None:
        return
    from newswatch.scheduler.health import format_health_table, health_rows

    obj: Context = ctx.obj
    config = obj.load()
    db = _open(config)
    click.echo(format_health_table(health_rows(db, config.sources), zone=config.zone))


@sources.command("discover")
@click.argument("url")
@click.option("--name", help="Name for the sources.yaml entry.")
@click.option("--every", default="15m", show_default=True, help="Poll interval for the entry.")
def sources_discover(url: str, name: str | None, every: str) -> None:
    """Find the feeds of a site and print ready sources.yaml entries."""
    from newswatch.crawler.discover import discover_feeds, sources_entry

    try:
        feeds = discover_feeds(url)
    except ValueError as exc:
        fail(str(exc), code=2)
    except OSError as exc:
        fail(f"cannot fetch {url}: {exc}")
    if not feeds:
        fail(f"no feed found on {url}; try a listing or sitemap source (see README)")
    for feed in feeds:
        click.echo(
            f"# {feed.title or feed.url} — found via {feed.found_by}, {feed.entries} entries"
        )
        click.echo(sources_entry(feed, name=name, every=every))


@main.group()
def subscribers() -> None:
    """List, add and remove subscribers; re-subscribe an unsubscribed address."""


@subscribers.command("list")
@click.pass_obj
def subscribers_list(obj: Context) -> None:
    """Every subscriber with its state (active, unsubscribed, bouncing, spam)."""
    from newswatch.alerts.subscriptions import subscriptions
    from newswatch.subscriberfile import format_table

    config = obj.load()
    db = _open(config)
    with db.session() as session:
        states = subscriptions(session)
    click.echo(format_table(config.subscribers, states, config.zone))


@subscribers.command("add")
@click.argument("email")
@click.option("-t", "--topic", "topics", multiple=True, required=True, help="Topic id; repeat.")
@click.option("--name", help="Name used in the greeting and the To: header.")
@click.option("--delivery", help="instant (default), daily@HH:MM or weekly@DAY HH:MM.")
@click.option("--language", type=click.Choice(["nl", "en"]), help="Language of the email.")
@click.option("--quiet-hours", help="e.g. 22:00-07:00: instant alerts wait until it ends.")
@click.pass_obj
def subscribers_add(
    obj: Context,
    email: str,
    topics: tuple[str, ...],
    name: str | None,
    delivery: str | None,
    language: str | None,
    quiet_hours: str | None,
) -> None:
    """Add EMAIL to subscribers.yaml (comments in the file are kept)."""
    from newswatch.subscriberfile import SubscriberEditError, add_subscriber, new_entry

    config = obj.load()
    known = {t.id for t in config.topics.topics}
    path = config.directory / "subscribers.yaml"
    extra = {"delivery": delivery, "language": language, "quiet_hours": quiet_hours}
    try:
        entry = new_entry(email, list(topics), known_topics=known, name=name, extra=extra)
        add_subscriber(path, entry, known)
    except SubscriberEditError as exc:
        fail(str(exc), code=2)
    click.echo(f"added {entry['email']} to {path}; a running daemon reloads it within seconds")
    _warn_if_suppressed(config, entry["email"])


@subscribers.command("remove")
@click.argument("email")
@click.pass_obj
def subscribers_remove(obj: Context, email: str) -> None:
    """Remove EMAIL from subscribers.yaml (comments in the file are kept)."""
    from newswatch.subscriberfile import SubscriberEditError, remove_subscriber

    config = obj.load()
    path = config.directory / "subscribers.yaml"
    try:
        listed = remove_subscriber(path, email, {t.id for t in config.topics.topics})
    except SubscriberEditError as exc:
        fail(str(exc), code=2)
    click.echo(f"removed {listed} from {path}; a running daemon reloads it within seconds")


@subscribers.command("resubscribe")
@click.argument("email")
@click.pass_obj
def subscribers_resubscribe(obj: Context, email: str) -> None:
    """Make EMAIL active again after an unsubscribe, bounce or spam report.

    Only on the subscriber's own request: their unsubscribe is otherwise final.
    """
    from newswatch.alerts.subscriptions import resubscribe, state_of
    from newswatch.settings import validate_email

    config = obj.load()
    try:
        email = validate_email(email)
    except ValueError as exc:
        fail(str(exc), code=2)
    db = _open(config)
    with db.transaction() as session:
        before = state_of(session, email)
        changed = resubscribe(session, email)
    if not changed:
        click.echo(f"{email} is already active")
    else:
        click.echo(f"{email} is active again (was {before})")
    if email.lower() not in {s.email.lower() for s in config.subscribers}:
        click.echo(f"note: {email} is not in subscribers.yaml; `subscribers add` it to send mail")


def _warn_if_suppressed(config: Config, email: str) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from newswatch.alerts.subscriptions import SUPPRESSED_STATES, state_of

    try:
        db = open_database(config.settings.database_url)
        with db.session() as session:
            state = state_of(session, email)
        db.dispose()
    except (StorageError, SQLAlchemyError) as exc:
        log.debug("state of %s unknown: %s", email, exc)
        return
    if state in SUPPRESSED_STATES:
        click.echo(
            f"note: {email} is {state} and stays without mail until "
            f"`newswatch subscribers resubscribe {email}` (only if they asked for it)"
        )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(obj: Context, as_json: bool) -> None:
    """Outbox, given-up emails, source health and last errors, publish→sent latency."""
    from newswatch.status import collect_status, format_status

    config = obj.load()
    db = _open(config)
    try:
        data = collect_status(db)
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(format_status(data, zone=config.zone))


@main.group()
def alerts() -> None:
    """Look at the emails newswatch sends."""


@alerts.command("preview")
@click.option("--subscriber", metavar="EMAIL", help="Whose email (default: the first listed).")
@click.option("--digest", is_flag=True, help="The next digest instead of the next alert.")
@click.option(
    "--out",
    "out_dir",
    default="var/preview",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the .eml and .html files.",
)
@click.pass_obj
def alerts_preview(obj: Context, subscriber: str | None, digest: bool, out_dir: str) -> None:
    """Write the next email a subscriber would get to files (nothing is sent)."""
    from newswatch.alerts.preview import write_preview

    config = obj.load()
    db = _open(config)
    try:
        preview = write_preview(
            db, config, subscriber=subscriber, digest=digest, out_dir=Path(out_dir)
        )
    except LookupError as exc:
        fail(str(exc), code=2)
    finally:
        db.dispose()
    click.echo(f"{preview.what}\n{preview.eml}\n{preview.html}")


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("copy")
@click.option("--to", "target", required=True, metavar="URL", help="The empty target database.")
@click.pass_obj
def db_copy(obj: Context, target: str) -> None:
    """Copy every row into another (empty) database, e.g. SQLite to PostgreSQL."""
    from newswatch.dbcopy import copy_database

    config = obj.load()
    # The daemon must not write during the copy: hold its lock (refused if it runs).
    lock = _daemon_lock(config)
    source = _open(config)
    try:
        counts = copy_database(
            source, target, progress=lambda table, n: click.echo(f"  {table}: {n} row(s)")
        )
    except StorageError as exc:
        fail(str(exc))
    finally:
        source.dispose()
        lock.release()
    click.echo(
        f"copied {sum(counts.values())} row(s) to {safe_url(target)}; "
        "point database_url (or NEWSWATCH_DATABASE_URL) at it and start newswatch"
    )
