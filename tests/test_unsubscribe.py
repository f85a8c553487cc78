"""One-click unsubscribe over real HTTP: forged links refused, POST honoured at once,
suppression that outlives subscribers.yaml, and the operator's re-subscribe."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pytest
import yaml
from conftest import COOPERATION, ROOT, write_config
from sqlalchemy import select
from web_helpers import SECRET, request, serve

from newswatch.alerts.subscriptions import resubscribe, state_of, suppressed_emails
from newswatch.alerts.tokens import make_token
from newswatch.alerts.unsubscribe import list_unsubscribe_headers, unsubscribe, unsubscribe_url
from newswatch.crawler.items import ArticleItem
from newswatch.models import Alert, AlertStatus, Article, SubscriberState, Subscription
from newswatch.relevance import Classifier, load_topics
from newswatch.scheduler.ingest import Ingestor
from newswatch.settings import Subscriber
from newswatch.storage import Database, open_database

LEZER = "lezer@voorbeeld.nl"


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = open_database(f"sqlite:///{tmp_path / 'nw.db'}")
    yield database  # type: ignore[misc]
    database.dispose()


def _states(db: Database) -> dict[str, SubscriberState]:
    with db.session() as session:
        return {row.email: row.state for row in session.scalars(select(Subscription))}


def _article(db: Database, n: int) -> int:
    with db.transaction() as session:
        article = Article(
            url=f"https://krant.example/{n}", source_name="Krant", title=f"Bericht {n}", text="…"
        )
        session.add(article)
        session.flush()
        return article.id


def test_url_and_rfc8058_headers() -> None:
    url = unsubscribe_url(LEZER, public_url="https://nieuws.example/nw/", secret=SECRET)
    assert url == f"https://nieuws.example/nw/unsubscribe/{make_token(LEZER, SECRET)}"
    assert list_unsubscribe_headers(url) == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_forged_or_garbled_token_is_refused_and_changes_nothing(db: Database) -> None:
    good = make_token(LEZER, SECRET)
    someone_else = make_token("ander@voorbeeld.nl", SECRET)
    forged = [
        good.split(".")[0] + "." + someone_else.split(".")[1],  # my address, their signature
        make_token(LEZER, b"a guessed secret"),
        "bGV6ZXJAdm9vcmJlZWxkLm5s",  # the address without a signature
        "%%%.%%%",
        "a.b.c",
    ]
    with serve(db) as server:
        for token in forged:
            for method in ("GET", "POST"):
                status, body, _ = request(method, f"{server.url}/unsubscribe/{token}", b"")
                assert status == 400, (token, method)
                assert "ongeldig" in body
    assert _states(db) == {}


def test_get_shows_a_form_that_posts_and_changes_nothing(db: Database) -> None:
    token = make_token('"<b>"@voorbeeld.nl', SECRET)
    with serve(db) as server:
        status, body, headers = request("GET", f"{server.url}/unsubscribe/{token}")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert '<form method="post">' in body
    assert '<button type="submit">' in body
    assert "<script" not in body
    assert "&lt;b&gt;" in body
    assert "<b>" not in body
    # A mail scanner following the link must not unsubscribe anyone.
    assert _states(db) == {}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"),
        (b"", None),
    ],
)
def test_one_click_post_unsubscribes_at_once(
    db: Database, body: bytes, content_type: str | None
) -> None:
    ids = [_article(db, n) for n in range(3)]
    with db.transaction() as session:
        for article_id, status in zip(ids, ["pending", "held", "sent"], strict=True):
            session.add(
                Alert(
                    subscriber="Lezer@Voorbeeld.nl",  # as typed in subscribers.yaml
                    article_id=article_id,
                    topics=[COOPERATION],
                    status=AlertStatus(status),
                )
            )
    headers = {"Content-Type": content_type} if content_type else {}
    with serve(db) as server:
        url = unsubscribe_url(LEZER, public_url=server.url, secret=SECRET)
        status, page, _ = request("POST", url, body, headers)
    assert status == 200
    assert "afgemeld" in page
    with db.session() as session:
        row = session.scalars(select(Subscription)).one()
        statuses = [a.status for a in session.scalars(select(Alert).order_by(Alert.article_id))]
    assert (row.email, row.state, row.changed_by) == (LEZER, SubscriberState.unsubscribed, "link")
    # Not yet sent: stopped. Already sent: history stays as it was.
    assert statuses == [AlertStatus.suppressed, AlertStatus.suppressed, AlertStatus.sent]


def _item(n: int, place: str) -> ArticleItem:
    return ArticleItem(
        url=f"https://krant.example/samenwerking-{n}",
        source="Krant",
        title=f"{place} en buurgemeenten gaan samen afval inzamelen",
        text=(
            f"{place.upper()} – De gemeente {place} en twee buurgemeenten richten een "
            "gemeenschappelijke regeling op voor het ophalen van afval. De colleges stemden "
            f"in met de samenwerking; in {place} verandert de ophaaldag. Nummer {n}."
        ),
        published=datetime(2026, 11, 24, 8, tzinfo=UTC),
    )


def test_unsubscribe_holds_while_listed_until_resubscribed(db: Database) -> None:
    classifier = Classifier(load_topics(ROOT / "config" / "topics.yaml"))
    listed = Subscriber(email="Lezer@Voorbeeld.nl", topics=[COOPERATION])
    ingestor = Ingestor(db, classifier, [listed])
    assert ingestor.ingest(_item(1, "Goes")).alerts == 1

    unsubscribe(db, LEZER)
    with db.session() as session:
        assert suppressed_emails(session) == {LEZER}
    # Still in subscribers.yaml (the ingestor's list), yet nothing is queued.
    result = ingestor.ingest(_item(2, "Tholen"))
    assert COOPERATION in result.topics
    assert result.alerts == 0

    with db.transaction() as session:
        assert resubscribe(session, "LEZER@voorbeeld.nl")
        assert state_of(session, LEZER) == SubscriberState.active
        assert not resubscribe(session, LEZER)  # already active
    assert ingestor.ingest(_item(3, "Hulst")).alerts == 1
    with db.session() as session:
        row = session.scalars(select(Subscription)).one()
        # The alert suppressed at the unsubscribe stays suppressed: old news now.
        first = session.scalars(select(Alert).order_by(Alert.id)).first()
    assert row.changed_by == "operator"
    assert first is not None
    assert first.status == AlertStatus.suppressed


# --- the endpoint inside the real daemon ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _daemon_config(tmp_path: Path, port: int) -> Path:
    config = write_config(tmp_path / "config", db_url=f"sqlite:///{tmp_path / 'nw.db'}", sources=[])
    settings_path = config / "settings.yaml"
    settings = yaml.safe_load(settings_path.read_text())
    settings["http"] = {"listen": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}"}
    settings_path.write_text(yaml.safe_dump(settings))
    return config


def _start_daemon(config: Path, log: BinaryIO) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSWATCH_", "SENDGRID"))}
    env["NEWSWATCH_SECRET_KEY"] = SECRET.decode()
    return subprocess.Popen(
        [sys.executable, "-m", "newswatch", "--config", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=env,
    )


def _wait(condition, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _answers(url: str) -> bool:
    try:
        return request("GET", url)[0] == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_daemon_serves_unsubscribe(tmp_path: Path) -> None:
    port = _free_port()
    config = _daemon_config(tmp_path, port)
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        proc = _start_daemon(config, out)
    try:
        base = f"http://127.0.0.1:{port}"
        assert _wait(lambda: _answers(base + "/healthz")), log.read_text()
        url = unsubscribe_url(LEZER, public_url=base, secret=SECRET)
        status, _, _ = request("POST", url, b"List-Unsubscribe=One-Click")
        assert status == 200
    finally:
        code = _stop(proc)
    stderr = log.read_text()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    db = open_database(f"sqlite:///{tmp_path / 'nw.db'}")
    assert _states(db) == {LEZER: SubscriberState.unsubscribed}
    db.dispose()


@pytest.mark.slow
def test_port_in_use_is_one_clear_error_line_not_a_crash(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        log = tmp_path / "daemon.log"
        with log.open("wb") as out:
            proc = _start_daemon(_daemon_config(tmp_path, port), out)
        try:
            assert _wait(lambda: "HTTP endpoint not started" in log.read_text()), log.read_text()
            time.sleep(0.5)
            assert proc.poll() is None  # collecting and sending go on
        finally:
            code = _stop(proc)
    stderr = log.read_text()
    assert code == 0, stderr
    lines = [line for line in stderr.splitlines() if "HTTP endpoint not started" in line]
    assert len(lines) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0]
    assert "http.listen" in lines[0]
    assert "Traceback" not in stderr
