"""The default topics (config/topics.yaml) on short Dutch texts written for these tests.

Positives are one per kind of cooperation; negatives are one per hard-negative
class of the domain notes (companies, clubs, churches, schools, politics,
incidents, Belgium, cross-border, public-private, BES, one municipality's ICT
outage, ambiguous place names). Mergers get their own topic.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newswatch.relevance import Classifier, TopicMatch, load_topics

ROOT = Path(__file__).resolve().parent.parent
IGS = "intergemeentelijke-samenwerking"
HER = "gemeentelijke-herindeling"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_topics(ROOT / "config" / "topics.yaml"))


def topics_of(c: Classifier, title: str, text: str, url: str | None = None) -> list[str]:
    return [m.topic for m in c.classify(title, text, url=url)]


# An article in the style of the one that started the project (our own text).
EXAMPLE_TITLE = "Gorinchem haakt af bij ICT-samenwerking met Hardinxveld-Giessendam"
EXAMPLE_TEXT = """\
14-03-2024 Nieuws Redactie

GORINCHEM/HARDINXVELD-GIESSENDAM – De gemeenten Gorinchem en Hardinxveld-Giessendam \
stoppen met hun gezamenlijke ICT-beheer. Over de inrichting van één servicedesk en de \
harmonisatie van de applicaties werden de twee colleges het niet eens.

Het plan was om het ICT-beheer onder te brengen in een bedrijfsvoeringsorganisatie (BVO). \
Daarvoor ontbraken uiteindelijk de financiële middelen en het draagvlak. Het college van \
burgemeester en wethouders van Gorinchem heeft daarom besloten de samenwerkingsovereenkomst \
uit 2016 op te zeggen.

