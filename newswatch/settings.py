"""Every setting newswatch reads, with its default, in one place.

Layering, lowest first: the defaults below < the files in the config folder
< environment variables < command-line options. The config folder holds four
files operators edit: settings.yaml, sources.yaml, topics.yaml and
subscribers.yaml. The SendGrid API key is the exception: it is read from the
environment only, so it never sits in a file that gets copied or committed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from newswatch.errors import ConfigError
from newswatch.relevance import Classifier, TopicsFile, load_topics
from newswatch.yamlfile import line_of, load_model, parse_yaml, read_text, validate

DEFAULT_CONFIG_DIR = Path("config")

# Environment variables that override settings.yaml (documented in README).
ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "NEWSWATCH_DATABASE_URL": ("database_url",),
    "NEWSWATCH_EMAIL_BACKEND": ("email", "backend"),
    "NEWSWATCH_OUTBOX_DIR": ("email", "outbox_dir"),
    "NEWSWATCH_SENDGRID_HOST": ("email", "sendgrid_host"),
    "NEWSWATCH_WEBHOOK_PUBLIC_KEY": ("email", "webhook_public_key"),
}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|MB|GB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def parse_duration(value: Any, *, allow_zero: bool = False) -> float:
    """'15m' -> 900.0 seconds. Plain numbers are seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration like 30s, 15m, 2h or 1d")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError("a duration must be positive")
    return seconds


def parse_size(value: Any) -> int:
    """'10MB' -> 10485760 bytes. Plain numbers are bytes."""
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a size like 512KB or 10MB")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]


