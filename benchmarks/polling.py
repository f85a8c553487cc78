"""Polling cost: requests and bytes per cycle for unchanged feeds, and the idle daemon's CPU.

    .venv/bin/python benchmarks/polling.py                # 200 feeds, 60 s idle
    .venv/bin/python benchmarks/polling.py --feeds 50 --idle 20

200 feeds (20 loopback sites x 10 feeds, 5 generated articles each) served by
`sites.py`, which counts every request and byte on the server side. The real
command line runs in subprocesses against one SQLite database:

1. `newswatch run --once`: first cycle, everything is new (feeds and pages).
2. `newswatch run --once`: nothing changed; feeds are asked conditionally
   (If-None-Match), so the goal is one 304 per feed.
3. `newswatch run --once` with `full_fetch_every: 1`: the periodic "distrust"
   fetch that ignores validators (by default every 12th poll), nothing new.
4. `newswatch run` (the daemon, poll interval 1 h): its start-up cycle is
   conditional again; once the server has been quiet for 3 s, the daemon's
   CPU time (utime + stime from /proc/<pid>/stat) is sampled over `--idle`
   seconds, then it gets SIGTERM and the time to exit is measured.
5. `newswatch run` with a 20 s poll interval: its SECOND cycle, the steady state
   of a long-running daemon (robots.txt is remembered across polls within one
   process, so an unchanged feed should cost exactly one 304).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sites import (  # noqa: E402
    SiteFarm,
    clean_env,
    machine,
    newswatch_command,
    proc_cpu_seconds,
    proc_open_fds,
    proc_rss_bytes,
    write_config,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--per-host", type=int, default=10, help="feeds per loopback site")
    parser.add_argument("--items", type=int, default=5, help="articles per feed")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle CPU sampling")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    hosts = max(1, args.feeds // args.per_host)
    with SiteFarm(hosts, args.per_host, args.items) as farm, tempfile.TemporaryDirectory() as tmp:
        farm.fill(args.items)
        feeds = len(farm.feeds)
        print(f"site: {feeds} feeds on {hosts} loopback hosts, {args.items} articles each")
        config = write_config(Path(tmp) / "config", feed_urls=farm.feed_urls, every="1h")
        full = write_config(
            Path(tmp) / "config-full",
            feed_urls=farm.feed_urls,
            every="1h",
            source_extra={"full_fetch_every": 1},
        )
        once(farm, config, "1 first cycle (all new)", feeds)
        once(farm, config, "2 unchanged, conditional", feeds)
        distrust = once(farm, full, "3 unchanged, full fetch", feeds)
        daemon(farm, config, feeds, args.idle)
        fast = write_config(Path(tmp) / "config-fast", feed_urls=farm.feed_urls, every="20s")
        steady = daemon_second_cycle(farm, fast, feeds)
        amortised(steady, distrust, feeds)
    return 0


def once(farm: SiteFarm, config: Path, label: str, feeds: int) -> dict[str, Any]:
    """One `newswatch run --once`; what the server saw."""
    farm.stats.reset()
    started = time.perf_counter()
    done = subprocess.run(
        newswatch_command(config, "run", "--once"),
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"newswatch run --once failed:\n{done.stderr[-3000:]}")
    seen = farm.stats.snapshot()
    _print_cycle(label, seen, feeds, f"process {time.perf_counter() - started:.1f} s")
    return seen


def _print_cycle(label: str, seen: dict[str, Any], feeds: int, note: str) -> None:
    window = (seen["last_request"] or 0) - (seen["first_request"] or 0)
    print(
        f"cycle {label}: {seen['total']} requests {seen['requests']}, "
        f"{seen['bytes_out']:,} bytes out / {seen['bytes_in']:,} in "
        f"({seen['bytes_out'] / feeds:,.0f} / {seen['bytes_in'] / feeds:,.0f} per feed), "
        f"requests spread over {window:.1f} s; {note}"
    )


def daemon(farm: SiteFarm, config: Path, feeds: int, idle: float) -> None:
    proc = _start_daemon(farm, config)
    try:
        seen = _await_quiet(farm, proc, feeds)
        _print_cycle("4 daemon start-up, conditional", seen, feeds, "")
        farm.stats.reset()
        cpu0, t0 = proc_cpu_seconds(proc.pid), time.monotonic()
        time.sleep(idle)
        cpu = proc_cpu_seconds(proc.pid) - cpu0
        elapsed = time.monotonic() - t0
        print(
            f"idle daemon over {elapsed:.0f} s: CPU {cpu:.2f} s = {100 * cpu / elapsed:.2f} % "
            f"of one core; RSS {proc_rss_bytes(proc.pid) / 2**20:.0f} MiB, "
            f"{proc_open_fds(proc.pid)} open fds; "
            f"requests meanwhile: {farm.stats.snapshot()['total']}"
        )
        _stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()


def daemon_second_cycle(farm: SiteFarm, config: Path, feeds: int) -> dict[str, Any]:
    """The daemon's next poll after start-up: what a long-running daemon costs per cycle."""
    proc = _start_daemon(farm, config)
    try:
        _await_quiet(farm, proc, feeds)
        farm.stats.reset()
        seen = _await_quiet(farm, proc, feeds)
        _print_cycle("5 daemon's second cycle (steady state)", seen, feeds, "")
        _stop(proc)
        return seen
    finally:
        if proc.poll() is None:
            proc.kill()