De ontvlechting van de systemen moet voor de zomer van 2025 klaar zijn. Over de verdeling \
van de kosten maken de gemeenten nog afspraken.Gerelateerd
Nieuwe wethouder in Gorinchem
Fusie van twee voetbalclubs in Hardinxveld"""


def test_example_style_article_matches_with_an_explanation(classifier: Classifier) -> None:
    matches = classifier.classify(EXAMPLE_TITLE, EXAMPLE_TEXT, url="https://example.nl/a/1")
    assert [m.topic for m in matches] == [IGS]
    (match,) = matches
    assert match.score >= match.threshold
    assert match.matched
    assert {"Gorinchem", "Hardinxveld-Giessendam"} <= set(match.municipalities)
    for term in ("bedrijfsvoeringsorganisatie*", "opzeggen", "ontvlecht*"):
        assert term in match.terms
    assert "«" in match.snippet
    assert "»" in match.snippet
    opzeggen = [h for h in match.hits if h.term == "opzeggen"]
    assert [h.text for h in opzeggen] == ["op te zeggen"]
    assert opzeggen[0].field == "body"
    assert EXAMPLE_TEXT[opzeggen[0].start : opzeggen[0].end] == "op te zeggen"
    # The "Gerelateerd" block (a football merger headline) is not part of the article.
    assert all(h.end <= EXAMPLE_TEXT.index("Gerelateerd") for h in match.hits if h.field != "title")
    assert match.similarity is not None
    assert match.similarity > 0.1
    explanation = match.explain()
    assert "score" in explanation
    assert "opzeggen" in explanation


def test_match_serialises_to_json(classifier: Classifier) -> None:
    (match,) = classifier.classify(EXAMPLE_TITLE, EXAMPLE_TEXT)
    data = json.loads(json.dumps(match.to_dict()))
    assert data["topic"] == IGS
    assert data["score"] == match.score
    assert data["terms"] == match.terms
    assert {"field", "start", "end", "text", "term"} <= set(data["hits"][0])
    assert isinstance(match, TopicMatch)


POSITIVES = {
    "compound ICT-samenwerking": (
        "Leiderdorp en Zoeterwoude verlengen ICT-samenwerking",
        "De gemeenten Leiderdorp en Zoeterwoude verlengen hun ICT-samenwerking met vijf jaar. "
        "Beide colleges tekenden dinsdag een nieuwe samenwerkingsovereenkomst.",
    ),
    "compound regiosamenwerking": (
        "Regiosamenwerking Achterhoek krijgt nieuwe agenda",
        "DOETINCHEM – De acht Achterhoekse gemeenten hebben een nieuwe agenda voor de "
        "regiosamenwerking vastgesteld. Winterswijk, Aalten en Oost Gelre willen meer "
        "aandacht voor wonen. De gemeenteraden mogen hun zienswijze geven op de begroting.",
    ),
    "belastingen": (
        "Heffing van belastingen voortaan gezamenlijk",
        "NIJKERK – Nijkerk en Barneveld laten hun gemeentelijke belastingen vanaf 2027 heffen "
        "door één belastingkantoor. De twee gemeenten richten daarvoor een lichte "
        "gemeenschappelijke regeling op.",
    ),
    "sociaal domein": (
        "Eén sociale dienst voor drie gemeenten",
        "De gemeenten Tynaarlo, Aa en Hunze en Assen voegen hun sociale diensten samen. "
        "Inwoners kunnen straks voor werk en inkomen terecht bij één loket in Assen.",
    ),
    "afval": (
        "Kritiek op begroting afvaldienst",
        "EDE – De deelnemende gemeenten in de afvalinzameling zijn kritisch over de "
        "ontwerpbegroting. Het algemeen bestuur wil de bijdrage per inwoner met zes procent "
        "verhogen, tot ongenoegen van Ede en Wageningen.",
    ),
    "omgevingsdienst": (
        "Gemeenten willen lagere bijdrage omgevingsdienst",
        "Vijf gemeenten dienen een zienswijze in op de begroting van de omgevingsdienst. "
        "Volgens Zutphen en Lochem stijgt de gemeentelijke bijdrage te hard.",
    ),
    "uittreden": (
        "Oldambt treedt uit regeling",
        "WINSCHOTEN – Oldambt treedt per 1 januari 2026 uit de gemeenschappelijke regeling "
        "voor leerlingenvervoer. De gemeente betaalt een uittreedsom van 1,2 miljoen euro.",
    ),
    "werkorganisatie": (
        "Evaluatie BUCH: medewerkers tevreden, raden kritisch",
        "Uit een evaluatie van de BUCH-werkorganisatie blijkt dat medewerkers tevreden zijn. "
        "De raden van Heiloo en Castricum willen meer grip op de kosten.",
    ),
    "centrumgemeente": (
        "Zwolle blijft centrumgemeente voor vrouwenopvang",
        "ZWOLLE – Zwolle koopt ook de komende jaren de vrouwenopvang in namens elf gemeenten "
        "in de regio. De afspraken tussen de gemeenten worden verlengd.",
    ),
    "taken overnemen": (
        "Harderwijk neemt belastingtaken van Oldebroek over",
        "OLDEBROEK – Harderwijk neemt vanaf 2027 de heffing en invordering van de "
        "gemeentelijke belastingen van Oldebroek over. De twee gemeenten tekenden een "
        "dienstverleningsovereenkomst.",
    ),
    "taken uitvoeren voor een buurgemeente": (
        "Eén loket voor werk en inkomen",
        "Noordoostpolder voert de taken op het gebied van werk en inkomen voortaan uit voor "
        "Urk. De gemeenteraden van Urk en Noordoostpolder stemden in met het voorstel.",
    ),
    "ambtelijke fusie (diacritics folded)": (
        "Ambtelijke fusie geëvalueerd",
        "De ambtelijke fusie van Ommen en Hardenberg is geëvalueerd. De financiële voordelen "
        "vallen tegen, zegt de rekenkamer.",
    ),
}


@pytest.mark.parametrize("case", POSITIVES)
def test_positives(classifier: Classifier, case: str) -> None:
    title, text = POSITIVES[case]
    assert IGS in topics_of(classifier, title, text), case


NEGATIVES = {
    "bedrijfsfusie": (
        "Transportbedrijven uit Veendam en Pekela fuseren",
        "VEENDAM – Twee transportbedrijven uit Veendam en Pekela gaan samen verder. De "
        "aandeelhouders stemden in met de fusie; de bedrijven werken al jaren samen.",
    ),
    "woningcorporaties": (
        "Woningcorporaties in Rijssen en Holten bundelen krachten",
        "De woningcorporaties in Rijssen-Holten en Wierden gaan nauwer samenwerken bij "
        "onderhoud en nieuwbouw. Een fusie sluiten zij niet uit.",
    ),
    "zorg": (
        "Zorgorganisaties Deventer en Zutphen zoeken samenwerking",
        "Twee zorgorganisaties uit Deventer en Zutphen gaan samenwerken in de thuiszorg. "
        "De zorgfusie moet in 2026 rond zijn.",
    ),
    "onderwijs": (
        "Nieuwe directeur voor samenwerkingsverband",
        "Het samenwerkingsverband passend onderwijs in de regio Amersfoort en Leusden heeft "
        "een nieuwe directeur. De schoolbesturen werken samen met de gemeenten.",
    ),
    "sportclubs": (
        "Korfbalclubs in Uden en Veghel gaan samen",
        "Twee korfbalclubs gaan samen verder. De leden van beide verenigingen stemden in een "
        "ledenvergadering voor de fusie. De gemeenten Maashorst en Meierijstad zijn blij.",
    ),
    "kerk": (
        "Kerken in Staphorst gaan samen",
        "De hervormde gemeente en de gereformeerde kerk in Staphorst gaan samen. De twee "
        "gemeenten werken al jaren samen bij diensten en jeugdwerk.",
    ),
    "landelijke politiek": (
        "Formateur ziet samenwerking tussen partijen",
        "De formateur ziet ruimte voor samenwerking tussen vier partijen. De gemeenten "
        "wachten op duidelijkheid over het gemeentefonds.",
    ),
    "lokale coalitie": (
        "Nieuwe coalitie in Hengelo",
        "In Hengelo gaan drie partijen samenwerken in een nieuwe coalitie. Het "
        "coalitieakkoord wordt volgende week gepresenteerd, net als in buurgemeente Borne.",
    ),
    "veiligheidsregio-incident": (
        "Grote brand in Hoogeveen, veiligheidsregio stuurt NL-Alert",
        "HOOGEVEEN – Bij een grote brand in een loods in Hoogeveen heeft Veiligheidsregio "
        "Drenthe een NL-Alert verstuurd voor Hoogeveen en De Wolden.",
    ),
    "ggd-incident": (
        "GGD start vaccinatie in Tiel en Culemborg",
        "De GGD begint maandag met de griepprik op nieuwe locaties in Tiel en Culemborg.",
    ),
    "omgevingsdienst-incident": (
        "Omgevingsdienst meet stank bij fabriek",
        "De omgevingsdienst heeft stank gemeten rond een fabriek tussen Oss en Bernheze. "
        "Omwonenden klaagden al weken.",
    ),
    "Belgie (termen)": (
        "Intercommunale verhoogt tarief",
        "De intercommunale voor afvalophaling verhoogt de tarieven in de gemeenten. Het "
        "OCMW en de schepen van financiën reageren verrast op de intergemeentelijke samenwerking.",
    ),
    "Belgie (url)": (
        "Gemeenten werken samen",
        "Twee gemeenten werken samen in een intergemeentelijk samenwerkingsverband.",
    ),
    "over de grens": (
        "Euregio steunt fietspad tussen Kerkrade en Herzogenrath",
        "Met Interreg-geld van de Euregio werken Kerkrade en de Duitse stad Herzogenrath samen "
        "aan een grensoverschrijdend fietspad.",
    ),
    "publiek-privaat": (
        "Gemeente werkt samen met politie tegen overlast",
        "Rotterdam werkt samen met politie en ondernemers tegen overlast rond het station. "
        "Ook Schiedam kijkt mee.",
    ),
    "lokale omroepen": (
        "Lokale omroepen Schiedam en Vlaardingen gaan samen",
        "De lokale omroepen van Schiedam en Vlaardingen gaan samenwerken en willen op termijn "
        "fuseren. Beide gemeenten betalen mee aan de streekomroep.",
    ),
    "bibliotheken": (
        "Bibliotheken Zwolle en Kampen werken samen",
        "De bibliotheken van Zwolle en Kampen gaan samenwerken bij de inkoop van boeken. "
        "Een fusie van de twee stichtingen is niet aan de orde.",
    ),
    "scholen": (
        "Scholen in Tiel en Culemborg werken samen aan techniekonderwijs",
        "Twee middelbare scholen uit Tiel en Culemborg gaan samenwerken in een "
        "techniekcampus. De gemeenten dragen bij aan het gebouw.",
    ),
    "politieke partijen": (
        "Lokale partijen in Hof van Twente en Haaksbergen bundelen krachten",
        "De lokale partijen in Hof van Twente en Haaksbergen gaan samenwerken bij de "
        "gemeenteraadsverkiezingen. De fracties delen kennis en campagnemateriaal.",
    ),
    "energiecooperaties": (
        "Energiecoöperaties Ede en Wageningen werken samen",
        "Twee energiecoöperaties uit Ede en Wageningen gaan samenwerken bij de bouw van een "
        "zonnepark. De leden stemden in.",
    ),
    "Belgische stad": (
        "Antwerpen en Mechelen werken samen aan fietssnelweg",
        "De steden Antwerpen en Mechelen werken samen aan een fietssnelweg. Ook Breda "
        "volgt het project met belangstelling.",
    ),
    "BES": (
        "Openbaar lichaam Bonaire presenteert begroting",
        "Het openbaar lichaam Bonaire heeft de begroting voor volgend jaar gepresenteerd.",
    ),
    "ict-storing": (
        "Storing bij gemeente Den Helder",
        "Door een storing in de ICT-systemen was de gemeente Den Helder dinsdag slecht "
        "bereikbaar. Ook inwoners van Texel merkten er iets van.",
    ),
    "dubbelzinnige namen": (
        "Overlast van de buren",
        "Heeft u last van de buren? Het is op zijn best lastig. Duiven op het dak, putten "
        "in de weg: wij kampen er allemaal mee, ook in huizen bij de sluis.",
    ),
}


@pytest.mark.parametrize("case", NEGATIVES)
def test_hard_negatives(classifier: Classifier, case: str) -> None:
    title, text = NEGATIVES[case]
    url = "https://www.nieuwsblad.be/regio/1" if case == "Belgie (url)" else None
    assert IGS not in topics_of(classifier, title, text, url=url), case


def test_herindeling_is_its_own_topic(classifier: Classifier) -> None:
    title = "Provincie start herindeling van Brummen en Voorst"
    text = (
        "BRUMMEN – De provincie Gelderland legt het herindelingsontwerp voor Brummen en "
        "Voorst ter inzage. De twee gemeenten moeten in 2027 samengaan."
    )
    assert topics_of(classifier, title, text) == [HER]


def test_ambtelijke_fusie_is_not_a_herindeling(classifier: Classifier) -> None:
    title = "Ambtelijke fusie Wassenaar en Voorschoten geëvalueerd"
    text = "De ambtelijke fusie van Wassenaar en Voorschoten in werkorganisatie Duivenvoorde."
    assert topics_of(classifier, title, text) == [IGS]


def test_restrict_to_one_topic(classifier: Classifier) -> None:
    assert classifier.classify(EXAMPLE_TITLE, EXAMPLE_TEXT, topic=HER) == []
    assert classifier.topic_ids == [IGS, HER]


def test_a_merger_in_the_headline_is_not_cooperation(classifier: Classifier) -> None:
    title = "Beek en Stein gaan samen"
    text = (
        "STEIN – De gemeenteraden van Beek en Stein hebben het herindelingsadvies vastgesteld. "
        "De twee buurgemeenten gaan samen verder als één gemeente."
    )
    assert topics_of(classifier, title, text) == [HER]


def test_cooperation_that_mentions_a_past_merger_still_counts(classifier: Classifier) -> None:
    title = "Molenlanden en Gorinchem gaan samenwerken op belastingen"
    text = (
        "GORINCHEM – De gemeenten Molenlanden en Gorinchem werken vanaf volgend jaar samen "
        "bij de belastingheffing. Beide colleges tekenen deze week de samenwerkingsovereenkomst."
        "\n\nMolenlanden ontstond in 2019 uit een herindeling van Giessenlanden en Molenwaard."
    )
    assert topics_of(classifier, title, text) == [IGS]


def test_joint_ict_in_the_headline_is_not_a_merger(classifier: Classifier) -> None:
    title = "Woerden, Oudewater en Montfoort bundelen ict-beheer"
    text = (
        "WOERDEN – De gemeenten Woerden, Oudewater en Montfoort gaan hun ict-beheer samenvoegen "
        "in één gezamenlijke dienst."
    )
    assert topics_of(classifier, title, text) == [IGS]


def test_zeeuws_vlaanderen_is_not_belgium(classifier: Classifier) -> None:
    title = "Sluis treedt uit regeling leerlingenvervoer"
    text = (
        "OOSTBURG – De gemeente Sluis treedt uit de gemeenschappelijke regeling voor het "
        "leerlingenvervoer in Zeeuws-Vlaanderen. Terneuzen en Hulst, de andere deelnemers, "
        "betalen de vaste kosten straks samen."
    )
    assert topics_of(classifier, title, text) == [IGS]
    belgian = text.replace("Zeeuws-Vlaanderen", "Vlaanderen")
    assert IGS not in topics_of(classifier, title, belgian)
