"""The offer check: red flags found in one job offer, from knowledge/offers/.

The adverts here are our own, written for these tests; the evaluation adverts
(tests/eval_sets/offers/) are scored by tools/evaluation/offers.py, never copied here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from teman.config import ROOT
from teman.decision import CHECK_OFFER, REPORT
from teman.offers.detector import OfferDetector
from teman.offers.validate import REQUIRED_FLAGS, validate

KNOWLEDGE = ROOT / "knowledge"


@pytest.fixture(scope="module")
def detector() -> OfferDetector:
    return OfferDetector.from_knowledge(KNOWLEDGE)


def flags(detector: OfferDetector, text: str) -> list[str]:
    check = detector.check(text)
    assert check.is_offer, f"not read as an offer: {text!r} ({check.signals})"
    return check.flag_ids


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Loker pabrik sarung tangan di Selangor Malaysia, gaji RM 5.000 per bulan, "
         "hubungi WA 0813-0000-1111", {"salary_too_high", "chat_only_contact"}),
        ("Dicari PRT untuk Hong Kong. Gaji 8 juta. Biaya proses 4 juta dibayar di awal. "
         "Kantor: Jl. Mawar 3, Kupang", {"placement_fee"}),
        ("Kerja kebun di Sarawak, gaji dipotong 5 bulan buat ongkos, syarat KTP, "
         "hub kantor kami Jl. Timor Raya", {"placement_fee"}),
        ("Lowongan perawat lansia Taiwan, tanpa pelatihan langsung kerja, gaji NT$ 22.000, "
         "info di kantor PT Sinar, Jl. Sudirman 9", {"no_training"}),
        ("Lowongan restoran di Malaysia, berangkat pakai visa kunjungan, gaji RM 2.000, "
         "kantor Jl. Kenari", {"wrong_visa"}),
        ("Lowongan pabrik Korea, gaji 25 juta, berangkat dalam 5 hari, kantor Jl. Kelapa",
         {"rushed_departure"}),
        ("Ada kerja di Sabah gaji RM 1.800, ikut om Markus saja, tidak perlu lewat PT, "
         "telepon 0812 0000 2222", {"informal_recruiter", "chat_only_contact"}),
        ("Lowongan sawit di Malaysia, gaji RM 1.900, transit di Nunukan dulu baru jalan, "
         "kantor Jl. Anggrek", {"irregular_route"}),
        ("Lowongan ART Singapura, usia 16-35 tahun, gaji S$ 600, kantor Jl. Flamboyan",
         {"underage_or_no_diploma"}),
        ("Lowongan admin di Laos, gaji 18 juta, kantor Jl. Melati",
         {"online_scam"}),
        ("Lowongan pabrik Jepang gaji 20 juta, isi formulir di https://daftar-kerja.xyz "
         "dan kirim foto KTP, kantor Jl. Cendana", {"data_or_money_link"}),
    ],
)
def test_each_flag_is_found_with_its_words(detector, text: str, expected: set[str]) -> None:
    assert set(flags(detector, text)) == expected


def test_flags_quote_the_words_as_written(detector) -> None:
    check = detector.check(
        "LOWONGAN ke Malaysia, Tanpa Paspor, gaji RM 2.000, hub WA 0812 0000 3333")
    hit = next(h for h in check.hits if h.flag_id == "irregular_route")
    assert hit.evidence == "Tanpa Paspor"


def test_most_serious_flag_comes_first(detector) -> None:
    check = detector.check("Lowongan di Kamboja, gaji 30 juta, hubungi WA 0812 0000 4444 saja")
    assert check.flag_ids[0] == "online_scam"
    assert "chat_only_contact" in check.flag_ids


def test_salary_compares_with_the_sourced_figure(detector) -> None:
    high = detector.check("Lowongan pabrik di Malaysia gaji 15 juta/bulan, kantor Jl. Kenanga")
    hit = next(h for h in high.hits if h.flag_id == "salary_too_high")
    assert "RM1.700" in hit.detail and "The Star" in hit.detail
    fair = detector.check("Lowongan pabrik di Malaysia gaji RM 1.900/bulan, kantor Jl. Kenanga")
    assert "salary_too_high" not in fair.flag_ids


def test_no_figure_without_a_source(detector) -> None:
    # Dubai has no sourced pay in salaries.yml: the number alone raises no flag.
    check = detector.check("Lowongan sopir di Dubai gaji 14 juta, kantor Jl. Kenari 2")
    assert check.is_offer and "salary_too_high" not in check.flag_ids


def test_phone_numbers_are_not_salaries(detector) -> None:
    check = detector.check("Lowongan kebun di Sabah, gaji RM 1.800, WA 081234567890, kantor Jl. A")
    assert check.salary_rupiah is not None and check.salary_rupiah < 10_000_000


def test_negated_fee_and_route_are_no_flags(detector) -> None:
    text = ("PT Citra Karya (SIP3MI) membuka lowongan caregiver Taiwan. Gaji NT$ 20.000. "
            "Tanpa biaya penempatan. Bukan lewat Nunukan: berangkat resmi dari Kupang. "
            "Pelatihan di LPK, daftar di LTSA Kota Kupang, Jl. Soeharto 5")
    check = detector.check(text)
    assert check.is_offer and check.flag_ids == []
    assert check.company == "PT Citra Karya"


@pytest.mark.parametrize(
    "text",
    [
        "syarat jadi PMI apa saja?",
        "gaji di Malaysia berapa, syaratnya apa?",
        "kalau umur 45 masih bisa kerja ke luar negeri?",
        "biaya berangkat kerja ke luar negeri dari mana ya?",
        "kenapa lowongan kerja di Laos dengan gaji besar itu berbahaya?",
        "",
    ],
)
def test_questions_are_not_offers(detector, text: str) -> None:
    assert not detector.check(text).is_offer


def test_decision_sends_an_offer_to_the_offer_check(kb_assistant) -> None:
    parse = kb_assistant.parse(
        "Dibutuhkan pekerja kebun di Sabah gaji 15 juta, berangkat minggu depan, biaya "
        "proses 2 juta, hubungi WA 0812 0000 5555")
    assert parse["intent"]["name"] == CHECK_OFFER
    ents = [(e["entity"], e["value"]) for e in parse["entities"]]
    found = [v for k, v in ents if k == "offer_flag"]
    assert {"salary_too_high", "placement_fee", "rushed_departure"} <= set(found)
    evidence = [v for k, v in ents if k == "offer_evidence"]
    details = [v for k, v in ents if k == "offer_detail"]
    assert len(found) == len(evidence) == len(details)


def test_danger_to_a_person_still_goes_to_the_hand_off_first(kb_assistant) -> None:
    parse = kb_assistant.parse(
        "adik saya 15 tahun besok dibawa calo ke Malaysia lewat Nunukan, katanya gaji 8 juta, "
        "hubungi WA 0812 0000 6666")
    assert parse["intent"]["name"] == REPORT


def test_the_knowledge_files_validate() -> None:
    assert validate(KNOWLEDGE) == []


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE / "offers", target / "offers")
    return target


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_validator_names_a_missing_fixed_flag(tmp_path: Path) -> None:
    knowledge = _copy(tmp_path)
    _edit(knowledge / "offers" / "flags.yml",
          lambda d: d.update(flags=[f for f in d["flags"] if f["id"] != "wrong_visa"]))
    problems = validate(knowledge)
    assert any("wrong_visa" in p for p in problems)
    assert "wrong_visa" in REQUIRED_FLAGS


def test_validator_names_a_broken_pattern(tmp_path: Path) -> None:
    knowledge = _copy(tmp_path)
    _edit(knowledge / "offers" / "flags.yml",
          lambda d: d["concepts"]["contact"].update(patterns=["(unclosed"]))
    problems = validate(knowledge)
    assert len(problems) == 1 and "contact" in problems[0]


def test_validator_wants_a_source_or_no_source_for_a_figure(tmp_path: Path) -> None:
    knowledge = _copy(tmp_path)
    _edit(knowledge / "offers" / "salaries.yml",
          lambda d: d["countries"]["malaysia"]["rows"][0].pop("source"))
    problems = validate(knowledge)
    assert any("malaysia" in p and "source" in p for p in problems)


def test_validator_reads_a_missing_folder_as_one_problem(tmp_path: Path) -> None:
    problems = validate(tmp_path)
    assert len(problems) == 1 and "missing" in problems[0]
