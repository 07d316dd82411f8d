"""action_check_offer turns the flags the decision found (entities) into short replies."""

from __future__ import annotations

from actions.offer import MAX_CHARS, ActionCheckOffer
from teman.decision import get_assistant
from tests.support.trackers import entities

ALL = ["online_scam", "underage_or_no_diploma", "irregular_route", "wrong_visa",
       "placement_fee", "data_or_money_link", "informal_recruiter", "salary_too_high",
       "no_training", "rushed_departure", "chat_only_contact"]


async def run(tracker, dispatcher) -> list[str]:
    assert await ActionCheckOffer().run(dispatcher, tracker, {}) == []
    return [m.get("text") or m.get("response") for m in dispatcher.messages]


def offer_entities(ids: list[str], evidence: list[str] | None = None, **extra) -> list:
    evidence = evidence or [f"kata {i}" for i in range(len(ids))]
    return entities(offer_flag=ids, offer_evidence=evidence,
                    offer_detail=["-"] * len(ids), **extra)


async def test_each_flag_is_named_with_the_users_words(make_tracker, dispatcher) -> None:
    rules = get_assistant().offers.rules
    tracker = make_tracker("x", "check_offer",
                           offer_entities(["wrong_visa", "chat_only_contact"],
                                          ["visa kunjungan", "WA 0812"]))
    texts = await run(tracker, dispatcher)
    body = "\n".join(texts)
    assert "«visa kunjungan»" in body and "«WA 0812»" in body
    assert rules.flag("wrong_visa").title in body
    assert body.index(rules.flag("wrong_visa").title) < body.index(
        rules.flag("chat_only_contact").title)
    assert rules.flag("wrong_visa").legal in body  # what a legal offer looks like
    assert "Sumber:" in texts[-1] and "Kemnaker" in texts[-1]


async def test_every_message_fits_a_phone_even_with_all_flags(make_tracker, dispatcher) -> None:
    long_words = ["x" * 200] * len(ALL)
    texts = await run(make_tracker("x", "check_offer", offer_entities(ALL, long_words)),
                      dispatcher)
    assert all(len(t) <= MAX_CHARS for t in texts)
    body = "\n".join(texts)
    rules = get_assistant().offers.rules
    assert f"*{len(ALL)} tanda bahaya*" in body
    # the four most serious in full, the others by name
    assert rules.flag("online_scam").why in body
    assert rules.flag("chat_only_contact").why not in body
    assert rules.flag("chat_only_contact").title in body


async def test_salary_detail_is_shown(make_tracker, dispatcher) -> None:
    ents = entities(offer_flag=["salary_too_high"], offer_evidence=["gaji 15 juta"],
                    offer_detail=["Upah minimum Malaysia: RM1.700 per bulan."])
    body = "\n".join(await run(make_tracker("x", "check_offer", ents), dispatcher))
    assert "RM1.700" in body and "«gaji 15 juta»" in body


async def test_a_named_company_gets_the_licence_check(make_tracker, dispatcher) -> None:
    ents = offer_entities(["placement_fee"], offer_company="PT Maju Jaya")
    body = "\n".join(await run(make_tracker("x", "check_offer", ents), dispatcher))
    assert "PT Maju Jaya" in body and "SISKOP2MI" in body and "SIP3MI" in body


async def test_no_flag_found_still_says_what_to_check(make_tracker, dispatcher) -> None:
    texts = await run(make_tracker("x", "check_offer", []), dispatcher)
    assert len(texts) == 1 and "tidak menemukan tanda bahaya" in texts[0]
    assert "Sumber:" in texts[0]


async def test_danger_words_end_with_the_hotline(make_tracker, dispatcher) -> None:
    texts = await run(make_tracker("x", "check_offer",
                                   offer_entities(["irregular_route"], hotline=True)),
                      dispatcher)
    assert texts[-1] == "utter_hotline_note"


async def test_unknown_flag_ids_are_ignored(make_tracker, dispatcher) -> None:
    texts = await run(make_tracker("x", "check_offer", offer_entities(["no_such_flag"])),
                      dispatcher)
    assert "tidak menemukan tanda bahaya" in texts[0]
