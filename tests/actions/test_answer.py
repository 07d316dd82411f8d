"""action_answer_question turns the decision (entities of the latest message) into replies."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.answer import ActionAnswerQuestion
from teman.decision import get_assistant
from tests.support.trackers import entities


def responses(dispatcher) -> list[str]:
    return [m.get("response") for m in dispatcher.messages]


async def run(tracker, dispatcher) -> list:
    return await ActionAnswerQuestion().run(dispatcher, tracker, {})


async def test_answer_names_its_source(make_tracker, dispatcher) -> None:
    entry = get_assistant().index.kb.entries[0]
    tracker = make_tracker("x", ents=entities(decision="answer", entry_id=entry.id))
    # The answer becomes the conversation's topic (teman.followup).
    assert await run(tracker, dispatcher) == [SlotSet("topic", entry.id)]
    assert responses(dispatcher) == ["utter_kb_answer"]
    assert dispatcher.messages[0]["answer"] == entry.answer
    assert dispatcher.messages[0]["sources"] == entry.source_label()


async def test_danger_without_a_person_ends_with_the_hotline(make_tracker, dispatcher) -> None:
    entry = get_assistant().index.kb.entries[0]
    tracker = make_tracker(ents=entities(decision="answer", entry_id=entry.id, hotline=True))
    await run(tracker, dispatcher)
    assert responses(dispatcher) == ["utter_kb_answer", "utter_hotline_note"]


async def test_clarify_buttons_carry_the_titles_as_words(make_tracker, dispatcher) -> None:
    kb = get_assistant().index.kb
    ids = [e.id for e in kb.entries[:3]]
    await run(make_tracker(ents=entities(decision="clarify", suggestion=ids)), dispatcher)
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["title"] for b in buttons] == [e.title for e in kb.entries[:3]]
    assert all(b["payload"] == b["title"] for b in buttons)


async def test_place_names_the_office_and_the_disnaker(make_tracker, dispatcher) -> None:
    place = get_assistant().index.kb.places[0]
    await run(make_tracker(ents=entities(decision="place", place=place.name)), dispatcher)
    assert responses(dispatcher) == ["utter_place_office"]
    assert dispatcher.messages[0]["place"] == place.name


async def test_unknown_entry_is_a_kind_no_not_a_crash(make_tracker, dispatcher) -> None:
    await run(make_tracker(ents=entities(decision="answer", entry_id="no-such")), dispatcher)
    assert responses(dispatcher) == ["utter_out_of_scope"]


async def test_long_message_is_said_to_be_cut(make_tracker, dispatcher) -> None:
    await run(make_tracker(ents=entities(decision="empty", truncated=True)), dispatcher)
    assert responses(dispatcher) == ["utter_long_message", "utter_empty_message"]
