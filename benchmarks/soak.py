"""Soak: thousands of poll cycles against a site that keeps publishing; memory and fds.

    .venv/bin/python benchmarks/soak.py                       # up to 10,000 cycles or 540 s
    .venv/bin/python benchmarks/soak.py --cycles 2000 --max-seconds 120

The parent process serves `--feeds` loopback feeds (`sites.py`) and publishes
a new generated article every `--publish-every` seconds, round robin over the
feeds. A child process runs the daemon's own collection path back to back on
one reactor: `Service.run_once()` (every source collected, then due alerts
sent to a file outbox), which is what each scheduler tick does, minus the
waiting. No clock needs injecting: the cycles simply follow each other, so
"15 minutes" between polls becomes milliseconds. Every 12th poll of a feed is
still the full "distrust" fetch, as in production.

The child samples its own RSS (/proc/self/status) and open file descriptors
(/proc/self/fd) every `--sample-every` cycles. Growth is measured from the end
of the warm-up (`--warmup` cycles) to the mean of the last five samples; the
goal in issue 6 is under 10 %, with no upward trend. The least-squares slope
per 1,000 cycles after warm-up is printed as the trend.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sites import (  # noqa: E402
    SiteFarm,
    clean_env,
    machine,
    proc_open_fds,
    proc_rss_bytes,
    write_config,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--max-seconds", type=float, default=540.0, help="stop earlier than this")
    parser.add_argument("--feeds", type=int, default=1, help="sources, one loopback host each")
    parser.add_argument("--publish-every", type=float, default=1.0, help="seconds between articles")
    parser.add_argument("--sample-every", type=int, default=100, help="cycles between samples")
    parser.add_argument("--warmup", type=int, default=1000, help="cycles before the baseline")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args)
    return soak(args)


# --- the parent: the publishing site, the child, the verdict -------------------------


def soak(args: argparse.Namespace) -> int:
    print(f"machine: {machine()}")
    with SiteFarm(args.feeds, 1, feed_size=20) as farm, tempfile.TemporaryDirectory() as tmp:
        farm.fill(5)
        config = write_config(Path(tmp) / "config", feed_urls=farm.feed_urls, every="1h")
        stop = threading.Event()
        publisher = threading.Thread(target=_publish, args=(farm, args.publish_every, stop))
        publisher.start()
        try:
            samples = _run_child(config, args)
        finally:
            stop.set()
            publisher.join()
        print(f"published {farm.count} articles; server saw {farm.stats.snapshot()['requests']}")
    return verdict(samples, args.warmup)


def _publish(farm: SiteFarm, every: float, stop: threading.Event) -> None:
    index = 0
    while not stop.wait(every):
        farm.publish_one(index)
        index += 1


def _run_child(config: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(config)]
    cmd += ["--cycles", str(args.cycles), "--max-seconds", str(args.max_seconds)]
    cmd += ["--sample-every", str(args.sample_every)]
    # stderr to a file: a pipe nobody reads could fill up and stall the child.
    errors = config.parent / "worker.err"
    with errors.open("w") as err:
        child = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=clean_env()
        )
        samples = _read_samples(child, args.sample_every)
    if child.wait() != 0:
        sys.exit(f"soak worker failed:\n{errors.read_text()[-3000:]}")
    return samples


def _read_samples(child: subprocess.Popen[str], sample_every: int) -> list[dict[str, Any]]:
    assert child.stdout is not None
    samples = []
    for line in child.stdout:
        sample = json.loads(line)
        samples.append(sample)
        if sample["cycle"] % (10 * sample_every) == 0:
            print(
                f"  cycle {sample['cycle']:>6} at {sample['t']:6.1f} s: RSS "
                f"{sample['rss'] / 2**20:6.1f} MiB, {sample['fds']} fds, "
                f"{sample['articles']} articles stored",
                flush=True,
            )
    return samples


def verdict(samples: list[dict[str, Any]], warmup: int) -> int:
    last = samples[-1]
    print(
        f"ran {last['cycle']} cycles in {last['t']:.0f} s "
        f"({1000 * last['t'] / max(1, last['cycle']):.0f} ms per cycle), "
        f"{last['articles']} articles stored"
    )
    after = [s for s in samples if s["cycle"] >= warmup]
    if len(after) < 6:
        print(f"too few samples after a warm-up of {warmup} cycles for a verdict")
        return 1
    ok = True
    for key, unit, scale in (("rss", "MiB", 2**20), ("fds", "fds", 1)):
        base = after[0][key]
        end = sum(s[key] for s in after[-5:]) / 5
        growth = (end - base) / base
        slope = _slope([s["cycle"] for s in after], [s[key] for s in after]) * 1000
        met = growth < 0.10
        ok &= met
        print(
            f"{key}: {base / scale:.1f} {unit} at cycle {after[0]['cycle']}, "
            f"{end / scale:.1f} at the end: growth {100 * growth:+.1f} % "
            f"(goal < 10 %: {'met' if met else 'NOT met'}); "
            f"trend {slope / scale:+.2f} {unit} per 1,000 cycles"
        )
    return 0 if ok else 1


def _slope(xs: list[float], ys: list[float]) -> float:
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var


# --- the child: collection cycles back to back on one reactor ---------------------------


def worker(config_dir: Path, args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from newswatch.models import Article
    from newswatch.scheduler.daemon import Service, run_on_reactor
    from newswatch.settings import load_config
    from newswatch.storage import open_database

    config = load_config(config_dir)
    db = open_database(config.settings.database_url)

    def stored() -> int:
        with db.session() as session:
            return session.scalar(select(func.count()).select_from(Article)) or 0

    async def cycles() -> int:
        service = Service(config, db)
        started = time.monotonic()
        for cycle in range(1, args.cycles + 1):
            await service.run_once()
            elapsed = time.monotonic() - started
            last = cycle == args.cycles or elapsed > args.max_seconds
            if cycle % args.sample_every == 0 or last:
                _sample(cycle, elapsed, stored())
            if last:
                break
        return 0

    code = run_on_reactor(cycles)
    db.dispose()
    return code


def _sample(cycle: int, elapsed: float, articles: int) -> None:
    pid = os.getpid()
    rss, fds = proc_rss_bytes(pid), proc_open_fds(pid)
    record = {"cycle": cycle, "t": elapsed, "rss": rss, "fds": fds, "articles": articles}
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    sys.exit(main())
