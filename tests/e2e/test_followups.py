"""End-to-end follow-ups through the real servers: a topic or a place in one message, the
question in the next, in our own words (not the knowledge base's example questions, not the
evaluation sets). Each test also shows the follow-up read on its own would get another
reply, so it fails if the conversation's context is not used."""

from __future__ import annotations

import uuid
from pathlib import Path

from teman.knowledge.loader import load_knowledge
from tools.evaluation.cases import HANDOFF_ACTION

ROOT = Path(__file__).resolve().parents[2]
KB = load_knowledge(ROOT / "knowledge")
ENTRIES = {e.id: e for e in KB.entries}

LOAN = "kredit buat modal berangkat kerja ke luar itu ada ga"
WHERE_TO_REGISTER = "mau urus berkas kerja luar negeri, kantornya di mana ya"


def sender() -> str:
    return f"f-{uuid.uuid4().hex[:10]}"


def answered_topic(reply: str) -> str:
    """The knowledge topic (file) of the entry whose answer the reply carries."""
    return next((e.topic for e in KB.entries if e.answer[:60] in reply), "")


def test_a_loan_question_then_what_to_bring(stack) -> None:
    follow_up = "kalau mau urus, bawa berkas apa?"
    assert answered_topic(stack.reply_text(sender(), follow_up)) != "kur"
    s = sender()
    assert answered_topic(stack.reply_text(s, LOAN)) == "kur"
    reply = stack.reply_text(s, follow_up)
    assert answered_topic(reply) == "kur" and "Sumber:" in reply
    assert ENTRIES[stack.slots(s)["topic"]].topic == "kur"


def test_where_to_register_then_a_place_alone(stack) -> None:
    s = sender()
    stack.say(s, WHERE_TO_REGISTER)
    reply = stack.reply_text(s, "sa org Ngada")
    assert "Ngada" in reply and "Disnaker" in reply
    slots = stack.slots(s)
    assert slots["place"] == "Ngada" and slots["topic"] == "place"


def test_a_place_first_then_the_question(stack) -> None:
    question = "kalau mau daftar ke kantor mana?"
    assert "Lembata" not in stack.reply_text(sender(), question)
    s = sender()
    stack.say(s, "beta tinggal di Lembata")
    reply = stack.reply_text(s, question)
    assert "Lembata" in reply and "Disnaker" in reply


def test_a_new_clear_question_replaces_the_topic(stack) -> None:
    s = sender()
    stack.say(s, LOAN)
    reply = stack.reply_text(s, "umur berapa baru boleh kerja di luar negeri")
    assert "18" in reply and answered_topic(reply) != "kur"
    assert ENTRIES[stack.slots(s)["topic"]].topic != "kur"


def test_an_unrelated_request_after_a_topic_is_a_kind_no(stack) -> None:
    s = sender()
    stack.say(s, LOAN)
    reply = stack.reply_text(s, "bikinkan pantun lucu buat pacar dong")
    assert "belum bisa menjawab" in reply and "Sumber:" not in reply
    assert stack.slots(s)["topic"] is None


def test_danger_after_a_topic_is_still_handed_off(stack) -> None:
    s = sender()
    stack.say(s, LOAN)
    assert HANDOFF_ACTION not in stack.actions(s)
    reply = stack.reply_text(s, "majikannya pukul sa tiap hari")
    assert "08113910910" in reply
    assert HANDOFF_ACTION in stack.actions(s)
    slots = stack.slots(s)
    assert slots["handoff_stage"] == "awaiting_consent" and slots["topic"] is None


def test_a_form_answer_after_a_topic_and_a_place_is_an_answer(stack) -> None:
    s = sender()
    stack.say(s, "beta tinggal di Lembata")
    stack.say(s, LOAN)
    stack.say(s, "majikannya pukul sa tiap hari")
    assert "siapa" in stack.reply_text(s, "boleh").lower()
    assert "di mana" in stack.reply_text(s, "adik saya, 16 tahun").lower()
    slots = stack.slots(s)
    assert slots["handoff_victim"] == "adik saya, 16 tahun"
    assert slots["topic"] is None and slots["place"] is None
    assert stack.actions(s).count(HANDOFF_ACTION) == 1
    assert "action_answer_question" not in stack.actions(s)[-3:]
