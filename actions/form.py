"""Validation of the hand-off form: every question can be skipped in plain words."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.handoff import SKIPPED
from teman.dialogue import SKIP

ANSWER_CHARS = 200
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

    async def _validate(self, slot: str, value: Any, tracker: Tracker) -> dict[str, Any]:
        # The message that activated the form (the consent, "iya kak") answers nothing.
        if tracker.get_slot("requested_slot") != slot:
            return {slot: None}
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        return {slot: clean_answer(value, intent)}

    async def validate_handoff_victim(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self._validate("handoff_victim", value, tracker)

    async def validate_handoff_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self._validate("handoff_location", value, tracker)

    async def validate_handoff_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await self._validate("handoff_contact", value, tracker)
