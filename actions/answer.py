"""Answers from the knowledge base: an entry, a place's office, a question back, or a no.

The message's own decision arrives as the entities of the latest message; a follow-up
("syaratnya apa?", "klo dari Sabu?") is read again with the conversation's `topic` and
`place` slots (teman.followup), which this action keeps up to date.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import entity
from teman.decision import (
    ANSWER,
    ASK,
    CLARIFY,
    EMPTY,
    PLACE,
    Assistant,
    Decision,
    get_assistant,
)
from teman.followup import PLACE_SLOT, TOPIC_SLOT, Context, FollowUps
from teman.knowledge.loader import Entry, Office, Place


@lru_cache(maxsize=1)
def _follow_ups_of(assistant: Assistant) -> FollowUps:
    return FollowUps(assistant)


def follow_ups() -> FollowUps:
    """Follow-ups over the current assistant: a live reload (`kb build`) swaps it."""
    return _follow_ups_of(get_assistant())


def _answer(dispatcher: CollectingDispatcher, entry: Entry, hotline: bool) -> None:
    dispatcher.utter_message(
        response="utter_kb_answer", answer=entry.answer, sources=entry.source_label()
    )
    if hotline:
        dispatcher.utter_message(response="utter_hotline_note")


def _place(dispatcher: CollectingDispatcher, place: Place, office: Office) -> None:
    dispatcher.utter_message(
        response="utter_place_office",
        place=place.name,
        office=office.name,
        town=office.town,
        place_note=place.note,
        office_note=office.note,
        sources="; ".join(s.label() for s in office.sources),
    )


def suggestion_buttons(entries: list[Entry]) -> list[dict[str, str]]:
    """Buttons carry words: the entry's title, which the decision service maps back to it
    (typing the same words does the same harmless thing)."""
    return [{"title": e.title, "payload": e.title} for e in entries]


def reply(dispatcher: CollectingDispatcher, decision: Decision, hotline: bool) -> None:
    if decision.kind == ANSWER and decision.entry is not None:
        _answer(dispatcher, decision.entry, hotline)
    elif decision.kind == PLACE and decision.place is not None and decision.office is not None:
        _place(dispatcher, decision.place, decision.office)
    elif decision.kind == CLARIFY and decision.suggestions:
        dispatcher.utter_message(
            response="utter_clarify", buttons=suggestion_buttons(decision.suggestions)
        )
        if hotline:
            dispatcher.utter_message(response="utter_hotline_note")
    elif decision.kind == EMPTY:
        dispatcher.utter_message(response="utter_empty_message")
    else:
        dispatcher.utter_message(response="utter_out_of_scope")


class ActionAnswerQuestion(Action):
    """Runs for `ask_question` and `out_of_scope`: a kind no may still be a follow-up."""

    def name(self) -> str:
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        followups = follow_ups()
        message = tracker.latest_message or {}
        intent = message.get("intent") or {}
        own = followups.standalone(
            str(intent.get("name") or ASK),
            message.get("entities") or [],
            float(intent.get("confidence") or 0.0),
        )
        text = str(message.get("text") or "")
        context = Context(tracker.get_slot(TOPIC_SLOT), tracker.get_slot(PLACE_SLOT))
        # Reading with context may encode the message once more: off the event loop.
        decision = await asyncio.to_thread(followups.resolve, text, own, context)
        if own.truncated:
            dispatcher.utter_message(response="utter_long_message")
        reply(dispatcher, decision, hotline=bool(entity(tracker, "hotline")))
        kept = followups.remember(text, decision, context)
        return [
            SlotSet(slot, value)
            for slot, value, before in (
                (TOPIC_SLOT, kept.topic, context.topic),
                (PLACE_SLOT, kept.place, context.place),
            )
            if value != before
        ]
