"""End-to-end hand-off: detection, hotlines, consent, the form, the case and its forwarding."""

from __future__ import annotations

import time
import uuid

from actions.cases.store import CaseStore
from actions.evaluation.cases import HANDOFF_ACTION


def sender() -> str:
    return f"h-{uuid.uuid4().hex[:10]}"


def texts(messages) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def test_report_gets_hotlines_at_once_and_consent_question(stack) -> None:
    s = sender()
    messages = stack.say(
        s, "tolong kak, paspor kakak sy ditahan majikan di malaysia dan gajinya ga dibayar"
    )
    reply = texts(messages)
    assert "08113910910" in reply and "110" in reply
    assert "0800-1000" in reply  # the person is abroad: KP2MI
    assert any(b["payload"] == "/affirm" for m in messages for b in m.get("buttons") or [])
    assert HANDOFF_ACTION in stack.actions(s)


def test_child_recruitment_mentions_sapa_129(stack) -> None:
    s = sender()
    reply = stack.reply_text(
        s, "ada calo mau bawa adik sa yg masih 15 tahun ke kalimantan minggu ini"
    )
    assert "08113910910" in reply and "129" in reply
    assert HANDOFF_ACTION in stack.actions(s)


def test_informational_question_is_answered_not_handed_off(stack) -> None:
    s = sender()
    reply = stack.reply_text(s, "apa itu TPPO? buat tugas sekolah")
    assert "perdagangan orang" in reply.lower()
    assert HANDOFF_ACTION not in stack.actions(s)


def test_consented_case_is_stored_and_forwarded_once(stack) -> None:
    s = sender()
    stack.say(s, "beta di penampungan di batam, sonde boleh keluar, hp diambil")
    assert "siapa" in texts(stack.say(s, "/affirm")).lower()
    assert texts(stack.say(s, "saya sendiri"))
    assert texts(stack.say(s, "Batam"))
    done = texts(stack.say(s, "WA 081234567890 malam saja"))
    assert "SG-" in done
    reference = done.split("*")[1] if "*" in done else ""
    store = CaseStore(stack.cases_db_url)
    case = store.get_case(reference)
    assert case.consent and case.category == "confinement"
    assert case.location == "Batam" and case.contact == "WA 081234567890 malam saja"
    assert case.sender_hash and s not in case.sender_hash
    # The forwarder delivers it to the hotline exactly once.
    assert stack.hotline.wait_for(
        lambda: any(p.get("reference") == reference for p in stack.hotline.processed.values()),
        timeout=30,
    )
    deliveries = [p for p in stack.hotline.processed.values() if p.get("reference") == reference]
    assert len(deliveries) == 1
    # The conversation stays usable.
    assert "Sumber:" in stack.reply_text(s, "kur penempatan bunganya brp")
    store.dispose()


def test_every_question_can_be_skipped_and_decline_stores_nothing_identifying(stack) -> None:
    s = sender()
    stack.say(s, "majikan sering pukul sa dan ancam bunuh kalau lapor")
    for answer in ("/affirm", "lewati", "lewati", "lewati"):
        last = texts(stack.say(s, answer))
    assert "SG-" in last
    reference = last.split("*")[1]
    store = CaseStore(stack.cases_db_url)
    case = store.get_case(reference)
    assert case.victim is None and case.location is None and case.contact is None

    other = sender()
    stack.say(other, "om sa hilang kontak di malaysia su 6 bulan")
    declined = texts(stack.say(other, "/deny"))
    assert "08113910910" in declined
    time.sleep(0.5)
    anonymous = [c for c in store.list_cases("anonymous")]
    assert anonymous and all(c.sender_hash is None and c.excerpt is None for c in anonymous)
    store.dispose()
