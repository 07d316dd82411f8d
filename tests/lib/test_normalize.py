"""Normalisation of WhatsApp Indonesian and Kupang Malay."""

from __future__ import annotations

from pathlib import Path

import pytest

from teman.nlp.lexicon import Lexicon, load_asronlp_table
from teman.nlp.normalize import Normalizer

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"


@pytest.fixture(scope="module")
def normalize() -> Normalizer:
    return Normalizer(Lexicon.from_knowledge(KNOWLEDGE))


def test_kupang_malay_wins_over_the_general_table(normalize: Normalizer) -> None:
    general = load_asronlp_table()
    assert general.get("pi") == "tapi"  # the reason our lexicon must take precedence
    text = normalize("beta mau pi kerja, sonde tau daftar di mana").text
    assert text.startswith("saya mau pergi kerja")
    assert "tidak" in text.split()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("brp umur min", "berapa"),
        ("gmn caranya", "bagaimana"),
        ("sy mau krj di luar negri", "saya"),
        ("katong su siap", "kita"),
    ],
)
def test_abbreviations(normalize: Normalizer, typed: str, expected: str) -> None:
    assert expected in normalize(typed).tokens


def test_glued_numbers_reduplication_and_stretching(normalize: Normalizer) -> None:
    tokens = normalize("gaji 20jt, ciri2 nya apa? tolonggggg").tokens
    assert tokens[1:3] == ("20", "juta")
    assert tokens.count("ciri") == 2
    assert tokens[-1] == "tolong"
    assert normalize("maaaaaf kak").tokens[0] == "maaf"


@pytest.mark.parametrize("text", ["", "   ", "😀😀🙏", "...", "?!"])
def test_nothing_to_read(normalize: Normalizer, text: str) -> None:
    assert normalize(text).tokens == ()


def test_markup_is_dropped(normalize: Normalizer) -> None:
    norm = normalize("<script>alert(1)</script> paspor https://x.example/a?b=1")
    assert "script" not in norm.tokens and "paspor" in norm.tokens
    assert not any("http" in t for t in norm.tokens)
