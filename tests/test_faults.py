"""The real daemon (`newswatch run` in a subprocess) under faults: a second daemon, SIGHUP,
a config broken while running, a source that hangs, the database locked, the outbox
unwritable. Each test checks the daemon stays up, logs the problem precisely and
recovers, and that it still stops within 10 s."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DATA, newswatch, positives, write_config
from daemonproc import Daemon, wait_for

from newswatch.demo.site import SiteServer, load_site

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def daemon_config(
    tmp_path: Path,
    sources: list[dict[str, Any]],
    *,
    crawl: dict[str, Any] | None = None,
    email: dict[str, Any] | None = None,
    **settings: Any,
) -> Path:
    """A config folder plus top-level settings; the HTTP endpoint on a free port."""
    config = write_config(
        tmp_path / "config",
        db_url=f"sqlite:///{tmp_path / 'nw.db'}",
        sources=sources,
        crawl=crawl,
        email=email,
    )
    path = config / "settings.yaml"
    data = yaml.safe_load(path.read_text())
    data.update({"http": {"listen": f"127.0.0.1:{free_port()}"}, **settings})
    path.write_text(yaml.safe_dump(data))
    return config


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def write_sources(config: Path, sources: list[dict[str, Any]]) -> None:
    (config / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}))


def emails(tmp_path: Path) -> list[Path]:
    outbox = tmp_path / "outbox"
    return sorted(outbox.glob("*.eml")) if outbox.is_dir() else []


def assert_clean_stop(daemon: Daemon) -> None:
    code, took = daemon.stop(signal.SIGTERM)
    log = daemon.log()
    assert code == 0, log[-3000:]
    assert took < 10, f"stop took {took:.1f} s"
    assert "stopped" in log
    assert "Traceback" not in log, log[-3000:]


@pytest.fixture
def second_site() -> Iterator[SiteServer]:
    with SiteServer(load_site(DATA / "site.yaml"), site_name="Tweede Lokaal") as server:
        yield server


def test_second_daemon_is_refused_and_sighup_adds_a_source(
    tmp_path: Path, site: SiteServer, second_site: SiteServer
) -> None:
    first = {"name": "Maasstad Lokaal", "url": site.feed_url, "every": "2s"}
    # config_poll 0: only the signal may trigger this reload.
    config = daemon_config(tmp_path, [first], config_poll=0)
    with Daemon(config, tmp_path / "daemon.log") as daemon:
        assert daemon.wait_log("newswatch running"), daemon.log()
        assert daemon.wait_log("Maasstad Lokaal: 6 entries"), daemon.log()
        base = "http://" + yaml.safe_load((config / "settings.yaml").read_text())["http"]["listen"]
        assert get(base + "/healthz") == (200, "ok\n")
        assert get(base + "/readyz") == (200, "ready\n")
        status, text = get(base + "/metrics")
        assert status == 200
        assert 'newswatch_items_total{source="Maasstad Lokaal"} 6.0' in text
        assert 'newswatch_source_consecutive_failures{source="Maasstad Lokaal"} 0.0' in text
        for args in (("run",), ("run", "--once")):
            refused = newswatch("--config", str(config), *args, timeout=60)
            assert refused.returncode == 1, refused.stderr
            assert f"another newswatch (pid {daemon.pid})" in refused.stderr
        assert daemon.alive()

        write_sources(config, [first, {"name": "Tweede", "url": second_site.feed_url}])
        time.sleep(0.5)
        assert second_site.hits["/feed.xml"] == 0  # no polling of the folder: waits for HUP
        daemon.send(signal.SIGHUP)
        assert daemon.wait_log("config reloaded (SIGHUP)"), daemon.log()
        assert "added: Tweede" in daemon.log()
        assert wait_for(lambda: second_site.hits["/feed.xml"] >= 1, 20)
        assert_clean_stop(daemon)


def test_config_broken_while_running_keeps_the_old_one_until_fixed(
    tmp_path: Path, site: SiteServer
) -> None:
    source = {"name": "Maasstad Lokaal", "url": site.feed_url, "every": "1s"}
    config = daemon_config(tmp_path, [source], config_poll="0.5s")
    with Daemon(config, tmp_path / "daemon.log") as daemon:
        assert wait_for(lambda: len(emails(tmp_path)) == len(positives(site)), 40), daemon.log()

        write_sources(config, [{**source, "every": "vaak"}])
        assert daemon.wait_log("config reload refused"), daemon.log()
        log = daemon.log()
        assert "sources.yaml, line 2, key 'sources[0].every'" in log
        assert "the running config stays in force" in log
        # The old config keeps running: the feed is polled every second as before.
        hits = site.hits["/feed.xml"]
        assert wait_for(lambda: site.hits["/feed.xml"] >= hits + 2, 15)

        write_sources(config, [{**source, "every": "2s"}])
        assert daemon.wait_log("config reloaded"), daemon.log()
        assert "changed: Maasstad Lokaal" in daemon.log()
        assert_clean_stop(daemon)


class HangingServer:
    """Accepts connections and never answers a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/feed.xml"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed at the end of the test
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def test_a_hanging_source_does_not_hold_up_the_others_or_the_stop(
    tmp_path: Path, site: SiteServer
) -> None:
    hanging = HangingServer()
    try:
        config = daemon_config(
            tmp_path,
            [
                {"name": "Hangt", "url": hanging.url, "every": "1s"},
                {"name": "Maasstad Lokaal", "url": site.feed_url, "every": "1s"},
            ],
            crawl={"timeout": "120s"},  # the hang outlasts the test
        )
        with Daemon(config, tmp_path / "daemon.log") as daemon:
            assert wait_for(lambda: len(emails(tmp_path)) == len(positives(site)), 40)
            assert hanging.accepted, "the hanging source was never asked"
            assert "Hangt:" not in daemon.log()  # still in flight, not finished
            # Stopping while that crawl hangs still ends within 10 s.
            assert_clean_stop(daemon)
    finally:
        hanging.close()


HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def test_database_locked_for_a_while_then_resumes(tmp_path: Path, site: SiteServer) -> None:
    source = {"name": "Maasstad Lokaal", "url": site.feed_url, "every": "1s"}
    config = daemon_config(tmp_path, [source], database_busy_timeout="1s")
    with Daemon(config, tmp_path / "daemon.log") as daemon:
        assert wait_for(lambda: len(emails(tmp_path)) == len(positives(site)), 40)
        # Another process (a backup, a sqlite3 shell) holds the write lock for 8 s.
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "nw.db"), "8"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        assert holder.wait(timeout=20) == 0
        holder.stdout.close()
        released = daemon.log().count("not modified (304)")
        assert daemon.alive()
        # It resumes: polls are recorded again.
        assert daemon.wait_log("not modified (304)", timeout=20, count=released + 2)
        assert "database unavailable (database is locked); retried on its next run" in daemon.log()
        assert_clean_stop(daemon)  # and no traceback: an outage is not a bug


def test_outbox_not_writable_is_retried_and_delivered_once(
    tmp_path: Path, site: SiteServer
) -> None:
    outbox = tmp_path / "outbox"
    outbox.write_text("a file where the outbox folder should be\n")  # root ignores modes
    source = {"name": "Maasstad Lokaal", "url": site.feed_url, "every": "1s"}
    config = daemon_config(tmp_path, [source], email={"send_every": "1s"})
    with Daemon(config, tmp_path / "daemon.log") as daemon:
        assert daemon.wait_log("cannot write to outbox folder", timeout=40), daemon.log()
        assert daemon.alive()
        db = sqlite3.connect(tmp_path / "nw.db")
        assert wait_for(
            lambda: (
                db.execute("SELECT count(*) FROM alerts WHERE attempts >= 1").fetchone()[0]
                == len(positives(site))
            )
        )
        outbox.unlink()
        # The retry is due 30-60 s later (backoff); bring it to now instead of waiting.
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
        with db:
            db.execute("UPDATE alerts SET next_attempt_at = ?", (now,))
        assert wait_for(lambda: len(emails(tmp_path)) == len(positives(site)), 30)
        time.sleep(2)  # a duplicate, if any, would arrive now
        statuses = db.execute("SELECT status, count(*) FROM alerts GROUP BY status").fetchall()
        db.close()
        assert statuses == [("sent", len(positives(site)))]
        assert len(emails(tmp_path)) == len(positives(site))
        assert_clean_stop(daemon)
