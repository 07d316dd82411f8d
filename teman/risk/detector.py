"""Recall-first risk detector: patterns and similarity to curated reports.

Missing a report is the worst failure, a false hand-off of an informational question the
second worst. So a report is recognised when any of these holds:
  * a pattern rule fires (knowledge/risk/patterns.yml);
  * the nearest curated examples are mostly risk reports, the closest is similar enough,
    and it is closer than any knowledge-base question (and the user is not just asking
    whether an offer can be trusted).
A report needs a person in a situation, not danger words: a message framed as a lesson,
a made-up example or the news (concepts `hypothetical`, `news`), or one the similarity path
alone recognises without naming a person or a time (`reporter`, `now`), is no hand-off.
Such a message is a *concern*: it is answered, and the answer ends with the hotline.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from teman.config import Settings
from teman.nlp.normalize import Normalised
from teman.retrieval.encoder import Encoder
from teman.risk.examples import SAFE, RiskExamples
from teman.risk.patterns import ADVICE_CONCEPT, PERSON_CONCEPTS, RiskPatterns

ABROAD_CATEGORIES = {"stranded", "missing_person"}
CHILD_CATEGORIES = {"child_recruitment"}
# "kakak saya" alone sits close to many reports; similarity needs a little more to go on.
MIN_TOKENS_FOR_SIMILARITY = 3
QUESTION_CONCEPT = "question"
# Framing that shows nobody is in the situation being described.
FRAMING_CONCEPTS = ("hypothetical", "news")


@dataclass
class RiskAssessment:
    is_risk: bool
    category: str | None = None
    reasons: list[str] = field(default_factory=list)
    abroad: bool = False
    child: bool = False
    similarity: float = 0.0
    vote: float = 0.0
    #: danger without a person in it: answer, and end the answer with the hotline
    concern: bool = False
    #: the entry a route in patterns.yml sends this message to (e.g. "is this offer real?")
    route: str | None = None


class RiskDetector:
    def __init__(
        self,
        settings: Settings,
        patterns: RiskPatterns,
        examples: RiskExamples,
        example_vectors: np.ndarray,
        encoder: Encoder,
    ) -> None:
        self.settings = settings
        self.patterns = patterns
        self.examples = examples
        self.vectors = example_vectors
        self.encoder = encoder

    def _neighbours(self, query_vector: np.ndarray) -> tuple[float, float, str | None, float]:
        """(top similarity when the nearest is a report, share of risk labels among the k
        neighbours, majority risk category, top similarity when the nearest is safe)."""
        if not len(self.examples.texts):
            return 0.0, 0.0, None, 0.0
        sims = self.vectors @ query_vector
        k = min(self.settings.risk_neighbours, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        labels = [self.examples.labels[i] for i in top]
        risky = [label for label in labels if label != SAFE]
        vote = len(risky) / k
        category = Counter(risky).most_common(1)[0][0] if risky else None
        best = float(sims[top[0]]) if labels[0] != SAFE else 0.0
        safe = float(sims[top[0]]) if labels[0] == SAFE else 0.0
        return best, vote, category, safe

    def assess(
        self,
        norm: Normalised,
        query_vector: np.ndarray | None = None,
        kb_similarity: float = 0.0,
    ) -> RiskAssessment:
        """`kb_similarity`: the best dense similarity to a knowledge-base question."""
        if not norm.tokens:
            return RiskAssessment(False)
        s = self.settings
        concepts = self.patterns.concepts(norm)
        matches = self.patterns.match(norm, concepts)
        advice = bool(concepts.get(ADVICE_CONCEPT)) or self.patterns.is_informational(concepts)
        if query_vector is None:
            query_vector = self.encoder.encode([norm.text])[0]
        similarity, vote, near_category, safe_similarity = self._neighbours(query_vector)
        # A message almost identical to a curated look-alike safe one ("sa pukul bola voli",
        # a minor asking when she may go), among mostly safe neighbours, is no report even
        # where a pattern's words are in it; it is answered, with the hotline.
        if safe_similarity >= s.risk_safe_veto_similarity and vote <= s.risk_safe_veto_vote:
            matches = []
        reasons = [f"pattern:{m.category}" for m in matches]
        # A question that no pattern recognised needs a closer match to count as a report.
        needed = s.risk_question_similarity if concepts.get(QUESTION_CONCEPT) else s.risk_similarity
        similar = (
            len(norm.tokens) >= MIN_TOKENS_FOR_SIMILARITY
            and similarity >= needed
            # most neighbours are reports, or the nearest is almost word for word one
            and (vote >= s.risk_vote or similarity >= s.risk_near_duplicate)
            and similarity >= kb_similarity + s.risk_kb_margin
        )
        person = any(concepts.get(c) for c in PERSON_CONCEPTS)
        framed = any(concepts.get(c) for c in FRAMING_CONCEPTS)
        if similar and not advice and person:
            reasons.append(f"similar:{near_category}")
        danger = bool(reasons) or similar or self.patterns.danger(concepts)
        if framed or not reasons:
            return RiskAssessment(
                False,
                similarity=similarity,
                vote=vote,
                concern=danger,
                route=self.patterns.route(concepts),
            )
        category = matches[0].category if matches else near_category
        categories = {m.category for m in matches} | ({near_category} if near_category else set())
        return RiskAssessment(
            True,
            category=category or "trafficking_general",
            reasons=reasons,
            abroad=bool(categories & ABROAD_CATEGORIES) or bool(concepts.get("abroad")),
            child=bool(categories & CHILD_CATEGORIES) or bool(concepts.get("minor_age")),
            similarity=similarity,
            vote=vote,
        )
