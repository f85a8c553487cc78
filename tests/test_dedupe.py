"""Dedupe: one press release on three outlets is one story, and one alert.

The texts are written for these tests (real municipality names, invented
events, people and quotes).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import unicodedata
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import COOPERATION, newswatch, write_config
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newswatch.crawler.items import ArticleItem
from newswatch.demo.site import SiteArticle, SiteServer
from newswatch.models import Alert, Article, Story
from newswatch.scheduler import dedupe
from newswatch.scheduler.dedupe import (
    MAX_DISTANCE,
    MIN_CONTAINMENT,
    RecentIndex,
    containment,
    content_hash,
    find_story,
    hamming,
    normalise,
    simhash,
    simhash_of,
    strip_diacritics,
)
from newswatch.scheduler.ingest import Ingestor
from newswatch.settings import Subscriber
from newswatch.storage import Database, create_db_engine, open_database

# The municipality's own press release.
PRESS_RELEASE = """SCHIEDAM – De gemeenten Schiedam en Vlaardingen openen volgend voorjaar een \
gezamenlijke milieustraat aan de Nieuwe Damlaan. Inwoners van beide gemeenten kunnen daar vanaf \
1 april 2027 hun grofvuil, snoeiafval, oud ijzer en elektrische apparaten kwijt. De huidige \
milieustraat in Vlaardingen sluit op dezelfde dag.

De nieuwe locatie is zes dagen per week open, ook op zaterdagmiddag. Bezoekers hoeven geen \
afspraak te maken, maar moeten wel hun pas of rijbewijs laten zien. Per huishouden mag jaarlijks \
twaalf keer gratis worden gestort; daarna geldt een tarief van tien euro per bezoek.

"Met één goed bereikbare milieustraat voor ruim honderdvijftigduizend inwoners kunnen we langer \
open blijven en beter scheiden," zegt wethouder Anouk Verbeek van Schiedam. Haar Vlaardingse \
collega Ruud Kamphuis vult aan: "Voor onze inwoners wordt de rit iets langer, maar ze krijgen er \
ruimere openingstijden en een kringloophoek voor terug."

De bouw van de milieustraat kost ongeveer 3,2 miljoen euro. Schiedam en Vlaardingen delen de \
kosten naar rato van het aantal inwoners. Het beheer komt in handen van het gezamenlijke \
afvalbedrijf van beide gemeenten, dat ook het ophalen van het huisafval verzorgt.

Omwonenden worden in januari uitgenodigd voor een informatieavond over de verkeersroute en de \
geluidsschermen."""

# Outlet 1: its own intro line, another dateline, the last sentence dropped.
OUTLET_INTRO = """SCHIEDAM/VLAARDINGEN – Goed nieuws voor wie de zolder wil opruimen. De gemeenten \
Schiedam en Vlaardingen openen volgend voorjaar een gezamenlijke milieustraat aan de Nieuwe \
Damlaan. Inwoners van beide gemeenten kunnen daar vanaf 1 april 2027 hun grofvuil, snoeiafval, \
oud ijzer en elektrische apparaten kwijt. De huidige milieustraat in Vlaardingen sluit op \
dezelfde dag.

De nieuwe locatie is zes dagen per week open, ook op zaterdagmiddag. Bezoekers hoeven geen \
afspraak te maken, maar moeten wel hun pas of rijbewijs laten zien. Per huishouden mag jaarlijks \
twaalf keer gratis worden gestort; daarna geldt een tarief van tien euro per bezoek.

“Met één goed bereikbare milieustraat voor ruim honderdvijftigduizend inwoners kunnen we langer \
open blijven en beter scheiden”, zegt wethouder Anouk Verbeek van Schiedam. Haar Vlaardingse \
collega Ruud Kamphuis vult aan: “Voor onze inwoners wordt de rit iets langer, maar ze krijgen er \
ruimere openingstijden en een kringloophoek voor terug.”

