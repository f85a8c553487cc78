"""Stories: the same news from several outlets, recognised by its text.

A municipality's press release runs on three local sites, each with its own
intro line, a dropped sentence or a different dateline. Subscribers want it
once. Every article gets two fingerprints of its normalised text:

* `content_hash`: sha256 of the normalised words — the exact-duplicate check,
  found through an index.
* `simhash`: a 64-bit SimHash over word 3-grams (shingles) — near-duplicates
  differ in a few bits, unrelated texts in about half of them.

`find_story` attaches a new article to the story of an earlier one when the
exact hash matches, when the SimHash is close *and* enough shingles are shared,
or — when either text is too short to fingerprint — when the titles are the
same. Two full texts never merge on the title alone: "Gemeenteraad stemt in
met begroting" is news in every town.

Complexity: the near-duplicate check is a linear scan, O(n) in the articles
of the last `WINDOW` (one integer each, an XOR and a popcount in Python), plus
a shingle comparison for the few within MAX_DISTANCE (about one unrelated
candidate per 20,000 articles). The scan runs over `RecentIndex`, an
in-process copy of the window's SimHashes and normalised titles that is
topped up by id from the database before each use, so an article costs one
small query instead of a read of the whole window. Well beyond a few tens of
thousands of articles in the window, bucket the SimHash into bands (LSH) in
an indexed column instead.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, func, select
from sqlalchemy.orm import Session

from newswatch.crawler.dutch_dates import DATELINE
from newswatch.models import Article, Story

# Stories are events: after two weeks an identical or similar text is a new
# occasion (a yearly notice, a follow-up), and the scan stays small.
WINDOW = timedelta(days=14)
# Below this many words a text is a feed summary or a teaser: common phrases
# would dominate its SimHash, so it is grouped by exact hash or title only.
MIN_SIMHASH_WORDS = 40
# Below this many words even an exact match says little ("Lees het hele
# artikel op onze site.") and is not trusted to merge two articles.
MIN_HASH_WORDS = 12
# Titles shorter than this are too generic to merge on ("Uit de raad").
MIN_TITLE_WORDS = 4
SHINGLE_SIZE = 3
# SimHash bits that may differ for a candidate. Every changed sentence changes
# a handful of 3-grams, so a lightly edited press release (other intro, a
# dropped sentence, another dateline) lands at 7–15 bits in the tests, an
# update with an added paragraph at 7–15; the 3–6 often quoted for web pages
# only catches near-verbatim copies. Unrelated texts, even about the same towns,
# land at 31–39 (random: 32 ± 4); P(≤ 16) for an unrelated pair is 4e-5, and
# the containment check below removes those rare candidates.
MAX_DISTANCE = 16
# Share of the shorter text's shingles that must also occur in the other: the
# check that keeps a SimHash coincidence from merging two stories.
MIN_CONTAINMENT = 0.5
# Articles whose shingles (as 64-bit hashes, ~4 KB for 450 words) are kept
# for containment checks, least recently used out first: ~16 MB at most. A
# busy window fits; older candidates just have their text reloaded.
SKETCH_CACHE_SIZE = 4096

_BITS = 64
_MASK = (1 << _BITS) - 1
_WORD = re.compile(r"\w+")


# --- normalisation ---------------------------------------------------------


def strip_dateline(text: str) -> str:
    """Drop a leading dateline ("SCHIEDAM –", "DEN HAAG (ANP) –").

    Outlets add, drop or change it on the same press release, so it must not
    change the fingerprints. The pattern is the extractor's, so both agree on
    what a dateline is.
    """
    match = DATELINE.match(text)
    return text[match.end() :] if match else text


class _WithoutCombining(dict[int, int | None]):
    """A `str.translate` table that deletes combining marks, filled as characters occur.

    Built lazily because the table over all of Unicode would take a noticeable
    part of a second at import; a text meets a few dozen distinct characters.
    """

    def __missing__(self, codepoint: int) -> int | None:
        value = None if unicodedata.combining(chr(codepoint)) else codepoint
        self[codepoint] = value
        return value


_DROP_COMBINING = _WithoutCombining()


def strip_diacritics(text: str) -> str:
    """ "coöperatie" -> "cooperatie": some sites drop the diaeresis, some CMSes mangle it."""
    # Most words are ASCII, and NFKD leaves ASCII alone: no need to decompose.
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).translate(_DROP_COMBINING)


def words(text: str | None) -> list[str]:
    """The comparable words of `text`: no dateline, case, accents or punctuation.

    Punctuation goes because outlets differ in quotes (" vs “) and dashes
    more often than in wording.
    """
    if not text:
        return []
    text = strip_dateline(unicodedata.normalize("NFKC", text))
    return _WORD.findall(strip_diacritics(text.casefold()))


def normalise(text: str | None) -> str:
    return " ".join(words(text))


# --- fingerprints ----------------------------------------------------------


def content_hash(text: str | None) -> str:
    """sha256 (hex) of the normalised text: equal for the same words, whatever the layout."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def shingles(tokens: Sequence[str], size: int = SHINGLE_SIZE) -> set[str]:
    """Overlapping runs of `size` words; word order matters, so shared vocabulary alone doesn't."""
    if len(tokens) < size:
        return {" ".join(tokens)} if tokens else set()
    # `size` shifted copies zipped together instead of one slice per shingle;
    # zip stops at the shortest copy, which is the last full shingle.
    shifted = (tokens[i:] for i in range(size))
    return set(map(" ".join, zip(*shifted, strict=False)))


def _digest64(value: str) -> bytes:
    return hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest()


def _hash64(value: str) -> int:
    return int.from_bytes(_digest64(value), "big")


# A fresh 8-byte BLAKE2b state: copying it skips the constructor's argument
# parsing, a third of the cost of hashing a short shingle.
_BLAKE2B_64 = hashlib.blake2b(digest_size=8)


def _digests(features: set[str]) -> bytes:
    """`_digest64` of every feature, concatenated."""
    out = []
    for feature in features:
        state = _BLAKE2B_64.copy()
        state.update(feature.encode("utf-8"))
        out.append(state.digest())
    return b"".join(out)


# SimHash counts, per bit, how many feature hashes have it set. Instead of 64
# Python steps per feature, the digests' bytes at one position are taken as
# one `bytes` column, and for each of its 8 bits a translation table maps a
# byte to 1 if the bit is set, else 0: `count(1)` of the translated column is
# the number of votes. 64 translate-and-count passes in C per text.
_BIT_OF_BYTE = [bytes((byte >> k) & 1 for byte in range(256)) for k in range(8)]


def simhash_of(features: set[str]) -> int:
    """Unsigned 64-bit SimHash: each bit is the majority vote of the features' hashes."""
    return _simhash_digests(_digests(features))


def _simhash_digests(digests: bytes) -> int:
    """SimHash of the features whose 8-byte hashes are concatenated in `digests`."""
    n = len(digests) // 8
    result = 0
    for position in range(8):  # byte `position` of the big-endian digest...
        column = digests[position::8]
        low_bit = (7 - position) * 8  # ...holds these bits of the integer
        for k, table in enumerate(_BIT_OF_BYTE):
            # A bit's vote is (ones - zeros) = 2 * ones - n; it is set when positive.
            if 2 * column.translate(table).count(1) > n:
                result |= 1 << (low_bit + k)
    return result


def to_signed(value: int) -> int:
    """Unsigned 64-bit -> signed, because BIGINT is signed on PostgreSQL."""
    value &= _MASK
    return value - (1 << _BITS) if value >> (_BITS - 1) else value


def simhash(text: str | None) -> int | None:
    """Signed 64-bit SimHash over word 3-grams; None for texts under MIN_SIMHASH_WORDS."""
    return _simhash_words(words(text))


def _simhash_words(tokens: list[str]) -> int | None:
    if len(tokens) < MIN_SIMHASH_WORDS:
        return None
    return to_signed(simhash_of(shingles(tokens)))


def hamming(a: int, b: int) -> int:
    """Bits in which two SimHashes differ; signed or unsigned, both work."""
    return ((a ^ b) & _MASK).bit_count()


def containment(a: str | None, b: str | None) -> float:
    """Share of the shorter text's shingles that occur in the other (0..1).

    Containment rather than Jaccard, so an update that adds two paragraphs to
    the original still counts as the same story.
    """
    return _containment(shingles(words(a)), shingles(words(b)))


def _containment(sa: set[str], sb: set[str]) -> float:
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / min(len(sa), len(sb))


def _sketch_containment(mine: set[int], theirs: array[int]) -> float:
    """`containment` over shingle hashes: the same share unless two shingles' 64-bit
    hashes collide (odds of about 1e-14 per pair of articles)."""
    if not mine or not theirs:
        return 0.0
    return len(mine.intersection(theirs)) / min(len(mine), len(theirs))


# --- stories ---------------------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    content_hash: str
    simhash: int | None
    words: int


@dataclass
class Analysis:
    """One text, normalised once: its words, shingles and fingerprints.

    Ingest fingerprints an article and then looks for its story; both need
    the same words and shingles, so they are computed once and passed on.
    """

    tokens: list[str]
    _shingles: set[str] | None = field(default=None, repr=False)
    _digests: bytes | None = field(default=None, repr=False)
    _hashes: set[int] | None = field(default=None, repr=False)

    @property
    def shingles(self) -> set[str]:
        if self._shingles is None:
            self._shingles = shingles(self.tokens)
        return self._shingles

    @property
    def digests(self) -> bytes:
        """The shingles' 8-byte hashes, concatenated: SimHash and sketch both start here."""
        if self._digests is None:
            self._digests = _digests(self.shingles)
        return self._digests

    @property
    def hashes(self) -> set[int]:
        """The shingles as 64-bit integers, for containment checks."""
        if self._hashes is None:
            self._hashes = set(array("Q", self.digests))
        return self._hashes

    def sketch(self) -> array[int]:
        """`hashes` packed: what RecentIndex keeps of an article (8 bytes per shingle)."""
        return array("Q", self.hashes)

    def fingerprint(self) -> Fingerprint:
        """Both fingerprints, from the words and shingles already made."""
        digest = hashlib.sha256(" ".join(self.tokens).encode("utf-8")).hexdigest()
        prints = None
        if len(self.tokens) >= MIN_SIMHASH_WORDS:
            prints = to_signed(_simhash_digests(self.digests))
        return Fingerprint(digest, prints, len(self.tokens))


def analyse(text: str | None) -> Analysis:
    return Analysis(words(text))


def fingerprint(text: str | None) -> Fingerprint:
    """Both fingerprints from one normalisation pass."""
    return analyse(text).fingerprint()


class RecentIndex:
    """What `find_story` scans, kept in memory: the recent articles' SimHashes, titles
    and content hashes.

    Articles are only ever added (retention empties old texts but keeps the
    row, its hashes and title), so the copy is brought up to date by reading
    the rows with a higher id than the last one seen: one indexed query per
    article instead of a read of the whole window. Every candidate found here
    is checked against the database again (still recent, in a story, not
    pruned) before it counts, so a stale entry can cost a look-up but never
    change the answer. Reading by id relies on ids being committed in order,
    which holds with one writer per database (the daemon lock); a second
    writer's rows would only be missed until the index is rebuilt.

    Not thread-safe: the Ingestor uses it from one thread at a time.
    """

    def __init__(self, window: timedelta = WINDOW, sketch_cache: int = SKETCH_CACHE_SIZE):
        # Entries are kept for a second window, so a small backward clock step
        # or an earlier `now` does not need a rebuild; older ones are evicted.
        self.window = window
        self._sketch_cache_size = sketch_cache
        self._reset()

    def _reset(self) -> None:
        self._last_id = 0
        self._loaded_since: datetime | None = None
        self._first_seen: dict[int, datetime] = {}
        self._simhashes: dict[int, int] = {}  # id -> unsigned SimHash, full texts only
        self._titles: dict[int, str] = {}  # id -> normalised title
        self._by_title: dict[str, list[int]] = {}  # normalised title -> ids, oldest first
        self._content_hashes: dict[int, str] = {}  # id -> content hash
        self._by_content_hash: dict[str, list[int]] = {}  # content hash -> ids
        # id -> (content hash, shingle hashes); LRU order, newest last.
        self._sketches: OrderedDict[int, tuple[str | None, array[int]]] = OrderedDict()

    def refresh(self, conn: Connection, since: datetime) -> None:
        """Read the articles stored since the last call (all of the window the first time)."""
        if self._loaded_since is None or since < self._loaded_since:
            self._reset()
            self._loaded_since = since - self.window
        elif since - self.window > self._loaded_since + timedelta(days=1):
            self._evict(since - self.window)
        if self._last_id == 0:
            self._first_load(conn, self._loaded_since)
        else:
            self._add(conn.execute(_NEWER_ROWS, {"last_id": self._last_id}))

    def _first_load(self, conn: Connection, since: datetime) -> None:
        self._add(conn.execute(_WINDOW_ROWS, {"since": since}))
        # Older rows were not read; later calls must not read them either.
        newest = conn.scalar(select(func.max(Article.id)))
        self._last_id = max(self._last_id, newest or 0)

    def _add(self, rows: Any) -> None:
        assert self._loaded_since is not None
        for row_id, first_seen, value, title, digest in rows:
            self._last_id = max(self._last_id, row_id)
            if first_seen < self._loaded_since:
                continue
            self._first_seen[row_id] = first_seen
            if value is not None:
                self._simhashes[row_id] = value & _MASK
            normalised = normalise(title)
            self._titles[row_id] = normalised
            self._by_title.setdefault(normalised, []).append(row_id)
            if digest is not None:
                self._content_hashes[row_id] = digest
                self._by_content_hash.setdefault(digest, []).append(row_id)

    def _evict(self, before: datetime) -> None:
        old = [i for i, seen in self._first_seen.items() if seen < before]
        for row_id in old:
            del self._first_seen[row_id]
            self._simhashes.pop(row_id, None)
            _unlist(self._by_title, self._titles.pop(row_id, None), row_id)
            _unlist(self._by_content_hash, self._content_hashes.pop(row_id, None), row_id)
            self._sketches.pop(row_id, None)
        self._loaded_since = before

    def near(self, value: int) -> list[int]:
        """Ids within MAX_DISTANCE of `value`: nearest first, the newest (highest id) on a tie."""
        mine = value & _MASK
        close = sorted(
            (distance, -row_id)
            for row_id, other in self._simhashes.items()
            if (distance := (mine ^ other).bit_count()) <= MAX_DISTANCE
        )
        return [-negative_id for _, negative_id in close]

    def titled(self, title: str) -> list[int]:
        """Ids whose normalised title is `title`."""
        return list(self._by_title.get(title, ()))

    def has_content_hash(self, digest: str) -> bool:
        """True if an article in the index has this content hash (the database decides
        whether it still qualifies; False means none does)."""
        return digest in self._by_content_hash

    def sketch_of(self, row_id: int, digest: str | None) -> array[int] | None:
        """The cached shingle hashes of article `row_id`, if of the text hashed `digest`."""
        cached = self._sketches.get(row_id)
        if cached is None or cached[0] != digest:
            return None
        self._sketches.move_to_end(row_id)
        return cached[1]

    def remember(self, row_id: int, digest: str | None, sketch: array[int]) -> None:
        """Keep an article's shingle hashes for later containment checks (after its commit)."""
        self._sketches[row_id] = (digest, sketch)
        self._sketches.move_to_end(row_id)
        while len(self._sketches) > self._sketch_cache_size:
            self._sketches.popitem(last=False)


def _unlist(lists: dict[str, list[int]], key: str | None, row_id: int) -> None:
    """Take `row_id` out of `lists[key]`, and the key out when its list is empty."""
    if key is None:
        return
    same = lists[key]
    same.remove(row_id)
    if not same:
        del lists[key]


# --- the queries, built once --------------------------------------------------
# Building a select() costs SQLAlchemy more than SQLite takes to run it, and
# ingest asks these for every article: they are built on first use with bound
# parameters and reused.

_INDEX_COLUMNS = (
    Article.id,
    Article.first_seen_at,
    Article.simhash,
    Article.title,
    Article.content_hash,
)
_NEWER_ROWS = select(*_INDEX_COLUMNS).where(Article.id > bindparam("last_id"))
_WINDOW_ROWS = select(*_INDEX_COLUMNS).where(Article.first_seen_at >= bindparam("since"))
_TEXT_OF = select(Article.text).where(Article.id == bindparam("row_id"))


def _recent(exclude: bool) -> list[ColumnElement[bool]]:
    """Conditions for the articles one may join: recent (`since`), in a story, and not
    itself (`exclude`, when the article already has an id)."""
    conditions = [Article.first_seen_at >= bindparam("since"), Article.story_id.is_not(None)]
    if exclude:
        conditions.append(Article.id != bindparam("exclude"))
    return conditions


@functools.cache
def _same_hash_query(exclude: bool) -> Select[tuple[int | None]]:
    return (
        select(Article.story_id)
        .where(*_recent(exclude), Article.content_hash == bindparam("content_hash"))
        .order_by(Article.first_seen_at.desc())
        .limit(1)
    )


@functools.cache
def _candidates_query(exclude: bool) -> Select[Any]:
    return select(Article.id, Article.story_id, Article.content_hash, Article.text_pruned_at).where(
        *_recent(exclude),
        Article.simhash.is_not(None),
        Article.id.in_(bindparam("ids", expanding=True)),
    )


@functools.cache
def _same_title_query(exclude: bool, short_only: bool) -> Select[tuple[int | None]]:
    conditions = _recent(exclude)
    if short_only:
        conditions.append(Article.simhash.is_(None))
    return (
        select(Article.story_id)
        .where(*conditions, Article.id.in_(bindparam("ids", expanding=True)))
        .order_by(Article.first_seen_at.desc())
        .limit(1)
    )


# --- stories -------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """What `find_story_id` needs to know of the article looking for its story."""

    title: str
    content_hash: str | None
    simhash: int | None
    analysis: Analysis  # the article's text, normalised
    stored_id: int | None = None  # when the article is stored already: never its own story


def find_story(
    session: Session,
    article: Article,
    *,
    now: datetime | None = None,
    window: timedelta = WINDOW,
    index: RecentIndex | None = None,
    analysis: Analysis | None = None,
) -> Story | None:
    """The story `article` belongs to, among articles first seen within `window`; None if new.

    `article` needs `text`, `title`, `content_hash` and `simhash` set; it may
    or may not be in the session yet (it is never matched with itself).
    `index` is the caller's long-lived RecentIndex (a throwaway one reads the
    whole window); `analysis` is `article.text` already normalised.
    """
    session.flush()  # an article pending in the session gets its id: it never matches itself
    candidate = Candidate(
        title=article.title,
        content_hash=article.content_hash,
        simhash=article.simhash,
        analysis=analysis or analyse(article.text),
        stored_id=article.id,
    )
    story_id = find_story_id(
        session.connection(),
        candidate,
        now=now or datetime.now(UTC),
        window=window,
        index=index or RecentIndex(window),
    )
    return session.get(Story, story_id) if story_id is not None else None


def find_story_id(
    conn: Connection,
    candidate: Candidate,
    *,
    now: datetime,
    index: RecentIndex,
    window: timedelta = WINDOW,
) -> int | None:
    """`find_story` on a connection, for ingest: the story's id, or None if new.

    Same rules and queries as `find_story`, without loading ORM objects.
    """
    since = now - window
    params: dict[str, Any] = {"since": since}
    exclude = candidate.stored_id is not None
    if exclude:
        params["exclude"] = candidate.stored_id
    index.refresh(conn, since)
    digest = candidate.content_hash
    # The index has every recent article's hash: the query only runs when one is the same.
    if (
        digest
        and len(candidate.analysis.tokens) >= MIN_HASH_WORDS
        and index.has_content_hash(digest)
    ):
        story_id = conn.scalar(_same_hash_query(exclude), {**params, "content_hash": digest})
        if story_id is not None:
            return story_id
    if candidate.simhash is None:
        return _same_title(conn, candidate, params, index, short_only=False)
    # A full text may also meet the short feed summary of the same story that
    # came first (its page was unreachable): then only the title can tell.
    near = _near_duplicate(conn, candidate, params, index)
    if near is not None:
        return near
    return _same_title(conn, candidate, params, index, short_only=True)


def _near_duplicate(
    conn: Connection, candidate: Candidate, params: dict[str, Any], index: RecentIndex
) -> int | None:
    """Nearest SimHash first (the newest on a tie); the first whose shingles really overlap."""
    assert candidate.simhash is not None
    close = index.near(candidate.simhash)
    if not close:
        return None
    # The index may hold articles that no longer qualify (older than the
    # window now, or its own row): the database has the last word.
    rows = conn.execute(_candidates_query("exclude" in params), {**params, "ids": close})
    found = {row_id: (story_id, digest, pruned) for row_id, story_id, digest, pruned in rows}
    mine = candidate.analysis.hashes
    for row_id in close:
        if row_id not in found:
            continue
        story_id, digest, pruned = found[row_id]
        theirs = None if pruned is not None else index.sketch_of(row_id, digest)
        if theirs is None:
            theirs = analyse(conn.scalar(_TEXT_OF, {"row_id": row_id})).sketch()
            if pruned is None:
                index.remember(row_id, digest, theirs)
        if _sketch_containment(mine, theirs) >= MIN_CONTAINMENT:
            return story_id
    return None


def _same_title(
    conn: Connection,
    candidate: Candidate,
    params: dict[str, Any],
    index: RecentIndex,
    *,
    short_only: bool,
) -> int | None:
    """The same normalised title, for when one side is too short to fingerprint.

    `short_only`: only articles without a SimHash (the article itself has one).
    """
    title = normalise(candidate.title)
    if len(title.split()) < MIN_TITLE_WORDS:
        return None
    same = index.titled(title)
    if not same:
        return None
    query = _same_title_query("exclude" in params, short_only)
    return conn.scalar(query, {**params, "ids": same})
