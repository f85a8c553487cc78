"""The rule language on small, hand-written topics: modes, proximity, verbs, names."""

from __future__ import annotations

from pathlib import Path

import pytest

from newswatch.relevance import Classifier, load_topics


def classifier(tmp_path: Path, rules: str, threshold: float = 1, extra: str = "") -> Classifier:
    text = (
        "topics:\n  - id: t\n"
        f"    threshold: {threshold}\n"
        "    fields: {title: 1, lead: 1, body: 1}\n"
        f"    rules:\n{rules}{extra}"
    )
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    return Classifier(load_topics(path))


def score(c: Classifier, text: str, title: str = "", url: str | None = None) -> float:
    matches = c.classify(title, text, url=url, include_unmatched=True)
    return matches[0].score if matches else 0.0


def terms(c: Classifier, text: str) -> list[str]:
    matches = c.classify("", text, include_unmatched=True)
    return [h.text for h in matches[0].hits] if matches else []


# --- match modes and folding ------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "text", "hit"),
    [
        ("samenwerking", "De samenwerking stopt.", True),
        ("samenwerking", "De samenwerkingsovereenkomst stopt.", False),
        ("samenwerk*", "De samenwerkingsovereenkomst stopt.", True),
        ("samenwerk*", "De ICT-samenwerking stopt.", True),  # hyphen is a word boundary
        ("samenwerk*", "De regiosamenwerking stopt.", False),
        ("'*samenwerking'", "De regiosamenwerking stopt.", True),
        ("'*samenwerking'", "De belastingsamenwerking stopt.", True),
        ("'*samenwerking'", "Het samenwerkingsverband stopt.", False),
        ("'*samenwerk*'", "De ict-samenwerkingsovereenkomst stopt.", True),
        ("ict-samenwerking", "De ICT samenwerking stopt.", True),
        ("ict-samenwerking", "De ictsamenwerking stopt.", True),
        ("ict-samenwerking", "De ICT-samenwerking stopt.", True),
        ("financiële middelen", "Er waren geen financiele middelen.", True),
        ("financiele middelen", "Er waren geen financiële middelen.", True),
        ("best", "Dat werkt het beste.", False),
        ("best", "Het bestuur besluit.", False),
        ("b&w", "Het college van B&W besluit.", True),
    ],
)
def test_modes_and_folding(tmp_path: Path, term: str, text: str, hit: bool) -> None:
    c = classifier(tmp_path, f"      - weight: 1\n        any: [{term}]\n")
    assert (score(c, text) > 0) is hit


def test_case_sensitive_acronym(tmp_path: Path) -> None:
    c = classifier(tmp_path, "      - weight: 1\n        any: [{term: GR, case: true}]\n")
    assert score(c, "Tiel treedt uit de GR.") == 1
    assert score(c, "Voeg 200 gr bloem toe.") == 0


def test_hit_positions_refer_to_the_original_text(tmp_path: Path) -> None:
    c = classifier(tmp_path, "      - weight: 1\n        any: [financiele middelen]\n")
    text = "Eerst\u00ad iets. Er waren financiële middelen nodig."
    (match,) = c.classify("Kop", text)
    (hit,) = match.hits
    assert hit.field == "lead"
    assert text[hit.start : hit.end] == hit.text == "financiële middelen"


def test_fields_title_lead_body(tmp_path: Path) -> None:
    c = classifier(tmp_path, "      - weight: 1\n        any: [fusie]\n        max: 10\n")
    text = "Eerste alinea over de fusie van iets.\n\nTweede alinea, weer de fusie."
    (match,) = c.classify("Fusie op komst", text)
    assert [h.field for h in match.hits] == ["title", "lead", "body"]
    assert match.hits[0].start == 0


def test_field_weights_multiply(tmp_path: Path) -> None:
    rules = "      - weight: 2\n        any: [fusie]\n"
    c = classifier(tmp_path, rules)
    assert score(c, "Niets.", title="Fusie") == 2  # fields all 1 in this helper
    text = "topics:\n  - id: t\n    threshold: 1\n    rules:\n" + rules
    path = tmp_path / "b.yaml"
    path.write_text(text, encoding="utf-8")
    default = Classifier(load_topics(path))
    assert score(default, "Niets.", title="Fusie") == 4  # title counts double
    assert score(default, "Een fusie van twee clubs is op komst.") == 3  # lead 1.5
    assert score(default, "Eerste alinea, lang genoeg om een lead te zijn.\n\nDe fusie.") == 2


