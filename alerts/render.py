"""Turn one alert into the email a subscriber reads.

The outbox builds an `AlertContent` (plain data, no database rows) and calls
`render_alert`; the result, an `OutgoingEmail`, is what every backend sends.
Keeping the two apart means rendering can be previewed and tested without a
database or a mail backend, and backends never see an article row.

Templates are Jinja2 files: `alert.html.j2` (autoescaped, because titles and
snippets come from the web and can carry markup) and `alert.txt.j2` (not
escaped: it is plain text). An operator can override either by putting a file
with the same name in `config/templates/`, passed here as `template_dir`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)
from markupsafe import Markup, escape

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"
HTML_TEMPLATE = "alert.html.j2"
TEXT_TEMPLATE = "alert.txt.j2"
DIGEST_HTML_TEMPLATE = "digest.html.j2"
DIGEST_TEXT_TEMPLATE = "digest.txt.j2"
DIGEST_ID_HEADER = "X-Newswatch-Digest-Id"

SUBJECT_PREFIX = "[newswatch] "
# Long enough for any real headline, short enough that a crafted title cannot
# make a monster header; mail clients truncate around 60-80 characters anyway.
MAX_SUBJECT = 150
MAX_HEADER_VALUE = 900
# SendGrid accepts at most 10 categories per message.
MAX_CATEGORIES = 10

# Written out instead of using locale: the locale may not be installed on the
# host, and setlocale is process-wide and not thread-safe.
DUTCH_MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)

ENGLISH_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# The email's own words ("chrome") per subscriber language; everything else
# comes from the article. Templates get the chosen table as `t`.
CHROME: dict[str, dict[str, str]] = {
    "nl": {
        "hello": "Hallo",
        "new_item_about": "nieuw bericht over",
        "new_item_about_line": "Nieuw bericht over",
        "read": "Lees het artikel",
        "topic": "Onderwerp",
        "why": "Waarom je dit krijgt",
        "terms": "Gevonden termen",
        "because": "Je krijgt deze e-mail omdat je via newswatch bent geabonneerd op",
        "unsubscribe_intro": "Geen e-mails meer van newswatch?",
        "unsubscribe": "Afmelden",
        "digest": "overzicht",
        "digest_title": "Je newswatch-overzicht",
        "digest_since": "Nieuwe berichten sinds",
        "digest_until": "tot",
        "items_word": "berichten",
        "item_word": "bericht",
        "also": "Ook gemeld door",
        "followup": "Eerder gemeld; nu ook bij",
        "no_title": "(zonder titel)",
        "subject_digest": "Overzicht",
    },
    "en": {
        "hello": "Hello",
        "new_item_about": "new item about",
        "new_item_about_line": "New item about",
        "read": "Read the article",
        "topic": "Topic",
        "why": "Why you get this",
        "terms": "Terms found",
        "because": "You get this email because you follow newswatch topics",
        "unsubscribe_intro": "No more emails from newswatch?",
        "unsubscribe": "Unsubscribe",
        "digest": "digest",
        "digest_title": "Your newswatch digest",
        "digest_since": "New items since",
        "digest_until": "until",
        "items_word": "items_word",
        "item_word": "item_word",
        "also": "Also reported by",
        "followup": "Reported earlier; now also by",
        "no_title": "(untitled)",
        "subject_digest": "Digest",
    },
}

# The classifier marks matched terms in snippets as «term».
_MARKED_TERM = re.compile(r"«([^«»]*)»")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class MatchInfo:
    """Why an article matched one topic."""

    topic: str
    score: float
    terms: list[str]
    snippet: str  # plain text; matched terms wrapped in «…»
    title: str = ""  # the topic's title from topics.yaml; "" shows the id

    @property
    def label(self) -> str:
        """What a reader sees: the topic's title, else its id."""
        return self.title or self.topic


@dataclass(frozen=True)
class AlertContent:
    """Everything the email shows, built by the outbox from stored rows."""

    alert_id: int
    to: str  # already validated by the settings loader
    to_name: str | None
    title: str
    url: str
    source: str
    published: datetime | None  # aware, UTC
    matches: list[MatchInfo]
    unsubscribe_url: str | None = None
    language: str = "nl"


@dataclass(frozen=True)
class AlsoReport:
    """Another outlet that ran a story the subscriber was already told about."""

    source: str
    title: str
    url: str


@dataclass(frozen=True)
class DigestItem:
    """One story in a digest: its first article, why it matched, and later outlets.

    followup: the story itself went out earlier (an instant alert or an
    earlier digest); this item only reports the outlets that ran it since.
    """

    title: str
    url: str
    source: str
    published: datetime | None
    matches: list[MatchInfo]
    also: list[AlsoReport] = field(default_factory=list)
    followup: bool = False


