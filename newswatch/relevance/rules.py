"""The rule language of `topics.yaml`, as pydantic models (documented in docs/rules.md).

A *clause* is one test on an article. It is a term ("samenwerk*"), a
separable verb, a group (`any`, `all`, `none`), a proximity test (`near`), or an
entity/signal test (`municipalities`, `cooperations`, `url`, `similarity`).
Several group/signal keys in one clause must all hold ("any of these and none
of those"). A *rule* is a clause with a weight; a topic matches when the weights
of its rules that hold, times the field weight of where they held, add up to
its threshold.

Every model forbids unknown keys, so a typo such as `treshold:` is an error
with file, line and key rather than a silently ignored setting.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from newswatch.errors import ConfigError
from newswatch.relevance.gazetteer import load_gazetteer
from newswatch.relevance.normalize import fold_phrase
from newswatch.yamlfile import dotted, line_of, parse_yaml, read_text, validate

FIELDS = ("title", "lead", "body")
Mode = Literal["word", "prefix", "suffix", "infix"]
FieldName = Literal["title", "lead", "body"]

# Regular-expression syntax operators might try; the language has only `*`.
_REGEX_CHARS = re.compile(r"[()\[\]{}|?\\^$]")
_COMPARISON = re.compile(r"^\s*(>=|<=|>|<|==|=)?\s*(\d+(?:\.\d+)?)\s*$")


def parse_comparison(value: str | float) -> tuple[str, float]:
    """ ">= 2" -> (">=", 2.0); a bare number means ">="."""
    match = _COMPARISON.match(str(value))
    if not match:
        raise ValueError(f"expected a comparison like '>= 2', got {value!r}")
    op = match.group(1) or ">="
    return ("==" if op == "=" else op), float(match.group(2))


def parse_term(raw: str) -> tuple[str, Mode]:
    """Split `samenwerk*` into ("samenwerk", "prefix"); raise ValueError on a bad pattern."""
    text = raw.strip()
    if _REGEX_CHARS.search(text):
        raise ValueError(
            f"bad pattern {raw!r}: only * at the start or end of a term is supported, "
            "not regular expressions"
        )
    lead, trail = text.startswith("*"), text.endswith("*") and len(text) > 1
    core = text.strip("*")
    if "*" in core:
        raise ValueError(f"bad pattern {raw!r}: * may only stand at the start or end of a term")
    folded = fold_phrase(core)
    if sum(ch.isalnum() for ch in folded) < 2:
        raise ValueError(f"bad pattern {raw!r}: a term needs at least two letters or digits")
    if lead and len(folded) < 4:
        raise ValueError(f"bad pattern {raw!r}: '*' before a term needs at least 4 letters")
    mode: Mode = "infix" if lead and trail else "suffix" if lead else "prefix" if trail else "word"
    return core, mode


class Clause(BaseModel):
    """One test on an article (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    term: str | None = None
    mode: Mode | None = None
    case: bool = False

    separable: str | None = None
    particle: str | None = None
    forms: list[str] | None = None

    any: list[Clause] | None = None
    all: list[Clause] | None = None
    none: list[Clause] | None = None

    near: list[Clause] | None = None
    within: int | None = Field(default=None, ge=1, le=200)
    sentence: bool = False
    ordered: bool = False

    municipalities: str | int | None = None
    cooperations: Literal["any"] | list[str] | None = None
    url: list[str] | None = None
    similarity: str | float | None = None

    @model_validator(mode="before")
    @classmethod
    def _string_is_a_term(cls, data: Any) -> Any:
        return {"term": data} if isinstance(data, str) else data

    @field_validator("term")
    @classmethod
    def _check_term(cls, value: str | None) -> str | None:
        if value is not None:
            parse_term(value)
        return value

    @field_validator("any", "all", "none", "near", "forms", "url")
    @classmethod
    def _not_empty(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None and not value:
            raise ValueError("empty group: list at least one item")
        return value

    @field_validator("cooperations")
    @classmethod
    def _kinds_not_empty(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("empty group: list at least one kind, or write 'any'")
        return value

    @field_validator("municipalities", "similarity")
    @classmethod
    def _check_comparison(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            parse_comparison(value)
        return value

    @field_validator("separable", "particle")
    @classmethod
    def _one_word(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^\W\d_]{2,}", fold_phrase(value)):
            raise ValueError(f"bad pattern {value!r}: expected one word")
        return value

    @field_validator("forms")
    @classmethod
    def _check_forms(cls, value: list[str] | None) -> list[str] | None:
        for form in value or []:
            if not re.fullmatch(r"[^\W\d_]{2,}", fold_phrase(form)):
                raise ValueError(f"bad pattern {form!r}: verb forms are single words")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Clause:
        tests = [k for k in _TESTS if getattr(self, k) is not None]
        if not tests:
            raise ValueError(f"empty clause: give one of {', '.join(_TESTS)}")
        for solo in ("term", "separable", "near"):
            if solo in tests and len(tests) > 1:
                raise ValueError(f"'{solo}' cannot be combined with {', '.join(tests)}")
        self._check_options(tests)
        return self

    def _check_options(self, tests: list[str]) -> None:
        if (self.mode is not None or self.case) and "term" not in tests:
            raise ValueError("'mode' and 'case' belong to a 'term'")
        if self.separable is not None and (self.particle is None or not self.forms):
            raise ValueError("a 'separable' verb needs 'particle' and 'forms'")
        if (self.particle is not None or self.forms is not None) and self.separable is None:
            raise ValueError("'particle' and 'forms' belong to a 'separable' verb")
        verb = fold_phrase(self.separable or "")
        if self.separable is not None and not verb.startswith(fold_phrase(self.particle or "")):
            raise ValueError("the 'separable' verb must start with its 'particle'")
        has_near_opts = self.within is not None or self.sentence or self.ordered
        if has_near_opts and "near" not in tests and "separable" not in tests:
            raise ValueError("'within', 'sentence' and 'ordered' belong to 'near'")
        if "near" in tests:
            if len(self.near or []) < 2:
                raise ValueError("'near' needs at least two items")
            if self.within is None and not self.sentence:
                raise ValueError("'near' needs 'within: N' (words) or 'sentence: true'")


_TESTS = (
    "term",
    "separable",
    "any",
    "all",
    "none",
    "near",
    "municipalities",
    "cooperations",
    "url",
    "similarity",
)


class _InFields(Clause):
    """`in: [title, lead]`: the clause is only tested in those fields."""

    in_: list[FieldName] | None = Field(default=None, alias="in")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("in_")
    @classmethod
    def _fields_not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("empty group: list at least one field")
        return value


class Rule(_InFields):
    """A clause that adds `weight` points (times the field weight) when it holds."""

    name: str | None = None
    weight: float = Field(gt=0)
    max: float | None = Field(default=None, gt=0)


class Exclusion(_InFields):
    """A clause that subtracts `penalty` points, or vetoes the topic, unless `unless` holds.

    With `in:` the clause itself is only tested in those fields ("herindeling in
    the headline or lead": the merger is the subject, not a side remark);
    `unless` is always tested on the whole article.
    """

    name: str | None = None
    penalty: float | None = Field(default=None, gt=0)
    veto: bool = False
    unless: Clause | None = None

    @model_validator(mode="after")
    def _penalty_or_veto(self) -> Exclusion:
        if (self.penalty is None) == (not self.veto):
            raise ValueError("an exclusion needs either 'penalty: N' or 'veto: true'")
        return self


class FieldWeights(BaseModel):
    """How much a rule counts when it holds in the title, the lead or the body."""

    model_config = ConfigDict(extra="forbid")

    title: float = Field(default=2.0, ge=0)
    lead: float = Field(default=1.5, ge=0)
    body: float = Field(default=1.0, ge=0)

    def of(self, field: str) -> float:
        return float(getattr(self, field))


class Example(BaseModel):
    """An example article for "more like this": a text file, or a stored article's URL."""

    model_config = ConfigDict(extra="forbid")

    file: str | None = None
    url: str | None = None
    title: str | None = None
    _text: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _file_or_url(self) -> Example:
        if (self.file is None) == (self.url is None):
            raise ValueError("an example needs exactly one of 'file' or 'url'")
        return self

    @property
    def text(self) -> str | None:
        """The example's text, once loaded (files at load time; URLs via the classifier)."""
        return self._text


class Topic(BaseModel):
    """One topic subscribers can follow."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str | None = None
    description: str | None = None
    threshold: float = Field(gt=0)
    fields: FieldWeights = Field(default_factory=FieldWeights)
    require: Clause | None = None
    rules: list[Rule]
    exclude: list[Exclusion] = Field(default_factory=list)
    examples: list[Example] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _rules_not_empty(cls, value: list[Rule]) -> list[Rule]:
        if not value:
            raise ValueError("empty group: a topic needs at least one rule")
        return value


class TopicsFile(BaseModel):
    """The whole of `topics.yaml`."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    # Lists written once and reused with YAML aliases (`&strong` ... `*strong`);
    # only the topics that refer to them give them meaning.
    lists: dict[str, Any] | None = None
    topics: list[Topic]
    _path: Path | None = PrivateAttr(default=None)

    @field_validator("topics")
    @classmethod
    def _unique_ids(cls, value: list[Topic]) -> list[Topic]:
        if not value:
            raise ValueError("empty group: list at least one topic")
        seen: set[str] = set()
        for topic in value:
            if topic.id in seen:
                raise ValueError(f"topic id {topic.id!r} is used twice")
            seen.add(topic.id)
        return value

    @property
    def path(self) -> Path | None:
        return self._path

    def topic(self, topic_id: str) -> Topic:
        for topic in self.topics:
            if topic.id == topic_id:
                return topic
        raise KeyError(topic_id)


def load_topics(path: Path) -> TopicsFile:
    """Read and check `topics.yaml`; every problem is a ConfigError with file, line and key."""
    path = Path(path)
    data = parse_yaml(read_text(path), path)
    topics = _validate(data, path)
    topics._path = path
    _check_references(topics, data, path)
    _load_examples(topics, data, path)
    return topics


def _validate(data: Any, path: Path) -> TopicsFile:
    """Like yamlfile.validate, but an unknown key is reported before anything else:
    `treshold: 3` also makes `threshold` missing, and the typo is what to fix."""
    try:
        return TopicsFile.model_validate(data if data is not None else {})
    except ValidationError as exc:
        errors = exc.errors()
        unknown = [e for e in errors if e["type"] == "extra_forbidden"]
        if not unknown:
            return validate(data, TopicsFile, path)  # the shared wording
        loc = tuple(unknown[0]["loc"])
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(
            "unknown key" + more, path=path, line=line_of(data, loc), key=dotted(loc)
        ) from None


def _check_references(topics: TopicsFile, data: Any, path: Path) -> None:
    """Cooperation kinds must exist in the packaged data."""
    kinds = load_gazetteer().cooperation_kinds
    for loc, clause in _walk(topics):
        if isinstance(clause.cooperations, list):
            for i, kind in enumerate(clause.cooperations):
                if kind not in kinds:
                    key = (*loc, "cooperations", i)
                    raise ConfigError(
                        f"unknown cooperation kind {kind!r}; known: {', '.join(sorted(kinds))}",
                        path=path,
                        line=line_of(data, key),
                        key=dotted(key),
                    )


def _load_examples(topics: TopicsFile, data: Any, path: Path) -> None:
    for t, topic in enumerate(topics.topics):
        for e, example in enumerate(topic.examples):
            if example.file is None:
                continue
            file = path.parent / example.file
            key = ("topics", t, "examples", e, "file")
            try:
                example._text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = "file not found" if isinstance(exc, FileNotFoundError) else str(exc)
                raise ConfigError(
                    f"example article {str(file)!r}: {reason}",
                    path=path,
                    line=line_of(data, key),
                    key=dotted(key),
                ) from None


def _walk(topics: TopicsFile) -> list[tuple[tuple[int | str, ...], Clause]]:
    """Every clause in the file with its location, for checks after validation."""
    out: list[tuple[tuple[int | str, ...], Clause]] = []

    def visit(loc: tuple[int | str, ...], clause: Clause | None) -> None:
        if clause is None:
            return
        out.append((loc, clause))
        for key in ("any", "all", "none", "near"):
            for i, child in enumerate(getattr(clause, key) or []):
                visit((*loc, key, i), child)
        if isinstance(clause, Exclusion):
            visit((*loc, "unless"), clause.unless)

    for t, topic in enumerate(topics.topics):
        visit(("topics", t, "require"), topic.require)
        for r, rule in enumerate(topic.rules):
            visit(("topics", t, "rules", r), rule)
        for x, excl in enumerate(topic.exclude):
            visit(("topics", t, "exclude", x), excl)
    return out