De bouw van de milieustraat kost ongeveer 3,2 miljoen euro. Schiedam en Vlaardingen delen de \
kosten naar rato van het aantal inwoners. Het beheer komt in handen van het gezamenlijke \
afvalbedrijf van beide gemeenten, dat ook het ophalen van het huisafval verzorgt."""

# Outlet 2: no dateline, a sentence in the middle dropped, a few words changed,
# no accents, and a credit line at the end.
OUTLET_EDITED = """De gemeenten Schiedam en Vlaardingen openen in het voorjaar een gezamenlijke \
milieustraat aan de Nieuwe Damlaan. Inwoners van beide gemeenten kunnen daar vanaf 1 april 2027 \
hun grofvuil, snoeiafval, oud ijzer en elektrische apparaten kwijt. De huidige milieustraat in \
Vlaardingen sluit op dezelfde dag.

De nieuwe locatie is zes dagen per week open, ook op zaterdagmiddag. Per huishouden mag \
jaarlijks twaalf keer gratis worden gestort; daarna geldt een tarief van tien euro per bezoek.

'Met een goed bereikbare milieustraat voor ruim honderdvijftigduizend inwoners kunnen we langer \
open blijven en beter scheiden,' zegt wethouder Anouk Verbeek van Schiedam. Haar Vlaardingse \
collega Ruud Kamphuis: 'Voor onze inwoners wordt de rit iets langer, maar ze krijgen er ruimere \
openingstijden en een kringloophoek voor terug.'

De bouw kost ongeveer 3,2 miljoen euro. Schiedam en Vlaardingen delen de kosten naar rato van \
het aantal inwoners. Het beheer komt in handen van het gezamenlijke afvalbedrijf van beide \
gemeenten, dat ook het ophalen van het huisafval verzorgt.

Omwonenden worden in januari uitgenodigd voor een informatieavond over de verkeersroute en de \
geluidsschermen.

Tekst: gemeente Schiedam"""

# The same outlet later that day: the release plus what the council decided.
UPDATE = (
    PRESS_RELEASE
    + """

Update 16.45 uur: De gemeenteraad van Vlaardingen heeft donderdagmiddag zonder hoofdelijke \
stemming ingestemd met het krediet voor de milieustraat. De Schiedamse raad neemt volgende week \
een besluit; daar lijkt een ruime meerderheid voor te zijn."""
)

# Same municipalities, same kind of subject, different news.
OTHER_SAME_TOWNS = """SCHIEDAM – De gemeenten Schiedam en Vlaardingen gaan samen \
leerplichtambtenaren inzetten. Vanaf het nieuwe schooljaar werkt één team van acht ambtenaren \
voor de scholen in beide gemeenten. Het team krijgt een kantoor in het stadskantoor van Schiedam.

Volgens wethouder Anouk Verbeek van Schiedam is het verzuim onder jongeren tussen twaalf en \
achttien jaar de laatste twee jaar gestegen. "Een groter team kan sneller op huisbezoek en is \
minder kwetsbaar bij ziekte," zegt ze. De kosten worden verdeeld naar rato van het aantal \
leerlingen.

In Vlaardingen werken nu drie leerplichtambtenaren, in Schiedam vijf. Niemand verliest zijn baan. \
De gemeenteraden van beide gemeenten worden in januari gevraagd om in te stemmen met de \
samenwerkingsafspraken."""

# Same town, unrelated subject.
OTHER_TOPIC = """SCHIEDAM – Parkeren in de binnenstad van Schiedam wordt volgend jaar duurder. Het \
uurtarief aan de Lange Haven en op de Koemarkt gaat van 2,40 naar 2,90 euro, zo staat in de \
begroting die het college dinsdag presenteerde. Bewoners met een vergunning betalen tien euro per \
jaar meer.

Ondernemers in het centrum reageren teleurgesteld. "Bezoekers rijden nu al door naar de \
winkelcentra aan de rand van de stad," zegt de voorzitter van de ondernemersvereniging. De \
gemeente wijst erop dat de parkeergarages onder het Stadserf juist goedkoper worden, om de \
straten autoluw te maken.