@dataclass(frozen=True)
class DigestSection:
    topic: str
    title: str  # the topic's title from topics.yaml, else its id
    items: list[DigestItem]


@dataclass(frozen=True)
class DigestContent:
    """A whole digest. `alert_id` is its first alert's id: backends file and tag
    emails by alert id, and every alert belongs to at most one digest."""

    digest_id: int
    alert_id: int
    to: str
    to_name: str | None
    period_start: datetime | None
    period_end: datetime
    sections: list[DigestSection]
    unsubscribe_url: str | None = None
    language: str = "nl"

    @property
    def item_count(self) -> int:
        return sum(len(section.items) for section in self.sections)


@dataclass(frozen=True)
class OutgoingEmail:
    """A rendered email, ready for any backend. Header fields are already sanitised."""

    alert_id: int
    to: str
    to_name: str | None
    from_addr: str  # e.g. 'newswatch <nw@example.org>'
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)  # extra headers, e.g. List-Unsubscribe
    categories: list[str] = field(default_factory=list)


def render_alert(
    content: AlertContent,
    *,
    from_addr: str,
    timezone: str = "Europe/Amsterdam",
    template_dir: Path | None = None,
    headers: dict[str, str] | None = None,
) -> OutgoingEmail:
    """Render the HTML and text bodies and the headers for one alert."""
    return _email(
        content,
        from_addr=from_addr,
        subject=subject_for(content.title, chrome(content.language)["no_title"]),
        templates=(TEXT_TEMPLATE, HTML_TEMPLATE),
        context=_context(content, ZoneInfo(timezone)),
        template_dir=template_dir,
        headers=headers,
        categories=categories_for(content.matches),
    )


def render_digest(
    content: DigestContent,
    *,
    from_addr: str,
    timezone: str = "Europe/Amsterdam",
    template_dir: Path | None = None,
    headers: dict[str, str] | None = None,
) -> OutgoingEmail:
    """Render one digest: sections per topic, newest story first."""
    t = chrome(content.language)
    count = content.item_count
    topics = ", ".join(section.title for section in content.sections)
    noun = t["item_word"] if count == 1 else t["items_word"]
    subject = f"{SUBJECT_PREFIX}{t['subject_digest']}: {count} {noun} ({topics})"
    return _email(
        content,
        from_addr=from_addr,
        subject=header_safe(subject, limit=MAX_SUBJECT),
        templates=(DIGEST_TEXT_TEMPLATE, DIGEST_HTML_TEMPLATE),
        context=_digest_context(content, ZoneInfo(timezone)),
        template_dir=template_dir,
        headers={DIGEST_ID_HEADER: str(content.digest_id), **(headers or {})},
        categories=categories_for(
            [m for s in content.sections for i in s.items for m in i.matches], kind="digest"
        ),
    )


def _email(
    content: AlertContent | DigestContent,
    *,
    from_addr: str,
    subject: str,
    templates: tuple[str, str],
    context: dict[str, Any],
    template_dir: Path | None,
    headers: dict[str, str] | None,
    categories: list[str],
) -> OutgoingEmail:
    """The parts every email shares: addresses made header-safe, both bodies rendered."""
    env = _environment(template_dir)
    text_template, html_template = templates
    return OutgoingEmail(
        alert_id=content.alert_id,
        to=header_safe(content.to),
        to_name=header_safe(content.to_name or "") or None,
        from_addr=header_safe(from_addr),
        subject=subject,
        text=env.get_template(text_template).render(context),
        html=env.get_template(html_template).render(context),
        headers=_safe_headers(headers),
        categories=categories,
    )


def chrome(language: str) -> dict[str, str]:
    return CHROME.get(language, CHROME["nl"])


def _safe_headers(headers: dict[str, str] | None) -> dict[str, str]:
    return {header_safe(k, limit=100): header_safe(v) for k, v in (headers or {}).items()}


def subject_for(title: str, untitled: str = "(zonder titel)") -> str:
    return header_safe(SUBJECT_PREFIX + (title or untitled), limit=MAX_SUBJECT)


def categories_for(matches: list[MatchInfo], kind: str = "alert") -> list[str]:
    """["newswatch", kind, topic ids...], deduplicated, within SendGrid's limit."""
    categories = ["newswatch", kind]
    for match in matches:
        topic = header_safe(match.topic, limit=255)
        if topic and topic not in categories:
            categories.append(topic)
    return categories[:MAX_CATEGORIES]


