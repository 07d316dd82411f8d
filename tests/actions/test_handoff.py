"""The hand-off actions: hotlines from slots (no second risk check), the excerpt, the case,
the per-hour limit, and the form's plain-word skips."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa_sdk.events import SlotSet

from actions import handoff
from actions.form import ValidateHandoffForm, clean_answer
from actions.handoff import (
    SKIPPED,
    ActionHandoffSisaga,
    ActionSubmitCase,
    report_excerpt,
)
from teman.cases.store import CaseStore
from tests.support.trackers import user_event


def responses(dispatcher) -> list[str]:
    return [m.get("response") for m in dispatcher.messages]


@pytest.fixture
def case_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cases.sqlite3'}"
    monkeypatch.setenv("CASES_DATABASE_URL", url)
    monkeypatch.setenv("CASE_HASH_KEY", "test-key")
    handoff.case_store.cache_clear()
    yield url
    handoff.case_store().dispose()
    handoff.case_store.cache_clear()


@pytest.mark.parametrize(
    ("slots", "extra"),
    [
        ({}, []),
        ({"handoff_abroad": True}, ["utter_handoff_abroad"]),
        ({"handoff_child": True}, ["utter_handoff_child"]),
    ],
)
async def test_hotlines_follow_the_slots(make_tracker, dispatcher, slots, extra) -> None:
    tracker = make_tracker("x", intent="report_risk", slots=slots)
    events = await ActionHandoffSisaga().run(dispatcher, tracker, {})
    assert responses(dispatcher) == [
        "utter_handoff_hotline",
        *extra,
        "utter_handoff_safety",
        "utter_handoff_ask_consent",
    ]
    assert events == [
        SlotSet("handoff_stage", "awaiting_consent"),
        SlotSet("topic", None),
        SlotSet("place", None),
    ]


def test_excerpt_is_the_reported_messages_only(make_tracker) -> None:
    tracker = make_tracker(
        "iya",
        intent="affirm",
        events=[
            user_event("halo", "greet"),
            user_event("paspor saya ditahan", "report_risk"),
            user_event("dan gaji tidak dibayar", "report_risk"),
        ],
    )
    assert report_excerpt(tracker) == "paspor saya ditahan / dan gaji tidak dibayar"


async def test_case_is_stored_and_the_reply_is_truthful(make_tracker, dispatcher, case_db) -> None:
    tracker = make_tracker(
        "lewati",
        intent="skip",
        slots={"handoff_category": "confinement", "handoff_victim": "saya",
               "handoff_location": SKIPPED, "handoff_contact": SKIPPED},
        events=[user_event("sa dikunci di mess", "report_risk")],
    )
    events = await ActionSubmitCase().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_handoff_submitted"]
    reference = dispatcher.messages[0]["case_reference"]
    case = CaseStore(case_db, hash_key="test-key").get_case(reference)
    assert case.category == "confinement" and case.victim == "saya"
    assert case.location is None and case.excerpt == "sa dikunci di mess"
    assert SlotSet("handoff_stage", None) in events


async def test_case_goes_to_every_configured_target(
    make_tracker, dispatcher, case_db, monkeypatch
) -> None:
    monkeypatch.setenv("DELIVERY_EMAIL_TO", "petugas@sisaga.example.id")
    monkeypatch.setenv("DELIVERY_WHATSAPP_TO", "6281100000001")
    monkeypatch.setenv("HOTLINE_FORWARD_URL", "http://127.0.0.1:9/cases")
    handoff.case_store.cache_clear()
    tracker = make_tracker("lewati", intent="skip", slots={"handoff_category": "threats"})
    await ActionSubmitCase().run(dispatcher, tracker, {})
    reference = dispatcher.messages[0]["case_reference"]
    case = CaseStore(case_db, hash_key="test-key").get_case(reference)
    assert [d.target for d in case.deliveries] == [
        "webhook", "whatsapp:6281100000001", "email:petugas@sisaga.example.id"]


async def test_bad_delivery_setting_still_answers(make_tracker, dispatcher, case_db,
                                                  monkeypatch) -> None:
    monkeypatch.setenv("SMTP_PORT", "abc")
    handoff.case_store.cache_clear()
    tracker = make_tracker("lewati", intent="skip", slots={"handoff_category": "threats"})
    await ActionSubmitCase().run(dispatcher, tracker, {})
    assert responses(dispatcher) == ["utter_handoff_store_failed"]
    monkeypatch.delenv("SMTP_PORT")
    handoff.case_store.cache_clear()


async def test_cases_per_hour_are_limited(make_tracker, case_db) -> None:
    from rasa_sdk.executor import CollectingDispatcher

    limit = handoff.settings().cases_per_hour
    replies = []
    for _ in range(limit + 1):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker("x", slots={"handoff_category": "threats"})
        await ActionSubmitCase().run(dispatcher, tracker, {})
        replies.append(responses(dispatcher)[0])
    assert replies == ["utter_handoff_submitted"] * limit + ["utter_handoff_rate_limited"]


@pytest.mark.parametrize(
    ("value", "intent", "expected"),
    [
        ("adik saya, 16 tahun", "report_risk", "adik saya, 16 tahun"),
        ("lewati", "skip", SKIPPED),
        ("rahasia", "skip", SKIPPED),
        ("sonde usah", "deny", SKIPPED),
        ("   ", "ask_question", SKIPPED),
        ("x" * 500, "ask_question", "x" * 200),
    ],
)
def test_form_answers_in_plain_words(value, intent, expected) -> None:
    assert clean_answer(value, intent) == expected


async def test_the_message_that_opened_the_form_answers_nothing(make_tracker, dispatcher) -> None:
    tracker = make_tracker("iya kak", intent="affirm", slots={"requested_slot": None})
    result = await ValidateHandoffForm().validate_handoff_victim("iya kak", dispatcher, tracker, {})
    assert result == {"handoff_victim": None}
    tracker = make_tracker("saya sendiri", slots={"requested_slot": "handoff_victim"})
    result = await ValidateHandoffForm().validate_handoff_victim(
        "saya sendiri", dispatcher, tracker, {}
    )
    assert result == {"handoff_victim": "saya sendiri"}


async def test_small_talk_mid_form_is_answered_and_the_question_repeated(
    make_tracker, dispatcher
) -> None:
    form = ValidateHandoffForm()
    slots = {"requested_slot": "handoff_victim"}
    thanks = make_tracker("makasih kak", intent="thanks", confidence=0.95, slots=slots)
    assert await form.validate_handoff_victim("makasih kak", dispatcher, thanks, {}) == {
        "handoff_victim": None
    }
    assert responses(dispatcher) == ["utter_handoff_form_paused"]
    # A weak small-talk reading of a real answer is an answer.
    friend = make_tracker("teman saya", intent="greet", confidence=0.69, slots=slots)
    assert await form.validate_handoff_victim("teman saya", dispatcher, friend, {}) == {
        "handoff_victim": "teman saya"
    }
