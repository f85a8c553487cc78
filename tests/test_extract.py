"""Article extraction on our own Dutch regional-news fixture pages (tests/data/pages/)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newswatch.crawler.dutch_dates import (
    author_from_byline,
    looks_like_byline,
    parse_dutch_date,
    places_from_dateline,
    title_case_place,
)
from newswatch.crawler.extract import (
    Extracted,
    ExtractOverrides,
    decode_html,
    detect_language,
    extract_article,
    extract_json,
    trim_related_text,
)

PAGES = Path(__file__).parent / "data" / "pages"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# name, title, published (UTC), author, places, lang, url (None: the url passed in)
CASES = [
    (
        "waterweg_byline.html",  # Maassluis24-style "DD-MM-YYYY Rubriek Auteur" line
        "Maassluis en Westland delen voortaan hun milieustraat",
        utc(2022, 11, 13, 23, 0),  # date only: midnight in Amsterdam (CET)
        "Anke Verhoef",
        ["Maassluis", "Westland"],
        "nl",
        "https://waterweg24.example/nl/nieuws/nieuws/maassluis-en-westland-delen-milieustraat/41873",
    ),
    (
        "yoast_wordpress.html",  # article:published_time + Yoast graph with an author @id
        "Brabantse gemeenten starten gezamenlijke handhavingsdienst",
        utc(2024, 3, 29, 9, 15),
        "Jan de Vries",
        ["'s-Hertogenbosch", "Vught"],
        "nl",
        "https://bosschebode.example/2024/03/29/gezamenlijke-handhavingsdienst/",
    ),
    (
        "jsonld_newsarticle.html",  # naive JSON-LD time in summer: CEST, UTC+2
        "Nieuwe brandweerkazerne voor Bemmel en Gendt",
        utc(2019, 7, 12, 4, 45),
        "Sanne Bakker, Ruud van 't Hof",
        ["Bemmel"],
        "nl",
        "https://omroep-lingewaard.example/nieuws/2019/nieuwe-brandweerkazerne",
    ),
    (
        "weather_cookie.html",  # weather widget date in the header, "Door X - d-m-yyyy, hh:mm"
        "IJsselgemeenten willen samen één sportbedrijf",
        utc(2017, 1, 3, 18, 27),
        "Paul de Vlieger",
        ["Capelle aan den IJssel", "Krimpen aan den IJssel"],
        "nl",
        None,
    ),
    (
        "related_blocks.html",  # "vrijdag 27 februari 2026 18:00" (CET) and three related blocks
        "Nieuwe speeltuin in de Westwijk gaat open",
        utc(2026, 2, 27, 17, 0),
        "Marieke Jansen",
        ["Vlaardingen"],
        "nl",
        None,
    ),
    (
        "windows1252.html",  # cp1252 bytes, "8 mei 2019 om 14.32 uur" (CEST)
        "Schiedam betaalt mee aan regionale archiefdienst",
        utc(2019, 5, 8, 12, 32),
        "Lotte Smit",
        ["Schiedam"],
        "nl",
        None,
    ),
    (
        "no_date.html",  # no date at all, only a weather widget in the menu
        "Bibliotheek verlengt openingstijden in de zomer",
        None,
        None,
        [],
        "nl",
        None,
    ),
    (
        "english_section.html",  # English section of a Dutch site, <time> with an offset
        "Two Brabant towns to share one city hall",
        utc(2025, 6, 2, 6, 0),
        "Emma Clarke",
        [],
        "en",
        "https://brabantnews.example/en/two-towns-share-city-hall",
    ),
]


@pytest.mark.parametrize(
    ("name", "title", "published", "author", "places", "lang", "canonical"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_fixture_page(
    name: str,
    title: str,
    published: datetime | None,
    author: str | None,
    places: list[str],
    lang: str,
    canonical: str | None,
) -> None:
    url = f"https://example.nl/{name}"
    art = extract_article(page(name), url)
    assert art.title == title
    assert art.published == published
    if published is not None:
        assert art.published.utcoffset().total_seconds() == 0
    assert art.author == author
    assert art.places == places
    assert art.lang == lang
    assert art.url == (canonical or url)
    # Clean paragraphs: no headline, no byline, no empty paragraphs.
    assert art.text
    assert not art.text.startswith(title)
    assert all(p.strip() for p in art.text.split("\n\n"))


def test_dateline_stays_in_text() -> None:
    art = extract_article(page("waterweg_byline.html"), "https://example.nl/a")
    assert art.text.startswith("MAASSLUIS/WESTLAND – De gemeenten Maassluis en Westland")
    assert "14-11-2022 Nieuws Anke Verhoef" not in art.text
    assert art.text.endswith("terecht bij het klantcontactcentrum.")


@pytest.mark.parametrize(
    ("name", "related"),
    [
        (
            "waterweg_byline.html",
            [
                "Gerelateerd",
                "gemeenschappelijke regeling",
                "ambtelijke fusie",
                "Bedrijfsvoeringsorganisatie",
            ],
        ),
        (
            "related_blocks.html",
            [
                "Lees ook",
                "Ook interessant",
                "gemeenschappelijke regeling",
                "Bedrijfsvoeringsorganisatie",
                "intergemeentelijke samenwerking",
                "Centrumgemeente",
            ],
        ),
        (
            "jsonld_newsarticle.html",
            ["Meer nieuws", "gemeenschappelijke regeling", "sociaal domein"],
        ),
        ("yoast_wordpress.html", ["Lees ook", "Centrumregeling"]),
    ],
)
def test_related_blocks_are_removed(name: str, related: list[str]) -> None:
    text = extract_article(page(name), "https://example.nl/a").text
    for phrase in related:
        assert phrase.lower() not in text.lower()


def test_body_after_a_lees_ook_block_survives() -> None:
    text = extract_article(page("related_blocks.html"), "https://example.nl/a").text
    assert "limonade en een springkussen" in text
    text = extract_article(page("yoast_wordpress.html"), "https://example.nl/a").text
    assert text.endswith("De dienst start op 1 juli.")


def test_windows_1252_page_is_decoded() -> None:
    text = extract_article(page("windows1252.html"), "https://example.nl/a").text
    assert "één regionale archiefdienst" in text
    assert "financiële" in text
    assert "‘Een eigen depot" in text
    assert "€ 85.000" in text
    assert "\ufffd" not in text


def test_weather_widget_date_is_never_the_publication_date() -> None:
    html = page("weather_cookie.html").replace(
        b'<p class="byline">Door Paul de Vlieger - 3-1-2017, 19:27</p>', b""
    )
    art = extract_article(html, "https://example.nl/a")
    assert art.published is None
    assert "cookies" not in art.text


def test_glued_related_run_is_cut() -> None:
    # The scraped-text shape of the seed article: the heading glued onto the last sentence.
    text = (
        "SCHIEDAM – De raad stemde in.\n\n"
        "De kosten worden later verdeeld met de gemeente Vlaardingen.Gerelateerd"
        "Maassluis en Vlaardingen starten gemeenschappelijke regeling"
    )
    assert trim_related_text(text) == (
        "SCHIEDAM – De raad stemde in.\n\n"
        "De kosten worden later verdeeld met de gemeente Vlaardingen."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Eerste alinea.\n\nGerelateerd\n\nKop een\n\nKop twee", "Eerste alinea."),
        ("Eerste alinea.\n\nMeer nieuws:\n\nKop", "Eerste alinea."),
        ("Eerste.\n\nLees ook: Gemeenten fuseren\n\nTweede.", "Eerste.\n\nTweede."),
        ("De raad stemde in. Gerelateerd", "De raad stemde in."),
        ("De raad stemde in.Lees ook:Kop een", "De raad stemde in."),
        ("Slot.\n\nGerelateerdVlaardingen en Schiedam\n\nKop twee", "Slot."),
        # Sentences that merely start with the words are body text.
        ("Lees ook het interview met de burgemeester op pagina 3.", None),
        ("Ook interessant is de rol van de provincie.", None),
        ("De raad vergadert vrijdag. Meer nieuws volgt.", None),
        ("De raad is er klaar mee.Meer nieuwsgierigheid naar de plannen is er niet.", None),
    ],
)
def test_trim_related_text(text: str, expected: str | None) -> None:
    assert trim_related_text(text) == (text if expected is None else expected)


@pytest.mark.parametrize(
    ("byline", "expected"),
    [
        ("08-05-2019 Nieuws Kor Kegel", datetime(2019, 5, 8)),
        ("Door Paul de Vlieger - 3-1-2017, 19:27", datetime(2017, 1, 3, 19, 27)),
        ("vrijdag 27 februari 2026 18:00", datetime(2026, 2, 27, 18, 0)),
        ("maandag 25 maart 2019", datetime(2019, 3, 25)),
        ("8 mei 2019 om 14.32 uur", datetime(2019, 5, 8, 14, 32)),
        ("Gepubliceerd: 3 okt. 2023 09:05", datetime(2023, 10, 3, 9, 5)),
        ("Bijgewerkt 4 okt 2023, geplaatst 3 okt 2023", datetime(2023, 10, 3)),
        ("31-02-2019 Nieuws", None),
        ("geen datum hier", None),
    ],
)
def test_parse_dutch_date(byline: str, expected: datetime | None) -> None:
    assert parse_dutch_date(byline) == expected


@pytest.mark.parametrize(
    ("byline", "author"),
    [
        ("08-05-2019 Nieuws Kor Kegel", "Kor Kegel"),
        ("16-12-2020 Nieuws Redactie", "Redactie"),
        ("Door Jan de Vries", "Jan de Vries"),
        ("Door Paul de Vlieger - 3-1-2017, 19:27", "Paul de Vlieger"),
        ("door: Ans van 't Hof | 8 mei 2019", "Ans van 't Hof"),
        ("Tekst en foto: Mark Bos", "Mark Bos"),
        ("Door de regen werd de wedstrijd afgelast", None),
        ("maandag 25 maart 2019", None),
    ],
)
def test_author_from_byline(byline: str, author: str | None) -> None:
    assert author_from_byline(byline) == author


@pytest.mark.parametrize(
    ("text", "places"),
    [
        (
            "SCHIEDAM/VLAARDINGEN – De gemeenten Schiedam en Vlaardingen",
            ["Schiedam", "Vlaardingen"],
        ),
        ("DEN HAAG — Het kabinet", ["Den Haag"]),
        ("BERGEN OP ZOOM - De raad", ["Bergen op Zoom"]),
        ("'S-HERTOGENBOSCH – De stad", ["'s-Hertogenbosch"]),
        ("IJSSELSTEIN/NIEUWEGEIN – Samen", ["IJsselstein", "Nieuwegein"]),
        ("AMSTERDAM (ANP) – De gemeente", ["Amsterdam"]),
        ("De ICT-samenwerking stopt – zegt de wethouder", []),
        ("Schiedam – kleine letters tellen niet", []),
        ("NS – treinen rijden niet", []),
    ],
)
def test_places_from_dateline(text: str, places: list[str]) -> None:
    assert places_from_dateline(text) == places


def test_title_case_place() -> None:
    assert title_case_place("HARDINXVELD-GIESSENDAM") == "Hardinxveld-Giessendam"
    assert title_case_place("ALPHEN AAN DEN RIJN") == "Alphen aan den Rijn"


def test_extract_json_shape() -> None:
    data = extract_json(page("waterweg_byline.html"), "https://example.nl/a")
    assert set(data) == {"title", "published", "author", "text", "places", "lang", "url"}
    assert data["published"] == "2022-11-14T00:00:00+01:00"
    summer = extract_json(page("windows1252.html"), "https://example.nl/b")
    assert summer["published"] == "2019-05-08T14:32:00+02:00"
    assert extract_json(page("no_date.html"), "https://example.nl/c")["published"] is None


def test_overrides_win() -> None:
    html = page("no_date.html").replace(
        b"<h1>", b'<p class="stamp" data-x="1">Door Kees Smit, 12-06-2024 10:00</p><h1>'
    )
    overrides = ExtractOverrides(
        body="div.bericht", title="title", date="p.stamp", author="p.stamp"
    )
    art = extract_article(html, "https://example.nl/a", overrides=overrides)
    assert art.title == "Bibliotheek verlengt openingstijden in de zomer - Dorpsnieuws Oosterhout"
    assert art.published == utc(2024, 6, 12, 8, 0)
    assert art.author == "Door Kees Smit, 12-06-2024 10:00"  # a selector is taken literally
    assert art.text.startswith("De bibliotheek aan het Marktplein")
    assert art.text.count("\n\n") == 2


def test_invalid_override_selector_falls_back() -> None:
    art = extract_article(
        page("waterweg_byline.html"),
        "https://example.nl/a",
        overrides=ExtractOverrides(body="div[[[", title="::nonsense("),
    )
    assert art.title == "Maassluis en Westland delen voortaan hun milieustraat"
    assert art.text.startswith("MAASSLUIS/WESTLAND")


def test_timezone_parameter() -> None:
    art = extract_article(page("windows1252.html"), "https://example.nl/a", timezone="UTC")
    assert art.published == utc(2019, 5, 8, 14, 32)


@pytest.mark.parametrize(
    "html",
    [
        b"",
        "",
        "   \n ",
        b"\x00\x01\x02\xff\xfe\xfd",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "<html><body><p>hoi\x00 daar</p></body></html>",
        '<?xml version="1.0" encoding="utf-8"?><html><body><p>hoi</p></body></html>',
        b'<meta charset="x-no-such-charset"><p>caf\xe9</p>',
        "<html>" + "<div>" * 50_000 + "diep",
        "<script type='application/ld+json'>{not json</script><p>tekst</p>",
        '<script type="application/ld+json">{"@type": "NewsArticle", "author": 5, '
        '"datePublished": "gisteren", "headline": ["a"]}</script><p>tekst</p>',
        "<time datetime='2019-02-31T10:00'>x</time><p>tekst</p>",
    ],
)
def test_bad_input_never_raises(html: bytes | str) -> None:
    art = extract_article(html, "https://example.nl/a")
    assert isinstance(art, Extracted)
    assert isinstance(art.text, str)
    assert art.url == "https://example.nl/a"


def test_huge_input_is_capped() -> None:
    body = "<p>" + "Dit is een zin over de gemeente. " * 20 + "</p>"
    html = "<html><body>" + body * 20_000 + "</body></html>"  # ~13 MB
    start = time.monotonic()
    art = extract_article(html.encode(), "https://example.nl/a")
    assert time.monotonic() - start < 60
    assert len(art.text) < 5_000_000


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("één café".encode(), "één café"),
        ("één café".encode("cp1252"), "één café"),
        (b"\xef\xbb\xbf" + "één".encode(), "één"),
        ("<p>één</p>".encode("utf-16"), "<p>één</p>"),
        (
            b'<meta charset="iso-8859-1"><p>\x93caf\xe9\x94</p>',
            '<meta charset="iso-8859-1"><p>“café”</p>',
        ),
        (b'<meta charset="bogus"><p>\x81</p>', '<meta charset="bogus"><p>\ufffd</p>'),
    ],
)
def test_decode_html(data: bytes, text: str) -> None:
    assert decode_html(data) == text


def _article(body: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body>{body}</body></html>"


PARAGRAPHS = (
    "<p>De gemeenteraad heeft dinsdag ingestemd met het plan voor een nieuwe brug over de "
    "rivier. Het college had er lang op aangedrongen en de wethouder is blij met het besluit.</p>"
    "<p>De bouw begint volgend jaar en duurt naar verwachting twee jaar. Voor fietsers komt er "
    "een tijdelijke pont, zodat zij niet hoeven om te rijden.</p>"
)


def test_author_from_byline_element() -> None:
    html = _article(
        '<article><h1>Nieuwe brug</h1><div class="meta"><span class="author vcard">'
        '<a href="/auteur/piet">Piet Klaassen</a></span></div>' + PARAGRAPHS + "</article>"
    )
    assert extract_article(html, "https://example.nl/a").author == "Piet Klaassen"


def test_time_of_the_article_not_of_a_sidebar_teaser() -> None:
    html = _article(
        '<aside class="sidebar"><a href="/x">Andere kop</a> '
        '<time datetime="2020-01-01T08:00:00+01:00">1 jan</time></aside>'
        "<article><h1>Nieuwe brug</h1>"
        '<time datetime="2024-09-10T15:30:00+02:00">10 sep</time>' + PARAGRAPHS + "</article>"
    )
    assert extract_article(html, "https://example.nl/a").published == utc(2024, 9, 10, 13, 30)


def test_date_from_url_as_last_resort() -> None:
    url = "https://example.nl/2024/03/29/bibliotheek-langer-open/"
    art = extract_article(page("no_date.html"), url)
    assert art.published == utc(2024, 3, 28, 23, 0)  # midnight in Amsterdam


def test_input_is_nfc_normalised() -> None:
    html = _article("<h1>Cafe\u0301</h1>" + PARAGRAPHS.replace("brug", "bru\u0308g"))
    art = extract_article(html, "https://example.nl/a")
    assert art.title == "Café"
    assert "brüg" in art.text


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        (
            "El ayuntamiento y los vecinos firmaron el acuerdo, pero sus críticos dicen que fue "
            "también un error cuando las cuentas no cuadran y muy pocos lo apoyan sin reservas.",
            "es",
        ),
        (
            "Der Gemeinderat hat das Projekt genehmigt, und die Bürger sind nicht alle dafür. Es "
            "wird im Herbst mit dem Bau begonnen, sagte der Bürgermeister bei der Sitzung.",
            "de",
        ),
        (
            "Le conseil municipal a voté pour le projet et les habitants sont pas tous d'accord "
            "avec cette décision, mais elle est définitive pour la mairie.",
            "fr",
        ),
        (
            "De gemeenteraad heeft het plan goedgekeurd, maar niet alle inwoners zijn het "
            "ermee eens. Het college wil ook een onderzoek naar de kosten.",
            "nl",
        ),
        ("Te kort.", None),
    ],
)
def test_detect_language(text: str, lang: str | None) -> None:
    assert detect_language(text) == lang


def test_seed_shape_byline_in_body_and_loose_gerelateerd() -> None:
    # The shape the seed article was scraped from: byline as the first paragraph of
    # the body, and "Gerelateerd" as loose text glued after the last paragraph.
    html = _article(
        '<div class="article"><h1>Maassluis haalt eigen afval op</h1>'
        "<p>12-03-2020 Nieuws Kees Bakker</p>"
        "<p>MAASSLUIS – De gemeente Maassluis gaat het afval voortaan zelf ophalen. Het "
        "college doet niet langer mee met de regionale inzameldienst.</p>"
        + PARAGRAPHS
        + "Gerelateerd"
        '<a href="/a">Vlaardingen en Schiedam gaan samenwerken bij belastingen</a>'
        '<a href="/b">Gemeenschappelijke regeling voor de jeugdzorg opgeheven</a></div>'
    )
    art = extract_article(html, "https://example.nl/a")
    assert art.author == "Kees Bakker"
    assert art.published == utc(2020, 3, 11, 23, 0)
    assert art.places == ["Maassluis"]
    assert art.text.startswith("MAASSLUIS – De gemeente")
    assert art.text.endswith("zodat zij niet hoeven om te rijden.")
    assert "Gerelateerd" not in art.text
    assert "samenwerken" not in art.text
    assert "Gemeenschappelijke regeling" not in art.text


@pytest.mark.parametrize(
    "first",
    [
        "Op 1 juli 2024 opent het museum.",  # short, but a sentence
        "Vanaf maandag 1 juli 2024 is de bibliotheek aan het Marktplein langer open. "
        "Op dinsdag kunnen bezoekers tot negen uur terecht, zodat ook werkende ouders met "
        "hun kinderen boeken kunnen komen lenen.",
    ],
)
def test_a_date_in_the_body_does_not_date_the_article(first: str) -> None:
    html = _article(
        f'<div class="x"><h1>Bibliotheek langer open</h1><p>{first}</p>{PARAGRAPHS}</div>'
    )
    art = extract_article(html, "https://example.nl/a")
    assert art.published is None
    assert art.text.startswith(first)  # and it is not mistaken for a byline either


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("08-05-2019 Nieuws Kor Kegel", True),
        ("Door Lotte Smit | 8 mei 2019 om 14.32 uur", True),
        ("vrijdag 27 februari 2026 18:00 | Tekst: Marieke Jansen", True),
        ("Op 1 juli 2024 opent het museum.", False),
        ("De raad besluit op 30 april 2025 over het plan voor de nieuwe brug", False),
        ("Door Jan de Vries", False),  # no date
    ],
)
def test_looks_like_byline(line: str, expected: bool) -> None:
    assert looks_like_byline(line) is expected


def test_sidebar_dates_and_body_classes_do_not_confuse_the_byline() -> None:
    # A sidebar teaser's date comes first in the document; <body>'s theme classes
    # mention "header" and "nav" without making the whole page chrome.
    html = (
        '<html><body class="has-header-image nav-open">'
        '<aside class="sidebar"><h3>Meest gelezen</h3>'
        '<div class="item"><a href="/x">Andere kop</a> <span class="date">03-01-2015</span></div>'
        "</aside>"
        '<div class="content"><h1>Nieuwe brug</h1>'
        '<div class="post-meta">Door Kees Smit | 8 mei 2019 om 14.32 uur</div>'
        + PARAGRAPHS
        + "</div></body></html>"
    )
    art = extract_article(html, "https://example.nl/a")
    assert art.published == utc(2019, 5, 8, 12, 32)
    assert art.author == "Kees Smit"
    assert art.title == "Nieuwe brug"
