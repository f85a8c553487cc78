"""The article's language: counted from its text, else what the page declares.

The text is asked first: a site-wide template's lang attribute says what the
site is written in, not necessarily this article. A function-word count is
enough to tell the handful of languages these sites publish in, with no model
to load.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import lxml.html

from newswatch.crawler.dom import meta

# Frequent function words that are (nearly) unique to one language; words that
# several languages share ("de", "en", "in", "die", "que", "para") are left out.
# nl/en/de/fr are what Dutch regional sites publish; es/it/pt/pl are there so
# that a Spanish page is not called French for want of a better guess.
_STOPWORD_LISTS = {
    "nl": "het een van niet voor zijn ook aan bij wordt worden naar maar nog heeft hebben deze "
    "dit wij geen werd zal zou hun waar wel veel hij uit tot meer",
    "en": "the and of to that for with was are it by this be from has have not but which "
    "they their would been were who",
    "de": "der und das ist nicht mit von zu sich auf ein eine dem auch für wird im sie bei "
    "werden nach wurde sind oder aus noch",
    "fr": "le les et des est une du dans pour pas sur au avec ce qui sont par elle plus mais ont "
    "cette",
    "es": "el los las y pero sus fue también cuando muy sin una",
    "it": "il della delle degli che per sono gli alla anche più dei nel nella questo è ha hanno",
    "pt": "os do dos não uma com em ao foi também são pelo pela",
    "pl": "się jest że jak od za po jego ale czy przez tak być które",
}
_STOPWORDS = {lang: frozenset(words.split()) for lang, words in _STOPWORD_LISTS.items()}
# Each function word belongs to one language: one dict look-up per word of the text.
_LANGUAGE_OF = {word: lang for lang, words in _STOPWORDS.items() for word in words}
assert len(_LANGUAGE_OF) == sum(map(len, _STOPWORDS.values())), "a word in two lists"
_WORD = re.compile(r"[^\W\d_]+")


def detect_language(text: str) -> str | None:
    """A language code from function-word counts; None if the text is too short to tell."""
    # Count the function words in C (Counter over a filter), then add up per language.
    found = Counter(filter(_LANGUAGE_OF.__contains__, _WORD.findall(text[:20_000].lower())))
    counts: Counter[str] = Counter()
    for word, n in found.items():
        counts[_LANGUAGE_OF[word]] += n
    ranked = counts.most_common(2)
    if not ranked or ranked[0][1] < 5:
        return None
    if len(ranked) > 1 and ranked[0][1] < 2 * ranked[1][1]:
        return None
    return ranked[0][0]


def declared_lang(tree: lxml.html.HtmlElement, ld: dict[str, Any]) -> str | None:
    """The language the page declares: <html lang>, JSON-LD inLanguage, then <meta>."""
    for raw in (
        tree.get("lang"),
        ld.get("inLanguage") if isinstance(ld.get("inLanguage"), str) else None,
        meta(tree, "og:locale", "content-language", "language"),
    ):
        lang = normalise_lang(raw)
        if lang:
            return lang
    return None


def normalise_lang(raw: str | None) -> str | None:
    """ "nl-NL", "nl_NL", "NL" -> "nl"; junk -> None."""
    m = re.match(r"^\s*([a-zA-Z]{2,3})(?:[-_]|$)", raw or "")
    return m.group(1).lower() if m else None
