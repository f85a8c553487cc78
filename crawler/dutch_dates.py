"""Dutch dates, bylines and datelines as regional news sites print them.

Pure string functions, no HTML: `crawler.extract` decides *where* to look
(byline zones, never weather widgets) and this module decides *what* a
string means. Formats seen on Dutch regional sites:

    08-05-2019 Nieuws Kor Kegel            date, rubric, author run together
    Door Paul de Vlieger - 3-1-2017, 19:27
    vrijdag 27 februari 2026 18:00
    maandag 25 maart 2019
    8 mei 2019 om 14.32 uur
    SCHIEDAM/VLAARDINGEN – De gemeenten ...   (dateline)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS: dict[str, int] = {
    "januari": 1, "jan": 1,
    "februari": 2, "feb": 2, "febr": 2,
    "maart": 3, "mrt": 3, "mar": 3, "mrz": 3,
    "april": 4, "apr": 4,
    "mei": 5,
    "juni": 6, "jun": 6,
    "juli": 7, "jul": 7,
    "augustus": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10, "oct": 10,
    "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip

_WEEKDAY = r"(?:maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|ma|di|wo|do|vr|za|zo)"
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
# "14:32", "14.32", "om 14.32 uur", ", 19:27"; the optional seconds are ignored.
_TIME = r"(?:\s*,?\s*(?:om\s+)?(?P<hh>[01]?\d|2[0-3])[:.](?P<mi>[0-5]\d)(?::[0-5]\d)?(?:\s*uur)?)?"

# 08-05-2019, 3-1-2017, 08/05/2019, 08.05.2019 (day first, as everywhere in NL).
NUMERIC_DATE = re.compile(
    r"(?<![\d/.-])(?P<d>[0-3]?\d)(?P<sep>[-/.])(?P<m>[01]?\d)(?P=sep)(?P<y>(?:19|20)\d\d)(?![\d])"
    + _TIME,
    re.IGNORECASE,
)
# [vrijdag] 27 februari 2026 [18:00], 8 mei 2019 om 14.32 uur, 3 mrt. 2024
WORDED_DATE = re.compile(
    rf"(?:\b{_WEEKDAY}\.?,?\s+)?\b(?P<d>[0-3]?\d)\s+(?P<mon>{_MONTH})\.?\s+(?P<y>(?:19|20)\d\d)\b"
    + _TIME,
    re.IGNORECASE,
)
# ISO dates in visible text ("2019-05-08 14:32") also occur in bylines.
ISO_DATE = re.compile(
    r"\b(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)(?:[T ](?P<hh>[0-2]\d):(?P<mi>[0-5]\d))?"
)

# Words that mark a date as a modification date rather than the publication date.
_UPDATED = re.compile(r"(?:bijgewerkt|gewijzigd|aangepast|update[d]?|laatste? wijziging)\W*$", re.I)


def zone(name: str) -> ZoneInfo:
    """The named zone, or Europe/Amsterdam if the name is unknown (config typo)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Amsterdam")


