"""Fold Dutch text for matching, and map positions back to the original.

Matching happens on a *folded* copy of the text: lower case, accents removed
(financiële -> financiele), and every character that is not a letter, digit,
`&` or `+` turned into a space. Hyphens therefore become spaces, so
"ICT-samenwerking", "ict samenwerking" and "ICT samenwerking" all fold to
"ict samenwerking". Because punctuation is a space too, the matcher can put
word boundaries *into* its Aho-Corasick keys (" best " cannot hit "bestuur"),
which keeps the hot loop free of per-hit boundary checks.

In the common case folding is one character for one character, so a position
in the folded text is the position in the original and no offset table is
needed. Text with characters that fold to nothing (soft hyphens, zero-width
spaces, combining accents) or to two letters (ß, æ, ĳ) takes a slow path that
builds an explicit table. Either way `Folded.to_orig` gives the original index.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache

# Characters kept verbatim besides letters and digits: "B&W", "Duo+".
_KEEP = frozenset("&+")

# Characters removed outright: they never separate words.
_DELETE = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")


# Latin letters with no Unicode decomposition (ı in Turkish names, ł in Polish,
# ø in Scandinavian ones): fold them to their ASCII look-alike like é → e, which
# also keeps such articles on fold()'s fast path.
_UNDECOMPOSED = {"ı": "i", "ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t"}


def _fold_char(ch: str) -> str:
    """The folded form of one (already lower-cased) character; may be '' or 2 chars."""
    if ch in _DELETE or unicodedata.combining(ch):
        return ""
    if ch.isalnum():
        if ch.isascii():
            return ch
        if ch in _UNDECOMPOSED:
            return _UNDECOMPOSED[ch]
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        base = base.lower()
        # Digits like '²' decompose to '2'; letters without decomposition stay.
        return base if base and base.isalnum() else ch
    if ch in _KEEP:
        return ch
    return " "


# ASCII is handled with bytes.translate, which is a C loop over a 256-byte table
# that also lower-cases (cheaper than str.lower on the whole text). Only ASCII
# bytes ever reach it; the upper half is the identity.
_ASCII_TABLE = bytes(ord(_fold_char(chr(i).lower()) or " ") for i in range(128)) + bytes(
    range(128, 256)
)


@lru_cache(maxsize=4096)
def _fold_non_ascii(ch: str) -> str:
    return _fold_char(ch.lower()) if len(ch.lower()) == 1 else _fold_char(ch)


# Deleting every ASCII byte from the UTF-8 encoding leaves exactly the bytes of
# the non-ASCII characters (their multi-byte sequences never contain ASCII), so
# the distinct non-ASCII characters of an article are found with two C loops
# instead of a regex over every character.
_ASCII_BYTES = bytes(range(128))


@dataclass(frozen=True, slots=True)
class Folded:
    """A folded text. `offsets[i]` is the original index of folded char i (None = identity)."""

    text: str
    offsets: list[int] | None = None
    orig_len: int = 0

    def to_orig(self, i: int) -> int:
        """Original index of folded position `i` (i may equal len(text))."""
        if self.offsets is None:
            return i
        if i >= len(self.offsets):
            return self.orig_len
        return self.offsets[i]

    def from_orig(self, j: int) -> int:
        """First folded position whose original index is >= j."""
        if self.offsets is None:
            return j
        return bisect_left(self.offsets, j)


def fold(text: str) -> Folded:
    """Fold `text` for matching (see module docstring)."""
    low = text
    if not low.isascii():
        # A Dutch article has only a handful of distinct non-ASCII characters
        # (ë, é, “, –, ...): replace each one everywhere in one C-level pass.
        rest = low.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES)
        for ch in set(rest.decode("utf-8", "surrogatepass")):
            low = low.replace(ch, _fold_non_ascii(ch))
    if len(low) == len(text):
        try:
            raw = low.encode("ascii")
        except UnicodeEncodeError:
            pass  # letters from other scripts remain: take the slow path
        else:
            return Folded(raw.translate(_ASCII_TABLE).decode("ascii"), None, len(text))
    return _fold_slow(text)


def _fold_slow(text: str) -> Folded:
    """Character by character, with an explicit offset table."""
    out: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        lowered = ch.lower()
        folded = "".join(_fold_char(c) for c in lowered)
        out.append(folded)
        offsets.extend([i] * len(folded))
    return Folded("".join(out), offsets, len(text))


_SPACES = re.compile(r" +")


def fold_phrase(text: str) -> str:
    """Fold a term or name written by an operator: like `fold`, spaces squeezed."""
    return _SPACES.sub(" ", fold(text).text).strip()
