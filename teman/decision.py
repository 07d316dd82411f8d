"""One decision per user message: the single place where a message is understood.

Order matters: the risk check runs first, so a report is never answered with a FAQ entry;
then a plain yes / no / skip; then a place question; then the search over the knowledge
entries and the small-talk and off-topic examples. The result is returned to Rasa as its
external NLU's parse result (`Decision.to_parse`): an intent plus entities that Rasa's
rules, forms and slots act on. Everything heavy (encoder, index) is loaded once per process.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from teman.config import Settings
from teman.dialogue import AFFIRM, DENY, SKIP, consent_act
from teman.knowledge.loader import (
    DIALOGUE_TOPIC,
    OFF_TOPIC_ID,
    SMALLTALK_PREFIX,
    Entry,
    Office,
    Place,
)
from teman.nlp.normalize import Normalised
from teman.nlp.places import PlaceMatcher
from teman.offers.detector import OfferCheck, OfferDetector
from teman.retrieval.index import LoadedIndex, load_index
from teman.retrieval.searcher import Hit, Searcher
from teman.risk.detector import RiskAssessment, RiskDetector
from teman.risk.patterns import RiskPatterns

logger = logging.getLogger(__name__)

# Rasa's own message syntax ("/affirm", '/inform{"x": 1}'), typed by a person: no command,
# and no words to read either (slot names are not a message).
COMMAND = re.compile(r"\s*/\w+(\{.*\})?\s*", re.DOTALL)

# Intents Rasa sees (bot/domain.yml).
ASK, REPORT, OUT_OF_SCOPE = "ask_question", "report_risk", "out_of_scope"
# A message that is (or contains) a job offer: its red flags travel as entities.
CHECK_OFFER = "check_offer"
# What an ask_question decision carries in its `decision` entity.
EMPTY, ANSWER, PLACE, CLARIFY = "empty", "answer", "place", "clarify"


@dataclass
class Decision:
    intent: str
    kind: str = ""
    entry: Entry | None = None
    suggestions: list[Entry] = field(default_factory=list)
    place: Place | None = None
    office: Office | None = None
    risk: RiskAssessment | None = None
    hits: list[Hit] = field(default_factory=list)
    truncated: bool = False
    score: float = 0.0
    offer: OfferCheck | None = None

    def entities(self) -> list[dict[str, Any]]:
        out: list[tuple[str, Any]] = []
        if self.kind:
            out.append(("decision", self.kind))
        if self.entry is not None:
            out.append(("entry_id", self.entry.id))
        out += [("suggestion", e.id) for e in self.suggestions]
        if self.place is not None:
            out.append(("place", self.place.name))
        if self.risk is not None and self.risk.is_risk:
            out.append(("risk_category", self.risk.category))
            out.append(("abroad", self.risk.abroad))
            out.append(("child", self.risk.child))
        elif self.risk is not None and self.risk.concern:
            out.append(("hotline", True))
        if self.truncated:
            out.append(("truncated", True))
        if self.offer is not None:
            for hit in self.offer.hits:  # most serious first; three parallel lists
                out += [("offer_flag", hit.flag_id), ("offer_evidence", hit.evidence or "-"),
                        ("offer_detail", hit.detail or "-")]
            if self.offer.company:
                out.append(("offer_company", self.offer.company))
        return [
            {"entity": name, "value": value, "extractor": "teman"} for name, value in out
        ]

    def to_parse(self, text: str) -> dict[str, Any]:
        """Rasa's parse-result format (what `/model/parse` returns)."""
        # Rule-made decisions (a report, a yes/no/skip) are certain; the others carry their
        # search score, so a form can tell "terima kasih" from "teman saya".
        certain = self.intent in (REPORT, AFFIRM, DENY, SKIP, CHECK_OFFER) or self.kind == EMPTY
        confidence = 1.0 if certain else round(min(max(self.score, 0.0), 1.0), 4)
        intent = {"name": self.intent, "confidence": confidence}
        return {
            "text": text,
            "intent": intent,
            "intent_ranking": [intent],
            "entities": self.entities(),
        }


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
        self.offers = OfferDetector.from_knowledge(
            settings.knowledge_dir, lambda text: self.normalizer(text).text)
        dialogue = index.kb.dialogue
        self.consent = dialogue.consent if dialogue else None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Assistant:
        settings = settings or Settings.load()
        return cls(settings, load_index(settings))

    def entry(self, entry_id: str) -> Entry | None:
        return self.entries.get(entry_id)

    def search_knowledge(self, norm: Normalised) -> Decision:
        """Only the knowledge search of `decide` (no risk, yes/no, place or small talk):
        for words that are not one message, e.g. a follow-up read with its topic."""
        hits = self.searcher.search(norm.text, k=max(self.settings.suggestions, 5) + 3)
        kb_hits = [h for h in hits if h.entry.topic != DIALOGUE_TOPIC]
        off_topic = max((h.score for h in hits if h.entry.id == OFF_TOPIC_ID), default=0.0)
        return self._from_knowledge(kb_hits, off_topic, {})

    def _place_question(self, norm: Normalised) -> Place | None:
        """A place named together with a "where do I go / register" word."""
        if not set(norm.tokens) & set(self.settings.place_trigger_words):
            return None
        places = self.places.find(norm)
        return places[0] if places else None

    def parse(self, text: str) -> dict[str, Any]:
        return self.decide(text).to_parse(text)

    def read(self, text: str) -> Normalised | None:
        """The message as the decision reads it (cut to `max_message_chars`), or None for
        typed Rasa syntax. A server normalises once, encodes many messages in one batch and
        passes both in to `decide`."""
        if COMMAND.fullmatch(text or ""):
            return None
        return self.normalizer((text or "")[: self.settings.max_message_chars])

    def decide(
        self, text: str, vector: np.ndarray | None = None, norm: Normalised | None = None
    ) -> Decision:
        s = self.settings
        text = text or ""
        if norm is None:
            norm = self.read(text)
        if norm is None:
            return Decision(ASK, EMPTY)
        truncated = len(text) > s.max_message_chars
        if not norm.tokens:
            return Decision(ASK, EMPTY, truncated=truncated)
        if vector is None:
            vector = self.searcher.encode(norm.text)
        hits = self.searcher.search(norm.text, vector, k=max(s.suggestions, 5) + 3)
        kb_hits = [h for h in hits if h.entry.topic != DIALOGUE_TOPIC]
        kb_similarity = max((h.dense for h in kb_hits), default=0.0)
        risk = self.detector.assess(norm, vector, kb_similarity)
        base: dict[str, Any] = {"truncated": truncated, "risk": risk}
        offer = self.offers.check(text)
        if risk.is_risk and offer.is_offer and not offer.person:
            # A pasted advert with nobody in it: its red flags, ending with the hotline.
            base["risk"] = replace(risk, is_risk=False, concern=True)
            return Decision(CHECK_OFFER, offer=offer, hits=kb_hits, **base)
        if risk.is_risk:
            return Decision(REPORT, **base)
        act = consent_act(norm.tokens, self.consent) if self.consent else None
        if act is not None:
            return Decision(act, **base)
        if offer.is_offer:
            # A pasted or described job offer: its own red flags, not a general entry.
            return Decision(CHECK_OFFER, offer=offer, hits=kb_hits, **base)
        exact = self.searcher.exact.get(norm.text)
        if exact is not None and exact < len(self.index.kb.entries):
            # The words of a button or an entry's own question: that entry, nothing else.
            entry = self.index.kb.entries[exact]
            return Decision(ASK, ANSWER, entry=entry, hits=kb_hits, score=1.0, **base)
        routed = self.entries.get(risk.route) if risk.route else None
        if routed is not None:
            return Decision(ASK, ANSWER, entry=routed, hits=kb_hits, score=1.0, **base)
        place = self._place_question(norm)
        if place is not None:
            office = self.index.kb.offices[place.office]
            return Decision(ASK, PLACE, place=place, office=office, hits=kb_hits, **base)
        top = hits[0] if hits else None
        if (
            top is not None
            and top.entry.topic == DIALOGUE_TOPIC
            and top.score >= s.smalltalk_threshold
        ):
            if top.entry.id == OFF_TOPIC_ID:
                return Decision(OUT_OF_SCOPE, score=top.score, hits=kb_hits, **base)
            intent = top.entry.id.removeprefix(SMALLTALK_PREFIX)
            return Decision(intent, score=top.score, hits=kb_hits, **base)
        off_topic = max((h.score for h in hits if h.entry.id == OFF_TOPIC_ID), default=0.0)
        return self._from_knowledge(kb_hits, off_topic, base)

    def _from_knowledge(
        self, hits: list[Hit], off_topic: float, base: dict[str, Any]
    ) -> Decision:
        s = self.settings
        if not hits:
            return Decision(OUT_OF_SCOPE, **base)
        top = hits[0]
        margin = top.score - (hits[1].score if len(hits) > 1 else 0.0)
        tied = [h.entry for h in hits if h.score >= top.score - s.tie_margin]
        # Ask back only between topics that are actually close to one another; a lone
        # weak match is no reason to show topics: that gets a kind no.
        close = [h.entry for h in hits if h.score >= top.score - s.clarify_spread]
        looks_off_topic = off_topic >= top.score - s.clarify_spread
        if top.score >= s.answer_threshold and len(tied) >= 2:
            # Two or more topics fit equally well ("pendaftaran"): let the user choose.
            choices = tied
        elif top.score >= s.answer_threshold or (
            top.score >= s.clarify_threshold and margin >= s.margin_for_answer
        ):
            return Decision(ASK, ANSWER, entry=top.entry, hits=hits, score=top.score, **base)
        elif top.score >= s.clarify_threshold and len(close) >= 2 and not looks_off_topic:
            choices = close
        else:
            return Decision(OUT_OF_SCOPE, hits=hits, score=top.score, **base)
        return Decision(
            ASK, CLARIFY, suggestions=choices[: s.suggestions], hits=hits, score=top.score, **base
        )


_assistant: Assistant | None = None
_assistant_lock = threading.Lock()


def get_assistant() -> Assistant:
    """The process-wide assistant (loading the encoder and index takes a few seconds)."""
    global _assistant
    if _assistant is None:
        with _assistant_lock:
            if _assistant is None:
                _assistant = Assistant.from_settings()
                logger.info(
                    "assistant ready: %d entries, encoder %s",
                    len(_assistant.index.kb.entries),
                    _assistant.index.manifest.get("encoder"),
                )
    return _assistant


def use_assistant(assistant: Assistant) -> None:
    """Swap in a newly built assistant (live reload): one assignment, so a request sees
    either the old one or the new one, whole."""
    global _assistant
    _assistant = assistant
