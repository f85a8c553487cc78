"""Freshness: publish -> alert queued, p50/p95, with the daemon running at a short interval.

    .venv/bin/python benchmarks/latency.py                  # 60 articles, 2 s poll interval
    .venv/bin/python benchmarks/latency.py --articles 30 --every 5s

Ten loopback sites (`sites.py`), one feed each, start with a few articles.
`newswatch run` (the real daemon, in a subprocess) polls every feed every
`--every`. After a warm-up, the script publishes one generated cooperation
article at a time, on a random feed, at random gaps averaging `--gap` seconds
— a local replay of a news day at high speed. Every published article matches
the main topic, so each should get one alert for the one subscriber.

Latency = the alert's `queued_at` (stored by the daemon in the same
transaction as the article) minus the moment the article went into the feed.
It splits into the wait for the next poll (publish -> its page first served,
seen by the server) and the processing (page served -> alert queued: fetch,
extract, classify, dedupe, store). With interval T the wait alone is uniform
on [0, T], so p50 ~ T/2 and p95 ~ 0.95 T plus processing.
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sites import SiteFarm, clean_env, machine, newswatch_command, write_config  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--every", default="2s", help="poll interval of every source")
    parser.add_argument("--gap", type=float, default=1.5, help="mean seconds between articles")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds before publishing")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    rng = random.Random(11)
    with SiteFarm(args.feeds, 1, feed_size=20) as farm, tempfile.TemporaryDirectory() as tmp:
        farm.fill(3)
        config = write_config(Path(tmp) / "config", feed_urls=farm.feed_urls, every=args.every)
        published = replay(farm, config, args, rng)
        queued = alerts_queued(config)
        report(published, queued, farm.stats.first_served, args)
    return 0


def replay(
    farm: SiteFarm, config: Path, args: argparse.Namespace, rng: random.Random
) -> dict[str, float]:
    """Run the daemon while publishing; article URL -> wall-clock publish time."""
    errors = config.parent / "daemon.err"
    with errors.open("w") as err:
        daemon = subprocess.Popen(
            newswatch_command(config, "run"), stdout=subprocess.DEVNULL, stderr=err, env=clean_env()
        )
    published: dict[str, float] = {}
    try:
        time.sleep(args.warmup)  # start-up, migrations and the first (all-new) cycle
        if daemon.poll() is not None:
            sys.exit(f"the daemon exited early:\n{errors.read_text()[-3000:]}")
        for _ in range(args.articles):
            url, when = farm.publish_one(rng.randrange(len(farm.feeds)), cooperation=True)
            published[url] = when
            time.sleep(rng.expovariate(1 / args.gap))
        time.sleep(3 * _seconds(args.every) + 5)  # the last ones get polled and stored
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
    return published


def _seconds(duration: str) -> float:
    from newswatch.settings import parse_duration

    return parse_duration(duration)


def alerts_queued(config: Path) -> dict[str, float]:
    """Article URL -> the earliest `queued_at` of its alerts, as a POSIX timestamp."""
    from sqlalchemy import func, select

    from newswatch.models import Alert, Article
    from newswatch.settings import load_config
    from newswatch.storage import open_database

    db = open_database(load_config(config).settings.database_url)
    try:
        with db.session() as session:
            rows = session.execute(
                select(Article.url, func.min(Alert.queued_at))
                .join(Alert, Alert.article_id == Article.id)
                .group_by(Article.url)
            ).all()
    finally:
        db.dispose()
    return {url: queued.timestamp() for url, queued in rows}


def report(
    published: dict[str, float],
    queued: dict[str, float],
    served: dict[str, float],
    args: argparse.Namespace,
) -> None:
    got = [url for url in published if url in queued]
    print(
        f"published {len(published)} cooperation articles on {args.feeds} feeds, poll interval "
        f"{args.every}, mean gap {args.gap} s; alerts queued for {len(got)}"
    )
    if not got:
        return
    total = [queued[u] - published[u] for u in got]
    wait = [served[u] - published[u] for u in got if u in served]
    work = [queued[u] - served[u] for u in got if u in served]
    for label, values in (
        ("publish -> queued", total),
        ("  publish -> page first served (poll wait)", wait),
        ("  page served -> queued (processing)", work),
    ):
        print(f"{label:<44} {_percentiles(values)}")


def _percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return f"n={len(values)}"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {cuts[49]:.2f} s  p95 {cuts[94]:.2f} s  max {max(values):.2f} s  n={len(values)}"


if __name__ == "__main__":
    sys.exit(main())
