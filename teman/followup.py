"""Follow-ups: a message that leans on the conversation, read with its topic and place.

Rasa's external NLU gets only the text, so `teman.decision` judges every message on its
own words (risk first). The conversation's context lives in two Rasa slots that
`action_answer_question` keeps: `topic` (the entry of the last answer, or `PLACE_TOPIC`
after an office-for-a-place answer) and `place` (the last NTT place the user named). The
action hands the message's own decision and those slots to `FollowUps.resolve`, which may
read the message again *with* the context, and to `FollowUps.remember` for the new slots.

Context only helps a message that is incomplete on its own: a short one that refers back
("syaratnya apa?", "klo dari Sabu?"), says only a place ("Kefa"), asks where to go without
a place after one was named, or got no confident answer and comes near the topic. A risk
report, a yes/no/skip and small talk never get here (Rasa's rules send them elsewhere, and
`resolve` returns them untouched); a question that clearly names its topic keeps its own
answer. The contextual reading is a knowledge search only, so risk is judged on the
message's own words alone: context can neither hide a report nor make one up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from teman.config import Settings
from teman.decision import ANSWER, ASK, CLARIFY, EMPTY, OUT_OF_SCOPE, PLACE, Assistant, Decision
from teman.knowledge.loader import Entry, Place
from teman.nlp.normalize import Normalised

#: `topic` slot value after an answer naming a place's office (not a knowledge entry)
PLACE_TOPIC = "place"
TOPIC_SLOT, PLACE_SLOT = "topic", "place"


@dataclass(frozen=True)
class Context:
    """What the conversation is about: the `topic` and `place` slots."""

    topic: str | None = None
    place: str | None = None


class FollowUps:
    def __init__(self, assistant: Assistant, settings: Settings | None = None) -> None:
        self.assistant = assistant
        self.settings = settings or assistant.settings
        self.places = {p.name: p for p in assistant.index.kb.places}
        self.words = frozenset(self.settings.followup_words)
        self.nya_exceptions = frozenset(self.settings.followup_nya_exceptions)
        self.triggers = frozenset(self.settings.place_trigger_words)
        self.place_words = frozenset(self.settings.followup_place_words)

    # ------------------------------------------------------------ the message's own decision

    def standalone(
        self, intent: str, entities: list[dict[str, Any]], confidence: float = 0.0
    ) -> Decision:
        """The decision service's parse result (what Rasa stored for the message), back as
        a Decision. Unknown entry ids and places are dropped."""

        def values(name: str) -> list[Any]:
            return [e.get("value") for e in entities if e.get("entity") == name]

        def first(name: str) -> Any:
            found = values(name)
            return found[0] if found else None

        a = self.assistant
        place = self.places.get(str(first("place") or ""))
        return Decision(
            intent,
            kind=str(first("decision") or ""),
            entry=a.entry(str(first("entry_id") or "")),
            suggestions=[e for e in (a.entry(str(i)) for i in values("suggestion")) if e],
            place=place,
            office=a.index.kb.offices.get(place.office) if place else None,
            truncated=bool(first("truncated")),
            score=confidence,
        )

    # ------------------------------------------------------------ reading with context

    def refers_back(self, norm: Normalised) -> bool:
        """A word that points at what was said before: "dan", "kalau", "terus", or a
        noun with "-nya" ("syaratnya", "biayanya")."""
        for token in norm.tokens:
            if token in self.words:
                return True
            if token.endswith("nya") and len(token) > 4 and token not in self.nya_exceptions:
                return True
        return False

    def stems(self, norm: Normalised) -> set[str]:
        """The message's words, and those words without "-nya" ("alamatnya": "alamat")."""
        words = set(norm.tokens)
        return words | {t[:-3] for t in words if t.endswith("nya") and len(t) > 5}

    def only_a_place(self, norm: Normalised, places: list[Place]) -> bool:
        """Whether the message says no more than a place ("sa org Rote", "klo dari Sabu?")."""
        names = set(self.place_words)
        for place in places:
            for alias in place.aliases:
                names |= set(self.assistant.normalizer.clean(alias).split())
                names |= set(self.assistant.normalizer(alias).tokens)
        return all(t in names for t in norm.tokens)

    def leans_on(self, norm: Normalised, topic: Entry) -> bool:
        """Whether the message's own closest entries include the topic's group."""
        alone = self.assistant.search_knowledge(norm)
        closest = alone.hits[: self.settings.suggestions]
        return any(h.entry.topic == topic.topic for h in closest)

    def unsure(self, own: Decision) -> bool:
        """No confident reading of its own: a weak match, a question back, or a kind no that
        is not a clear off-topic request."""
        s = self.settings
        if own.kind == CLARIFY:
            return True
        if own.intent == OUT_OF_SCOPE:
            return own.score < s.smalltalk_threshold
        return own.kind == ANSWER and own.score < s.answer_threshold

    def about_offices(self, entry: Entry | None) -> bool:
        """An entry about where to go: it names the places it serves, or its title has a
        "where / register / office" word."""
        if entry is None:
            return False
        if entry.places:
            return True
        title = self.assistant.normalizer(entry.title).tokens
        return bool(set(title) & self.triggers)

    def topic_entry(self, context: Context) -> Entry | None:
        """The entry the conversation is about; after an office answer, the entry that
        names that place."""
        if context.topic == PLACE_TOPIC:
            return next(
                (e for e in self.assistant.index.kb.entries if context.place in e.places), None
            )
        return self.assistant.entry(context.topic or "")

    def office(self, place: Place, own: Decision) -> Decision:
        office = self.assistant.index.kb.offices[place.office]
        return Decision(ASK, PLACE, place=place, office=office, truncated=own.truncated)

    def resolve(self, text: str, own: Decision, context: Context) -> Decision:
        """The decision to act on: the message's own, or its reading with the context."""
        if not self.settings.followups or own.intent not in (ASK, OUT_OF_SCOPE):
            return own  # a report, a yes/no/skip, small talk: never re-read
        if own.kind in (EMPTY, PLACE):
            return own
        norm = self.assistant.read(text)
        if norm is None or not norm.tokens or len(norm.tokens) > self.settings.followup_max_tokens:
            return own
        if own.kind == ANSWER and norm.text in self.assistant.searcher.exact:
            return own  # an entry's own words (a suggestion button, a title): that entry
        named = self.assistant.places.find(norm)
        topic = self.topic_entry(context)
        on_offices = context.topic == PLACE_TOPIC or self.about_offices(topic)
        only_a_place = bool(named) and self.only_a_place(norm, named)
        if named and (
            self.about_offices(own.entry) or (only_a_place and (self.unsure(own) or on_offices))
        ):
            # "Kefa", "sa org Rote" after "where do I register?": that place's office.
            return self.office(named[0], own)
        earlier = self.places.get(context.place or "")
        refers_back = self.refers_back(norm)
        asks_where = not named and bool(self.stems(norm) & self.triggers)
        lacks_place = refers_back or self.unsure(own) or self.about_offices(own.entry)
        if earlier is not None and asks_where and lacks_place:
            # "kalau mau daftar ke kantor mana?" after "sa tinggal di Lembata".
            return self.office(earlier, own)
        if not (self.unsure(own) or refers_back or named):
            return own  # a complete question: a new topic replaces the old one
        if topic is None or context.topic == PLACE_TOPIC:
            return own  # after an office answer, its place is the context (above)
        if not refers_back and (named or not self.leans_on(norm, topic)):
            # A weak reading that neither points back nor comes near the topic, or that
            # names a place for something else ("cuaca di Ende"): not a follow-up.
            return own
        sure = own.kind == ANSWER and own.entry is not None and not self.unsure(own)
        if sure and own.entry is not None and own.entry.topic == topic.topic:
            return own  # already a reading within the conversation's topic
        read = self.assistant.search_knowledge(self.assistant.normalizer(f"{topic.title} {text}"))
        if sure and read.entry == topic and own.score >= self.settings.followup_own_score:
            return own  # its own clear answer, not the last one again
        if read.kind == ANSWER or (read.kind == CLARIFY and self.unsure(own)):
            read.truncated = own.truncated
            return read
        return own

    # ------------------------------------------------------------ the context to keep

    def remember(self, text: str, decision: Decision, context: Context) -> Context:
        """The slots after this reply: a new answer replaces the topic, a message that
        could not be answered ends it; the last place named is kept."""
        place = context.place
        norm = self.assistant.read(text)
        named = self.assistant.places.find(norm) if norm is not None and norm.tokens else []
        if decision.place is not None:
            place = decision.place.name
        elif named:
            place = named[0].name
        topic = context.topic
        if decision.kind == ANSWER and decision.entry is not None:
            topic = decision.entry.id
        elif decision.kind == PLACE and decision.place is not None:
            topic = PLACE_TOPIC
        elif decision.intent == OUT_OF_SCOPE:
            topic = None
        return Context(topic=topic, place=place)
