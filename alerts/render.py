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
) -> OutgoingEmail:
    """Render the HTML and text bodies and the headers for one alert."""
    env = _environment(template_dir)
    context = _context(content, ZoneInfo(timezone))
    return OutgoingEmail(
        alert_id=content.alert_id,
        to=header_safe(content.to),
        to_name=header_safe(content.to_name or "") or None,
        from_addr=header_safe(from_addr),
        subject=subject_for(content.title),
        text=env.get_template(TEXT_TEMPLATE).render(context),
        html=env.get_template(HTML_TEMPLATE).render(context),
        headers={},
        categories=categories_for(content.matches),
    )


def subject_for(title: str) -> str:
    return header_safe(SUBJECT_PREFIX + (title or "(zonder titel)"), limit=MAX_SUBJECT)


def categories_for(matches: list[MatchInfo]) -> list[str]:
    """["newswatch", "alert", topic ids...], deduplicated, within SendGrid's limit."""
    categories = ["newswatch", "alert"]
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
    if moment.tzinfo is None:
        raise ValueError("naive datetime: published times must be aware (UTC)")
    local = moment.astimezone(zone)
    return f"{local.day} {DUTCH_MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"


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
    topics = list(dict.fromkeys(m.topic for m in content.matches))
    published = content.published
    return {
        "alert_id": content.alert_id,
        "to_name": _one_line(content.to_name or "") or None,
        "title": _one_line(content.title) or "(zonder titel)",
        "url": content.url,
        "link": link_or_none(content.url),
        "source": _one_line(content.source),
        "published_local": format_dutch_datetime(published, zone) if published else None,
        "topics": topics,
        "matches": content.matches,
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
