"""Custom actions (rasa-sdk): retrieval answers and the SI-SAGA hand-off.

`action_handoff_sisaga` is part of the product's contract: tests and monitoring look for
it in the conversation tracker. The hand-off never pauses the conversation (a paused
conversation makes the REST channel return nothing).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.assistant import (
    ANSWER,
    CLARIFY,
    EMPTY,
    PLACE,
    RISK,
    SMALLTALK,
    Decision,
    get_assistant,
)

if TYPE_CHECKING:
    from actions.cases.store import CaseStore

logger = logging.getLogger(__name__)

SKIPPED = "-"
SKIP_WORDS = {
    "lewati",
    "lewat",
    "skip",
    "-",
    "tidak",
    "tidak mau",
    "tidak usah",
    "ga",
    "gak",
    "nggak",
    "sonde",
    "rahasia",
    "tidak tahu",
    "ga tau",
    "gak tau",
    "tidak mau jawab",
    "jangan hubungi saya",
    "jangan",
    "tidak perlu",
}
HANDOFF_SLOTS = (
    "handoff_stage",
    "handoff_category",
    "handoff_excerpt",
    "handoff_victim",
    "handoff_location",
    "handoff_contact",
)
EXCERPT_CHARS = 280


SMALLTALK_MIN_CONFIDENCE = 0.3
SMALLTALK_RESPONSES = {
    "greet": "utter_greet",
    "goodbye": "utter_goodbye",
    "thanks": "utter_thanks",
    "bot_challenge": "utter_iamabot",
    "help": "utter_help",
    "affirm": "utter_anything_else",
    "deny": "utter_anything_else",
}


def _smalltalk_guess(tracker: Tracker, intent: str | None) -> str | None:
    """The small-talk intent Rasa's NLU saw in a message that reached this action.

    DIET sees far more question examples than small talk, so "terima kasih infonya kak"
    can come out as a question with `thanks` second; the assistant keeps the small-talk
    reply unless the knowledge base has a confident answer.
    """
    ranking = (tracker.latest_message or {}).get("intent_ranking") or []
    for candidate in ranking:
        name = candidate.get("name")
        confident = float(candidate.get("confidence") or 0.0) >= SMALLTALK_MIN_CONFIDENCE
        if name in SMALLTALK_RESPONSES and name != intent and confident:
            return str(name)
    return None


def _latest(tracker: Tracker) -> tuple[str, str | None, float]:
    message = tracker.latest_message or {}
    intent = message.get("intent") or {}
    return (
        str(message.get("text") or ""),
        intent.get("name"),
        float(intent.get("confidence") or 0.0),
    )


def _answer(dispatcher: CollectingDispatcher, decision: Decision) -> None:
    entry = decision.entry
    assert entry is not None
    dispatcher.utter_message(
        response="utter_kb_answer", answer=entry.answer, sources=entry.source_label()
    )


def _place(dispatcher: CollectingDispatcher, decision: Decision) -> None:
    place, office = decision.place, decision.office
    assert place is not None and office is not None
    dispatcher.utter_message(
        response="utter_place_office",
        place=place.name,
        office=office.name,
        town=office.town,
        place_note=place.note,
        office_note=office.note,
        sources="; ".join(s.label() for s in office.sources),
    )


def _suggestion_buttons(decision: Decision) -> list[dict[str, str]]:
    return [
        {"title": e.title, "payload": f'/choose_entry{{"entry_id":"{e.id}"}}'}
        for e in decision.suggestions
    ]


class ActionAnswerQuestion(Action):
    """Risk check first, then an answer from the knowledge base, a question back, or a no."""

    def name(self) -> str:
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        assistant = get_assistant()
        text, intent, confidence = _latest(tracker)
        if intent == "choose_entry":
            chosen = assistant.entry(str(tracker.get_slot("entry_id") or ""))
            if chosen is not None:
                _answer(dispatcher, Decision(ANSWER, entry=chosen))
                return [SlotSet("entry_id", None)]
        decision = assistant.decide(
            text, intent, confidence, _smalltalk_guess(tracker, intent)
        )
        logger.info(
            "decision=%s entry=%s", decision.kind, decision.entry.id if decision.entry else "-"
        )
        if decision.truncated:
            dispatcher.utter_message(response="utter_long_message")
        if decision.kind == RISK:
            return [FollowupAction("action_handoff_sisaga")]
        if decision.kind == EMPTY:
            dispatcher.utter_message(response="utter_empty_message")
        elif decision.kind == ANSWER:
            _answer(dispatcher, decision)
        elif decision.kind == PLACE:
            _place(dispatcher, decision)
        elif decision.kind == SMALLTALK:
            dispatcher.utter_message(response=SMALLTALK_RESPONSES[str(decision.smalltalk)])
        elif decision.kind == CLARIFY:
            dispatcher.utter_message(
                response="utter_clarify", buttons=_suggestion_buttons(decision)
            )
        else:
            dispatcher.utter_message(response="utter_out_of_scope")
        return [SlotSet("entry_id", None)]


class ActionHandoffSisaga(Action):
    """Gives the hotlines at once, then asks whether staff may receive the conversation."""

    def name(self) -> str:
        return "action_handoff_sisaga"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text, intent, confidence = _latest(tracker)
        assistant = get_assistant()
        risk = assistant.decide(text, intent, confidence).risk
        category = risk.category if risk and risk.category else "trafficking_general"
        dispatcher.utter_message(response="utter_handoff_hotline")
        if risk is None or risk.abroad:
            dispatcher.utter_message(response="utter_handoff_abroad")
        if risk is not None and risk.child:
            dispatcher.utter_message(response="utter_handoff_child")
        dispatcher.utter_message(response="utter_handoff_safety")
        dispatcher.utter_message(response="utter_handoff_ask_consent")
        logger.info("hand-off offered: category=%s", category)
        return [
            SlotSet("handoff_stage", "awaiting_consent"),
            SlotSet("handoff_category", category),
            SlotSet("handoff_excerpt", re.sub(r"\s+", " ", text).strip()[:EXCERPT_CHARS]),
        ]


class ActionHandoffConsent(Action):
    def name(self) -> str:
        return "action_handoff_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [SlotSet("handoff_stage", "collecting")]


@lru_cache(maxsize=1)
def _store() -> CaseStore:
    """One store (and connection pool) per action-server process."""
    from actions.cases.store import CaseStore

    return CaseStore.from_env()


def _clear_handoff() -> list[EventType]:
    return [SlotSet(name, None) for name in HANDOFF_SLOTS]


class ActionHandoffDecline(Action):
    """No consent: keep only an anonymous count, nothing identifying."""

    def name(self) -> str:
        return "action_handoff_decline"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            await asyncio.to_thread(
                _store().record_case,
                channel=tracker.get_latest_input_channel() or "unknown",
                sender_id=tracker.sender_id,
                category=tracker.get_slot("handoff_category") or "trafficking_general",
                excerpt="",
                consent=False,
            )
        except Exception:  # the user must get an answer even if the database is down
            logger.exception("could not record anonymous hand-off")
        dispatcher.utter_message(response="utter_handoff_declined")
        return _clear_handoff()


class ValidateHandoffForm(FormValidationAction):
    """Every question may be skipped; answers are trimmed to what staff need."""

    def name(self) -> str:
        return "validate_handoff_form"

    @staticmethod
    def _clean(value: Any) -> str:
        text = re.sub(r"\s+", " ", str(value or "")).strip()
        if text.lower().strip(" .!") in SKIP_WORDS or not text:
            return SKIPPED
        return text[:200]

    async def validate_handoff_victim(self, value: Any, *_: Any) -> dict[str, Any]:
        return {"handoff_victim": self._clean(value)}

    async def validate_handoff_location(self, value: Any, *_: Any) -> dict[str, Any]:
        return {"handoff_location": self._clean(value)}

    async def validate_handoff_contact(self, value: Any, *_: Any) -> dict[str, Any]:
        return {"handoff_contact": self._clean(value)}


class ActionSubmitCase(Action):
    """Stores the consented case (and its outbox row) for forwarding to SI-SAGA."""

    def name(self) -> str:
        return "action_submit_case"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        def answer(slot: str) -> str | None:
            value = tracker.get_slot(slot)
            return None if value in (None, SKIPPED) else str(value)

        try:
            reference = await asyncio.to_thread(
                _store().record_case,
                channel=tracker.get_latest_input_channel() or "unknown",
                sender_id=tracker.sender_id,
                category=tracker.get_slot("handoff_category") or "trafficking_general",
                excerpt=tracker.get_slot("handoff_excerpt") or "",
                consent=True,
                victim=answer("handoff_victim"),
                location=answer("handoff_location"),
                contact=answer("handoff_contact"),
            )
        except Exception:
            logger.exception("could not store hand-off case")
            dispatcher.utter_message(response="utter_handoff_store_failed")
            return _clear_handoff()
        dispatcher.utter_message(response="utter_handoff_submitted", case_reference=reference)
        return _clear_handoff()


if os.environ.get("TEMAN_WARMUP", "1") == "1":
    get_assistant()
