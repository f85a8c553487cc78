"""One Aho-Corasick automaton over every term, place and cooperation name.

Match modes are encoded in the keys rather than checked per hit. The folded
text has a space wherever the original had anything but a letter or digit
(see normalize.py) and is padded with a space at both ends, so:

    word   "best"       -> key " best "      (not in "bestuur", "het beste")
    prefix "samenwerk*" -> key " samenwerk"  (samenwerking, samenwerkingsverband)
    suffix "*samenwerking" -> key "samenwerking "  (regiosamenwerking)
    infix  "*samenwerk*"   -> key "samenwerk"  (ICT-samenwerkingsovereenkomst)

A term written with a hyphen also gets its glued spelling: "ict-samenwerking"
matches "ICT-samenwerking", "ict samenwerking" and "ictsamenwerking".
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

import ahocorasick

from newswatch.relevance.gazetteer import Cooperation, Gazetteer, Place
from newswatch.relevance.normalize import fold_phrase

TERM, PLACE, COOP = "term", "place", "coop"
# A word the classifier itself looks for (the start of a "Gerelateerd" block):
# found by the same scan, so articles without one pay nothing extra.
MARKER = "marker"


def case_signature(text: str) -> str:
    """'GR' -> 'UU', 'Gr' -> 'Ul': compares capitals while ignoring accents and spaces."""
    return "".join("U" if ch.isupper() else "l" for ch in text if ch.isalpha())


@dataclass(frozen=True, slots=True)
class Target:
    """What a key stands for. Several keys (spellings) may share one target."""

    kind: str
    label: str
    case_sig: str | None = None
    places: tuple[Place, ...] = ()
    coops: tuple[Cooperation, ...] = ()


def _pad(core: str, mode: str) -> tuple[str, int, int]:
    """The key for `core` in `mode`, with the number of padding spaces left and right."""
    left = 1 if mode in ("word", "prefix") else 0
    right = 1 if mode in ("word", "suffix") else 0
    return " " * left + core + " " * right, left, right


def spellings(core: str) -> list[str]:
    """Folded spellings of a term: as written, plus glued when written with a hyphen."""
    out = [fold_phrase(core)]
    if "-" in core:
        glued = fold_phrase(core.replace("-", ""))
        if glued not in out:
            out.append(glued)
    return out


# An article that is ruled out after looking at a few targets (a verb form
# without its particle) is cheaper to search with str.find than to group.
_FIND_TARGETS = 4


class Scan:
    """The raw result of one scan: which keys ended where.

    Most articles can be ruled out from *which* targets occur at all (see
    Classifier), so positions are worked out per target only when asked for:
    for the first few targets by searching the text for their keys (a C loop),
    after that by grouping all hits of the scan by key once.
    """

    __slots__ = ("_asked", "_by_key", "_found", "_matcher", "_padded", "present")

    def __init__(self, matcher: Matcher, found: list[tuple[int, int]], padded: str) -> None:
        self._matcher, self._found, self._padded = matcher, found, padded
        self._by_key: dict[int, list[int]] | None = None
        self._asked = 0
        # Target ids that occur (before case and context checks); C-level loops.
        keys = set(map(itemgetter(1), found))
        self.present = frozenset(chain.from_iterable(map(matcher._key_tids.__getitem__, keys)))

    def spans_of(self, tid: int) -> list[tuple[int, int]]:
        """(start, end) of every occurrence of target `tid` in the unpadded folded text."""
        self._asked += 1
        if self._by_key is None and self._asked > _FIND_TARGETS:
            by_key: dict[int, list[int]] = {}
            for end, key in self._found:
                if key in by_key:
                    by_key[key].append(end)
                else:
                    by_key[key] = [end]
            self._by_key = by_key
        matcher, out = self._matcher, []
        keys = matcher._tid_keys[tid]
        for key in keys:
            ends = self._ends(key) if self._by_key is None else self._by_key.get(key)
            if ends:
                # `end - start_back` undoes both the padding and the key's own leading space.
                start_back, end_back = matcher._start_back[key], matcher._end_back[key]
                out += [(end - start_back, end - end_back) for end in ends]
        if len(keys) > 1:
            out.sort(key=itemgetter(1))  # in text order, as the scan found them
        return out

    def spans_of_many(self, tids: frozenset[int]) -> dict[int, list[tuple[int, int]]]:
        """`spans_of` for many targets (an article's place names) in one pass over the hits."""
        matcher = self._matcher
        key_tids, start_back, end_back = matcher._key_tids, matcher._start_back, matcher._end_back
        out: dict[int, list[tuple[int, int]]] = {}
        for end, key in self._found:
            for tid in key_tids[key]:
                if tid in tids:
                    span = (end - start_back[key], end - end_back[key])
                    if tid in out:
                        out[tid].append(span)
                    else:
                        out[tid] = [span]
        return out

    def _ends(self, key: int) -> list[int]:
        """Where the automaton saw `key` end, found again with str.find
        (every occurrence, overlapping ones too, as the automaton reports them)."""
        word, padded, ends = self._matcher._key_text[key], self._padded, []
        last = len(word) - 1
        i = padded.find(word)
        while i != -1:
            ends.append(i + last)
            i = padded.find(word, i + 1)
        return ends


class Matcher:
    """Collects keys, builds the automaton once, scans folded texts."""

    def __init__(self) -> None:
        self.targets: list[Target] = []
        self._ids: dict[tuple[str, str, str, bool], int] = {}
        self._keys: dict[str, tuple[int, int, list[int]]] = {}
        self._automaton: ahocorasick.Automaton | None = None
        self.case_targets: frozenset[int] = frozenset()
        self.place_targets: frozenset[int] = frozenset()
        self.coop_targets: frozenset[int] = frozenset()
        self.marker_targets: frozenset[int] = frozenset()
        self.place_key: dict[int, str] = {}  # place target id -> what "municipalities" counts
        self._start_back: list[int] = []
        self._end_back: list[int] = []
        self._key_tids: list[tuple[int, ...]] = []
        self._tid_keys: list[list[int]] = []
        self._key_text: list[str] = []

    # --- building --------------------------------------------------------------------

    def add_term(self, core: str, mode: str, *, case: bool = False, label: str) -> int:
        """Register a term; identical terms in several topics share one target id."""
        ident = (TERM, fold_phrase(core), mode, case)
        if ident in self._ids:
            return self._ids[ident]
        target = Target(TERM, label, case_signature(core) if case else None)
        tid = self._new_target(ident, target)
        for spelling in spellings(core):
            self._add_key(spelling, mode, tid)
        return tid

    def add_gazetteer(self, gaz: Gazetteer) -> None:
        for surface, places in gaz.places.items():
            label = places[0].label if len(places) == 1 else places[0].name
            tid = self._new_target(
                (PLACE, surface, "word", False), Target(PLACE, label, None, tuple(places))
            )
            self._add_key(surface, "word", tid)
        for surface, entries in gaz.cooperations.items():
            for coop, written in entries:
                sig = case_signature(written) if coop.case else None
                target = Target(COOP, coop.name, sig, (), (coop,))
                tid = self._new_target((COOP, surface, coop.name, coop.case), target)
                self._add_key(surface, "word", tid)

    def add_marker(self, word: str) -> int:
        tid = self._new_target((MARKER, word, "word", False), Target(MARKER, word))
        self._add_key(fold_phrase(word), "word", tid)
        return tid

    def _new_target(self, ident: tuple[str, str, str, bool], target: Target) -> int:
        if ident in self._ids:
            return self._ids[ident]
        self._ids[ident] = len(self.targets)
        self.targets.append(target)
        return self._ids[ident]

    def _add_key(self, core: str, mode: str, tid: int) -> None:
        key, left, right = _pad(core, mode)
        entry = self._keys.setdefault(key, (len(key) - left, right, []))
        if tid not in entry[2]:
            entry[2].append(tid)
        self._automaton = None

    def build(self) -> None:
        automaton = ahocorasick.Automaton()
        self._start_back, self._end_back, self._key_tids = [], [], []
        self._key_text = list(self._keys)
        for index, (key, (start_back, end_back, tids)) in enumerate(self._keys.items()):
            automaton.add_word(key, index)
            self._start_back.append(start_back)
            self._end_back.append(end_back)
            self._key_tids.append(tuple(tids))
        automaton.make_automaton()
        self._automaton = automaton
        self._tid_keys = [[] for _ in self.targets]
        for key, tids in enumerate(self._key_tids):
            for tid in tids:
                self._tid_keys[tid].append(key)
        self.case_targets = frozenset(i for i, t in enumerate(self.targets) if t.case_sig)
        self.place_targets = frozenset(i for i, t in enumerate(self.targets) if t.kind == PLACE)
        self.coop_targets = frozenset(i for i, t in enumerate(self.targets) if t.kind == COOP)
        self.marker_targets = frozenset(i for i, t in enumerate(self.targets) if t.kind == MARKER)
        self.place_key = {i: self.targets[i].places[0].key for i in self.place_targets}

    # --- scanning --------------------------------------------------------------------

    def scan(self, padded: str) -> Scan:
        """Run the automaton over the folded text padded with a space at both ends
        (so that word keys like " best " also match at the very start and end)."""
        if self._automaton is None:
            self.build()
        assert self._automaton is not None
        return Scan(self, list(self._automaton.iter(padded)), padded)

    @property
    def literal_keys(self) -> list[str]:
        """Every key without padding: what a plain keyword scan would look for."""
        return sorted({key.strip() for key in self._keys})

    def memory(self) -> int:
        """Bytes used by the automaton (pyahocorasick's own estimate)."""
        if self._automaton is None:
            self.build()
        assert self._automaton is not None
        return int(self._automaton.get_stats()["total_size"])
