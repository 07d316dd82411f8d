"""The action server's decision for one user message: hand off, answer, ask back, or decline.

Order matters: the risk check runs before retrieval, so a report is never answered with
a FAQ entry. Everything heavy (encoder, index) is loaded once per process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache

from actions.config import Settings
from actions.knowledge.loader import Entry, Office, Place
from actions.nlp.normalize import Normalised
from actions.nlp.places import PlaceMatcher
from actions.retrieval.index import LoadedIndex, load_index
from actions.retrieval.searcher import Hit, Searcher
from actions.risk.detector import RiskAssessment, RiskDetector
from actions.risk.patterns import RiskPatterns

logger = logging.getLogger(__name__)

EMPTY, RISK, ANSWER, PLACE, CLARIFY, OUT_OF_SCOPE = (
    "empty",
    "risk",
    "answer",
    "place",
    "clarify",
    "out_of_scope",
)
SMALLTALK = "smalltalk"


@dataclass
class Decision:
    kind: str
    entry: Entry | None = None
    suggestions: list[Entry] = field(default_factory=list)
    place: Place | None = None
    office: Office | None = None
    risk: RiskAssessment | None = None
    hits: list[Hit] = field(default_factory=list)
    truncated: bool = False
    normalised: str = ""
    smalltalk: str | None = None


class Assistant:
    def __init__(self, settings: Settings, index: LoadedIndex) -> None:
        self.settings = settings
        self.index = index
        self.normalizer = index.normalizer
        self.searcher = Searcher(index, settings)
        self.places = PlaceMatcher(index.kb.places, self.normalizer)
        self.detector = RiskDetector(
            settings,
            RiskPatterns(settings.knowledge_dir / "risk" / "patterns.yml", self.normalizer),
            index.risk,
            index.risk_vectors,
            index.encoder,
        )
        self.entries = index.kb.by_id()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Assistant:
        settings = settings or Settings.load()
        return cls(settings, load_index(settings))

    def entry(self, entry_id: str) -> Entry | None:
        return self.entries.get(entry_id)

    def _place_question(self, norm: Normalised) -> Place | None:
        """A place named together with a "where do I go / register" word."""
        if not set(norm.tokens) & set(self.settings.place_trigger_words):
            return None
        places = self.places.find(norm)
        return places[0] if places else None

    def decide(
        self,
        text: str,
        nlu_intent: str | None = None,
        nlu_confidence: float = 0.0,
        smalltalk_intent: str | None = None,
    ) -> Decision:
        """`smalltalk_intent`: what Rasa's NLU first took the message for, when its small-talk
        guard sent it here instead; unless a confident answer exists, that reply is kept."""
        s = self.settings
        text = text or ""
        truncated = len(text) > s.max_message_chars
        norm = self.normalizer(text[: s.max_message_chars])
        if not norm.tokens:
            return Decision(EMPTY, truncated=truncated)
        vector = self.searcher.encode(norm.text)
        hits = self.searcher.search(norm.text, vector, k=max(s.suggestions, 5))
        kb_similarity = max((h.dense for h in hits), default=0.0)
        risk = self.detector.assess(norm, vector, nlu_intent, nlu_confidence, kb_similarity)
        if risk.is_risk:
            return Decision(RISK, risk=risk, truncated=truncated, normalised=norm.text)
        top = hits[0] if hits else None
        base = {"hits": hits, "truncated": truncated, "normalised": norm.text, "risk": risk}
        place = self._place_question(norm)
        if place is not None:
            return Decision(PLACE, place=place, office=self.index.kb.offices[place.office], **base)
        if smalltalk_intent and (top is None or top.score < s.smalltalk_answer_threshold):
            return Decision(SMALLTALK, smalltalk=smalltalk_intent, **base)
        if top is None:
            return Decision(OUT_OF_SCOPE, **base)
        margin = top.score - (hits[1].score if len(hits) > 1 else 0.0)
        if top.score >= s.answer_threshold or (
            top.score >= s.clarify_threshold and margin >= s.margin_for_answer
        ):
            return Decision(ANSWER, entry=top.entry, **base)
        if top.score >= s.clarify_threshold:
            return Decision(CLARIFY, suggestions=[h.entry for h in hits[: s.suggestions]], **base)
        return Decision(OUT_OF_SCOPE, **base)


@lru_cache(maxsize=1)
def get_assistant() -> Assistant:
    """The process-wide assistant (loading the encoder and index takes a few seconds)."""
    assistant = Assistant.from_settings()
    logger.info(
        "assistant ready: %d entries, encoder %s",
        len(assistant.index.kb.entries),
        assistant.index.manifest.get("encoder"),
    )
    return assistant
