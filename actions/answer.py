"""Answers from the knowledge base: an entry, a place's office, a question back, or a no."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import entity, entity_values
from teman.decision import ANSWER, CLARIFY, EMPTY, PLACE, get_assistant
from teman.knowledge.loader import Entry


def _answer(dispatcher: CollectingDispatcher, entry: Entry, hotline: bool) -> None:
    dispatcher.utter_message(
        response="utter_kb_answer", answer=entry.answer, sources=entry.source_label()
    )
    if hotline:
        dispatcher.utter_message(response="utter_hotline_note")


def _place(dispatcher: CollectingDispatcher, place_name: str) -> bool:
    kb = get_assistant().index.kb
    place = next((p for p in kb.places if p.name == place_name), None)
    if place is None:
        return False
    office = kb.offices[place.office]
    dispatcher.utter_message(
        response="utter_place_office",
        place=place.name,
        office=office.name,
        town=office.town,
        place_note=place.note,
        office_note=office.note,
        sources="; ".join(s.label() for s in office.sources),
    )
    return True


def suggestion_buttons(entries: list[Entry]) -> list[dict[str, str]]:
    """Buttons carry words: the entry's title, which the decision service maps back to it
    (typing the same words does the same harmless thing)."""
    return [{"title": e.title, "payload": e.title} for e in entries]


class ActionAnswerQuestion(Action):
    def name(self) -> str:
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        assistant = get_assistant()
        kind = entity(tracker, "decision")
        if entity(tracker, "truncated"):
            dispatcher.utter_message(response="utter_long_message")
        hotline = bool(entity(tracker, "hotline"))
        if kind == ANSWER:
            chosen = assistant.entry(str(entity(tracker, "entry_id") or ""))
            if chosen is not None:
                _answer(dispatcher, chosen, hotline)
                return []
        elif kind == PLACE and _place(dispatcher, str(entity(tracker, "place") or "")):
            return []
        elif kind == CLARIFY:
            suggestions = [assistant.entry(str(i)) for i in entity_values(tracker, "suggestion")]
            entries = [e for e in suggestions if e is not None]
            if entries:
                dispatcher.utter_message(
                    response="utter_clarify", buttons=suggestion_buttons(entries)
                )
                if hotline:
                    dispatcher.utter_message(response="utter_hotline_note")
                return []
        elif kind == EMPTY:
            dispatcher.utter_message(response="utter_empty_message")
            return []
        dispatcher.utter_message(response="utter_out_of_scope")
        return []