def header_safe(value: str, *, limit: int = MAX_HEADER_VALUE) -> str:
    """Make text from an article safe to put in an email header.

    CR and LF would start a new header (header injection: "\\r\\nBcc: ..."),
    so every control or line/paragraph separator becomes a space; invisible
    format characters (bidi overrides, zero-width) are dropped so a subject
    cannot be made to read differently from what it is.
    """
    cleaned = []
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):
            cleaned.append(" ")
        elif category != "Cf":
            cleaned.append(char)
    text = _WHITESPACE.sub(" ", "".join(cleaned)).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def format_dutch_datetime(moment: datetime, zone: ZoneInfo) -> str:
    """'24 november 2026, 09:15' in the given zone; DST is zoneinfo's job."""
    return format_local_datetime(moment, zone, "nl")


def format_local_datetime(moment: datetime, zone: ZoneInfo, language: str = "nl") -> str:
    """'24 november 2026, 09:15' (nl) or '24 November 2026, 09:15' (en) in `zone`."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: published times must be aware (UTC)")
    local = moment.astimezone(zone)
    months = ENGLISH_MONTHS if language == "en" else DUTCH_MONTHS
    return f"{local.day} {months[local.month - 1]} {local.year}, {local:%H:%M}"


def highlight(snippet: str) -> Markup:
    """Escape the snippet, then turn «term» into <strong>term</strong>.

    Escaping first is what makes this safe: the only markup in the result is
    the <strong> we add ourselves.
    """
    escaped = str(escape(snippet))
    return Markup(_MARKED_TERM.sub(r"<strong>\1</strong>", escaped))  # noqa: S704


def link_or_none(url: str) -> str | None:
    """Only http(s) links become clickable; a javascript: URL must never be."""
    return url if urlsplit(url).scheme.lower() in ("http", "https") else None


def _context(content: AlertContent, zone: ZoneInfo) -> dict[str, Any]:
    topics = list(dict.fromkeys(m.label for m in content.matches))
    published = content.published
    t = chrome(content.language)
    return {
        "t": t,
        "language": content.language,
        "alert_id": content.alert_id,
        "to_name": _one_line(content.to_name or "") or None,
        "title": _one_line(content.title) or t["no_title"],
        "url": content.url,
        "link": link_or_none(content.url),
        "source": _one_line(content.source),
        "published_local": (
            format_local_datetime(published, zone, content.language) if published else None
        ),
        "topics": topics,
        "matches": content.matches,
        "unsubscribe_url": link_or_none(content.unsubscribe_url or ""),
    }


def _digest_context(content: DigestContent, zone: ZoneInfo) -> dict[str, Any]:
    t = chrome(content.language)

    def when(moment: datetime | None) -> str | None:
        return format_local_datetime(moment, zone, content.language) if moment else None

    sections = [
        {
            "topic": section.topic,
            "title": _one_line(section.title),
            "entries": [
                {
                    "title": _one_line(item.title) or t["no_title"],
                    "url": item.url,
                    "link": link_or_none(item.url),
                    "source": _one_line(item.source),
                    "published_local": when(item.published),
                    "matches": item.matches,
                    "followup": item.followup,
                    "also": [
                        {
                            "source": _one_line(a.source),
                            "title": _one_line(a.title),
                            "url": a.url,
                            "link": link_or_none(a.url),
                        }
                        for a in item.also
                    ],
                }
                for item in section.items
            ],
        }
        for section in content.sections
    ]
    return {
        "t": t,
        "language": content.language,
        "digest_id": content.digest_id,
        "to_name": _one_line(content.to_name or "") or None,
        "period_start_local": when(content.period_start),
        "period_end_local": when(content.period_end),
        "item_count": content.item_count,
        "topics": [section.title for section in content.sections],
        "sections": sections,
        "unsubscribe_url": link_or_none(content.unsubscribe_url or ""),
    }


def _one_line(text: str) -> str:
    # Feeds put newlines and runs of spaces in titles; they mean nothing to a reader.
    return _WHITESPACE.sub(" ", text).strip()


@lru_cache(maxsize=8)
def _environment(template_dir: Path | None) -> Environment:
    # Cached per folder: building an Environment recompiles every template.
    # FileSystemLoader still notices edited files (auto_reload checks mtimes).
    loaders: list[BaseLoader] = []
    if template_dir is not None:
        loaders.append(FileSystemLoader(template_dir))
    loaders.append(FileSystemLoader(PACKAGE_TEMPLATES))
    env = Environment(
        loader=ChoiceLoader(loaders),
        # Escape in .html.j2 only; escaping the text part would show &amp; to readers.
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["highlight"] = highlight
    return env
