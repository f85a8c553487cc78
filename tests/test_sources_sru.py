"""The `officielebekendmakingen` source kind against a local SRU server.

The answers follow the KOOP SRU 2.0 response with `recordSchema=gzd`: a
default namespace on the envelope, and per record a `gzd` document whose
`originalData` holds the OWMS metadata (dcterms:identifier, title, creator,
date, abstract) and whose `enrichedData` holds the preferred URL. The
publications below are invented for the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import newswatch, write_config
from sources_server import Route, SourcesServer
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from newswatch.crawler.sru import full_query
from newswatch.models import Article
from newswatch.settings import DEFAULT_SRU_QUERY

SRU_NS = "http://docs.oasis-open.org/ns/search-ws/sruResponse"


@dataclass
class Publication:
    identifier: str
    title: str
    creator: str
    day: date
    journal: str
    abstract: str | None = None
    preferred_url: bool = True


PUBLICATIONS = [
    Publication(
        "gmb-2026-41001",
        "Besluit tot uittreding uit de gemeenschappelijke regeling ICT Waterweg",
        "Maassluis",
        date(2026, 11, 20),
        "Gemeenteblad",
        "De raad besluit per 1 januari 2028 uit te treden uit de gemeenschappelijke regeling.",
    ),
    Publication(
        "bgr-2026-512",
        "Wijziging gemeenschappelijke regeling Belastingsamenwerking Rivierenland",
        "Belastingsamenwerking Rivierenland",
        date(2026, 11, 26),
        "Blad gemeenschappelijke regeling",
        preferred_url=False,
    ),
    Publication(
        "gmb-2026-40877",
        "Begroting 2027 van de gemeenschappelijke regeling Recreatieschap Oeverland",
        "Vlaardingen",
        date(2026, 11, 12),
        "Gemeenteblad",
        "De begroting is vastgesteld en ligt ter inzage in het stadskantoor.",
    ),
]


def record(pub: Publication, position: int) -> str:
    abstract = f"<dcterms:abstract>{pub.abstract}</dcterms:abstract>" if pub.abstract else ""
    preferred = (
        "<overheidwetgeving:preferredUrl>"
        f"https://zoek.officielebekendmakingen.nl/{pub.identifier}.html"
        "</overheidwetgeving:preferredUrl>"
        if pub.preferred_url
        else ""
    )
    return f"""<record>
  <recordSchema>http://standaarden.overheid.nl/sru/</recordSchema>
  <recordPacking>xml</recordPacking>
  <recordData>
    <gzd xmlns="http://standaarden.overheid.nl/sru"
         xmlns:dcterms="http://purl.org/dc/terms/"
         xmlns:overheid="http://standaarden.overheid.nl/owms/terms/"
         xmlns:overheidwetgeving="http://standaarden.overheid.nl/wetgeving/">
      <originalData>
        <overheidwetgeving:meta>
          <owmskern>
            <dcterms:identifier>{pub.identifier}</dcterms:identifier>
            <dcterms:title>{pub.title}</dcterms:title>
            <dcterms:type scheme="overheid:Informatietype">officiele publicatie</dcterms:type>
            <dcterms:language>nl</dcterms:language>
            <dcterms:creator scheme="overheid:Gemeente">{pub.creator}</dcterms:creator>
            <dcterms:modified>{pub.day.isoformat()}</dcterms:modified>
          </owmskern>
          <owmsmantel>
            {abstract}
            <dcterms:available>{pub.day.isoformat()}</dcterms:available>
            <dcterms:date>{pub.day.isoformat()}</dcterms:date>
          </owmsmantel>
          <tpmeta>
            <overheidwetgeving:publicatienaam>{pub.journal}</overheidwetgeving:publicatienaam>
          </tpmeta>
        </overheidwetgeving:meta>
      </originalData>
      <enrichedData>
        {preferred}
        <itemUrl manifestation="xml">https://repository.overheid.nl/frbr/{pub.identifier}.xml</itemUrl>
      </enrichedData>
    </gzd>
  </recordData>
  <recordPosition>{position}</recordPosition>
</record>"""


def answer(pubs: list[Publication], start: int, total: int) -> str:
    records = "".join(record(p, start + i) for i, p in enumerate(pubs))
    following = start + len(pubs)
    next_position = (
        f"<nextRecordPosition>{following}</nextRecordPosition>" if following <= total else ""
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<searchRetrieveResponse xmlns="{SRU_NS}">
  <version>2.0</version>
  <numberOfRecords>{total}</numberOfRecords>
  <records>{records}</records>
  {next_position}
</searchRetrieveResponse>"""


def paged(pubs: list[Publication], page_size: int) -> Route:
    """An SRU route that honours startRecord and pages by `page_size`."""

    def route(query: dict[str, list[str]]) -> tuple[int, str, str]:
        start = int(query.get("startRecord", ["1"])[0])
        chunk = pubs[start - 1 : start - 1 + page_size]
        return 200, "text/xml; charset=utf-8", answer(chunk, start, len(pubs))

    return route


