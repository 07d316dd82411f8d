"""End-to-end hand-off through the real servers, typed the way people type: detection,
hotlines, consent in plain words, the form, the case and its forwarding, and a decline
that leaves nothing identifying behind (the tracker included)."""

from __future__ import annotations

import re
import uuid

import pytest

from teman.cases.store import CaseStore
from tools.evaluation.cases import HANDOFF_ACTION

REFERENCE = re.compile(r"SG-[A-Z0-9]+")


def sender() -> str:
    return f"h-{uuid.uuid4().hex[:10]}"


def texts(messages) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def user_texts(stack, s: str) -> list[str]:
    return [e.get("text") or "" for e in stack.tracker(s)["events"] if e.get("event") == "user"]


def test_report_gets_hotlines_at_once_and_a_consent_question_in_words(stack) -> None:
    s = sender()
    messages = stack.say(
        s, "tolong kak, paspor kakak sy ditahan majikan di malaysia dan gajinya ga dibayar"
    )
    reply = texts(messages)
    assert "08113910910" in reply and "110" in reply
    assert "0800-1000" in reply  # the person is abroad: KP2MI
    payloads = [b["payload"] for m in messages for b in m.get("buttons") or []]
    assert payloads and not any(p.startswith("/") for p in payloads), payloads
    assert HANDOFF_ACTION in stack.actions(s)
    slots = stack.slots(s)
    assert slots["handoff_stage"] == "awaiting_consent"
    assert slots["handoff_abroad"] is True


def test_child_recruitment_mentions_sapa_129(stack) -> None:
    s = sender()
    reply = stack.reply_text(
        s, "ada calo mau bawa adik sa yg masih 15 tahun ke kalimantan minggu ini"
    )
    assert "08113910910" in reply and "129" in reply
    assert HANDOFF_ACTION in stack.actions(s)
    assert stack.slots(s)["handoff_child"] is True


@pytest.mark.parametrize(
    "consent", ["iya kak, tolong sampaikan ke petugas", "boleh kak", "iyo, teruskan sa"]
)
def test_consent_in_plain_words_starts_the_form(stack, consent: str) -> None:
    s = sender()
    stack.say(s, "beta di penampungan di batam, sonde boleh keluar, hp diambil")
    assert "siapa" in stack.reply_text(s, consent).lower()
    assert stack.tracker(s)["active_loop"].get("name") == "handoff_form"
    # The consent itself answered no question of the form.
    assert stack.slots(s)["handoff_victim"] is None


def test_consented_case_is_stored_once_and_forwarded_once(stack) -> None:
    s = sender()
    stack.say(s, "beta di penampungan di batam, sonde boleh keluar, hp diambil")
    assert "siapa" in texts(stack.say(s, "iya kak, tolong sampaikan ke petugas")).lower()
    assert "di mana" in stack.reply_text(s, "saya sendiri").lower()
    assert stack.reply_text(s, "Batam")
    done = stack.reply_text(s, "WA 081234567890 malam saja")
    # Truthful: saved and to be passed on, not "already forwarded"; the number to call now.
    assert "tersimpan" in done and "diteruskan" not in done.split("akan")[0]
    assert "08113910910" in done
    found = REFERENCE.search(done)
    assert found, done
    reference = found.group(0)
    store = CaseStore(stack.cases_db_url)
    case = store.get_case(reference)
    assert case.consent and case.category == "confinement"
    assert case.victim == "saya sendiri"
    assert case.location == "Batam" and case.contact == "WA 081234567890 malam saja"
    assert "penampungan" in (case.excerpt or "")
    assert case.sender_hash and s not in case.sender_hash
    # One conversation, one case.
    assert [c.reference for c in store.list_cases("all") if c.sender_hash == case.sender_hash] == [
        reference
    ]
    # The forwarder delivers it to the hotline exactly once.
    assert stack.hotline.wait_for(
        lambda: any(p.get("reference") == reference for p in stack.hotline.processed.values()),
        timeout=60,
    )
    deliveries = [p for p in stack.hotline.processed.values() if p.get("reference") == reference]
    assert len(deliveries) == 1
    # The conversation stays usable.
    assert "Sumber:" in stack.reply_text(s, "apa itu KUR Penempatan?")
    store.dispose()


def test_every_question_can_be_skipped_in_words(stack) -> None:
    s = sender()
    stack.say(s, "majikan sering pukul sa dan ancam bunuh kalau lapor")
    for answer in ("boleh", "lewati", "rahasia", "sonde usah"):
        last = stack.reply_text(s, answer)
    found = REFERENCE.search(last)
    assert found, last
    store = CaseStore(stack.cases_db_url)
    case = store.get_case(found.group(0))
    assert case.victim is None and case.location is None and case.contact is None
    store.dispose()


def test_decline_keeps_nothing_identifying_not_even_in_the_tracker(stack) -> None:
    s = sender()
    report = "om sa hilang kontak di malaysia su 6 bulan, namanya Yohanes dari Soe"
    stack.say(s, report)
    assert report in user_texts(stack, s)
    declined = stack.reply_text(s, "sonde usah")
    assert "08113910910" in declined
    assert "hapus" in declined
    events = stack.tracker(s)["events"]
    assert HANDOFF_ACTION in [e.get("name") for e in events if e.get("event") == "action"]
    assert "action_handoff_decline" in [e.get("name") for e in events if e.get("event") == "action"]
    dumped = str(events)
    assert "Yohanes" not in dumped and "hilang kontak" not in dumped
    assert stack.slots(s)["handoff_stage"] is None
    store = CaseStore(stack.cases_db_url)
    anonymous = store.list_cases("anonymous")
    assert anonymous and all(c.sender_hash is None and c.excerpt is None for c in anonymous)
    store.dispose()


def test_risk_disclosed_in_the_middle_of_a_conversation(stack) -> None:
    s = sender()
    assert "Sumber:" in stack.reply_text(s, "apa itu KUR Penempatan?")
    assert HANDOFF_ACTION not in stack.actions(s)
    reply = stack.reply_text(s, "sebenarnya kakak saya di sabah, majikannya tidak bayar gaji")
    assert "08113910910" in reply
    assert HANDOFF_ACTION in stack.actions(s)


def test_small_talk_in_the_middle_of_the_form_then_the_same_question(stack) -> None:
    s = sender()
    stack.say(s, "teman saya dikurung agen di kupang, tidak boleh keluar")
    assert "siapa" in stack.reply_text(s, "boleh").lower()
    reply = stack.reply_text(s, "makasih kak")
    assert "siapa" in reply.lower()  # the same question again
    assert stack.slots(s)["handoff_victim"] is None
    assert "di mana" in stack.reply_text(s, "teman saya").lower()
    assert stack.slots(s)["handoff_victim"] == "teman saya"


def test_a_form_answer_that_sounds_like_a_report_is_an_answer(stack) -> None:
    s = sender()
    stack.say(s, "teman saya dikurung agen di kupang, tidak boleh keluar")
    stack.say(s, "boleh")
    assert "di mana" in stack.reply_text(s, "adik saya, 16 tahun").lower()
    assert stack.slots(s)["handoff_victim"] == "adik saya, 16 tahun"
    assert stack.actions(s).count(HANDOFF_ACTION) == 1
