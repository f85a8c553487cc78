"""Folding: case, accents, hyphens and spaces, with positions mapped back."""

from __future__ import annotations

import pytest

from newswatch.relevance.normalize import fold, fold_phrase


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("ICT-samenwerking", "ict samenwerking"),
        ("financiële middelen", "financiele middelen"),
        ("beëindigen, geïntegreerd, coöperatie", "beeindigen  geintegreerd  cooperatie"),
        ("SCHIEDAM/VLAARDINGEN – De", "schiedam vlaardingen   de"),
        ("Súdwest-Fryslân", "sudwest fryslan"),
        ("“B&W” en Duo+", " b&w  en duo+"),
        ("één gezamenlijke", "een gezamenlijke"),
    ],
)
def test_fold_is_one_to_one_for_ordinary_text(text: str, folded: str) -> None:
    result = fold(text)
    assert result.text == folded
    assert result.offsets is None  # positions are the original positions
    assert len(result.text) == len(text)


def test_soft_hyphens_and_combining_accents_take_the_slow_path() -> None:
    text = "samen\u00adwerkings\u00adovereenkomst financie\u0308le"
    result = fold(text)
    assert result.text == "samenwerkingsovereenkomst financiele"
    assert result.offsets is not None
    start = result.text.index("financiele")
    assert text[result.to_orig(start) : result.to_orig(start + 10)] == "financie\u0308le"
    assert result.from_orig(text.index("financie")) == start


def test_ligature_expands_and_maps_back() -> None:
    text = "De \u0132ssel"  # Ĳ as one character
    result = fold(text)
    assert result.text == "de ijssel"
    assert result.to_orig(result.text.index("ssel")) == text.index("ssel")


def test_fold_phrase_squeezes_spaces() -> None:
    assert fold_phrase("  Gemeenschappelijke   Regeling ") == "gemeenschappelijke regeling"
    assert fold_phrase("'s-Hertogenbosch") == "s hertogenbosch"


def test_undecomposed_latin_letters_fold_to_ascii_on_the_fast_path() -> None:
    from newswatch.relevance.normalize import fold

    folded = fold("Raadslid Yılmaz uit Łódź en Ørsted")
    assert folded.text == "raadslid yilmaz uit lodz en orsted"
    assert folded.offsets is None  # no per-character offset table needed