@pytest.fixture
def sru() -> Iterator[SourcesServer]:
    with SourcesServer() as server:
        yield server


def run(tmp_path: Path, source: dict[str, object]) -> tuple[dict[str, Article], str]:
    db = tmp_path / "nw.db"
    config = write_config(tmp_path / "config", db_url=f"sqlite:///{db}", sources=[source])
    result = newswatch("--config", str(config), "run", "--once")
    assert result.returncode == 0, result.stderr
    engine = create_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        articles = {a.url: a for a in session.scalars(select(Article))}
        session.expunge_all()
    engine.dispose()
    return articles, result.stderr


def test_records_become_articles_and_the_query_is_sent(tmp_path: Path, sru: SourcesServer) -> None:
    sru.add("/sru", paged(PUBLICATIONS, 50))
    query = 'w.publicatienaam=="Blad gemeenschappelijke regeling"'
    articles, _ = run(
        tmp_path,
        {
            "name": "Bekendmakingen",
            "kind": "officielebekendmakingen",
            "url": f"{sru.url}/sru",
            "query": query,
            "since": "30d",
            "max_records": 20,
        },
    )
    searches = [r for r in sru.received if r.path.startswith("/sru")]
    assert len(searches) == 1
    sent = {k: v[0] for k, v in searches[0].query.items()}
    since = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    assert sent == {
        "operation": "searchRetrieve",
        "version": "2.0",
        "query": f"({query}) AND dt.modified>={since}",
        "startRecord": "1",
        "maximumRecords": "20",
        "recordSchema": "gzd",
    }
    assert searches[0].user_agent
    assert searches[0].user_agent.startswith("newswatch/")

    expected = {
        f"https://zoek.officielebekendmakingen.nl/{p.identifier}.html": p for p in PUBLICATIONS
    }
    assert set(articles) == set(expected)
    for url, pub in expected.items():
        article = articles[url]
        assert article.title == pub.title
        assert article.author == pub.creator
        assert article.guid == pub.identifier
        assert article.text == (pub.abstract or pub.title)
        assert article.published_at is not None
        # Midnight in Amsterdam on the publication day, stored in UTC.
        assert article.published_at.replace(tzinfo=UTC) == datetime(
            pub.day.year, pub.day.month, pub.day.day, tzinfo=UTC
        ) - timedelta(hours=1)
    # Newest first (the service cannot sort): the ids grow in that order.
    by_id = sorted(articles.values(), key=lambda a: a.id)
    assert [a.guid for a in by_id] == ["bgr-2026-512", "gmb-2026-41001", "gmb-2026-40877"]


def test_paging_up_to_max_records_and_second_run_adds_nothing(
    tmp_path: Path, sru: SourcesServer
) -> None:
    sru.add("/sru", paged(PUBLICATIONS, 2))
    source = {
        "name": "Bekendmakingen",
        "kind": "officielebekendmakingen",
        "url": f"{sru.url}/sru?x-connection=oep",
        "max_records": 3,
    }
    articles, _ = run(tmp_path, source)
    assert len(articles) == 3
    searches = [r.query for r in sru.received if r.path.startswith("/sru")]
    assert [q["startRecord"] for q in searches] == [["1"], ["3"]]
    assert [q["maximumRecords"] for q in searches] == [["3"], ["1"]]
    assert all(q["x-connection"] == ["oep"] for q in searches)  # kept from the URL
    assert all(
        q["query"][0].startswith(f"({DEFAULT_SRU_QUERY}) AND dt.modified>=") for q in searches
    )

    articles, stderr = run(tmp_path, source)
    assert len(articles) == 3
    assert "Bekendmakingen: 3 entries, 0 new" in stderr


def test_diagnostic_fails_the_source(tmp_path: Path, sru: SourcesServer) -> None:
    diagnostic = f"""<?xml version="1.0"?>
<searchRetrieveResponse xmlns="{SRU_NS}"><version>2.0</version>
<numberOfRecords>0</numberOfRecords>
<diagnostics><diagnostic xmlns="http://docs.oasis-open.org/ns/search-ws/diagnostic">
<uri>info:srw/diagnostic/1/10</uri><message>Query syntax error</message>
</diagnostic></diagnostics></searchRetrieveResponse>"""
    sru.xml("/sru", diagnostic)
    articles, stderr = run(
        tmp_path,
        {"name": "Bekendmakingen", "kind": "officielebekendmakingen", "url": f"{sru.url}/sru"},
    )
    assert articles == {}
    assert "Bekendmakingen: failed: SRU diagnostic: Query syntax error" in stderr


def test_full_query_without_date_bound() -> None:
    assert full_query('dt.creator=="Schiedam"', None) == 'dt.creator=="Schiedam"'
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert full_query("x", 2 * 86400, now) == "(x) AND dt.modified>=2026-11-26"