De gemeenteraad bespreekt de begroting op 12 november. Verschillende partijen hebben al laten \
weten een voorstel in te dienen om het tarief voor de eerste twee uur gelijk te houden."""

SAME_STORY = [PRESS_RELEASE, OUTLET_INTRO, OUTLET_EDITED, UPDATE]
OTHERS = [OTHER_SAME_TOWNS, OTHER_TOPIC]


# --- normalisation and fingerprints ----------------------------------------


def test_normalise_drops_dateline_case_accents_and_punctuation() -> None:
    assert (
        normalise("SCHIEDAM – Eén “coöperatie”,  twee\n\nzinnen.") == "een cooperatie twee zinnen"
    )
    assert normalise("DEN HAAG (ANP) – Tekst") == "tekst"
    assert normalise("'S-HERTOGENBOSCH/VUGHT – Tekst") == "tekst"
    # Not a dateline: a sentence that merely starts with a capital.
    assert normalise("De gemeente – zo zegt ze – twijfelt") == "de gemeente zo zegt ze twijfelt"
    assert normalise("") == normalise(None) == ""


def test_content_hash_ignores_layout_but_not_wording() -> None:
    a = content_hash("SCHIEDAM – De raad stemt in.\n\n“Mooi”, zegt de wethouder.")
    b = content_hash("De raad  stemt in. 'Mooi,' zegt de wethouder.")
    c = content_hash("De raad stemt niet in. 'Mooi,' zegt de wethouder.")
    assert a == b != c
    assert len(a) == 64
    assert int(a, 16) >= 0


def test_simhash_is_signed_64_bit_and_none_for_short_texts() -> None:
    values = [simhash(text) for text in [*SAME_STORY, *OTHERS]]
    assert all(v is not None and -(2**63) <= v < 2**63 for v in values)
    assert simhash(PRESS_RELEASE) == simhash(PRESS_RELEASE)  # stable across runs: no hash()
    assert simhash("Lees het hele artikel op onze website.") is None
    assert dedupe.to_signed(2**64 - 1) == -1
    assert hamming(-1, 0) == 64
    assert hamming(dedupe.to_signed(0b1011), 0b0001) == 2


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(SAME_STORY, 2)))
def test_outlets_of_one_press_release_are_near_duplicates(a: str, b: str) -> None:
    sa, sb = simhash(a), simhash(b)
    assert sa is not None
    assert sb is not None
    assert hamming(sa, sb) <= MAX_DISTANCE
    assert containment(a, b) >= MIN_CONTAINMENT


@pytest.mark.parametrize(
    ("a", "b"),
    [
        *itertools.product(SAME_STORY, OTHERS),
        tuple(OTHERS),
    ],
)
def test_different_news_about_the_same_towns_is_not(a: str, b: str) -> None:
    sa, sb = simhash(a), simhash(b)
    assert sa is not None
    assert sb is not None
    # Either check alone keeps them apart, with a wide margin.
    assert hamming(sa, sb) > MAX_DISTANCE + 8
    assert containment(a, b) < MIN_CONTAINMENT / 2


def test_dateline_alone_does_not_change_the_fingerprints() -> None:
    body = PRESS_RELEASE.removeprefix("SCHIEDAM – ")
    for dateline in ("", "SCHIEDAM – ", "SCHIEDAM/VLAARDINGEN – ", "VLAARDINGEN - "):
        assert content_hash(dateline + body) == content_hash(PRESS_RELEASE)
        assert simhash(dateline + body) == simhash(PRESS_RELEASE)


# --- the fast paths give the plain versions' answers ----------------------


def _plain_simhash(features: set[str]) -> int:
    """The SimHash definition, one vote per bit per feature."""
    votes = [0] * 64
    for feature in features:
        h = dedupe._hash64(feature)
        for bit in range(64):
            votes[bit] += 1 if (h >> bit) & 1 else -1
    return sum(1 << bit for bit in range(64) if votes[bit] > 0)


def _plain_strip(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def test_fast_simhash_and_accent_stripping_match_the_plain_versions() -> None:
    rnd = random.Random(20261129)  # noqa: S311 -- reproducible test data, not secrets
    for size in (0, 1, 2, 3, 64, 500, 3000):
        features = {f"{rnd.random()} {rnd.random()}" for _ in range(size)}
        assert simhash_of(features) == _plain_simhash(features)
    alphabet = "aeéëïöüçıłøßÆœﬁ①²\u0301\u0308\u0327 -–“”'.,\nAİ"
    samples = [*SAME_STORY, *OTHERS, "coöperatie", "ascii only"]
    samples += ["".join(rnd.choice(alphabet) for _ in range(200)) for _ in range(200)]
    for text in samples:
        assert strip_diacritics(text) == _plain_strip(text)
    for text in [*SAME_STORY, *OTHERS]:
        assert simhash(text) == dedupe.to_signed(
            _plain_simhash(dedupe.shingles(dedupe.words(text)))
        )


# --- stories at ingest, on SQLite and PostgreSQL ---------------------------


@dataclass
class StubMatch:
    """What the ingest step reads from a topic match."""

    topic: str
    score: float = 1.0
    terms: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "score": self.score}


class StubClassifier:
    """Topics by URL, so these tests do not depend on the tuning of topics.yaml."""

    def __init__(self, topics: dict[str, list[str]], default: list[str]) -> None:
        self.topics = topics
        self.default = default

    def classify(self, title: str, text: str, url: str | None = None) -> list[StubMatch]:
        return [StubMatch(t) for t in self.topics.get(url or "", self.default)]


def item(
    url: str, source: str, text: str, title: str = "Schiedam en Vlaardingen delen milieustraat"
) -> ArticleItem:
    return ArticleItem(
        url=url,
        source=source,
        title=title,
        text=text,
        published=datetime(2026, 11, 26, 9, tzinfo=UTC),
    )


def ingestor(db: Database, topics: dict[str, list[str]] | None = None) -> Ingestor:
    subscribers = [
        Subscriber(email="a@example.org", topics=["samenwerking"]),
        Subscriber(email="b@example.org", topics=["samenwerking", "afval"]),
        Subscriber(email="c@example.org", topics=["parkeren"]),
        Subscriber(email="d@example.org", topics=["raadsbesluit"]),
    ]
    classifier = StubClassifier(topics or {}, default=["samenwerking", "afval"])
    return Ingestor(db, classifier, subscribers)  # type: ignore[arg-type]


def test_one_press_release_on_three_sources_is_one_story_and_one_alert_each(db_url: str) -> None:
    db = open_database(db_url)
    # Only the update mentions the council's decision.
    ing = ingestor(db, {"https://maassluis.example/update": ["samenwerking", "raadsbesluit"]})

    first = ing.ingest(item("https://schiedam.example/milieustraat", "Gemeente", PRESS_RELEASE))
    second = ing.ingest(item("https://waterweg.example/zolder", "Waterweg", OUTLET_INTRO))
    third = ing.ingest(item("https://maassluis.example/1", "Maassluis", OUTLET_EDITED))
    assert first.new_story
    assert first.alerts == 2
    assert not second.new_story
    assert not third.new_story
    assert first.story_id == second.story_id == third.story_id is not None
    assert second.alerts == third.alerts == 0

    # Later that day: the update joins the story. Only d, who has not had the
    # story yet and cares about council decisions, gets an alert.
    update = ing.ingest(item("https://maassluis.example/update", "Maassluis", UPDATE))
    assert update.story_id == first.story_id
    assert not update.new_story
    assert update.alerts == 1

    # Different news about the same two towns is a story of its own.
    other = ing.ingest(
        item(
            "https://waterweg.example/leerplicht",
            "Waterweg",
            OTHER_SAME_TOWNS,
            "Schiedam en Vlaardingen delen leerplichtteam",
        )
    )
    assert other.new_story
    assert other.story_id != first.story_id
    assert other.alerts == 2

    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Story)) == 2
        sources = session.scalars(
            select(Article.source_name).where(Article.story_id == first.story_id)
        ).all()
        assert sorted(sources) == ["Gemeente", "Maassluis", "Maassluis", "Waterweg"]
        alerts = session.execute(
            select(Alert.subscriber, Article.story_id).join(Article).order_by(Alert.subscriber)
        ).all()
        per_story = sorted((s, story == first.story_id) for s, story in alerts)
        assert per_story == [
            ("a@example.org", False),
            ("a@example.org", True),
            ("b@example.org", False),
            ("b@example.org", True),
            ("d@example.org", True),
        ]
        row = session.scalar(
            select(Article).where(Article.url == "https://waterweg.example/zolder")
        )
        assert row is not None
        assert row.content_hash == content_hash(OUTLET_INTRO)
        assert row.simhash == simhash(OUTLET_INTRO)
    db.dispose()


def test_exact_copy_joins_and_old_stories_stay_closed(db_url: str) -> None:
    db = open_database(db_url)
    ing = ingestor(db)
    first = ing.ingest(item("https://a.example/1", "A", PRESS_RELEASE))
    copy = ing.ingest(item("https://b.example/1", "B", "VLAARDINGEN – " + PRESS_RELEASE[11:]))
    assert copy.story_id == first.story_id

    # Three weeks later the same text is a new occasion, not the old story.
    with db.transaction() as session:
        for row in session.scalars(select(Article)):
            row.first_seen_at -= timedelta(days=21)
    again = ing.ingest(item("https://c.example/1", "C", PRESS_RELEASE))
    assert again.new_story
    assert again.alerts == 2
    db.dispose()


def test_short_feed_items_group_by_title_only(db_url: str) -> None:
    db = open_database(db_url)
    ing = ingestor(db)
    summary = "Schiedam en Vlaardingen openen in april een gezamenlijke milieustraat."
    teaser = "Lees het hele artikel op onze website."
    full = ing.ingest(item("https://a.example/1", "A", PRESS_RELEASE))
    # A summary-only item under the same title (other quotes, other case) joins.
    short = ing.ingest(
        item("https://b.example/1", "B", summary, "Schiedam en Vlaardingen delen Milieustraat!")
    )
    assert short.story_id == full.story_id
    assert short.alerts == 0
    # The same teaser under different titles never merges two stories...
    one = ing.ingest(
        item("https://c.example/1", "C", teaser, "Nieuwe fietsbrug over de Schie geopend")
    )
    two = ing.ingest(item("https://c.example/2", "C", teaser, "Raad wil meer groen in Holy-Noord"))
    assert one.new_story
    assert two.new_story
    assert one.story_id != two.story_id
    # ...and neither do generic short titles.
    three = ing.ingest(item("https://c.example/3", "C", teaser, "Uit de raad"))
    four = ing.ingest(item("https://d.example/3", "D", teaser, "Uit de raad"))
    assert three.story_id != four.story_id
    db.dispose()


def test_full_text_joins_an_earlier_feed_summary_by_title(db_url: str) -> None:
    db = open_database(db_url)
    ing = ingestor(db)
    # Outlet A's page was unreachable: only its feed summary is stored, first.
    summary = "Schiedam en Vlaardingen openen in april een gezamenlijke milieustraat."
    short = ing.ingest(item("https://a.example/1", "A", summary))
    full = ing.ingest(item("https://b.example/1", "B", PRESS_RELEASE))
    assert full.story_id == short.story_id
    assert full.alerts == 0
    db.dispose()


def test_two_full_texts_never_merge_on_the_title_alone(db_url: str) -> None:
    db = open_database(db_url)
    ing = ingestor(db)
    title = "Gemeenteraad stemt in met de begroting"
    one = ing.ingest(item("https://a.example/1", "A", OTHER_TOPIC, title))
    two = ing.ingest(item("https://b.example/1", "B", OTHER_SAME_TOWNS, title))
    assert one.story_id != two.story_id
    assert two.new_story
    db.dispose()


def test_find_story_never_matches_the_article_itself(db_url: str) -> None:
    db = open_database(db_url)
    ing = ingestor(db)
    result = ing.ingest(item("https://a.example/1", "A", PRESS_RELEASE))
    with db.session() as session:
        article = session.get(Article, result.article_id)
        assert article is not None
        assert find_story(session, article) is None
    db.dispose()


# --- canonical URLs in the feed spider -------------------------------------


def _page(canonical: str | None) -> bytes:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    paragraphs = "".join(f"<p>{p}</p>" for p in PRESS_RELEASE.split("\n\n"))
    return (
        f'<html lang="nl"><head><meta charset="utf-8">{link}<title>Milieustraat</title></head>'
        f"<body><article><h1>Milieustraat</h1>{paragraphs}</article></body></html>"
    ).encode()


@pytest.mark.parametrize(
    ("page_url", "canonical", "stored"),
    [
        # The page names itself: AMP and tracking variants become one URL.
        (
            "https://www.waterweg.example/amp/milieustraat?utm_source=rss",
            "https://www.waterweg.example/nieuws/milieustraat?utm_medium=x#top",
            "https://www.waterweg.example/nieuws/milieustraat",
        ),
        # Another subdomain of the same registered domain is the same site.
        (
            "https://m.waterweg.example.nl/milieustraat",
            "https://nieuws.waterweg.example.nl/milieustraat",
            "https://nieuws.waterweg.example.nl/milieustraat",
        ),
        # A syndicated copy pointing at the original outlet: not ours to claim.
        (
            "https://www.waterweg.example/amp/milieustraat?utm_source=rss",
            "https://www.schiedam.nl/nieuws/milieustraat",
            "https://www.waterweg.example/amp/milieustraat",
        ),
        # Every page "canonical" to the home page: a CMS bug, ignored.
        (
            "https://www.waterweg.example/amp/milieustraat?utm_source=rss",
            "https://www.waterweg.example/",
            "https://www.waterweg.example/amp/milieustraat",
        ),
        # No canonical: the feed link's canonical form.
        (
            "https://www.waterweg.example/amp/milieustraat?utm_source=rss",
            None,
            "https://www.waterweg.example/amp/milieustraat",
        ),
        # Local test servers: the port tells sites apart.
        ("http://127.0.0.1:8001/a?fbclid=1", "http://127.0.0.1:8002/b", "http://127.0.0.1:8001/a"),
        ("http://127.0.0.1:8001/a?fbclid=1", "/b?utm_source=x", "http://127.0.0.1:8001/b"),
    ],
)
def test_feed_spider_stores_the_page_canonical_url_on_the_same_site(
    page_url: str, canonical: str | None, stored: str
) -> None:
    from scrapy.http import HtmlResponse

    from newswatch.crawler.feeds import FeedEntry
    from newswatch.crawler.spiders import FeedJob, FeedSpider

    spider = FeedSpider(FeedJob(name="Waterweg", url="https://www.waterweg.example/feed"))
    entry = FeedEntry(link=page_url, guid=None, title="Milieustraat", summary="", published=None)
    response = HtmlResponse(url=page_url, body=_page(canonical), encoding="utf-8")

    async def items() -> list[Any]:
        return [item async for item in spider.parse_article(response, entry)]

    [article] = asyncio.run(items())
    assert article.url == stored
    assert "milieustraat" in article.text


# --- end to end: three local outlets, the real CLI -------------------------


def _outlet(slug: str, dateline: str, text: str) -> SiteArticle:
    paragraphs = dedupe.strip_dateline(text).split("\n\n")
    return SiteArticle(
        slug=slug,
        title="Schiedam en Vlaardingen openen samen een milieustraat",
        published=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
        rubric="Nieuws",
        author="Redactie",
        dateline=dateline,
        paragraphs=[" ".join(p.split()) for p in paragraphs],
        related=["Nieuwe bankjes langs de Schie"],
        expect=COOPERATION,
        kind="afval",
    )


def test_one_press_release_on_three_feeds_is_one_story_and_one_email(
    tmp_path: Path, db_url: str
) -> None:
    outlets = {
        "Gemeente Schiedam": _outlet("milieustraat", "SCHIEDAM", PRESS_RELEASE),
        "Waterweg Nieuws": _outlet("zolder-opruimen", "SCHIEDAM/VLAARDINGEN", OUTLET_INTRO),
        "Vlaardings Dagblad": _outlet("nieuwe-milieustraat-damlaan", "", OUTLET_EDITED),
    }
    with ExitStack() as stack:
        sites = {
            name: stack.enter_context(SiteServer([article], site_name=name))
            for name, article in outlets.items()
        }
        config = write_config(
            tmp_path / "config",
            db_url=db_url,
            sources=[
                {"name": name, "kind": "feed", "url": site.feed_url} for name, site in sites.items()
            ],
        )
        result = newswatch("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr

    engine = create_db_engine(db_url)
    with Session(engine) as session:
        articles = session.scalars(select(Article)).all()
        assert sorted(a.source_name for a in articles) == sorted(outlets)
        assert len({a.story_id for a in articles}) == 1, [a.simhash for a in articles]
        assert session.scalar(select(func.count()).select_from(Story)) == 1
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
    engine.dispose()
    emails = list((tmp_path / "outbox").glob("*.eml"))
    assert len(emails) == 1, "the cooperation topic should match the press release"


# --- the in-memory window ---------------------------------------------------


def test_the_window_index_sees_articles_stored_by_someone_else(db_url: str) -> None:
    db = open_database(db_url)
    one, two = ingestor(db), ingestor(db)  # two index copies of one database
    first = one.ingest(item("https://schiedam.example/1", "Gemeente", PRESS_RELEASE))
    second = two.ingest(item("https://waterweg.example/1", "Waterweg", OUTLET_INTRO))
    # `one` read the window before `second` existed; it tops up by id.
    third = one.ingest(item("https://maassluis.example/1", "Maassluis", OUTLET_EDITED))
    assert first.story_id == second.story_id == third.story_id is not None
    assert not second.new_story
    assert not third.new_story
    db.dispose()


def test_a_candidate_whose_text_was_pruned_no_longer_attracts(db_url: str) -> None:
    db = open_database(db_url)
    ing = ingestor(db)
    first = ing.ingest(item("https://a.example/1", "A", PRESS_RELEASE))
    # Retention emptied the text (its shingles are still in the index's cache).
    with db.transaction() as session:
        row = session.get(Article, first.article_id)
        assert row is not None
        row.text = ""
        row.text_pruned_at = datetime.now(UTC)
    later = ing.ingest(item("https://b.example/1", "B", OUTLET_INTRO, "Een andere kop hier"))
    assert later.new_story
    db.dispose()


def test_a_long_lived_index_follows_the_window_forward_and_back(db_url: str) -> None:
    db = open_database(db_url)
    first = ingestor(db).ingest(item("https://a.example/1", "A", PRESS_RELEASE))
    prints = dedupe.fingerprint(OUTLET_INTRO)
    article = Article(
        url="https://b.example/1",
        source_name="B",
        title="Een andere kop hier",
        text=OUTLET_INTRO,
        content_hash=prints.content_hash,
        simhash=prints.simhash,
    )
    index = RecentIndex()
    now = datetime.now(UTC)
    with db.session() as session:
        story = find_story(session, article, now=now, index=index)
        assert story is not None
        assert story.id == first.story_id
        # A month on, the first article left the window (and the index).
        assert find_story(session, article, now=now + timedelta(days=30), index=index) is None
        # The clock stepped back: the index is read again and agrees.
        again = find_story(session, article, now=now, index=index)
        assert again is not None
        assert again.id == first.story_id
    db.dispose()
