"""Can a clause hold at all? Decided from which targets occur, compiled to plain Python.

Most articles are ruled out before any position is looked at: a rule whose
terms do not occur cannot hold, so the sum of the weights of the rules that
*may* hold is an upper bound of the score. Every article pays for this test,
so each clause's test is simplified (nested `any` groups of terms become one
set) and compiled once per config into a single Python expression over

    P   the target ids that occur (a frozenset),
    pb  how many distinct municipalities are named at most,
    T   the padded folded text (for the particle of a split verb),
    U   whether the article has a URL,

instead of walking the clause tree with a memo for every article.

A condition is True, False, or a tuple: ("any", tids) | ("and", conds) |
("or", conds) | ("places", n) | ("text", s) | ("url",).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Cond = Any  # bool | tuple[...]: see the module docstring
Maybe = Callable[[frozenset[int], int, str, bool], bool]
Bound = Callable[[frozenset[int], int, str, bool], float]


def simplify(cond: Cond) -> Cond:
    """Flatten nested and/or, merge the term sets of an `or`, drop constants."""
    if not isinstance(cond, tuple) or cond[0] not in ("and", "or"):
        return cond
    kind, parts = cond[0], [simplify(c) for c in cond[1]]
    flat: list[Cond] = []
    for part in parts:
        if isinstance(part, tuple) and part[0] == kind:
            flat.extend(part[1])
        else:
            flat.append(part)
    if kind == "or":
        if any(part is True for part in flat):
            return True
        tids = frozenset().union(*(p[1] for p in flat if isinstance(p, tuple) and p[0] == "any"))
        rest = [p for p in flat if p is not False and not (isinstance(p, tuple) and p[0] == "any")]
        flat = ([("any", tids)] if tids else []) + rest
        if not flat:
            return False
    else:
        if any(part is False for part in flat):
            return False
        flat = [p for p in flat if p is not True]
        if not flat:
            return True
    return flat[0] if len(flat) == 1 else (kind, tuple(flat))


class _Source:
    """Turns conditions into Python source; sets become constants K[i]."""

    def __init__(self) -> None:
        self.constants: list[frozenset[int]] = []

    def expr(self, cond: Cond) -> str:
        if cond is True or cond is False:
            return repr(cond)
        kind = cond[0]
        if kind == "any":
            tids = sorted(cond[1])
            if len(tids) == 1:
                return f"({tids[0]} in P)"
            self.constants.append(cond[1])
            return f"(not K[{len(self.constants) - 1}].isdisjoint(P))"
        if kind in ("and", "or"):
            return "(" + f" {kind} ".join(self.expr(c) for c in cond[1]) + ")"
        if kind == "places":
            return f"(pb >= {float(cond[1])!r})"
        if kind == "text":
            return f"({cond[1]!r} in T)"
        if kind == "url":
            return "U"
        raise ValueError(f"unknown condition {cond!r}")


def _function(body: str, constants: list[frozenset[int]]) -> Callable[..., Any]:
    # The expression is built from our own ids, numbers and folded particles
    # (repr-quoted), never from article text.
    return eval(f"lambda P, pb, T, U: {body}", {"K": tuple(constants)})  # noqa: S307


def _true(P: frozenset[int], pb: int, T: str, U: bool) -> bool:
    return True


def _any_of(tids: frozenset[int]) -> Maybe:
    def maybe(P: frozenset[int], pb: int, T: str, U: bool) -> bool:
        return not tids.isdisjoint(P)

    return maybe


def compile_condition(cond: Cond) -> Maybe:
    """A function (P, pb, T, U) -> bool for one clause."""
    cond = simplify(cond)
    # Most clauses are a term or a list of terms: a closure over one set costs
    # less memory than a compiled expression of its own.
    if cond is True:
        return _true
    if isinstance(cond, tuple) and cond[0] == "any":
        return _any_of(cond[1])
    source = _Source()
    return _function(source.expr(cond), source.constants)


def compile_bound(rules: Sequence[tuple[Cond, float]]) -> Bound:
    """A function (P, pb, T, U) -> the sum of the bounds of the rules that may hold.

    The terms are added in the order given, as `sum` over the rules would."""
    source = _Source()
    terms = [f"({bound!r} if {source.expr(simplify(cond))} else 0.0)" for cond, bound in rules]
    return _function(" + ".join(["0.0", *terms]), source.constants)


def compile_flags(
    conds: Sequence[Cond],
) -> Callable[[frozenset[int], int, str, bool], tuple[bool, ...]]:
    """A function (P, pb, T, U) -> one bool per condition: which rules may hold.

    One compiled expression instead of one call per rule: an article that gets
    past the topic's bound asks this of every rule."""
    source = _Source()
    items = [source.expr(simplify(cond)) for cond in conds]
    return _function("(" + "".join(f"{item}, " for item in items) + ")", source.constants)
