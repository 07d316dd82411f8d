"""teman.followup: which messages lean on the conversation, and the context kept after a reply."""

from __future__ import annotations

import pytest

from teman.decision import ANSWER, ASK, OUT_OF_SCOPE, PLACE, REPORT, Decision
from teman.dialogue import AFFIRM, DENY, SKIP
from teman.followup import PLACE_TOPIC, Context, FollowUps


@pytest.fixture(scope="module")
def followups(kb_assistant) -> FollowUps:
    return FollowUps(kb_assistant)


@pytest.mark.parametrize(
    ("text", "points_back"),
    [
        ("syaratnya?", True),
        ("kalau dari sabu", True),
        ("terus berapa lama", True),
        ("dan untuk saya?", True),
        ("sa sonde punya paspor", False),  # "punya" is not "-nya"
        ("apa itu kur", False),
        ("umur minimal berapa", False),
    ],
)
def test_words_that_point_back(kb_assistant, followups, text: str, points_back: bool) -> None:
    assert followups.refers_back(kb_assistant.normalizer(text)) is points_back


@pytest.mark.parametrize("intent", [REPORT, AFFIRM, DENY, SKIP, "greet", "thanks"])
def test_reports_consent_and_small_talk_are_never_re_read(followups, intent: str) -> None:
    own = Decision(intent, score=1.0)
    context = Context(topic="kur-penempatan", place="Alor")
    assert followups.resolve("kalau syaratnya di alor?", own, context) is own


def test_a_long_message_is_read_on_its_own(kb_assistant, followups) -> None:
    text = "kalau saya mau tahu lebih banyak soal semua hal tentang kerja di luar negeri dong"
    own = Decision(OUT_OF_SCOPE, score=0.3)
    assert len(kb_assistant.normalizer(text).tokens) > followups.settings.followup_max_tokens
    assert followups.resolve(text, own, Context(topic="kur-penempatan")) is own


def test_an_answer_replaces_the_topic_and_keeps_the_place(kb_assistant, followups) -> None:
    entry = kb_assistant.index.kb.entries[0]
    own = Decision(ASK, ANSWER, entry=entry, score=0.9)
    kept = followups.remember("apa saja", own, Context(topic="x", place="Alor"))
    assert kept == Context(topic=entry.id, place="Alor")


def test_a_kind_no_ends_the_topic(followups) -> None:
    kept = followups.remember("cuaca besok", Decision(OUT_OF_SCOPE), Context("x", "Alor"))
    assert kept == Context(topic=None, place="Alor")


def test_an_office_answer_keeps_its_place(kb_assistant, followups) -> None:
    place = next(p for p in kb_assistant.index.kb.places if p.name == "Ende")
    office = kb_assistant.index.kb.offices[place.office]
    own = Decision(ASK, PLACE, place=place, office=office)
    assert followups.remember("beta di ende", own, Context()) == Context(PLACE_TOPIC, "Ende")


def test_a_place_named_in_passing_is_remembered(followups) -> None:
    kept = followups.remember("sa dari Soe, mau tanya", Decision(OUT_OF_SCOPE), Context())
    assert kept.place == "Timor Tengah Selatan"


@pytest.mark.parametrize("topic", [None, "tempat-daftar"])
def test_a_place_in_an_unrelated_request_is_no_office_question(
    kb_assistant, followups, topic: str | None
) -> None:
    text = "harga tiket kapal ke Alor berapa"
    parse = kb_assistant.parse(text)
    own = followups.standalone(
        parse["intent"]["name"], parse["entities"], parse["intent"]["confidence"]
    )
    assert own.intent == OUT_OF_SCOPE
    assert followups.resolve(text, own, Context(topic=topic)) is own


def test_an_office_entry_title_is_that_entry_not_its_place(kb_assistant, followups) -> None:
    # A suggestion button sends an entry's title; a title naming a place stays that entry.
    entry = kb_assistant.entry("ltsa-kota-kupang")
    assert entry is not None and kb_assistant.places.find(kb_assistant.read(entry.title))
    parse = kb_assistant.parse(entry.title)
    own = followups.standalone(
        parse["intent"]["name"], parse["entities"], parse["intent"]["confidence"]
    )
    read = followups.resolve(entry.title, own, Context(topic="tempat-daftar"))
    assert read.kind == ANSWER and read.entry == entry


def test_a_place_alone_gets_its_office(kb_assistant, followups) -> None:
    text = "sa org Ngada"
    parse = kb_assistant.parse(text)
    own = followups.standalone(
        parse["intent"]["name"], parse["entities"], parse["intent"]["confidence"]
    )
    read = followups.resolve(text, own, Context(topic="tempat-daftar"))
    assert read.kind == PLACE and read.place is not None and read.place.name == "Ngada"