def _start_daemon(farm: SiteFarm, config: Path) -> subprocess.Popen[str]:
    """`newswatch run` in a subprocess, the server's counters at zero."""
    farm.stats.reset()
    return subprocess.Popen(
        newswatch_command(config, "run"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )


def _await_quiet(farm: SiteFarm, proc: subprocess.Popen[str], feeds: int) -> dict[str, Any]:
    """Wait for the start-up cycle: every feed asked, then 3 s without requests."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(
                f"the daemon exited early:\n{proc.stderr.read()[-3000:] if proc.stderr else ''}"
            )
        seen = farm.stats.snapshot()
        asked = seen["requests"].get("feed_304", 0) + seen["requests"].get("feed_200", 0)
        last = seen["last_request"]
        if asked >= feeds and last is not None and time.monotonic() - last > 3:
            return seen
        time.sleep(0.5)
    sys.exit("the daemon's first cycle did not finish within 300 s")


def _stop(proc: subprocess.Popen[str]) -> None:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        print("the daemon did not stop within 30 s of SIGTERM")
        return
    print(f"SIGTERM -> exit {proc.returncode} in {time.monotonic() - started:.2f} s")


def amortised(conditional: dict[str, Any], full: dict[str, Any], feeds: int) -> None:
    """The steady state with the default full_fetch_every of 12: 11 conditional + 1 full.

    `conditional` is the daemon's second cycle; `full` a full-fetch cycle, which in
    a running daemon also needs no robots.txt, so those requests are left out of it.
    """
    full = {**full, "total": full["total"] - full["requests"].get("robots", 0)}
    per_cycle = (11 * conditional["bytes_out"] + full["bytes_out"]) / 12
    requests = (11 * conditional["total"] + full["total"]) / 12
    answered_304 = conditional["requests"].get("feed_304", 0)
    others = {k: v for k, v in conditional["requests"].items() if k != "feed_304"}
    print(
        f"steady state (11 conditional + 1 full per 12 cycles): {requests / feeds:.2f} "
        f"requests and {per_cycle / feeds:,.0f} bytes out per feed per cycle"
    )
    print(
        f"goal one 304 per feed: {answered_304}/{feeds} feeds answered 304 in the conditional "
        f"cycle; {conditional['total'] / feeds:.2f} requests per feed in all "
        f"(other requests: {others})"
    )


if __name__ == "__main__":
    sys.exit(main())
