"""Recall-first risk detector: patterns, similarity to curated reports, and Rasa's NLU.

Missing a report is the worst failure, a false hand-off of an informational question the
second worst. So a report is recognised when any of these holds:
  * a pattern rule fires (knowledge/risk/patterns.yml);
  * the nearest curated examples are mostly risk reports, the closest is similar enough,
    and it is closer than any knowledge-base question (and the user is not just asking
    whether an offer can be trusted);
  * Rasa's NLU says `report_risk` confidently and the neighbours lean the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from actions.config import Settings
from actions.nlp.normalize import Normalised
from actions.retrieval.encoder import Encoder
from actions.risk.examples import SAFE, RiskExamples
from actions.risk.patterns import ADVICE_CONCEPT, RiskPatterns

ABROAD_CATEGORIES = {"stranded", "missing_person"}
CHILD_CATEGORIES = {"child_recruitment"}
# "kakak saya" alone sits close to many reports; similarity needs a little more to go on.
MIN_TOKENS_FOR_SIMILARITY = 3
QUESTION_CONCEPT = "question"


@dataclass
class RiskAssessment:
    is_risk: bool
    category: str | None = None
    reasons: list[str] = field(default_factory=list)
    abroad: bool = False
    child: bool = False
    similarity: float = 0.0
    vote: float = 0.0


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

    def _neighbours(self, query_vector: np.ndarray) -> tuple[float, float, str | None]:
        """(top similarity, share of risk labels among k neighbours, majority risk category)."""
        if not len(self.examples.texts):
            return 0.0, 0.0, None
        sims = self.vectors @ query_vector
        k = min(self.settings.risk_neighbours, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        labels = [self.examples.labels[i] for i in top]
        risky = [label for label in labels if label != SAFE]
        vote = len(risky) / k
        category = Counter(risky).most_common(1)[0][0] if risky else None
        best = float(sims[top[0]]) if labels[0] != SAFE else 0.0
        return best, vote, category

    def assess(
        self,
        norm: Normalised,
        query_vector: np.ndarray | None = None,
        nlu_intent: str | None = None,
        nlu_confidence: float = 0.0,
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
        similarity, vote, near_category = self._neighbours(query_vector)
        reasons = [f"pattern:{m.category}" for m in matches]
        # A question that no pattern recognised needs a closer match to count as a report.
        needed = s.risk_question_similarity if concepts.get(QUESTION_CONCEPT) else s.risk_similarity
        similar = (
            len(norm.tokens) >= MIN_TOKENS_FOR_SIMILARITY
            and similarity >= needed
            and vote >= s.risk_vote
            and similarity >= kb_similarity + s.risk_kb_margin
        )
        if similar and not advice:
            reasons.append(f"similar:{near_category}")
        if (
            nlu_intent == "report_risk"
            and nlu_confidence >= s.risk_nlu_confidence
            and vote >= s.risk_vote
            and similarity >= kb_similarity
            and not advice
        ):
            reasons.append("nlu:report_risk")
        if not reasons:
            return RiskAssessment(False, similarity=similarity, vote=vote)
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