def test_max_counts_every_occurrence(tmp_path: Path) -> None:
    c = classifier(tmp_path, "      - weight: 1\n        max: 3\n        any: [fusie]\n")
    assert score(c, "fusie fusie") == 2
    assert score(c, "fusie fusie fusie fusie fusie") == 3


# --- groups and proximity ---------------------------------------------------------------


def test_all_any_none(tmp_path: Path) -> None:
    rules = (
        "      - weight: 1\n"
        "        all: [{any: [samenwerk*]}, {any: [gemeente, gemeenten]}]\n"
        "        none: [voetbal*]\n"
    )
    c = classifier(tmp_path, rules)
    assert score(c, "De gemeenten gaan samenwerken.") == 1
    assert score(c, "De voetbalclubs gaan samenwerken in de gemeente.") == 0
    assert score(c, "Twee clubs gaan samenwerken.") == 0


def test_near_within_words(tmp_path: Path) -> None:
    rules = (
        "      - weight: 1\n        near: [opzegging, samenwerkingsovereenkomst]\n"
        "        within: 3\n"
    )
    c = classifier(tmp_path, rules)
    assert score(c, "De opzegging van de samenwerkingsovereenkomst.") == 1
    assert score(c, "De samenwerkingsovereenkomst en de opzegging.") == 1  # unordered
    far = "De opzegging kwam na lang en moeizaam overleg over de samenwerkingsovereenkomst."
    assert score(c, far) == 0


def test_near_in_one_sentence(tmp_path: Path) -> None:
    rules = "      - weight: 1\n        near: [samenwerk*, gemeenten]\n        sentence: true\n"
    c = classifier(tmp_path, rules)
    assert (
        score(c, "De gemeenten zoeken al jaren naar manieren om samen te werken en samenwerking.")
        == 1
    )
    assert score(c, "De gemeenten zwijgen. De samenwerking stopt.") == 0
    assert score(c, "De gemeenten o.a. Tiel zoeken samenwerking.") == 1  # o.a. ends no sentence
    assert score(c, "Dit zeggen de gemeenten\n\nDe samenwerking stopt.") == 0  # new paragraph


def test_near_ordered(tmp_path: Path) -> None:
    rules = (
        "      - weight: 1\n        near: [treedt, uit]\n        within: 6\n        ordered: true\n"
    )
    c = classifier(tmp_path, rules)
    assert score(c, "Tiel treedt per 1 januari uit de regeling.") == 1
    assert score(c, "Uit onderzoek blijkt dat Tiel treedt.") == 0


# --- separable verbs --------------------------------------------------------------------

SEPARABLE = (
    "      - weight: 1\n"
    "        any:\n"
    "          - separable: opzeggen\n"
    "            particle: op\n"
    "            forms: [zeg, zegt, zeggen, zei, zeiden]\n"
    "          - separable: uittreden\n"
    "            particle: uit\n"
    "            forms: [treed, treedt, treden, trad, traden]\n"
)


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("Schiedam zegt de samenwerkingsovereenkomst op.", True),
        ("B & W besloten de overeenkomst op te zeggen.", True),
        ("De gemeente wil de overeenkomst opzeggen.", True),
        ("Omdat Schiedam de overeenkomst opzegt, stopt het.", True),
        ("Tiel treedt per 1 januari uit de gemeenschappelijke regeling.", True),
        ("Tiel besluit uit te treden.", True),
        ("Als Buren uittreedt, betaalt het een uittreedsom.", True),
        ("Tiel zei dat de regeling prima werkt.", False),
        ("Tiel zegt het. Op maandag volgt meer.", False),  # particle in the next sentence
        ("Hij zei dat hij dat graag wilde doen, maar dat het college pas veel later op", False),
    ],
)
def test_separable_verbs(tmp_path: Path, text: str, hit: bool) -> None:
    c = classifier(tmp_path, SEPARABLE)
    assert (score(c, text) > 0) is hit


def test_separable_hits_are_labelled_with_the_verb(tmp_path: Path) -> None:
    c = classifier(tmp_path, SEPARABLE)
    (match,) = c.classify("", "Schiedam zegt de samenwerkingsovereenkomst op.")
    assert match.terms == ["opzeggen"]
    assert [h.text for h in match.hits] == ["zegt", "op"]


# --- municipalities ---------------------------------------------------------------------

