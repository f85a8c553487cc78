"""`newswatch alerts preview`: write the next email a subscriber would get to files.

Instant: the subscriber's next due alert (else their latest one). Digest:
what the next digest would hold now (their held alerts), else their latest
digest. With nothing stored yet a built-in sample is rendered, so an
operator can check templates (and overrides in config/templates/) before the
first crawl. Nothing is sent and nothing in the database changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.policy import SMTP
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from newswatch.alerts.backends import build_mime
from newswatch.alerts.digest import digest_sections, next_slot
from newswatch.alerts.outbox import Sender, topic_titles
from newswatch.alerts.render import (
    AlertContent,
    AlsoReport,
    DigestContent,
    DigestItem,
    DigestSection,
    MatchInfo,
    OutgoingEmail,
    render_alert,
    render_digest,
)
from newswatch.models import Alert, AlertStatus, Article, Digest
from newswatch.settings import Config, Subscriber
from newswatch.storage import Database


@dataclass(frozen=True)
class Preview:
    eml: Path
    html: Path
    what: str  # which email this is, for the operator


def write_preview(
    db: Database,
    config: Config,
    *,
    subscriber: str | None,
    digest: bool,
    out_dir: Path,
    now: datetime | None = None,
) -> Preview:
    person = pick_subscriber(config, subscriber)
    sender = Sender(db, backend=_NoBackend(), config=config)
    moment = now or datetime.now(UTC)
    if digest:
        email, what = _digest_email(db, config, sender, person, moment)
    else:
        email, what = _instant_email(db, sender, person)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"preview-{'digest' if digest else 'instant'}-{person.email.split('@')[0]}"
    eml, html = out_dir / f"{stem}.eml", out_dir / f"{stem}.html"
    eml.write_bytes(build_mime(email, now=moment).as_bytes(policy=SMTP))
    html.write_text(email.html, encoding="utf-8")
    return Preview(eml, html, what)


def pick_subscriber(config: Config, email: str | None) -> Subscriber:
    if not config.subscribers:
        raise LookupError("subscribers.yaml lists nobody")
    if email is None:
        return config.subscribers[0]
    for person in config.subscribers:
        if person.email.lower() == email.strip().lower():
            return person
    raise LookupError(f"{email} is not in subscribers.yaml")


class _NoBackend:
    def send(self, email: OutgoingEmail) -> str | None:
        raise AssertionError("preview never sends")


def _instant_email(db: Database, sender: Sender, person: Subscriber) -> tuple[OutgoingEmail, str]:
    with db.session() as session:
        base = (
            select(Alert)
            .where(Alert.subscriber == person.email, Alert.delivery == "instant")
            .options(selectinload(Alert.article).selectinload(Article.matches))
        )
        alert = session.scalar(
            base.where(Alert.status.in_((AlertStatus.pending, AlertStatus.ambiguous)))
            .order_by(Alert.next_attempt_at, Alert.id)
            .limit(1)
        )
        what = "next due alert"
        if alert is None:
            alert = session.scalar(base.order_by(Alert.id.desc()).limit(1))
            what = "latest alert (none due)"
        if alert is not None:
            return sender.alert_email(alert), f"{what} {alert.id} for {person.email}"
    url, headers = sender.unsubscribe_for(person.email)
    content = sample_alert(person, url, topic_titles(sender.config))
    email = render_alert(
        content,
        from_addr=sender.config.settings.email.from_,
        timezone=sender.zone_name(person),
        template_dir=sender.config.directory / "templates",
        headers=headers,
    )
    return email, f"sample alert (nothing stored for {person.email} yet)"


def _digest_email(
    db: Database, config: Config, sender: Sender, person: Subscriber, now: datetime
) -> tuple[OutgoingEmail, str]:
    url, headers = sender.unsubscribe_for(person.email)
    render = {
        "from_addr": config.settings.email.from_,
        "timezone": sender.zone_name(person),
        "template_dir": config.directory / "templates",
        "headers": headers,
    }
    with db.session() as session:
        held = list(
            session.scalars(
                select(Alert)
                .where(Alert.subscriber == person.email, Alert.status == AlertStatus.held)
                .options(selectinload(Alert.article).selectinload(Article.matches))
                .order_by(Alert.id)
            )
        )
        if held:
            zone = person.zone(config.settings.timezone)
            end = next_slot(person.schedule, zone, now) if person.is_digest else now
            previous = session.scalar(
                select(Digest.period_end)
                .where(Digest.subscriber == person.email)
                .order_by(Digest.period_end.desc())
                .limit(1)
            )
            content = DigestContent(
                digest_id=0,
                alert_id=held[0].id,
                to=person.email,
                to_name=person.name,
                period_start=previous,
                period_end=end,
                sections=digest_sections(held, config, person),
                unsubscribe_url=url,
                language=person.language,
            )
            what = f"next digest for {person.email} ({len(held)} held alert(s))"
            return render_digest(content, **render), what
        latest = session.scalar(
            select(Digest)
            .where(Digest.subscriber == person.email)
            .order_by(Digest.id.desc())
            .limit(1)
        )
        if latest is not None:
            what = f"latest digest {latest.id} for {person.email} (nothing held now)"
            return sender.digest_email(session, latest, now), what
    content = sample_digest(person, url, now, topic_titles(config))
    return render_digest(content, **render), f"sample digest (nothing stored for {person.email})"


# --- samples (also used by scripts/screenshots.py) -----------------------------------

_TOPIC = "intergemeentelijke-samenwerking"


def sample_alert(
    person: Subscriber, unsubscribe_url: str | None, titles: Mapping[str, str] | None = None
) -> AlertContent:
    topic = person.topics[0] if person.topics else _TOPIC
    return AlertContent(
        alert_id=1,
        to=person.email,
        to_name=person.name,
        title="Drie Zeeuwse gemeenten richten samen één belastingdienst op",
        url="https://www.voorbeeldomroep.nl/nieuws/2026/11/belastingdienst-samen",
        source="Omroep Voorbeeld",
        published=datetime(2026, 11, 24, 8, 15, tzinfo=UTC),
        matches=[
            MatchInfo(
                topic=topic,
                title=(titles or {}).get(topic, ""),
                score=4.0,
                terms=["gemeenschappelijke regeling", "gaan samenwerken"],
                snippet="Vlissingen, Middelburg en Veere «gaan samenwerken» in een "
                "«gemeenschappelijke regeling» voor de heffing van gemeentelijke belastingen.",
            )
        ],
        unsubscribe_url=unsubscribe_url,
        language=person.language,
    )


def sample_digest(
    person: Subscriber,
    unsubscribe_url: str | None,
    now: datetime,
    titles: Mapping[str, str] | None = None,
) -> DigestContent:
    topic = person.topics[0] if person.topics else _TOPIC
    title = (titles or {}).get(topic, "")

    def why(terms: list[str], snippet: str) -> list[MatchInfo]:
        return [MatchInfo(topic=topic, score=3.0, terms=terms, snippet=snippet, title=title)]

    items = [
        DigestItem(
            title="Gemeenteraad stemt in met fusie van de sociale diensten in de Hoeksche Waard",
            url="https://www.voorbeeldomroep.nl/nieuws/sociale-dienst-fusie",
            source="Omroep Voorbeeld",
            published=now - timedelta(hours=3),
            matches=why(
                ["gemeenschappelijke regeling", "fusie"],
                "De raad stemde in met de «fusie» van beide diensten in één "
                "«gemeenschappelijke regeling».",
            ),
            also=[
                AlsoReport("Dagblad Zuid", "Sociale diensten fuseren", "https://dagblad.example/1"),
                AlsoReport("Regio Radio", "Fusie sociale diensten rond", "https://radio.example/2"),
            ],
        ),
        DigestItem(
            title="Werkorganisatie van twee Friese gemeenten wordt geëvalueerd <na klachten>",
            url="https://www.voorbeeldkrant.nl/werkorganisatie-evaluatie",
            source="Voorbeeldkrant",
            published=now - timedelta(hours=20),
            matches=why(
                ["werkorganisatie"],
                "De gezamenlijke «werkorganisatie» van beide gemeenten wordt dit jaar geëvalueerd.",
            ),
        ),
        DigestItem(
            title="ICT-samenwerking opgezegd: gemeente gaat alleen verder",
            url="https://www.voorbeeldomroep.nl/nieuws/ict-opgezegd",
            source="Omroep Voorbeeld",
            published=now - timedelta(days=2),
            matches=[],
            also=[
                AlsoReport("Stadsblad", "Gemeente stapt uit ICT-verband", "https://stad.example")
            ],
            followup=True,
        ),
    ]
    return DigestContent(
        digest_id=1,
        alert_id=1,
        to=person.email,
        to_name=person.name,
        period_start=now - timedelta(days=1),
        period_end=now,
        sections=[
            DigestSection(
                topic=topic, title=title or topic.replace("-", " ").capitalize(), items=items
            )
        ],
        unsubscribe_url=unsubscribe_url,
        language=person.language,
    )
