"""An article prepared for matching: title + text joined, fields, sentences.

Title and text are joined into one string (`orig`) so that the whole article
is folded and scanned once. `text_start` says where the text begins in `orig`;
hits are reported relative to the title or the text, as the caller gave them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from newswatch.relevance.normalize import Folded, fold
from newswatch.relevance.similarity import tokens

TITLE, LEAD, BODY = 0, 1, 2
FIELD_NAMES = ("title", "lead", "body")

# "Gerelateerd", "Lees ook", ... blocks at the end of scraped pages list other
# articles' headlines; an unrelated article must not inherit their keywords.
# The example article ends "...met de gemeente Vlaardingen.Gerelateerd".
_TAIL = re.compile(
    r"(?:(?<=\n)|(?<=[.!?\"”]))[ \t]*(?:Gerelateerd|Lees ook|Meer nieuws|Ook interessant)"
    r"[ \t]*:?[ \t]*(?:\n|$)"
)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_PARAGRAPH_WORDS = re.compile(r"\w+")

# A sentence ends at . ! or ? followed by space and a capital (so "bijv. de" and
# "o.a. het" do not end one), or at a paragraph break.
_END = r"(?<!\b\w)(?<!dhr)(?<!mr)(?<!drs)(?<!dr)(?<!ir)(?<!mw)(?<!nr)[.!?]+[\"'”’»)]*\s+"
_NEXT = r"(?=[\"'“‘„(«]*[A-ZÀ-ÖØ-Þ])"
SENTENCE_BREAK_BLANK = re.compile(rf"{_END}{_NEXT}|\n[ \t]*\n")
SENTENCE_BREAK_LINE = re.compile(rf"{_END}{_NEXT}|\n")


def strip_tail(text: str) -> str:
    """Cut a trailing "Gerelateerd" / "Lees ook" block."""
    match = _TAIL.search(text)
    return text[: match.start()] if match else text


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
    """The joined, folded article plus everything matching needs to know about it."""

    title: str
    text: str
    url: str | None
    orig: str
    folded: Folded
    text_start: int
    lead_stop: int  # end of the lead, in orig
    sentence_break: re.Pattern[str]
    bounds: tuple[int, int] = (0, 0)  # folded positions where lead and body start
    _tokens: list[str] | None = field(default=None)

    @classmethod
    def prepare(cls, title: str, text: str, url: str | None = None) -> Article:
        text = strip_tail(text)
        title = title.strip()
        orig = f"{title}\n\n{text}"
        text_start = len(title) + 2
        lead_stop = text_start + lead_end(text)
        folded = fold(orig)
        breaks = SENTENCE_BREAK_BLANK if _BLANK_LINE.search(text) else SENTENCE_BREAK_LINE
        article = cls(title, text, url, orig, folded, text_start, lead_stop, breaks)
        article.bounds = (folded.from_orig(text_start), folded.from_orig(lead_stop))
        return article

    def field_of(self, folded_pos: int) -> int:
        lead_start, body_start = self.bounds
        if folded_pos < lead_start:
            return TITLE
        return LEAD if folded_pos < body_start else BODY

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Folded span -> original span in `orig`."""
        return self.folded.to_orig(start), self.folded.to_orig(end - 1) + 1

    def field_start(self, orig_pos: int) -> int:
        """Start of the field (title or text) containing `orig_pos`, in orig."""
        return 0 if orig_pos < self.text_start else self.text_start

    def same_sentence(self, a: int, b: int) -> bool:
        """Are folded positions a <= b in the same sentence?"""
        oa, ob = self.folded.to_orig(a), self.folded.to_orig(b)
        # The end is widened a little so the look-ahead for a capital can see
        # the start of the second word; b is a word start, so no break lies there.
        return self.sentence_break.search(self.orig, oa, ob + 3) is None

    def words_between(self, a: int, b: int) -> int:
        """Number of words in the folded text between positions a and b."""
        return len(self.folded.text[a:b].split()) if b > a else 0

    def tokens(self) -> list[str]:
        """Content tokens for the similarity score (computed once, on demand)."""
        if self._tokens is None:
            self._tokens = tokens(self.folded.text)
        return self._tokens

    def whole_words(self, start: int, end: int) -> tuple[int, int]:
        """Widen a folded span to whole words (a prefix hit "samenwerk" shows its word)."""
        text = self.folded.text
        while start > 0 and text[start - 1].isalnum():
            start -= 1
        while end < len(text) and text[end].isalnum():
            end += 1
        return start, end
