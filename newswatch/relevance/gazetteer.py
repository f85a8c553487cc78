"""Dutch municipalities and named cooperations, as data the matcher can search for.

The data ships in `newswatch/data/`:

- `gemeenten.csv`: the 342 municipalities of 2025 (CBS), with hand-added aliases;
- `former_municipalities.csv`: municipalities dissolved since 2019 and their successor;
- `ambiguous_names.csv`: names that are also ordinary words ("Buren", "Best") and
  must only count in context;
- `cooperations.csv`: named cooperations (BUCH, Drechtsteden, Servicepunt71, ...).

A former municipality counts as itself (an article from 2018 about Cuijk and
Grave is about two municipalities) and is shown with its successor.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from newswatch.relevance.normalize import fold_phrase


@dataclass(frozen=True, slots=True)
class Place:
    """A municipality, current or former. `key` is what ">= 2 municipalities" counts."""

    key: str
    name: str
    code: str
    successor: str | None = None
    needs: str = ""  # "", "capital" or "context": see ambiguous_names.csv

    @property
    def label(self) -> str:
        return f"{self.name} (nu {self.successor})" if self.successor else self.name


@dataclass(frozen=True, slots=True)
class Cooperation:
    """A named cooperation; `case` means the name only counts with its own capitals."""

    name: str
    kind: str
    members: tuple[str, ...] = ()
    case: bool = False


@dataclass(slots=True)
class Gazetteer:
    """Surface forms (folded) of every place and cooperation."""

    places: dict[str, list[Place]] = field(default_factory=dict)
    cooperations: dict[str, list[tuple[Cooperation, str]]] = field(default_factory=dict)

    def add_place(self, surface: str, place: Place) -> None:
        key = fold_phrase(surface)
        if key and place not in self.places.setdefault(key, []):
            self.places[key].append(place)

    def add_cooperation(self, surface: str, coop: Cooperation) -> None:
        key = fold_phrase(surface)
        if key:
            self.cooperations.setdefault(key, []).append((coop, surface))

    @property
    def cooperation_kinds(self) -> set[str]:
        return {coop.kind for entries in self.cooperations.values() for coop, _ in entries}


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("newswatch").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


@lru_cache(maxsize=1)
def load_gazetteer() -> Gazetteer:
    """The packaged gazetteer (read once per process)."""
    needs = {fold_phrase(row["name"]): row["needs"] for row in _rows("ambiguous_names.csv")}
    gaz = Gazetteer()
    for row in _rows("gemeenten.csv"):
        short = row["short_name"]
        place = Place(
            fold_phrase(short), short, row["code"], None, needs.get(fold_phrase(short), "")
        )
        for surface in [row["name"], short, *_split(row["aliases"])]:
            gaz.add_place(surface, place)
    for row in _rows("former_municipalities.csv"):
        name = row["name"]
        successor = " / ".join(_split(row["successor"]))
        place = Place(
            fold_phrase(name), name, row["code"], successor, needs.get(fold_phrase(name), "")
        )
        gaz.add_place(name, place)
    for row in _rows("cooperations.csv"):
        coop = Cooperation(
            row["name"], row["kind"], tuple(_split(row["members"])), row["case"] == "yes"
        )
        for surface in [row["name"], *_split(row["aliases"])]:
            gaz.add_cooperation(surface, coop)
    return gaz


# --- context rules for ambiguous names -------------------------------------------------

# Words that make the next capitalised word a place: "gemeente Buren", "in Best".
_PLACE_CONTEXT = frozenset(
    "gemeente gemeenten buurgemeente buurgemeenten in te uit naar tussen".split()  # noqa: SIM905
)
# Words that make it a surname or something else: "Van Buren", "De Best", "provincie Utrecht".
_NOT_PLACE = frozenset("van de den der ter ten het provincie familie heer mevrouw".split())  # noqa: SIM905

_PREV_TWO = re.compile(r"([^\W\d_]+)\s+([^\W\d_]+)\W*$")
_DATELINE_AFTER = re.compile(r"\s*(?:/|\s[–—-]\s|[–—-]\s)")


def previous_word(orig: str, start: int) -> str:
    """The word before `start` in the original text, lower-cased ('' at the start)."""
    i = start - 1
    while i >= 0 and not orig[i].isalpha():
        i -= 1
    end = i + 1
    while i >= 0 and orig[i].isalpha():
        i -= 1
    return orig[i + 1 : end].lower()


def at_sentence_start(orig: str, start: int, field_start: int) -> bool:
    """True when only quotes/space separate `start` from a sentence or paragraph start."""
    i = start - 1
    while i >= field_start and orig[i] in " \t\"'“‘„(«":
        i -= 1
    if i < field_start:
        return True
    return orig[i] in ".!?:\n"


def in_dateline(orig: str, start: int, end: int, field_start: int) -> bool:
    """An upper-case name at the head of the text: "BUREN/CULEMBORG – ..."."""
    surface = orig[start:end]
    if not surface.isupper() or start - field_start > 60:
        return False
    return bool(_DATELINE_AFTER.match(orig, end)) and "\n" not in orig[field_start:start]


def accept_place(place: Place, orig: str, start: int, end: int, field_start: int) -> bool:
    """Does this occurrence of a place name really name the municipality?"""
    # "leiden tot", "best", "huizen": names are written with a capital
    # ("'s-Hertogenbosch": not necessarily the first letter).
    if not orig[start].isupper() and not any(ch.isupper() for ch in orig[start:end]):
        return False
    if orig.find("rovincie", max(0, start - 11), start) != -1:
        return False  # "provincie Utrecht/Groningen" is the province
    if not place.needs:
        return True
    prev = previous_word(orig, start)
    if place.needs == "capital":
        return prev != "van" or not _looks_like_a_name(orig, start)  # "Jan van Soest"
    if prev in _PLACE_CONTEXT or in_dateline(orig, start, end, field_start):
        return True
    if prev in _NOT_PLACE and _looks_like_a_name(orig, start):
        return False
    return not at_sentence_start(orig, start, field_start)


def _looks_like_a_name(orig: str, start: int) -> bool:
    """ "Martin Van Buren", "Jan van Buren", "De Best": a person, not a place.
    "het college van Buren" keeps the place: there the word before "van" is lower case."""
    match = _PREV_TWO.search(orig, max(0, start - 60), start)
    if not match:
        return True
    before, particle = match.group(1), match.group(2)
    return particle[0].isupper() or before[0].isupper() or particle.lower() != "van"