def to_utc(value: datetime, tz: ZoneInfo) -> datetime:
    """Naive times are local wall-clock times in `tz`; zoneinfo picks the right DST offset."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


# The ISO 8601 core that fromisoformat understands; sites append junk ("+02:00CET").
_ISO_FULL = re.compile(
    r"(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)"
    r"(?:[T ](?P<hh>[0-2]\d):(?P<mi>[0-5]\d)(?::[0-5]\d(?:[.,]\d+)?)?"
    r"\s*(?P<tz>Z|[+-][01]\d:?[0-5]\d)?)?",
    re.IGNORECASE,
)


def parse_iso(value: str | None, tz: ZoneInfo) -> datetime | None:
    """ISO 8601 from meta tags, JSON-LD and <time datetime>; None if it is not one."""
    m = _ISO_FULL.search(value or "")
    if not m:
        return None
    text = m.group(0).replace(",", ".").replace(" ", "T", 1)
    # 3.11's fromisoformat takes "Z" and "+02:00" but not "+0200" or a space before the offset.
    text = re.sub(r"\s+", "", text)
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text.upper())
    except ValueError:  # 2019-02-31 and the like
        return None
    return to_utc(parsed, tz)


def _build(m: re.Match[str], *, month: int) -> datetime | None:
    groups = m.groupdict()
    try:
        return datetime(
            int(m["y"]),
            month,
            int(m["d"]),
            int(groups.get("hh") or 0),
            int(groups.get("mi") or 0),
        )
    except ValueError:  # 31-02-2019 and the like
        return None


@dataclass(frozen=True)
class FoundDate:
    value: datetime  # naive local time
    start: int
    end: int


def find_dates(text: str) -> list[FoundDate]:
    """Every Dutch-formatted date in `text`, in order of appearance, naive local times.

    Dates right after "bijgewerkt"/"gewijzigd" are dropped: the caller wants
    the publication date, and sites print both.
    """
    found: list[FoundDate] = []
    for pattern in (NUMERIC_DATE, WORDED_DATE, ISO_DATE):
        for m in pattern.finditer(text):
            if any(f.start <= m.start() < f.end for f in found):
                continue
            if _UPDATED.search(text[max(0, m.start() - 30) : m.start()]):
                continue
            month = MONTHS[m["mon"].lower()] if "mon" in m.groupdict() else int(m["m"])
            value = _build(m, month=month)
            if value is not None:
                found.append(FoundDate(value, m.start(), m.end()))
    return sorted(found, key=lambda f: f.start)


def looks_like_byline(line: str) -> bool:
    """A short line built around a date, not a sentence that mentions one.

    "08-05-2019 Nieuws Kor Kegel" and "Door Lotte Smit | 8 mei 2019 om 14.32 uur"
    are bylines; "Op 1 juli 2024 opent het museum." is body text.
    """
    found = find_dates(line)
    if not found or len(line) > 120 or line.rstrip().endswith((".", "!", "?")):
        return False
    rest = line
    for date in reversed(found):
        rest = rest[: date.start] + " " + rest[date.end :]
    return len(re.findall(r"[^\W\d_]+", rest)) <= 5


def parse_dutch_date(text: str) -> datetime | None:
    """The first Dutch date in `text` as a naive local datetime."""
    found = find_dates(text)
    return found[0].value if found else None


# --- bylines ---------------------------------------------------------------

# Name particles that stay lower case inside a Dutch name ("Jan de Vries", "Ans van 't Hof").
_PARTICLES = {"de", "den", "der", "van", "het", "ten", "ter", "te", "in", "'t", "op", "la", "le"}
_NAME_WORD = re.compile(r"^(?:[A-ZÀ-Þ][\w'’.-]*|[A-ZÀ-Þ]\.)+$")
# Rubrics that Maassluis24-style bylines put between the date and the author.
RUBRICS = {
    "nieuws", "sport", "politiek", "cultuur", "economie", "112", "regio", "lokaal",
    "evenementen", "column", "columns", "ingezonden", "opinie", "onderwijs", "zorg",
    "verkeer", "algemeen", "binnenland", "buitenland", "achtergrond", "uitgelicht",
    "gemeente", "wonen", "natuur", "blog", "agenda", "nieuwsbericht", "actueel",
}  # fmt: skip
_DOOR = re.compile(
    r"(?:^|\b)(?:geschreven\s+)?(?:door|by|tekst(?:\s+en\s+foto(?:'s)?)?|auteur)\s*:?\s+(?P<rest>.+)",
    re.IGNORECASE,
)
# Where a name in a byline stops: a dash, bar, bullet, comma, "op"/"om" + date, a digit.
_NAME_END = re.compile(r"\s+[-–—|•·]\s*|\s*[|•·,(]\s*|\s+(?:op|om|foto)\b|\s+\d|\n", re.IGNORECASE)


def clean_name(raw: str) -> str | None:
    """`raw` if it reads as a person's (or an editorial desk's) name, tidied; else None."""
    words = raw.strip(" \t:;-–—").split()
    if not 1 <= len(words) <= 6:
        return None
    if not _NAME_WORD.match(words[0]) or not _NAME_WORD.match(words[-1]):
        return None
    for w in words[1:-1]:
        if w.lower() not in _PARTICLES and not _NAME_WORD.match(w):
            return None
    return " ".join(words)


def author_from_byline(text: str) -> str | None:
    """The author in a visible byline: "Door Jan de Vries", "08-05-2019 Nieuws Kor Kegel"."""
    line = " ".join(text.split())
    m = _DOOR.search(line)
    if m:
        rest = _NAME_END.split(m["rest"], maxsplit=1)[0]
        name = clean_name(rest)
        if name:
            return name
    return _author_after_date(line)


def _author_after_date(line: str) -> str | None:
    """Maassluis24 style: a date, then a rubric word, then the author's name."""
    found = find_dates(line)
    if not found or found[0].start > 3 or len(line) > 80:
        return None
    words = _NAME_END.split(line[found[0].end :].strip(), maxsplit=1)[0].split()
    stripped = False
    while words and words[0].lower() in RUBRICS:
        words = words[1:]
        stripped = True
    if not stripped and len(words) >= 3:
        words = words[1:]  # an unknown rubric
    # One word after a date is a unit ("12:00 Uhr", "5 min") unless it names the desk.
    if len(words) == 1 and words[0].lower() not in _DESKS:
        return None
    return clean_name(" ".join(words)) if words else None