def validate_email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value) or len(value) > 254:
        raise ValueError(f"{value!r} is not a valid email address")
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
# A pause may be zero (tests, local demo); an interval or timeout may not.
Pause = Annotated[float, BeforeValidator(lambda v: parse_duration(v, allow_zero=True))]
Size = Annotated[int, BeforeValidator(parse_size)]
Email = Annotated[str, BeforeValidator(validate_email)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EmailSettings(_Strict):
    backend: Literal["file", "sendgrid"] = "file"
    outbox_dir: Path = Path("var/outbox")
    from_: str = Field("newswatch <newswatch@localhost>", alias="from")
    sendgrid_host: AnyHttpUrl = AnyHttpUrl("https://api.sendgrid.com")
    timeout: Duration = 20.0
    send_every: Duration = 30.0
    max_attempts: int = Field(8, ge=1)
    # SendGrid Event Webhook: the verification key (base64 DER as the console
    # shows it, or PEM); without it the webhook route answers 503.
    webhook_public_key: str | None = None
    webhook_max_age: Duration = 300.0  # older signed timestamps are refused (replays)

    @field_validator("webhook_public_key")
    @classmethod
    def _webhook_key(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from newswatch.alerts.webhook import load_public_key

        load_public_key(value)  # a broken key is a config error, not a 403 per event
        return value.strip()

    @model_validator(mode="before")
    @classmethod
    def _no_key_in_files(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and any("api_key" in str(k) for k in data):
            raise ValueError("the SendGrid key is read from SENDGRID_API_KEY only, not from files")
        return data


class HttpSettings(_Strict):
    listen: str = "127.0.0.1:8470"
    public_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8470")

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} is not HOST:PORT")
        return value


class CrawlSettings(_Strict):
    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch/newswatch; news monitor)"
    obey_robots_txt: bool = True
    timeout: Duration = 30.0
    max_page_size: Size = 10 * 1024**2
    delay: Pause = 1.0
    max_items_per_run: int = Field(200, ge=1)
    # Processes that extract article text beside the crawl (another core);
    # 0 extracts in the crawling process. See crawler/extract_pool.py.
    extract_workers: int = Field(1, ge=0, le=32)


class RetentionSettings(_Strict):
    # Article text older than this is replaced by "" (title, URL, matches and
    # alerts stay); 0 keeps it forever.
    article_text_days: int = Field(180, ge=0)
    # How often the daemon prunes and, on SQLite, runs PRAGMA optimize and a
    # WAL checkpoint.
    every: Duration = 86400.0


class Settings(_Strict):
    database_url: str = "sqlite:///var/newswatch.db"
    # How long a SQLite statement waits for a lock another process holds
    # before it fails (the job is retried on its next tick).
    database_busy_timeout: Duration = 30.0
    # How often the daemon looks for changed config files (0: only on SIGHUP).
    config_poll: Pause = 2.0
    timezone: str = "Europe/Amsterdam"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    email: EmailSettings = EmailSettings()
    http: HttpSettings = HttpSettings()
    crawl: CrawlSettings = CrawlSettings()
    retention: RetentionSettings = RetentionSettings()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("use sqlite:///PATH or postgresql://USER@HOST/DB")
        return value


# --- sources.yaml -----------------------------------------------------------
# One model per `kind`, joined into the `Source` union below. Every kind has
# name, url, every and extract; `kind` picks which other keys are allowed.

# The SRU default: everything in the GR journal, plus Gemeenteblad items that
# mention a gemeenschappelijke regeling (the decisions to join, change or leave
# one are published there, often before the news has them).
DEFAULT_SRU_URL = "https://repository.overheid.nl/sru"
DEFAULT_SRU_QUERY = (
    'c.product-area==officielepublicaties AND (w.publicatienaam=="Blad gemeenschappelijke regeling"'
    ' OR (w.publicatienaam=="Gemeenteblad"'
    ' AND cql.textAndIndexes="gemeenschappelijke regeling"))'
)


def _check_css(value: str) -> str:
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(value)
    except SelectorError as exc:
        raise ValueError(f"{value!r} is not a valid CSS selector ({exc})") from None
    return value


def _check_xpath(value: str) -> str:
    from lxml import etree

    try:
        etree.XPath(value)
    except etree.XPathSyntaxError as exc:
        raise ValueError(f"{value!r} is not a valid XPath expression ({exc})") from None
    return value


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a valid regular expression ({exc})") from None
    return value


Css = Annotated[str, Field(min_length=1), AfterValidator(_check_css)]
XPath = Annotated[str, Field(min_length=1), AfterValidator(_check_xpath)]


class Selector(_Strict):
    """`{css: ...}` or `{xpath: ...}`; a plain string is a CSS selector.

    It may select `<a>` elements (their href is taken), elements containing
    one link (the first href inside), or attribute/text nodes with the URL.
    """

    css: Css | None = None
    xpath: XPath | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"css": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _exactly_one(self) -> Selector:
        if (self.css is None) == (self.xpath is None):
            raise ValueError("give exactly one of css or xpath")
        return self


class ExtractSelectors(_Strict):
    """Per-source CSS selectors that win over generic extraction."""

    body: Css | None = None
    title: Css | None = None
    date: Css | None = None
    author: Css | None = None


class SourceBase(_Strict):
    """What every kind of source has."""

    name: str = Field(min_length=1, max_length=100)
    url: AnyHttpUrl
    every: Duration = 900.0
    extract: ExtractSelectors = ExtractSelectors()


class FeedSource(SourceBase):
    """RSS/Atom feed; `kind` may be left out."""

    kind: Literal["feed"] = "feed"
    # Some servers answer 304 or repeat an ETag after a change: every N-th
    # poll (and at least daily) the feed is fetched without conditional headers.
    full_fetch_every: int = Field(12, ge=1)


class ListingSource(SourceBase):
    """An index page of a site without a feed, plus its next pages."""

    kind: Literal["listing"]
    links: Selector
    next_page: Selector | None = None
    max_pages: int = Field(3, ge=1, le=50)


class SitemapSource(SourceBase):
    """sitemap.xml, a sitemap index, or a Google News sitemap."""

    kind: Literal["sitemap"]
    lastmod_window: Duration = 2 * 86400.0
    url_pattern: Annotated[str, AfterValidator(_check_regex)] | None = None


class OfficialPublicationsSource(SourceBase):
    """The KOOP SRU interface of officielebekendmakingen.nl."""

    kind: Literal["officielebekendmakingen"]
    url: AnyHttpUrl = AnyHttpUrl(DEFAULT_SRU_URL)
    query: str = Field(DEFAULT_SRU_QUERY, min_length=1)
    # Added to the query as `dt.modified>=DATE`: the service cannot sort, so
    # without a date bound the newest records may never be among those returned.
    since: Duration | None = 14 * 86400.0  # null: the query is sent as written
    max_records: int = Field(50, ge=1, le=1000)


SOURCE_KINDS: dict[str, type[SourceBase]] = {
    "feed": FeedSource,
    "listing": ListingSource,
    "sitemap": SitemapSource,
    "officielebekendmakingen": OfficialPublicationsSource,
}


def _source_kind(value: Any) -> str | None:
    # Feeds may leave `kind` out; a model instance (already validated) has one.
    kind = value.get("kind", "feed") if isinstance(value, Mapping) else getattr(value, "kind", None)
    # An unknown kind gets a tag pydantic rejects with the list of valid ones.
    return kind if isinstance(kind, str) else None


Source = Annotated[
    Annotated[FeedSource, Tag("feed")]
    | Annotated[ListingSource, Tag("listing")]
    | Annotated[SitemapSource, Tag("sitemap")]
    | Annotated[OfficialPublicationsSource, Tag("officielebekendmakingen")],
    Discriminator(
        _source_kind,
        custom_error_type="invalid_kind",
        custom_error_message="kind must be one of: " + ", ".join(SOURCE_KINDS),
    ),
]


class SourcesFile(_Strict):
    sources: list[Source] = []

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> SourcesFile:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            # pydantic puts the union tag into the location
            # (sources.0.listing.links); operators' files have no such key.
            raise ValidationError.from_exception_data(
                exc.title, [_without_tag(e) for e in exc.errors()]
            ) from None

    @model_validator(mode="after")
    def _unique_names(self) -> SourcesFile:
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                raise ValueError(f"two sources are named {source.name!r}")
            seen.add(source.name)
        return self


def _without_tag(error: Any) -> Any:
    loc = tuple(error["loc"])
    if len(loc) >= 3 and loc[0] == "sources" and loc[2] in SOURCE_KINDS:
        loc = loc[:2] + loc[3:]
    elif error["type"] == "invalid_kind":
        loc = (*loc, "kind")
    details = {"type": error["type"], "loc": loc, "input": error["input"]}
    if error["type"] == "invalid_kind":
        details["type"] = PydanticCustomError("invalid_kind", error["msg"])
    elif "ctx" in error:
        details["ctx"] = error["ctx"]
    return details


_DELIVERY = re.compile(
    r"^(?:(?P<instant>instant)|daily@(?P<dtime>\d{1,2}:\d{2})"
    r"|weekly@(?P<dow>[a-z]{3})\s+(?P<wtime>\d{1,2}:\d{2}))$"
)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_QUIET = re.compile(r"^(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$")


def _clock_time(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"{text!r} is not a time of day like 07:30")
    return time(hours, minutes)


@dataclass(frozen=True)
class DeliverySchedule:
    """`instant`, or a digest at `at` local time every day (weekday None) or once a week."""

    kind: Literal["instant", "daily", "weekly"]
    at: time | None = None
    weekday: int | None = None  # 0 = Monday, as datetime.weekday()


def parse_delivery(value: str) -> DeliverySchedule:
    """'instant' | 'daily@07:30' | 'weekly@mon 07:30' (the subscriber's own time zone)."""
    match = _DELIVERY.match(value.strip().lower())
    if not match:
        raise ValueError(
            f"{value!r} is not instant, daily@HH:MM or weekly@DAY HH:MM (e.g. mon 07:30)"
        )
    if match["instant"]:
        return DeliverySchedule("instant")
    if match["dtime"]:
        return DeliverySchedule("daily", _clock_time(match["dtime"]))
    if match["dow"] not in WEEKDAYS:
        raise ValueError(f"{match['dow']!r} is not a weekday ({', '.join(WEEKDAYS)})")
    return DeliverySchedule("weekly", _clock_time(match["wtime"]), WEEKDAYS.index(match["dow"]))


@dataclass(frozen=True)
class QuietHours:
    """Local times between which no instant alert goes out; may span midnight."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


def parse_quiet_hours(value: str) -> QuietHours:
    """'22:00-07:00' -> QuietHours(22:00, 07:00)."""
    match = _QUIET.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a range like 22:00-07:00")
    quiet = QuietHours(_clock_time(match[1]), _clock_time(match[2]))
    if quiet.start == quiet.end:
        raise ValueError("quiet hours must not start and end at the same time")
    return quiet


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known time zone") from None
    return value


class Subscriber(_Strict):
    email: Email
    name: str | None = None
    topics: list[str] = Field(min_length=1)
    # instant | daily@HH:MM | weekly@mon HH:MM, in the subscriber's time zone.
    delivery: str = "instant"
    # "22:00-07:00": instant alerts found then wait until the quiet hours end.
    quiet_hours: str | None = None
    language: Literal["nl", "en"] = "nl"
    # None: settings.timezone (filled in by load_config).
    timezone: str | None = None

    @field_validator("delivery")
    @classmethod
    def _delivery(cls, value: str) -> str:
        parse_delivery(value)
        return " ".join(value.strip().lower().split())

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None:
            parse_quiet_hours(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _check_zone(value)

    @property
    def schedule(self) -> DeliverySchedule:
        return parse_delivery(self.delivery)

    @property
    def is_digest(self) -> bool:
        return self.schedule.kind != "instant"

    @property
    def quiet(self) -> QuietHours | None:
        return parse_quiet_hours(self.quiet_hours) if self.quiet_hours else None

    def zone(self, default: str = "Europe/Amsterdam") -> ZoneInfo:
        return ZoneInfo(self.timezone or default)


class SubscribersFile(_Strict):
    subscribers: list[Subscriber] = []


@dataclass(frozen=True)
class Config:
    """Everything loaded from one config folder plus the environment."""

    directory: Path
    settings: Settings
    sources: list[Source]
    topics: TopicsFile
    subscribers: list[Subscriber]
    sendgrid_api_key: SecretStr | None

    def classifier(self) -> Classifier:
        return Classifier(self.topics)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)


def config_dir_from(option: str | Path | None, env: Mapping[str, str]) -> Path:
    """--config wins over NEWSWATCH_CONFIG, which wins over ./config."""
    if option:
        return Path(option)
    return Path(env.get("NEWSWATCH_CONFIG") or DEFAULT_CONFIG_DIR)


def load_config(directory: Path, env: Mapping[str, str] | None = None) -> Config:
    """Load and cross-check the whole config folder; raises ConfigError."""
    env = os.environ if env is None else env
    if not directory.is_dir():
        raise ConfigError(
            "config folder not found (set --config or NEWSWATCH_CONFIG)", path=directory
        )
    settings = _load_settings(directory / "settings.yaml", env)
    sources = load_model(directory / "sources.yaml", SourcesFile).sources
    topics = load_topics(directory / "topics.yaml")
    subscribers_path = directory / "subscribers.yaml"
    subscribers = _load_subscribers(subscribers_path, {t.id for t in topics.topics})
    # A subscriber without a time zone of their own lives in the installation's.
    subscribers = [
        s if s.timezone else s.model_copy(update={"timezone": settings.timezone})
        for s in subscribers
    ]
    key = env.get("SENDGRID_API_KEY") or None
    config = Config(
        directory=directory,
        settings=settings,
        sources=sources,
        topics=topics,
        subscribers=subscribers,
        sendgrid_api_key=SecretStr(key) if key else None,
    )
    if settings.email.backend == "sendgrid" and key is None:
        raise ConfigError(
            "email.backend is sendgrid but SENDGRID_API_KEY is not set in the environment",
            path=directory / "settings.yaml",
            key="email.backend",
        )
    return config


def _load_settings(path: Path, env: Mapping[str, str]) -> Settings:
    data = parse_yaml(read_text(path), path) if path.exists() else None
    if data is None:
        data = {}
    for variable, keys in ENV_OVERRIDES.items():
        if env.get(variable):
            _set_nested(data, keys, env[variable])
    try:
        return validate(data, Settings, path)
    except ConfigError as exc:
        overridden = [v for v, k in ENV_OVERRIDES.items() if env.get(v) and ".".join(k) == exc.key]
        if overridden:
            exc.message += f" (value from environment variable {overridden[0]})"
        raise


def _set_nested(data: dict[str, Any], keys: tuple[str, ...], value: str) -> None:
    node = data
    for key in keys[:-1]:
        # Mutate in place: the parsed dicts carry the line numbers for errors.
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[keys[-1]] = value


def _load_subscribers(path: Path, topic_ids: set[str]) -> list[Subscriber]:
    if not path.exists():
        return []
    data = parse_yaml(read_text(path), path)
    subscribers = validate(data, SubscribersFile, path).subscribers
    for i, subscriber in enumerate(subscribers):
        for j, topic in enumerate(subscriber.topics):
            if topic not in topic_ids:
                known = ", ".join(sorted(topic_ids)) or "none"
                raise ConfigError(
                    f"unknown topic {topic!r} (topics.yaml defines: {known})",
                    path=path,
                    line=line_of(data, ("subscribers", i, "topics", j)),
                    key=f"subscribers[{i}].topics[{j}]",
                )
    return subscribers
