"""The walking skeleton end to end: a local news site → `newswatch run --once`
→ stored articles, matches and emails, on the real parts."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from conftest import COOPERATION, newswatch, positives, write_config
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from newswatch.demo.site import SiteServer
from newswatch.models import Alert, AlertStatus, Article, Match
from newswatch.storage import create_db_engine


def read_emails(outbox: Path) -> list[EmailMessage]:
    messages = []
    for path in sorted(outbox.glob("*.eml")):
        with path.open("rb") as fh:
            messages.append(email.message_from_binary_file(fh, policy=email.policy.default))
    return messages  # type: ignore[return-value]


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return part.get_content()


def test_run_once_alerts_exactly_the_cooperation_articles(
    tmp_path: Path, site: SiteServer, db_url: str
) -> None:
    config = write_config(
        tmp_path / "config",
        db_url=db_url,
        sources=[{"name": "Maasstad Lokaal", "kind": "feed", "url": site.feed_url, "every": "15m"}],
    )
    result = newswatch("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr

    engine = create_db_engine(db_url)
    with Session(engine) as session:
        titles = list(session.scalars(select(Article.title)))
        assert sorted(titles) == sorted(a.title for a in site.articles)  # each stored once
        matched = set(
            session.scalars(select(Article.title).join(Match).where(Match.topic == COOPERATION))
        )
        assert matched == positives(site)
        statuses = set(session.scalars(select(Alert.status)))
        assert statuses == {AlertStatus.sent}
    engine.dispose()

    messages = read_emails(tmp_path / "outbox")
    subjects = {m["Subject"] for m in messages}
    assert len(messages) == len(positives(site))
    for title in positives(site):
        assert any(title in s for s in subjects), f"no email for {title!r}"
    for message in messages:
        assert message["To"] == "lezer@example.org"
        assert site.url in body(message, "plain")  # the link
        assert "Maasstad Lokaal" in body(message, "html")  # the source
        # The topic by its title in topics.yaml, as the digest shows it.
        assert "Onderwerp: Intergemeentelijke samenwerking" in body(message, "plain")


def test_second_run_sends_nothing_new_and_gets_304(tmp_path: Path, site: SiteServer) -> None:
    config = write_config(
        tmp_path / "config",
        db_url=f"sqlite:///{tmp_path / 'nw.db'}",
        sources=[{"name": "Maasstad Lokaal", "kind": "feed", "url": site.feed_url}],
    )
    assert newswatch("--config", str(config), "run", "--once").returncode == 0
    first_emails = len(read_emails(tmp_path / "outbox"))
    page_hits = sum(n for path, n in site.hits.items() if path.startswith("/nieuws/"))

    result = newswatch("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr
    assert len(read_emails(tmp_path / "outbox")) == first_emails
    feed_statuses = [status for path, status in site.statuses if path == "/feed.xml"]
    assert feed_statuses == [200, 304]
    assert sum(n for path, n in site.hits.items() if path.startswith("/nieuws/")) == page_hits
    assert "not modified (304)" in result.stderr
    # The second process knew robots.txt from the first (kept in the database):
    # an unchanged feed costs one request, as in the running daemon.
    assert site.hits["/robots.txt"] == 1


def test_failing_source_does_not_stop_the_others(tmp_path: Path, site: SiteServer) -> None:
    db = tmp_path / "nw.db"
    config = write_config(
        tmp_path / "config",
        db_url=f"sqlite:///{db}",
        sources=[
            {"name": "Kapot", "kind": "feed", "url": f"{site.url}/bestaat-niet.xml"},
            {"name": "Onbereikbaar", "kind": "feed", "url": "http://127.0.0.1:9/feed.xml"},
            {"name": "Maasstad Lokaal", "kind": "feed", "url": site.feed_url},
        ],
    )
    result = newswatch("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr
    assert "Kapot: failed: HTTP 404" in result.stderr
    assert "Onbereikbaar: failed:" in result.stderr
    assert len(read_emails(tmp_path / "outbox")) == len(positives(site))
    engine = create_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        from newswatch.models import Source

        failures = dict(session.execute(select(Source.name, Source.consecutive_failures)).all())
        assert failures == {"Kapot": 1, "Onbereikbaar": 1, "Maasstad Lokaal": 0}
        assert session.scalar(select(func.count()).select_from(Article)) == len(site.articles)
    engine.dispose()


def test_sendgrid_backend_end_to_end(tmp_path: Path, site: SiteServer) -> None:
    from sendgrid_fake import SendGridFake

    key = "SG.test-key-abcdefghijklmnop"
    with SendGridFake(api_key=key) as fake:
        config = write_config(
            tmp_path / "config",
            db_url=f"sqlite:///{tmp_path / 'nw.db'}",
            sources=[{"name": "Maasstad Lokaal", "kind": "feed", "url": site.feed_url}],
            email={"from": "Newswatch <alerts@example.org>"},
        )
        env = {
            "SENDGRID_API_KEY": key,
            "NEWSWATCH_EMAIL_BACKEND": "sendgrid",
            "NEWSWATCH_SENDGRID_HOST": fake.url,
        }
        result = newswatch("--config", str(config), "-v", "run", "--once", env=env)
        assert result.returncode == 0, result.stderr
        assert key not in result.stderr
        requests = [r for r in fake.requests if r.path == "/v3/mail/send"]
    assert len(requests) == len(positives(site))
    subjects = set()
    for request in requests:
        payload = request.json
        assert payload["from"]["email"] == "alerts@example.org"
        assert payload["personalizations"][0]["to"][0]["email"] == "lezer@example.org"
        types = [c["type"] for c in payload["content"]]
        assert types == ["text/plain", "text/html"]
        subjects.add(payload["subject"])
    for title in positives(site):
        assert any(title in s for s in subjects)
    assert not list((tmp_path / "outbox").glob("*.eml"))
