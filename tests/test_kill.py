"""The kill test: `newswatch run` SIGKILLed at five points, then restarted.

Each point is a named fault-injection hook (newswatch/faults.py, test-only)
that makes the daemon SIGKILL itself. After a restart every due alert must
be delivered; a duplicate may only come from the window after SendGrid
accepted a message and before the outbox recorded it, and is counted.

    after_claim   rows leased by the dead process: taken over at restart
    during_send   killed with a request in flight (the fake answers slowly)
    after_send    the 202 arrived, the row still says pending: sent again
    mid_digest    the digest transaction never commits: rebuilt at restart
    mid_crawl     an article's transaction never commits: fetched again
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import COOPERATION, newswatch, positives, write_config
from outbox_helpers import DIGEST_READER, READER, sent_alert_ids
from sendgrid_fake import Reply, SendGridFake
from sqlalchemy import select, update

from newswatch.demo.site import SiteServer
from newswatch.models import Alert, AlertStatus, Digest
from newswatch.storage import open_database

CONCURRENCY = 4  # Sender's default: sends in flight at once
POINTS = ["after_claim", "during_send", "after_send", "mid_digest", "mid_crawl"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def setup(tmp_path: Path, site: SiteServer, fake: SendGridFake, digest_at: str | None) -> Path:
    subscribers = [{"email": READER, "topics": [COOPERATION]}]
    if digest_at:
        subscribers.append(
            {"email": DIGEST_READER, "topics": [COOPERATION], "delivery": f"daily@{digest_at}"}
        )
    folder = write_config(
        tmp_path / "config",
        db_url=f"sqlite:///{tmp_path / 'nw.db'}",
        sources=[{"name": "Maasstad Lokaal", "kind": "feed", "url": site.feed_url, "every": "1h"}],
        subscribers=subscribers,
        email={"from": "Newswatch <alerts@example.org>", "timeout": "10s", "send_every": "1s"},
    )
    settings_path = folder / "settings.yaml"
    settings = yaml.safe_load(settings_path.read_text())
    settings["http"] = {"listen": f"127.0.0.1:{free_port()}"}
    settings_path.write_text(yaml.safe_dump(settings))
    return folder


def env_for(fake: SendGridFake, **extra: str) -> dict[str, str]:
    return {
        "SENDGRID_API_KEY": fake.api_key,
        "NEWSWATCH_EMAIL_BACKEND": "sendgrid",
        "NEWSWATCH_SENDGRID_HOST": fake.url,
        **extra,
    }


def run_until_killed(config: Path, env: dict[str, str]) -> str:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSWATCH_", "SENDGRID"))}
    full_env.update(env)
    with subprocess.Popen(
        [sys.executable, "-m", "newswatch", "--config", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    ) as proc:
        try:
            _, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
            pytest.fail(f"the fault hook never fired:\n{stderr[-3000:]}")
    assert proc.returncode == -9, stderr
    return stderr


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_each_point_then_restart_delivers_everything(
    tmp_path: Path, site: SiteServer, point: str
) -> None:
    db_url = f"sqlite:///{tmp_path / 'nw.db'}"
    with SendGridFake() as fake:
        digest_at = None
        if point == "mid_digest":
            # A slot half an hour ago; alerts held from a first run are moved
            # before it, so the daemon builds the digest as soon as it starts.
            slot = datetime.now(ZoneInfo("Europe/Amsterdam")) - timedelta(minutes=30)
            digest_at = slot.strftime("%H:%M")
        config = setup(tmp_path, site, fake, digest_at)
        fault_env = {"NEWSWATCH_FAULT": point}
        if point == "mid_digest":
            first = newswatch("--config", str(config), "run", "--once", env=env_for(fake))
            assert first.returncode == 0, first.stderr
            db = open_database(db_url)
            with db.transaction() as session:
                session.execute(
                    update(Alert)
                    .where(Alert.status == AlertStatus.held)
                    .values(queued_at=datetime.now(UTC) - timedelta(hours=2))
                )
            db.dispose()
        elif point == "during_send":
            fake.script([Reply.slow(5)])
            fault_env["NEWSWATCH_FAULT_DELAY"] = "0.5"
        elif point == "mid_crawl":
            fault_env["NEWSWATCH_FAULT"] = "mid_crawl@2"

        stderr = run_until_killed(config, env_for(fake, **fault_env))
        assert f"fault injection: SIGKILL at {point}" in stderr

        restart = newswatch("--config", str(config), "run", "--once", env=env_for(fake))
        assert restart.returncode == 0, restart.stderr
        requests = sent_alert_ids(fake)

    db = open_database(db_url)
    with db.session() as session:
        alerts = session.scalars(select(Alert)).all()
        digests = session.scalars(select(Digest)).all()
    db.dispose()
    instant = [a for a in alerts if a.delivery == "instant"]
    assert len(instant) == len(positives(site))
    assert {a.status for a in instant} == {AlertStatus.sent}
    # Every due alert reached SendGrid (a digest under its first alert's id).
    assert {a.id for a in instant} <= set(requests)
    if point == "mid_digest":
        assert [d.status for d in digests] == [AlertStatus.sent]
        held = [a for a in alerts if a.delivery == "digest"]
        assert held
        assert {a.status for a in held} == {AlertStatus.digested}
        assert min(a.id for a in held) in requests
    duplicates = Counter({k: n - 1 for k, n in requests.items() if n > 1})
    print(f"{point}: {sum(requests.values())} request(s), {sum(duplicates.values())} duplicate(s)")
    if point == "after_send":
        # What SendGrid accepted before the kill goes out again: at least the one
        # that hit the hook, at most one per send in flight (the sender's concurrency).
        assert 1 <= sum(duplicates.values()) <= CONCURRENCY
    elif point == "during_send":
        # Requests in flight may have been accepted (the fake recorded them):
        # the same window as after_send, seen from the other side.
        assert sum(duplicates.values()) <= CONCURRENCY
    else:
        assert not duplicates
