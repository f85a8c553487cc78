"""SRU spider: official publications from officielebekendmakingen.nl (KOOP).

Decisions to set up, change or leave a gemeenschappelijke regeling are
published in the Gemeenteblad and the "Blad gemeenschappelijke regeling",
often before any news site has them. The KOOP SRU interface
(`repository.overheid.nl/sru`) answers a CQL query with metadata records;
each record becomes an article directly (title, date, creator, abstract), so
no document page is fetched.

Quirks handled here: the response uses a default namespace (and SRU 1.2 and
2.0 use different ones), so elements are matched by local name; the service
rejects `sortKeys`, so records are sorted by date on our side; and since it
cannot sort, the query is bounded with `dt.modified>=DATE`, otherwise the
newest records might never be among those returned.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import scrapy
from lxml import etree
from scrapy.http import Response

from newswatch.crawler.dutch_dates import parse_iso, zone
from newswatch.crawler.items import ArticleItem
from newswatch.crawler.pages import ArticlePagesSpider, PageJob
from newswatch.crawler.sitemap import parse_xml
from newswatch.crawler.urls import canonical_url

log = logging.getLogger(__name__)

DOCUMENT_URL = "https://zoek.officielebekendmakingen.nl/{identifier}.html"
PAGE_SIZE = 100  # records per request; the service caps it anyway
_AMSTERDAM = zone("Europe/Amsterdam")
# Where a record's date may be, best first: publication date, then availability, then change.
_DATE_FIELDS = ("date", "available", "issued", "modified")


@dataclass
class SruJob(PageJob):
    query: str = ""
    since: float | None = 14 * 86400.0  # seconds; None = no date bound
    max_records: int = 50


@dataclass(frozen=True)
class SruRecord:
    identifier: str
    title: str | None
    published: datetime | None
    creator: str | None
    abstract: str | None
    url: str
    publication: str | None = None


@dataclass
class SruAnswer:
    records: list[SruRecord] = field(default_factory=list)
    total: int | None = None
    next_position: int | None = None
    diagnostics: list[str] = field(default_factory=list)


def full_query(query: str, since: float | None, now: datetime | None = None) -> str:
    """The configured CQL, bounded to records changed in the last `since` seconds."""
    if since is None:
        return query
    day = ((now or datetime.now(UTC)) - timedelta(seconds=since)).date()
    return f"({query}) AND dt.modified>={day.isoformat()}"


def search_url(base: str, query: str, start: int, maximum: int) -> str:
    """A searchRetrieve URL; parameters already in `base` (e.g. x-connection) are kept."""
    parts = urlsplit(base)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    params.update(
        {
            "operation": "searchRetrieve",
            "version": "2.0",
            "query": query,
            "startRecord": str(start),
            "maximumRecords": str(maximum),
            "recordSchema": "gzd",
        }
    )
    return urlunsplit(parts._replace(query=urlencode(params)))


class SruSpider(ArticlePagesSpider):
    """searchRetrieve (paged up to max_records) → records sorted newest first → new items."""

    name = "officielebekendmakingen"
    job: SruJob

    def __init__(self, job: SruJob, **kwargs: Any) -> None:
        super().__init__(job, **kwargs)
        self.query = full_query(job.query, job.since)
        self.records: list[SruRecord] = []

    async def start(self) -> AsyncIterator[Any]:
        yield self._request(1, self.index_failed)

    def _request(self, start: int, errback: Any) -> scrapy.Request:
        size = min(PAGE_SIZE, self.job.max_records - len(self.records))
        return scrapy.Request(
            search_url(self.job.url, self.query, start, size),
            callback=self.parse_answer,
            errback=errback,
            dont_filter=True,
            cb_kwargs={"first": start == 1},
        )

    def parse_answer(self, response: Response, first: bool) -> Iterator[Any]:
        if first:
            self.report.http_status = response.status
        root = parse_xml(response.body)
        if root is None or etree.QName(root).localname != "searchRetrieveResponse":
            yield from self._page_error(first, f"not an SRU answer: {response.url}")
            return
        answer = parse_answer(root)
        if answer.diagnostics:
            # A CQL error (unknown index, bad syntax) lands here, not in the HTTP status.
            message = "SRU diagnostic: " + "; ".join(answer.diagnostics)
            yield from self._page_error(first, message)
            return
        if first:
            self.report.status = "ok"
        self.records.extend(answer.records)
        if answer.next_position and answer.records and len(self.records) < self.job.max_records:
            yield self._request(answer.next_position, self.later_page_failed)
            return
        yield from self._items()

    def later_page_failed(self, failure: Any) -> Iterator[ArticleItem]:
        self.later_index_failed(failure)
        # What the earlier pages brought is still worth storing.
        yield from self._items()

    def _items(self) -> Iterator[ArticleItem]:
        records = sorted(self.records[: self.job.max_records], key=_newest_first)
        self.report.entries = len(records)
        seen: set[str] = set()
        for record in records:
            url = canonical_url(record.url)
            if url in seen or self.job.is_known(url, record.identifier):
                continue
            if len(seen) >= self.job.max_items:
                log.warning(
                    "%s: more than %d new records, the rest waits", self.job.name, len(seen)
                )
                return
            seen.add(url)
            self.report.new_items += 1
            yield record_item(record, self.job.name)

    def _page_error(self, first: bool, message: str) -> Iterator[ArticleItem]:
        if first:
            self.fail(message[:300])
            return
        self.report.page_failures += 1
        log.warning("%s: %s", self.job.name, message)
        yield from self._items()


def record_item(record: SruRecord, source: str) -> ArticleItem:
    """One official publication as an article: the metadata is all the text we need."""
    text = record.abstract or record.title or record.identifier
    return ArticleItem(
        url=canonical_url(record.url),
        source=source,
        title=record.title or record.identifier,
        text=text,
        published=record.published,
        author=record.creator,
        guid=record.identifier,
        lang="nl",
    )


def parse_answer(root: Any) -> SruAnswer:
    """Records, counts and diagnostics of one searchRetrieveResponse."""
    answer = SruAnswer()
    for element in root:
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        if name == "numberOfRecords":
            answer.total = _int(element.text)
        elif name == "nextRecordPosition":
            answer.next_position = _int(element.text)
        elif name == "records":
            answer.records = [r for r in map(parse_record, _named(element, "record")) if r]
        elif name == "diagnostics":
            answer.diagnostics = [_diagnostic(d) for d in _named(element, "diagnostic")]
    return answer


def parse_record(record: Any) -> SruRecord | None:
    """One `<record>`: the first value of each field inside its recordData."""
    fields = _first_texts(record)
    identifier = fields.get("identifier")
    if not identifier:
        return None
    published = None
    for name in _DATE_FIELDS:
        published = parse_iso(fields.get(name), _AMSTERDAM)
        if published:
            break
    url = fields.get("preferredUrl") or DOCUMENT_URL.format(identifier=identifier)
    return SruRecord(
        identifier=identifier,
        title=fields.get("title"),
        published=published,
        creator=fields.get("creator") or fields.get("authority"),
        abstract=fields.get("abstract"),
        url=url,
        publication=fields.get("publicatienaam"),
    )


def _first_texts(record: Any) -> dict[str, str]:
    """Local name → first non-empty text, in document order (originalData before enrichedData)."""
    texts: dict[str, str] = {}
    data = next(_named(record, "recordData"), record)
    for element in data.iter():
        if not isinstance(element.tag, str):
            continue
        text = " ".join((element.text or "").split())
        if text:
            texts.setdefault(etree.QName(element).localname, text)
    return texts


def _named(parent: Any, name: str) -> Iterator[Any]:
    for child in parent:
        if isinstance(child.tag, str) and etree.QName(child).localname == name:
            yield child


def _diagnostic(element: Any) -> str:
    texts = _first_texts(element)
    return " ".join(t for t in (texts.get("message"), texts.get("details")) if t) or "unknown"


def _int(text: str | None) -> int | None:
    try:
        return int((text or "").strip())
    except ValueError:
        return None


def _newest_first(record: SruRecord) -> float:
    return -record.published.timestamp() if record.published else float("inf")
