"""An article prepared for matching: title + text joined, fields, sentences.

Title and text are joined into one string (`orig`) so that the whole article
is folded and scanned once. `text_start` says where the text begins in `orig`;
hits are reported relative to the title or the text, as the caller gave them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newswatch.relevance.normalize import Folded, fold
from newswatch.relevance.similarity import token_counts

TITLE, LEAD, BODY = 0, 1, 2
FIELD_NAMES = ("title", "lead", "body")

# "Gerelateerd", "Lees ook", ... blocks at the end of scraped pages list other
# articles' headlines; an unrelated article must not inherit their keywords.
# The example article ends "...met de gemeente Vlaardingen.Gerelateerd". Found
# with str.find (a regex with look-behinds would test every character).
_TAIL_WORDS = ("Gerelateerd", "Lees ook", "Meer nieuws", "Ook interessant")
TAIL_FOLDED = tuple(word.lower() for word in _TAIL_WORDS)
_TAIL_AFTER = re.compile(r"[ \t]*:?[ \t]*(?:\n|$)")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_PARAGRAPH_WORDS = re.compile(r"\w+")

# A sentence ends at . ! or ? followed by space and a capital (so "bijv. de"
# does not end one), or at a paragraph break. Abbreviations before a capital
# ("dhr. Jansen", "o.a. Tiel", "J. de Vries") are filtered out afterwards: a
# regex with look-behinds for them is several times slower on every character.
# Each pattern starts with a character set, which lets the regex engine skip
# quickly to the candidates.
_END = r"(?<=[.!?])[.!?]*[\"'”’»)]*\s+(?=[\"'“‘„(«]*[A-ZÀ-ÖØ-Þ])"
SENTENCE_BREAK_BLANK = re.compile(rf"[.!?\n](?:{_END}|(?<=\n)[ \t]*\n)")
SENTENCE_BREAK_LINE = re.compile(rf"[.!?\n](?:{_END}|(?<=\n))")
_ABBREVIATIONS = frozenset("dhr mr drs dr ir ing mw mevr nr no st prof ca bijv vs".split())  # noqa: SIM905
_LAST_WORD = re.compile(r"(\w+)$")


def is_abbreviation(orig: str, stop: int) -> bool:
    """Is the full stop at `stop` the end of an abbreviation or an initial?"""
    if orig[stop] != ".":
        return False
    match = _LAST_WORD.search(orig, max(0, stop - 8), stop)
    if not match:
        return False
    word = match.group(1)
    return (len(word) == 1 and not word.isdigit()) or word.lower() in _ABBREVIATIONS


def strip_tail(text: str) -> str:
    """Cut a trailing "Gerelateerd" / "Lees ook" block."""
    cut = len(text)
    for word in _TAIL_WORDS:
        pos = text.find(word)
        while pos != -1 and pos < cut:
            before = text[:pos].rstrip(" \t")
            at_line_start = not before or before[-1] in '\n.!?"”'
            if at_line_start and _TAIL_AFTER.match(text, pos + len(word)):
                cut = pos
                break
            pos = text.find(word, pos + 1)
    return text[:cut]


def lead_end(text: str) -> int:
    """End of the lead: the first paragraph that reads like prose.

    Scraped text often starts with a byline ("08-05-2019 Nieuws Kor Kegel") or
    a repeated headline; a paragraph of fewer than eight words without a full
    stop is skipped so that the dateline paragraph becomes the lead.
    """
    separator = _BLANK_LINE if _BLANK_LINE.search(text) else re.compile(r"\n")
    start, first = 0, None
    while True:
        match = separator.search(text, start)
        end = match.start() if match else len(text)
        para = text[start:end].strip()
        words = len(_PARAGRAPH_WORDS.findall(para))
        if words >= 8 or (words and para.endswith((".", "!", "?"))):
            return end
        if words and first is None:
            first = end
        if match is None:
            return first if first is not None else len(text)
        start = match.end()


@dataclass(slots=True)
class Article:
    """The joined, folded article plus everything matching needs to know about it.

    Only folding is done up front: most articles are ruled out from which terms
    occur at all, so the lead, the paragraph style and the similarity tokens
    are worked out on first use.
    """

    title: str
    text: str
    url: str | None
    orig: str
    folded: Folded
    text_start: int
    padded: str = ""  # the folded text with a space at both ends
    _bounds: tuple[int, int] | None = None
    _pattern: re.Pattern[str] | None = None
    _token_counts: dict[str, int] | None = None

    @classmethod
    def prepare(cls, title: str, text: str, url: str | None = None) -> Article:
        """Join and fold. A trailing "Gerelateerd" block is cut by `without_tail`,
        which the classifier calls only when its scan saw one of TAIL_FOLDED."""
        title = title.strip()
        orig = f"{title}\n\n{text}"
        folded = fold(orig)
        return cls(title, text, url, orig, folded, len(title) + 2, f" {folded.text} ")

    def without_tail(self) -> Article:
        """This article with a trailing "Gerelateerd" / "Lees ook" block cut off
        (itself when there is none)."""
        stripped = strip_tail(self.text)
        if stripped is self.text:
            return self
        return Article.prepare(self.title, stripped, self.url)

    @property
    def bounds(self) -> tuple[int, int]:
        """Folded positions where the lead and the body start."""
        if self._bounds is None:
            lead_stop = self.text_start + lead_end(self.text)
            from_orig = self.folded.from_orig
            self._bounds = (from_orig(self.text_start), from_orig(lead_stop))
        return self._bounds

    def field_of(self, folded_pos: int) -> int:
        """TITLE, LEAD or BODY (0, 1, 2): how many field starts lie at or before the position."""
        lead_start, body_start = self._bounds or self.bounds
        return (folded_pos >= lead_start) + (folded_pos >= body_start)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Folded span -> original span in `orig`."""
        return self.folded.to_orig(start), self.folded.to_orig(end - 1) + 1

    def field_start(self, orig_pos: int) -> int:
        """Start of the field (title or text) containing `orig_pos`, in orig."""
        return 0 if orig_pos < self.text_start else self.text_start

    @property
    def sentence_break(self) -> re.Pattern[str]:
        """Paragraphs are blank-line separated, or (scraped text) single newlines."""
        if self._pattern is None:
            blank = _BLANK_LINE.search(self.text)
            self._pattern = SENTENCE_BREAK_BLANK if blank else SENTENCE_BREAK_LINE
        return self._pattern

    def next_break(self, orig_pos: int, orig_stop: int) -> int | None:
        """Original position where the first sentence break in [pos, stop) starts."""
        pattern, orig = self.sentence_break, self.orig
        while True:
            match = pattern.search(orig, orig_pos, orig_stop)
            if match is None:
                return None
            if not is_abbreviation(orig, match.start()):
                return match.start()
            orig_pos = match.end()

    def same_sentence(self, a: int, b: int) -> bool:
        """Are folded positions a <= b in the same sentence?"""
        oa, ob = self.folded.to_orig(a), self.folded.to_orig(b)
        # The end is widened a little so the look-ahead for a capital can see
        # the start of the second word; b is a word start, so no break lies there.
        # (Listing every break of the article once and bisecting was tried: it
        # costs more than these short searches, even for matching articles.)
        return self.next_break(oa, min(ob + 3, len(self.orig))) is None

    def token_counts(self) -> dict[str, int]:
        """How often each content token occurs (computed once, on demand)."""
        if self._token_counts is None:
            self._token_counts = token_counts(self.folded.text)
        return self._token_counts

    def whole_words(self, start: int, end: int) -> tuple[int, int]:
        """Widen a folded span to whole words (a prefix hit "samenwerk" shows its word)."""
        text = self.folded.text
        if (start == 0 or text[start - 1] == " ") and (end == len(text) or text[end] == " "):
            return start, end  # the common case: already whole words
        while start > 0 and text[start - 1].isalnum():
            start -= 1
        while end < len(text) and text[end].isalnum():
            end += 1
        return start, end