_DESKS = {"redactie", "redaktion", "newsdesk", "eindredactie"}
_NAME_PREFIX = re.compile(r"^(?:door|by|von|par|tekst|auteur)\b\s*:?\s*", re.IGNORECASE)


def person_name(raw: str | None) -> str | None:
    """An author value from structured data, tidied: no "Door " prefix, no URLs or handles."""
    name = _NAME_PREFIX.sub("", " ".join((raw or "").split()))
    if not name or len(name) > 80 or re.search(r"@|https?:|/|^\w+(?:\.\w+)+$", name):
        return None
    return name


# --- datelines -------------------------------------------------------------

# One upper-case place: "SCHIEDAM", "DEN HAAG", "'S-HERTOGENBOSCH", "BERGEN OP ZOOM".
_PLACE = r"(?:'[sStT][- ])?[A-ZÀ-Þ][A-ZÀ-Þ'’.-]+(?:\s+[A-ZÀ-Þ][A-ZÀ-Þ'’.-]*)*"
DATELINE = re.compile(
    rf"^\s*(?P<places>{_PLACE}(?:\s*[/,]\s*{_PLACE})*)"
    r"(?:\s*\([^)]{1,20}\))?"  # an agency tag: "AMSTERDAM (ANP) –"
    r"(?:\s*[–—]\s*|\s+-\s+)"
)
_LOWER_INSIDE = {"aan", "den", "de", "op", "het", "in", "bij", "ter", "ten", "van", "en", "onder"}


def title_case_place(raw: str) -> str:
    """Title case for Dutch place names.

    "DEN HAAG" -> "Den Haag", "'S-HERTOGENBOSCH" -> "'s-Hertogenbosch",
    "IJSSELSTEIN" -> "IJsselstein", "BERGEN OP ZOOM" -> "Bergen op Zoom".
    """
    words = raw.split()
    out = []
    for i, word in enumerate(words):
        low = word.lower()
        if i and low in _LOWER_INSIDE:
            out.append(low)
            continue
        out.append("-".join(_cap(part) for part in low.split("-")))
    return " ".join(out)


def _cap(part: str) -> str:
    if part in ("'s", "'t", "’s", "’t"):
        return part  # 's-Hertogenbosch, 't Zandt
    if part.startswith("ij"):
        return "IJ" + part[2:]  # the Dutch IJ digraph capitalises as one letter
    return part[:1].upper() + part[1:]


def places_from_dateline(text: str) -> list[str]:
    """Places in a dateline at the very start of `text`, e.g. "SCHIEDAM/VLAARDINGEN – ..."."""
    m = DATELINE.match(text)
    if not m:
        return []
    places = [p.strip() for p in re.split(r"\s*[/,]\s*", m["places"]) if p.strip()]
    # A single upper-case letter or a two-letter run is an initialism, not a place.
    if any(len(re.sub(r"\W", "", p)) < 3 for p in places):
        return []
    return [title_case_place(p) for p in places]
