"""Loading topics.yaml: everything is validated, errors name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from newswatch.errors import ConfigError
from newswatch.relevance import load_topics
from newswatch.relevance.rules import parse_term

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
version: 1
topics:
  - id: t
    threshold: 3
    rules:
      - weight: 3
        any: [samenwerk*]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_topics(write(tmp_path, text))
    return info.value


def test_the_default_topics_load() -> None:
    topics = load_topics(ROOT / "config" / "topics.yaml")
    ids = [t.id for t in topics.topics]
    assert ids == ["intergemeentelijke-samenwerking", "gemeentelijke-herindeling"]
    main = topics.topic("intergemeentelijke-samenwerking")
    assert all(example.text for example in main.examples)


def test_a_minimal_file_loads(tmp_path: Path) -> None:
    topics = load_topics(write(tmp_path, GOOD))
    assert topics.topics[0].rules[0].any[0].term == "samenwerk*"  # type: ignore[index]


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD.replace("threshold: 3", "treshold: 3"))
    assert err.path == tmp_path / "topics.yaml"
    assert err.line == 4
    assert err.key == "topics[0].treshold"
    assert "unknown key" in str(err)


def test_unknown_key_inside_a_term(tmp_path: Path) -> None:
    text = GOOD.replace("any: [samenwerk*]", "any:\n          - {term: GR, kase: true}")
    err = load_error(tmp_path, text)
    assert err.line == 8
    assert err.key == "topics[0].rules[0].any[0].kase"


def test_empty_group(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD.replace("any: [samenwerk*]", "any: []"))
    assert err.line == 7
    assert err.key == "topics[0].rules[0].any"
    assert "empty group" in err.message


def test_empty_rules(tmp_path: Path) -> None:
    text = "topics:\n  - id: t\n    threshold: 3\n    rules: []\n"
    err = load_error(tmp_path, text)
    assert (err.line, err.key) == (4, "topics[0].rules")


@pytest.mark.parametrize(
    "pattern",
    ["sam*werk", "samenwerk(ing|en)", "*", "x", "*ict*", "samen\\w+"],
)
def test_bad_pattern(tmp_path: Path, pattern: str) -> None:
    err = load_error(tmp_path, GOOD.replace("[samenwerk*]", f"['{pattern}']"))
    assert err.line == 7
    assert err.key is not None
    assert err.key.startswith("topics[0].rules[0].any[0]")
    assert "bad pattern" in err.message


def test_bad_municipality_count(tmp_path: Path) -> None:
    text = GOOD.replace("any: [samenwerk*]", 'municipalities: "at least two"')
    err = load_error(tmp_path, text)
    assert (err.line, err.key) == (7, "topics[0].rules[0].municipalities")


def test_unknown_cooperation_kind(tmp_path: Path) -> None:
    text = GOOD.replace("any: [samenwerk*]", "cooperations: [werkorganisatie, voetbal]")
    err = load_error(tmp_path, text)
    assert (err.line, err.key) == (7, "topics[0].rules[0].cooperations[1]")
    assert "voetbal" in err.message


def test_near_needs_a_window(tmp_path: Path) -> None:
    text = GOOD.replace("any: [samenwerk*]", "near: [samenwerk*, gemeenten]")
    err = load_error(tmp_path, text)
    assert err.line == 6
    assert "within" in err.message


def test_separable_needs_its_particle(tmp_path: Path) -> None:
    text = GOOD.replace(
        "any: [samenwerk*]", "any:\n          - {separable: opzeggen, particle: uit, forms: [zegt]}"
    )
    err = load_error(tmp_path, text)
    assert err.line == 8
    assert "particle" in err.message


def test_exclusion_needs_penalty_or_veto(tmp_path: Path) -> None:
    text = GOOD + "    exclude:\n      - any: [kerk]\n"
    err = load_error(tmp_path, text)
    assert (err.line, err.key) == (9, "topics[0].exclude[0]")


def test_duplicate_topic_ids(tmp_path: Path) -> None:
    second = GOOD.split("topics:\n")[1]
    err = load_error(tmp_path, GOOD + second)
    assert err.key == "topics"
    assert "twice" in err.message


def test_missing_example_file(tmp_path: Path) -> None:
    text = GOOD + "    examples:\n      - file: examples/nope.txt\n"
    err = load_error(tmp_path, text)
    assert (err.line, err.key) == (9, "topics[0].examples[0].file")
    assert "not found" in err.message


def test_example_files_are_relative_to_the_topics_file(tmp_path: Path) -> None:
    (tmp_path / "ex").mkdir()
    (tmp_path / "ex" / "a.txt").write_text("Een voorbeeld.", encoding="utf-8")
    text = GOOD + "    examples:\n      - file: ex/a.txt\n      - url: https://example.nl/a\n"
    topics = load_topics(write(tmp_path, text))
    first, second = topics.topics[0].examples
    assert first.text == "Een voorbeeld."
    assert second.url == "https://example.nl/a"
    assert second.text is None


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    err = load_error(tmp_path, GOOD + "  - id: [unclosed\n")
    assert err.line is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("samenwerking", ("samenwerking", "word")),
        ("samenwerk*", ("samenwerk", "prefix")),
        ("*samenwerking", ("samenwerking", "suffix")),
        ("*samenwerk*", ("samenwerk", "infix")),
        ("gemeenschappelijke regeling*", ("gemeenschappelijke regeling", "prefix")),
    ],
)
def test_parse_term(raw: str, expected: tuple[str, str]) -> None:
    assert parse_term(raw) == expected


def test_words_between_is_exact_up_to_the_limit() -> None:
    from random import Random

    from newswatch.relevance.nodes import words_between

    rng = Random(5)  # noqa: S311 - reproducible test data, not secrets
    for _ in range(3000):
        # Folded text: words of letters, separated by runs of 1-4 spaces.
        parts = [" " * rng.randint(1, 4)]
        for _ in range(rng.randint(0, 30)):
            parts += ["ab"[: rng.randint(1, 2)] * rng.randint(1, 5), " " * rng.randint(1, 4)]
        text = "".join(parts)
        start, stop = sorted(rng.sample(range(len(text) + 1), 2))
        limit = rng.randint(0, 12)
        exact = len(text[start:stop].split())
        got = words_between(text, start, stop, limit)
        assert got == exact if exact <= limit else got > limit, (text, start, stop, limit)
