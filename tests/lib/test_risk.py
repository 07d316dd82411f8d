"""The recall-first risk detector over normalised text."""

from __future__ import annotations

import pytest

from teman.decision import REPORT

REPORTS = [
    ("majikan tahan paspor beta, sonde kasi balik", "held_documents"),
    ("sudah 5 bulan gaji kakak sy ga dibayar bos di sabah", "unpaid_wages"),
    ("kami dikunci di mess, tidak boleh keluar sama sekali", "confinement"),
    ("sa dipukul majikan tiap hari", "violence_abuse"),
    ("calo bilang adik sa umur 15 nanti dibikin ktp baru umur 20", "child_recruitment"),
    ("malam ini katong naik kapal dari nunukan ke tawau lewat jalur tikus", "illegal_departure"),
    ("mama sa di malaysia su hilang kontak 8 bulan", "missing_person"),
]
INFORMATIONAL = [
    "apa itu tppo",
    "hukuman buat pelaku perdagangan orang brp tahun",
    "berapa jenazah pmi yang pulang ke ntt tahun 2023",
    "ciri-ciri lowongan kerja palsu apa saja",
    "kur penempatan itu pinjaman ke bank ya",
    "kalau mau kerja ke malaysia paspor urus di mana",
]


@pytest.mark.parametrize(("text", "category"), REPORTS)
def test_reports_are_recognised_with_their_category(kb_assistant, text, category) -> None:
    decision = kb_assistant.decide(text)
    assert decision.intent == REPORT, decision.intent
    assert decision.risk.category == category, decision.risk.reasons


@pytest.mark.parametrize("text", INFORMATIONAL)
def test_informational_questions_are_not_reports(kb_assistant, text) -> None:
    assert kb_assistant.decide(text).intent != REPORT


def test_abroad_and_child_flags_pick_the_extra_hotlines(kb_assistant) -> None:
    abroad = kb_assistant.decide("paspor sy ditahan agen di malaysia").risk
    assert abroad.abroad
    child = kb_assistant.decide("ada calo mau bawa teman sy yg masih 16 thn ke batam besok").risk
    assert child.child


def test_curated_examples_are_all_caught(kb_assistant) -> None:
    """Every curated report in knowledge/risk/examples*.yml is recognised (recall 1.0)."""
    import yaml

    files = sorted((kb_assistant.settings.knowledge_dir / "risk").glob("examples*.yml"))
    missed = [
        text
        for path in files
        for category in yaml.safe_load(path.read_text())["categories"].values()
        for text in category["examples"]
        if kb_assistant.decide(text).intent != REPORT
    ]
    assert not missed, missed[:10]