PLACES = "      - weight: 1\n        municipalities: '>= 2'\n"


def places(tmp_path: Path, text: str, title: str = "") -> list[str]:
    c = classifier(tmp_path, "      - weight: 1\n        municipalities: '>= 1'\n")
    matches = c.classify(title, text, include_unmatched=True)
    return matches[0].municipalities if matches else []


def test_two_municipalities(tmp_path: Path) -> None:
    c = classifier(tmp_path, PLACES)
    assert score(c, "Schiedam en Vlaardingen praten.") == 1
    assert score(c, "Schiedam en Schiedam praten.") == 0
    assert score(c, "Den Haag en 's-Gravenhage zijn één gemeente.") == 0  # alias


def test_dateline_in_capitals(tmp_path: Path) -> None:
    found = places(tmp_path, "SCHIEDAM/VLAARDINGEN – De colleges praten verder.")
    assert found == ["Schiedam", "Vlaardingen"]


def test_lower_case_words_are_not_places(tmp_path: Path) -> None:
    assert places(tmp_path, "Dat moet leiden tot betere zorg in de huizen.") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("De gemeente Buren praat met Tiel.", ["Buren", "Tiel"]),
        ("Overlast van de buren? Zo pakt u het het best aan.", []),
        ("Buren is een lastig onderwerp.", []),  # sentence start, no context
        ("Het college van Buren besluit.", ["Buren"]),  # capitalised mid-sentence
        ("Martin Van Buren was president.", []),  # surname
        ("In Best werd de raad ingelicht.", ["Best"]),
        ("Op zijn Best is het een lastige wedstrijd.", ["Best"]),  # capitalised mid-sentence
        ("Putten en Ermelo werken samen.", ["Ermelo"]),  # "Putten" starts the sentence
        ("Ermelo en Putten werken samen.", ["Ermelo", "Putten"]),
        ("Het schip lag in de sluis; de bergen waren wit.", []),
        ("De gemeente Sluis en de gemeente Bergen (NH.) tekenen.", ["Sluis", "Bergen"]),
        ("Wij kampen met personeelstekort.", []),
        ("BUREN – De raad vergaderde.", ["Buren"]),  # dateline
        ("De provincie Utrecht betaalt mee.", []),
        ("In De Bilt werd het 30 graden, net als in Zeist.", ["De Bilt", "Zeist"]),
    ],
)
def test_ambiguous_names_only_in_context(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert places(tmp_path, text) == expected


def test_longest_name_wins(tmp_path: Path) -> None:
    assert places(tmp_path, "Het Land van Cuijk en Bergen op Zoom.") == [
        "Land van Cuijk",
        "Bergen op Zoom",
    ]


def test_former_municipalities_map_to_their_successor(tmp_path: Path) -> None:
    found = places(tmp_path, "In 2018 werkten Cuijk, Grave en Boxmeer samen.")
    assert found == [
        "Cuijk (nu Land van Cuijk)",
        "Grave (nu Land van Cuijk)",
        "Boxmeer (nu Land van Cuijk)",
    ]
    c = classifier(tmp_path, PLACES)
    assert score(c, "Weesp en Amsterdam praten.") == 1  # Weesp was a municipality


# --- cooperations, urls, similarity ------------------------------------------------------


def test_named_cooperations(tmp_path: Path) -> None:
    c = classifier(tmp_path, "      - weight: 1\n        cooperations: [werkorganisatie]\n")
    assert score(c, "De BUCH-gemeenten evalueren de werkorganisatie.") == 1
    assert score(c, "Servicepunt71 krijgt een nieuwe directeur.") == 1
    assert score(c, "Das Buch ist gut.") == 0  # BUCH only in capitals
    assert score(c, "De DCMR meet stank.") == 0  # another kind


def test_url_test(tmp_path: Path) -> None:
    c = classifier(tmp_path, "      - weight: 1\n        url: ['*.be']\n")
    assert score(c, "Tekst.", url="https://www.hln.be/regio/x") == 1
    assert score(c, "Tekst.", url="https://www.omroepbrabant.nl/x") == 0
    assert score(c, "Tekst.") == 0


def test_exclusions_penalty_veto_unless(tmp_path: Path) -> None:
    rules = "      - weight: 5\n        any: [samenwerk*]\n"
    extra = (
        "    exclude:\n"
        "      - penalty: 3\n        any: [voetbal*]\n        unless: {any: [gemeenten]}\n"
        "      - veto: true\n        any: [intercommunale]\n"
    )
    c = classifier(tmp_path, rules, threshold=4, extra=extra)
    assert [m.topic for m in c.classify("", "Samenwerking.")] == ["t"]
    assert c.classify("", "Samenwerking tussen voetbalclubs.") == []
    assert c.classify("", "Samenwerking van voetbalclubs en gemeenten.") != []
    assert c.classify("", "De intercommunale zoekt samenwerking.") == []
    (vetoed,) = c.classify("", "De intercommunale zoekt samenwerking.", include_unmatched=True)
    assert not vetoed.matched
    assert vetoed.excluded_by


def test_similarity_to_examples(tmp_path: Path) -> None:
    (tmp_path / "ex.txt").write_text(
        "De gemeenten gaan hun belastingen samen innen in een belastingsamenwerking.",
        encoding="utf-8",
    )
    rules = "      - weight: 1\n        similarity: '>= 0.3'\n"
    c = classifier(tmp_path, rules, extra="    examples:\n      - file: ex.txt\n")
    close = c.classify("", "Twee gemeenten innen de belastingen voortaan samen.")
    far = c.classify(
        "", "De voetbalclub wint met twee doelpunten verschil.", include_unmatched=True
    )
    assert close
    assert close[0].similarity is not None
    assert close[0].similarity >= 0.3
    assert far == [] or far[0].similarity < 0.3  # type: ignore[operator]


def test_url_examples_are_fetched_through_the_callback(tmp_path: Path) -> None:
    rules = "      - weight: 1\n        similarity: '>= 0.3'\n"
    extra = "    examples:\n      - url: https://example.nl/stored\n"
    path = tmp_path / "topics.yaml"
    path.write_text(
        f"topics:\n  - id: t\n    threshold: 1\n    rules:\n{rules}{extra}", encoding="utf-8"
    )
    stored = {"https://example.nl/stored": "Gemeenten delen de afvalinzameling."}
    c = Classifier(load_topics(path), example_text=stored.get)
    assert c.classify("", "De afvalinzameling delen de gemeenten.")


def test_one_automaton_for_all_topics(tmp_path: Path) -> None:
    text = (
        "topics:\n"
        "  - id: a\n    threshold: 1\n    rules:\n      - weight: 1\n        any: [fusie]\n"
        "  - id: b\n    threshold: 1\n    rules:\n"
        "      - weight: 1\n        any: [fusie, herindeling*]\n"
    )
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    c = Classifier(load_topics(path))
    assert c.topic_ids == ["a", "b"]
    assert sum(1 for t in c.matcher.targets if t.kind == "term") == 2  # "fusie" shared
    assert [m.topic for m in c.classify("", "De fusie.")] == ["a", "b"]
    assert [m.topic for m in c.classify("", "De fusie.", topic="b")] == ["b"]
    with pytest.raises(ValueError, match="unknown topic"):
        c.classify("", "x", topic="c")


def test_exclusion_in_fields_tests_only_those_fields(tmp_path: Path) -> None:
    extra = (
        "    exclude:\n"
        "      - penalty: 5\n"
        "        in: [title, lead]\n"
        "        any: [herindeling*]\n"
        "        unless: {any: [gemeenschappelijke regeling]}\n"
    )
    c = classifier(tmp_path, "      - weight: 6\n        any: [samenwerk*]\n", 6, extra)
    lead_only = "Twee gemeenten werken samen, en de samenwerking groeit."
    # The subject is the merger: named in the title or the lead.
    assert score(c, lead_only, title="Herindeling van tafel") == 1
    assert score(c, f"De herindeling is van tafel. {lead_only}") == 1
    # A merger mentioned below the lead does not count against the article.
    assert score(c, f"{lead_only}\n\nEerder was een herindeling nog in beeld.") == 6
    # `unless` looks at the whole article.
    body = f"{lead_only}\n\nDat gaat via een gemeenschappelijke regeling."
    assert score(c, body, title="Herindeling van tafel") == 6


def test_exclusion_in_must_name_a_field(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(
        "topics:\n  - id: t\n    threshold: 1\n    rules:\n      - {weight: 1, any: [a1]}\n"
        "    exclude:\n      - {penalty: 1, in: [], any: [b1]}\n",
        encoding="utf-8",
    )
    with pytest.raises(Exception, match="empty group"):
        load_topics(path)
