"""The knowledge base loads, and mistakes staff can make are reported clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from teman.knowledge.loader import MAX_ANSWER_CHARS, KnowledgeError, load_knowledge

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"
NTT_REGENCIES = 22


def test_real_knowledge_base_is_valid() -> None:
    kb = load_knowledge(KNOWLEDGE)
    assert len(kb.entries) >= 40
    for entry in kb.entries:
        assert len(entry.questions) >= 8, entry.id
        assert len(entry.answer) <= MAX_ANSWER_CHARS, entry.id
        assert entry.sources and entry.reviewed, entry.id
        assert all(s.date for s in entry.sources), entry.id


def test_every_regency_is_served_by_an_office() -> None:
    kb = load_knowledge(KNOWLEDGE)
    assert len(kb.places) == NTT_REGENCIES
    assert all(p.office in kb.offices for p in kb.places)


def _write(tmp_path: Path, entry: dict) -> Path:
    (tmp_path / "entries").mkdir()
    (tmp_path / "entries" / "t.yml").write_text(
        yaml.safe_dump({"topic": "t", "entries": [entry]}), encoding="utf-8"
    )
    return tmp_path


GOOD = {
    "id": "contoh",
    "title": "Contoh",
    "questions": [f"pertanyaan {i}" for i in range(8)],
    "answer": "Jawaban singkat.",
    "sources": [{"name": "Sumber", "date": "2025-01-01"}],
    "reviewed": "2026-11-23",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"answer": "x" * (MAX_ANSWER_CHARS + 1)}, "characters"),
        ({"questions": ["satu", "dua"]}, "at least"),
        ({"sources": []}, "sources"),
        ({"title": ""}, "title"),
    ],
)
def test_staff_mistakes_are_named(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(KnowledgeError, match=message) as error:
        load_knowledge(_write(tmp_path, {**GOOD, **change}))
    assert "t.yml" in str(error.value)


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "entries").mkdir()
    for name in ("a.yml", "b.yml"):
        (tmp_path / "entries" / name).write_text(yaml.safe_dump({"entries": [GOOD]}))
    with pytest.raises(KnowledgeError, match="already used"):
        load_knowledge(tmp_path)
