"""What a spider hands to the pipeline: one collected article."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class ArticleItem:
    url: str  # canonical
    source: str
    title: str
    text: str
    published: datetime | None = None
    author: str | None = None
    guid: str | None = None
    places: list[str] = field(default_factory=list)
    lang: str | None = None
    # True when the page could not be fetched and the feed's summary stands in.
    from_feed_only: bool = False
