"""The compiled "may this clause hold" tests and score bounds (newswatch/relevance/bound.py)."""

from __future__ import annotations

from newswatch.relevance.bound import compile_bound, compile_condition, simplify


def test_or_of_term_sets_becomes_one_set() -> None:
    cond = ("or", (("any", frozenset({1})), ("or", (("any", frozenset({2, 3})), False))))
    assert simplify(cond) == ("any", frozenset({1, 2, 3}))


def test_constants_are_dropped_or_decide() -> None:
    assert simplify(("and", (True, ("any", frozenset({1}))))) == ("any", frozenset({1}))
    assert simplify(("and", (False, ("any", frozenset({1}))))) is False
    assert simplify(("or", (True, ("places", 2)))) is True
    assert simplify(("and", ())) is True


def test_compiled_condition_reads_targets_places_text_and_url() -> None:
    cond = (
        "or",
        (
            ("and", (("any", frozenset({7})), ("text", " op "))),
            ("and", (("places", 2), ("url",))),
        ),
    )
    maybe = compile_condition(cond)
    assert maybe(frozenset({7}), 0, " zegt het op ", False)
    assert not maybe(frozenset({7}), 0, " zegt het ", False)
    assert maybe(frozenset(), 2, "", True)
    assert not maybe(frozenset(), 2, "", False)
    assert not maybe(frozenset(), 1, "", True)


def test_bound_adds_the_rules_that_may_hold() -> None:
    bound = compile_bound([(("any", frozenset({1})), 4.0), (("places", 2), 2.0), (True, 0.5)])
    assert bound(frozenset({1}), 3, "", False) == 6.5
    assert bound(frozenset(), 1, "", False) == 0.5
