"""Rule-based risk patterns: concept phrase lists that must co-occur within a window.

The data (knowledge/risk/patterns.yml) names concepts (phrase lists) and rules
(`all` concepts within `window` tokens, optional `none` blockers). spaCy's PhraseMatcher
finds the concept phrases in the normalised tokens. A message that only asks for
information ("apa itu TPPO?", "hukuman calo brp thn?") is exempt unless it also names a
person or a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

from teman.nlp.normalize import Normalised, Normalizer

EXEMPTION_CONCEPTS = ("info_question", "legal_info")
ADVICE_CONCEPT = "seeking_advice"
PERSON_CONCEPTS = ("reporter", "now")


@dataclass(frozen=True)
class Rule:
    category: str
    all: tuple[str, ...]
    none: tuple[str, ...]
    window: int


@dataclass(frozen=True)
class Route:
    """Messages with all these concepts (and no report) get this entry's answer."""

    all: tuple[str, ...]
    entry: str


@dataclass(frozen=True)
class PatternMatch:
    category: str
    concepts: dict[str, list[int]]


class RiskPatterns:
    def __init__(self, path: Path, normalizer: Normalizer) -> None:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
        data = data or {}
        self.vocab = Vocab()  # matching needs words only, not a tokenizer (fast)
        self.matcher = PhraseMatcher(self.vocab)
        default_window = int(data.get("window", 10))
        for name, phrases in (data.get("concepts") or {}).items():
            docs = []
            for phrase in phrases or []:
                # Concept phrases go through the same normaliser as messages.
                tokens = normalizer(str(phrase)).tokens or tuple(str(phrase).lower().split())
                docs.append(Doc(self.vocab, words=list(tokens)))
            if docs:
                self.matcher.add(str(name), docs)
        self.rules = [
            Rule(
                category=str(r["category"]),
                all=tuple(r.get("all") or ()),
                none=tuple(r.get("none") or ()),
                window=int(r.get("window", default_window)),
            )
            for r in data.get("rules") or []
        ]
        self.routes = [
            Route(all=tuple(r.get("all") or ()), entry=str(r["entry"]))
            for r in data.get("routes") or []
        ]

    def route(self, found: dict[str, list[int]]) -> str | None:
        """The entry a route sends these concepts to, if any."""
        for route in self.routes:
            if route.all and all(found.get(c) for c in route.all):
                return route.entry
        return None

    def concepts(self, norm: Normalised) -> dict[str, list[int]]:
        """Concept name -> token positions where one of its phrases starts."""
        found: dict[str, list[int]] = {}
        if not norm.tokens:
            return found
        doc = Doc(self.vocab, words=list(norm.tokens))
        for match_id, start, _end in self.matcher(doc):
            found.setdefault(self.vocab.strings[match_id], []).append(start)
        return found

    @staticmethod
    def _within(positions: list[list[int]], window: int) -> bool:
        """True if one position per concept can be picked with max-min <= window."""
        if len(positions) == 1:
            return True
        events = sorted((p, i) for i, ps in enumerate(positions) for p in ps)
        counts = [0] * len(positions)
        covered, left = 0, 0
        for pos, idx in events:
            if counts[idx] == 0:
                covered += 1
            counts[idx] += 1
            while covered == len(positions):
                if pos - events[left][0] <= window:
                    return True
                lidx = events[left][1]
                counts[lidx] -= 1
                if counts[lidx] == 0:
                    covered -= 1
                left += 1
        return False

    def match(
        self, norm: Normalised, found: dict[str, list[int]] | None = None
    ) -> list[PatternMatch]:
        """Rules that fire; pass `found` (from `concepts`) to avoid matching twice."""
        if found is None:
            found = self.concepts(norm)
        if self.is_informational(found):
            return []
        matches = []
        for rule in self.rules:
            if any(found.get(c) for c in rule.none):
                continue
            if all(found.get(c) for c in rule.all) and self._within(
                [found[c] for c in rule.all], rule.window
            ):
                matches.append(PatternMatch(rule.category, {c: found[c] for c in rule.all}))
        return matches

    def danger(self, found: dict[str, list[int]]) -> bool:
        """A rule's concepts are all present, whatever exempts the message from a hand-off
        (a question about the law, a lesson, the news)."""
        return any(all(found.get(c) for c in rule.all) for rule in self.rules)

    @staticmethod
    def is_informational(found: dict[str, list[int]]) -> bool:
        """Asks about definitions or law, and names no person or time: not a report."""
        return any(found.get(c) for c in EXEMPTION_CONCEPTS) and not any(
            found.get(c) for c in PERSON_CONCEPTS
        )
