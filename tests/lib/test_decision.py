"""One decision per message, as Rasa receives it from `/model/parse`."""

from __future__ import annotations

import pytest

from teman.decision import ASK, OUT_OF_SCOPE, REPORT
from teman.dialogue import AFFIRM, DENY, SKIP, consent_act
from teman.knowledge.loader import load_dialogue


@pytest.fixture(scope="module")
def consent(kb_settings):
    return load_dialogue(kb_settings.knowledge_dir).consent


@pytest.mark.parametrize(
    ("text", "act"),
    [
        ("iya kak, tolong sampaikan ke petugas", AFFIRM),
        ("boleh kak", AFFIRM),
        ("iyo, teruskan sa", AFFIRM),
        ("ya", AFFIRM),
        ("sonde usah", DENY),
        ("tidak usah kak, saya takut", DENY),
        ("jangan dulu", DENY),
        ("lewati", SKIP),
        ("rahasia", SKIP),
        ("mau kerja di malaysia jadi perawat", None),
        ("tidak boleh kerja kalau belum 18 tahun ya kak?", None),
        ("/affirm", None),
        ("", None),
    ],
)
def test_yes_no_skip_in_plain_words(kb_assistant, consent, text: str, act) -> None:
    tokens = kb_assistant.normalizer(text).tokens
    assert consent_act(tokens, consent) == act


@pytest.mark.parametrize("typed", ["/affirm", "/deny", "/report_risk", '/affirm{"x": 1}'])
def test_typed_intents_are_just_text(kb_assistant, typed: str) -> None:
    parse = kb_assistant.parse(typed)
    assert parse["intent"]["name"] not in ("affirm", "deny", "report_risk")
    assert parse["text"] == typed


def test_parse_result_has_rasas_shape(kb_assistant) -> None:
    parse = kb_assistant.parse("paspor saya ditahan majikan di malaysia")
    assert parse["intent"] == {"name": REPORT, "confidence": 1.0}
    assert parse["intent_ranking"] == [parse["intent"]]
    values = {e["entity"]: e["value"] for e in parse["entities"]}
    assert values == {"risk_category": "held_documents", "abroad": True, "child": False}


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("halo kak", "greet"),
        ("makasih banyak infonya kak", "thanks"),
        ("ko robot ka?", "bot_challenge"),
        ("tolong buatkan puisi tentang laut", OUT_OF_SCOPE),
        ("siapa juara liga inggris tahun ini", OUT_OF_SCOPE),
    ],
)
def test_small_talk_and_off_topic(kb_assistant, text: str, intent: str) -> None:
    assert kb_assistant.decide(text).intent == intent


@pytest.mark.parametrize(
    "text",
    [
        "what is the minimum age to work abroad",
        "how can I check whether a recruitment agency is licensed",
    ],
)
def test_english_questions_are_understood(kb_assistant, text: str) -> None:
    decision = kb_assistant.decide(text)
    assert decision.intent == ASK and decision.kind == "answer", [
        (h.entry.id, round(h.score, 2)) for h in decision.hits[:3]
    ]


@pytest.mark.parametrize(
    "text",
    [
        "misalnya di kelas ada cerita anak yang paspornya ditahan majikan, cara jelaskannya?",
        "saya lihat di berita ada pmi ntt yang dikurung majikan di malaysia, kok bisa ya",
    ],
)
def test_danger_without_a_person_is_answered_with_the_hotline(kb_assistant, text: str) -> None:
    decision = kb_assistant.decide(text)
    assert decision.intent != REPORT
    assert decision.risk is not None and decision.risk.concern
