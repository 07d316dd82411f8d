"""Follow-ups through action_answer_question: each message is parsed by the real decision
service code (as Rasa would receive it), the action reads it with the `topic` and `place`
slots, and the slots it returns are carried to the next message, as Rasa does."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from actions.answer import ActionAnswerQuestion
from teman.decision import REPORT, get_assistant
from teman.followup import PLACE_TOPIC, Context, FollowUps


class Conversation:
    """Messages typed one after another; slots carried between them."""

    def __init__(self, make_tracker, dispatcher_class) -> None:
        self.make_tracker = make_tracker
        self.dispatcher_class = dispatcher_class
        self.slots: dict[str, Any] = {}
        self.messages: list[dict[str, Any]] = []

    async def say(self, text: str) -> list[dict[str, Any]]:
        parse = get_assistant().parse(text)
        tracker = self.make_tracker(
            text,
            intent=parse["intent"]["name"],
            ents=parse["entities"],
            slots=self.slots,
            confidence=parse["intent"]["confidence"],
        )
        dispatcher = self.dispatcher_class()
        events = await ActionAnswerQuestion().run(dispatcher, tracker, {})
        for event in events:
            assert isinstance(event, dict) and event["event"] == "slot"
            self.slots[event["name"]] = event["value"]
        self.messages = dispatcher.messages
        return dispatcher.messages


@pytest.fixture
def chat(make_tracker, dispatcher) -> Conversation:
    return Conversation(make_tracker, type(dispatcher))


def answered(messages: list[dict[str, Any]]) -> str:
    """The entry id whose answer was given ("" when none)."""
    kb = get_assistant().index.kb
    given = [m.get("answer") for m in messages if m.get("response") == "utter_kb_answer"]
    return next((e.id for e in kb.entries if given and e.answer == given[0]), "")


def office_place(messages: list[dict[str, Any]]) -> str:
    return next((m["place"] for m in messages if m.get("response") == "utter_place_office"), "")


def topic_of(entry_id: str) -> str:
    entry = get_assistant().entry(entry_id)
    return entry.topic if entry else ""


# The loan topic, asked in our own words.
LOAN = "kredit buat modal berangkat kerja ke luar itu ada ga"
WHERE_TO_REGISTER = "mau urus berkas kerja luar negeri, kantornya di mana ya"


async def test_a_short_follow_up_is_read_with_the_topic(chat) -> None:
    follow_up = "kalau mau urus, bawa berkas apa?"
    alone = await Conversation(chat.make_tracker, chat.dispatcher_class).say(follow_up)
    assert topic_of(answered(alone)) != "kur"  # on its own: some other documents
    await chat.say(LOAN)
    assert topic_of(chat.slots["topic"]) == "kur"
    reply = await chat.say(follow_up)
    assert topic_of(answered(reply)) == "kur"
    assert chat.slots["topic"] == answered(reply)


async def test_a_place_alone_after_where_to_register_gets_its_office(chat) -> None:
    await chat.say(WHERE_TO_REGISTER)
    reply = await chat.say("sa org Ngada")
    assert office_place(reply) == "Ngada"
    assert chat.slots == {**chat.slots, "topic": PLACE_TOPIC, "place": "Ngada"}


async def test_a_place_first_then_the_question(chat) -> None:
    question = "kalau mau daftar ke kantor mana?"
    alone = await Conversation(chat.make_tracker, chat.dispatcher_class).say(question)
    assert office_place(alone) == ""  # on its own: the general answer
    await chat.say("beta tinggal di Lembata")
    assert chat.slots["place"] == "Lembata"
    assert office_place(await chat.say(question)) == "Lembata"


async def test_a_clear_new_question_replaces_the_topic(chat) -> None:
    await chat.say(LOAN)
    reply = await chat.say("umur berapa baru boleh kerja di luar negeri")
    assert topic_of(answered(reply)) != "kur"
    assert "18" in reply[0]["answer"]
    assert topic_of(chat.slots["topic"]) != "kur"


async def test_an_unrelated_request_is_a_kind_no_and_ends_the_topic(chat) -> None:
    await chat.say(LOAN)
    reply = await chat.say("resep nasi goreng enak gimana")
    assert [m["response"] for m in reply] == ["utter_out_of_scope"]
    assert chat.slots["topic"] is None


async def test_an_office_answer_then_opening_hours(chat) -> None:
    await chat.say("LTSA di Maumere alamatnya di mana")
    assert chat.slots["topic"] == PLACE_TOPIC and chat.slots["place"] == "Sikka"
    reply = await chat.say("bukanya jam berapa kak")
    assert "jam buka" in reply[0]["answer"].lower()


async def test_a_report_is_never_re_read_with_context() -> None:
    followups = FollowUps(get_assistant())
    text = "majikannya pukul sa tiap hari"
    parse = get_assistant().parse(text)
    assert parse["intent"]["name"] == REPORT  # judged on its own words, first
    own = followups.standalone(REPORT, parse["entities"], 1.0)
    context = Context(topic="kur-penempatan", place="Alor")
    assert followups.resolve(text, own, context) is own


async def test_follow_ups_can_be_switched_off(chat) -> None:
    assistant = get_assistant()
    off = FollowUps(assistant, dataclasses.replace(assistant.settings, followups=False))
    text = "kalau mau daftar ke kantor mana?"
    parse = assistant.parse(text)
    own = off.standalone(parse["intent"]["name"], parse["entities"], 0.7)
    assert off.resolve(text, own, Context(topic=None, place="Lembata")) is own
    on = FollowUps(assistant)
    assert on.resolve(text, own, Context(topic=None, place="Lembata")).place is not None


async def test_slots_unchanged_are_not_set_again(chat) -> None:
    await chat.say(LOAN)
    topic = chat.slots["topic"]
    tracker = chat.make_tracker(
        "", intent="ask_question", ents=[{"entity": "decision", "value": "empty"}],
        slots=chat.slots,
    )
    dispatcher = chat.dispatcher_class()
    assert await ActionAnswerQuestion().run(dispatcher, tracker, {}) == []
    assert chat.slots["topic"] == topic
