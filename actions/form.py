"""Validation of the hand-off form: every question can be skipped in plain words."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.handoff import SKIPPED
from teman.dialogue import SKIP

ANSWER_CHARS = 200
# "terima kasih" in the middle of the form is small talk, "teman saya" is an answer: only a
# near-certain small-talk decision is taken for small talk.
SMALLTALK_INTENTS = ("greet", "goodbye", "thanks", "bot_challenge", "help")
SMALLTALK_CONFIDENCE = 0.9
FORM_SLOTS = ("handoff_victim", "handoff_location", "handoff_contact")


def clean_answer(value: Any, intent: str | None) -> str:
    """The user's answer, trimmed; a skip ("lewati", "rahasia", "sonde usah") or nothing
    becomes SKIPPED. The decision service already read the words: its `skip` and `deny`
    intents mean "I won't say"."""
    text = " ".join(str(value or "").split())
    if not text or intent in (SKIP, "deny"):
        return SKIPPED
    return text[:ANSWER_CHARS]


class ValidateHandoffForm(FormValidationAction):
    def name(self) -> str:
        return "validate_handoff_form"

    async def _validate(
        self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        # The message that activated the form (the consent, "iya kak") answers nothing.
        if tracker.get_slot("requested_slot") != slot:
            return {slot: None}
        intent = (tracker.latest_message or {}).get("intent") or {}
        name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
        if name in SMALLTALK_INTENTS and confidence >= SMALLTALK_CONFIDENCE:
            dispatcher.utter_message(response="utter_handoff_form_paused")
            return {slot: None}  # the form asks the same question again
        return {slot: clean_answer(value, name)}

    async def validate_handoff_victim(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self._validate("handoff_victim", value, dispatcher, tracker)

    async def validate_handoff_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self._validate("handoff_location", value, dispatcher, tracker)

    async def validate_handoff_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self._validate("handoff_contact", value, dispatcher, tracker)
