"""The SI-SAGA hand-off: hotlines at once, then consent, a short form, and a stored case.

`action_handoff_sisaga` and `handoff_form` are part of the product's contract: monitoring
looks for them in trackers. The hand-off never pauses the conversation (a paused
conversation makes the REST channel return nothing). The risk decision (category, abroad,
child) arrives in slots filled from the decision service's entities; nothing is judged twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from teman.config import Settings
from teman.decision import REPORT
from teman.followup import PLACE_SLOT, TOPIC_SLOT
from teman.infra.ratelimit import cases_limit
from teman.privacy.trackers import redact_user_messages

if TYPE_CHECKING:
    from teman.cases.store import CaseStore

logger = logging.getLogger(__name__)

SKIPPED = "-"
EXCERPT_CHARS = 280
DEFAULT_CATEGORY = "trafficking_general"
HANDOFF_SLOTS = (
    "handoff_stage",
    "handoff_category",
    "handoff_abroad",
    "handoff_child",
    "handoff_victim",
    "handoff_location",
    "handoff_contact",
)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.load()


@lru_cache(maxsize=1)
def case_store() -> CaseStore:
    """One store (and connection pool) per process."""
    from teman.cases.store import CaseStore

    return CaseStore.from_env()


def case_origin(tracker: Tracker) -> dict[str, str]:
    """Where a case (consented or anonymous) comes from: channel, sender, category."""
    return {
        "channel": tracker.get_latest_input_channel() or "unknown",
        "sender_id": tracker.sender_id,
        "category": tracker.get_slot("handoff_category") or DEFAULT_CATEGORY,
    }


def clear_handoff() -> list[EventType]:
    return [SlotSet(name, None) for name in HANDOFF_SLOTS]


def report_excerpt(tracker: Tracker) -> str:
    """The user's words that started the hand-off: the reported messages of this session,
    newest last, cut to what staff need."""
    texts = [
        str(e.get("text") or "")
        for e in tracker.events_after_latest_restart()
        if e.get("event") == "user"
        and ((e.get("parse_data") or {}).get("intent") or {}).get("name") == REPORT
    ]
    excerpt = " / ".join(" ".join(t.split()) for t in texts[-3:] if t.strip())
    return excerpt[-EXCERPT_CHARS:]


class ActionHandoffSisaga(Action):
    """Gives the hotlines at once, then asks whether staff may receive the report."""

    def name(self) -> str:
        return "action_handoff_sisaga"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        category = tracker.get_slot("handoff_category") or DEFAULT_CATEGORY
        dispatcher.utter_message(response="utter_handoff_hotline")
        if tracker.get_slot("handoff_abroad"):
            dispatcher.utter_message(response="utter_handoff_abroad")
        if tracker.get_slot("handoff_child"):
            dispatcher.utter_message(response="utter_handoff_child")
        dispatcher.utter_message(response="utter_handoff_safety")
        dispatcher.utter_message(response="utter_handoff_ask_consent")
        logger.info("hand-off offered: category=%s", category)
        # A report starts a new subject: no earlier question's topic or place carries on.
        return [
            SlotSet("handoff_stage", "awaiting_consent"),
            SlotSet(TOPIC_SLOT, None),
            SlotSet(PLACE_SLOT, None),
        ]


class ActionHandoffConsent(Action):
    """Consent given: say what happens next and the number to call meanwhile."""

    def name(self) -> str:
        return "action_handoff_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff_consent_thanks")
        return [SlotSet("handoff_stage", "collecting")]


class ActionHandoffDecline(Action):
    """No consent: an anonymous count, and the user's messages are blanked in the tracker."""

    def name(self) -> str:
        return "action_handoff_decline"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            await asyncio.to_thread(
                case_store().record_case, **case_origin(tracker), excerpt="", consent=False
            )
        except Exception:  # the user must get an answer even if the database is down
            logger.exception("could not record anonymous hand-off")
        response = "utter_handoff_declined"
        try:  # the place an earlier question named goes too (its message is blanked)
            blanked = await asyncio.to_thread(
                redact_user_messages,
                settings().tracker_store_url,
                tracker.sender_id,
                slots=(PLACE_SLOT,),
            )
            logger.info("declined hand-off: %d messages blanked", blanked)
        except Exception:
            logger.exception("could not blank the declined report in the tracker store")
            response = "utter_handoff_declined_plain"  # promise only what was done
        dispatcher.utter_message(response=response)
        return clear_handoff()


def under_case_limit(store: CaseStore, sender_id: str) -> bool:
    """Whether this sender may create another case this hour: counted in Redis when
    REDIS_URL is set (shared by every process), else from the case store."""
    per_hour = settings().cases_per_hour
    limit = cases_limit()
    if limit is not None:
        return limit.allow(store.hash_sender(sender_id), per_hour, 3600.0)
    return store.recent_cases(sender_id, timedelta(hours=1)) < per_hour


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
            # Inside the try: a bad delivery setting must still give the user an answer.
            store = case_store()
            if not await asyncio.to_thread(under_case_limit, store, tracker.sender_id):
                dispatcher.utter_message(response="utter_handoff_rate_limited")
                return clear_handoff()
            reference = await asyncio.to_thread(
                store.record_case,
                **case_origin(tracker),
                excerpt=report_excerpt(tracker),
                consent=True,
                victim=answer("handoff_victim"),
                location=answer("handoff_location"),
                contact=answer("handoff_contact"),
            )
        except Exception:
            logger.exception("could not store hand-off case")
            dispatcher.utter_message(response="utter_handoff_store_failed")
            return clear_handoff()
        dispatcher.utter_message(response="utter_handoff_submitted", case_reference=reference)
        return clear_handoff()
