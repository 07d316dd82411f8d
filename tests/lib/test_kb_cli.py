"""The staff command `kb` on a small fixture knowledge base (tests/fixtures/kb): validation
messages for broken files, stale entries, the spreadsheet round trip, offline builds (one
edit re-encodes only its phrasings; two builds at once leave a sound index) and `kb ask`."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teman.knowledge.validate import ERROR, WARNING, Issue, validate
from tools.kb import app

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "kb"
TODAY = dt.date(2026, 11, 24)


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(FIXTURE, folder)
    return folder


def _env(kb: Path, index: Path | None = None) -> dict[str, str]:
    return {
        "TEMAN_KNOWLEDGE_DIR": str(kb),
        "TEMAN_INDEX_DIR": str(index or kb.parent / "index"),
        "TEMAN_FINETUNE": "false",
        "TEMAN_RUN_DIR": str(kb.parent / "run"),  # no running bot there
        "COLUMNS": "200",
    }


def _run(kb: Path, *args: str, index: Path | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=_env(kb, index))
    return result.exit_code, result.output


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _issues(kb: Path, near: bool = False) -> list[Issue]:
    return validate(kb, today=TODAY, near_duplicates=near)


# ------------------------------------------------------------------ validate


def test_the_fixture_has_only_the_stale_warning(kb: Path) -> None:
    issues = _issues(kb, near=True)
    assert issues == [
        Issue(
            WARNING,
            "stale",
            "entri 'paspor-biaya': terakhir diperiksa 2024-01-10, lebih dari 12 bulan lalu; "
            "cek lagi sumbernya lalu perbarui 'reviewed'",
            "knowledge/entries/paspor.yml",
            21,
        )
    ]
    code, out = _run(kb, "validate")
    assert code == 0 and "Tidak ada galat (1 peringatan)" in out


def test_a_tab_is_named_with_its_line(kb: Path) -> None:
    _edit(kb / "entries" / "kur.yml", "    title: KUR tanpa agunan", "\ttitle: KUR tanpa agunan")
    [issue] = [i for i in _issues(kb) if i.level == ERROR]
    assert (issue.where, issue.message) == (
        "knowledge/entries/kur.yml:25",
        "ada karakter Tab di awal baris; pakai spasi saja",
    )
    code, out = _run(kb, "validate", "--fast")
    assert code == 1 and "1 galat" in out


def test_broken_yaml_is_explained(kb: Path) -> None:
    _edit(kb / "entries" / "paspor.yml", "      - ongkos urus paspor",
          "      - ongkos: urus paspor: berapa")
    [issue] = [i for i in _issues(kb) if i.level == ERROR]
    assert issue.where == "knowledge/entries/paspor.yml:11"
    assert issue.message.startswith("YAML tidak bisa dibaca (")
    assert "': ' di dalam teks yang belum diberi tanda kutip" in issue.message


def test_schema_mistakes(kb: Path) -> None:
    path = kb / "entries" / "kur.yml"
    _edit(path, "    tags: [kur]\n", "    tags: [kur]\n    question: salah ketik\n")
    _edit(path, "      - harus gadai rumah buat kur?\n", "")
    _edit(path, "  - id: kur-dasar", "  - id: KUR Dasar")
    messages = {(i.where, i.message) for i in _issues(kb) if i.level == ERROR}
    allowed = "answer, id, places, questions, reviewed, sources, tags, title"
    assert messages == {
        ("knowledge/entries/kur.yml:3", "entri 'KUR Dasar': id hanya boleh huruf kecil, angka "
         "dan tanda '-' (contoh: kur-tanpa-agunan)"),
        ("knowledge/entries/kur.yml:27", "entri 'kur-agunan': kolom 'question' tidak dikenal "
         f"(salah ketik?); yang boleh: {allowed}"),
        ("knowledge/entries/kur.yml:29", "entri 'kur-agunan': baru 7 contoh pertanyaan, "
         "minimal 8"),
    }


def test_duplicate_ids_name_the_first_place(kb: Path) -> None:
    _edit(kb / "entries" / "paspor.yml", "id: paspor-biaya", "id: kur-dasar")
    [issue] = [i for i in _issues(kb) if i.code == "duplicate-id"]
    assert (issue.level, issue.where, issue.message) == (
        ERROR,
        "knowledge/entries/paspor.yml:3",
        "id 'kur-dasar' sudah dipakai di knowledge/entries/kur.yml:3; setiap id harus unik",
    )


@pytest.mark.parametrize(
    "name",
    [
        "Syarat KUR (lembar fakta Teman Migrasi)",
        "safe-migration-ntt.md",
        "/work/shared/facts/ringkasan",
        "NTT Fact Sheet 2025",
    ],
)
def test_our_own_fact_sheet_is_not_a_source(kb: Path, name: str) -> None:
    _edit(kb / "entries" / "kur.yml", "Contoh sumber berita A", name)
    [issue] = [i for i in _issues(kb) if i.level == ERROR]
    assert (issue.code, issue.where) == ("own-source", "knowledge/entries/kur.yml:20")
    assert issue.message == (
        f"entri 'kur-dasar': sumber \"{name}\" adalah lembar fakta kita sendiri; tulis sumber "
        "aslinya (media, lembaga, peraturan) dan tanggalnya"
    )


def test_sources_missing_or_undated(kb: Path) -> None:
    path = kb / "entries" / "kur.yml"
    _edit(path, '      - {name: "Contoh sumber berita B", date: "2025-09"}',
          '      - {name: "Contoh sumber berita B"}')
    _edit(path, '    sources:\n      - name: "Contoh sumber berita A"\n        date: 2025-08-29\n',
          "")
    found = {(i.level, i.where, i.message) for i in _issues(kb) if i.code == "missing-source"}
    assert found == {
        (ERROR, "knowledge/entries/kur.yml:3", "entri 'kur-dasar': belum ada sumber; setiap "
         "jawaban wajib punya sumber dan tanggal"),
        (WARNING, "knowledge/entries/kur.yml:37", "entri 'kur-agunan': sumber \"Contoh sumber "
         "berita B\" tanpa tanggal; tulis tanggalnya, atau \"tanpa tanggal\" bila sumbernya "
         "memang tidak bertanggal"),
    }


def test_answer_length(kb: Path) -> None:
    path = kb / "entries" / "paspor.yml"
    long = "Biaya paspor " + "x" * 660
    _edit(path, "      Biaya paspor mengikuti", f"      {long}\n      Biaya paspor mengikuti")
    [issue] = [i for i in _issues(kb) if i.level == ERROR]
    assert issue.message == (
        "entri 'paspor-biaya': jawaban 759 karakter, maksimal 700 (bot tidak mau memuatnya)"
    )
    _edit(path, long, "Biaya " + "x" * 600)
    [issue] = [i for i in _issues(kb) if i.code == "long-answer"]
    assert issue.level == WARNING and "jawaban 692 karakter; usahakan ≤ 650" in issue.message


def test_places_must_be_in_the_gazetteer(kb: Path) -> None:
    _edit(kb / "entries" / "paspor.yml", "places: [Kota Kupang]", "places: [Kota Kupang, Soe]")
    [issue] = [i for i in _issues(kb) if i.level == ERROR]
    assert (issue.code, issue.where) == ("unknown-place", "knowledge/entries/paspor.yml:6")
    assert issue.message.startswith("entri 'paspor-biaya': tempat 'Soe' tidak ada di places.yml")


def test_aliases_and_lexicon_keys_that_are_everyday_words(kb: Path) -> None:
    _edit(kb / "places.yml", "aliases: [rote, pulau rote]", "aliases: [rote, roti, pulau rote]")
    _edit(kb / "lexicon.yml", "  ga: tidak\n", "  ga: tidak\n  ko: kamu\n")
    found = {(i.where, i.message) for i in _issues(kb) if i.code == "common-alias"}
    assert found == {
        ("knowledge/places.yml:21", "alias 'roti' untuk Rote Ndao juga kata sehari-hari; pesan "
         "yang memakai kata itu akan dikira menyebut tempat. Hapus, atau pakai bentuk yang "
         "jelas (misalnya 'pulau roti')"),
        ("knowledge/lexicon.yml:7", "kata 'ko' di lexicon.yml juga kata sehari-hari; "
         "mengubahnya menjadi 'kamu' salah arti pada pesan biasa"),
    }
    assert all(i.level == ERROR for i in _issues(kb) if i.code == "common-alias")


def test_offer_rules_are_checked_when_present(kb: Path) -> None:
    (kb / "offers" / "flags.yml").write_text("flags: []\n", encoding="utf-8")
    errors = [i for i in _issues(kb) if i.level == ERROR]
    assert errors and all(i.code == "validate" for i in errors)
    assert any("offers/" in i.message for i in errors)


def test_an_everyday_word_kept_as_typed_is_allowed(kb: Path) -> None:
    # Mapping a word to itself stops the general slang table from rewriting it: no error.
    _edit(kb / "lexicon.yml", "  ga: tidak\n", "  ga: tidak\n  ko: ko\n")
    assert [i for i in _issues(kb) if i.code == "common-alias"] == []


def test_confusable_questions_name_both_entries(kb: Path) -> None:
    _edit(kb / "entries" / "kur.yml", "      - harus gadai rumah buat kur?",
          "      - bunga pinjaman kur penempatan brp ya")
    [issue] = [i for i in _issues(kb, near=True) if i.code == "near-duplicate"]
    assert issue.level == WARNING
    assert "'kur-dasar'" in issue.message and "'kur-agunan'" in issue.message
    assert "bunga pinjaman kur penempatan brp" in issue.message
    code, out = _run(kb, "validate")
    assert code == 0 and "2 peringatan" in out


def sample_offers_check(knowledge_dir: Path) -> list[object]:
    assert (knowledge_dir / "entries").is_dir()
    return [("warning", "penawaran contoh kedaluwarsa"), "penawaran tanpa sumber"]


def test_an_extra_validator_is_one_line(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from teman.knowledge import validate as module

    monkeypatch.setattr(module, "EXTRA_VALIDATORS", [f"{__name__}:sample_offers_check"])
    found = [(i.level, i.code, i.message) for i in _issues(kb) if i.message.startswith("penaw")]
    assert found == [(ERROR, "test_kb_cli", "penawaran tanpa sumber"),
                     (WARNING, "test_kb_cli", "penawaran contoh kedaluwarsa")]


# ------------------------------------------------------------------ stale


def test_stale_lists_oldest_review_first(kb: Path) -> None:
    from teman.knowledge.stale import stale_entries

    rows = stale_entries(kb, months=1, today=TODAY)
    assert [(r.id, r.reviewed) for r in rows] == [
        ("paspor-biaya", "2024-01-10"), ("kur-agunan", "2026-10-15")
    ]
    assert rows[0].newest_source == "2019"
    # an old law is no reason by itself: only with --source-months
    assert [r.id for r in stale_entries(kb, months=36, today=TODAY)] == []
    assert [r.id for r in stale_entries(kb, months=36, source_months=24, today=TODAY)] == [
        "paspor-biaya"
    ]
    code, out = _run(kb, "stale")
    assert code == 0 and "paspor-biaya" in out and "kur-dasar" not in out


# ------------------------------------------------------------------ export / import


def _snapshot(kb: Path) -> dict[str, bytes]:
    return {str(p.relative_to(kb)): p.read_bytes() for p in sorted(kb.rglob("*")) if p.is_file()}


def test_export_then_import_changes_nothing(kb: Path, tmp_path: Path) -> None:
    before = _snapshot(kb)
    sheet = tmp_path / "kb.csv"
    code, out = _run(kb, "export", str(sheet))
    assert code == 0 and "3 entri" in out
    code, out = _run(kb, "import", str(sheet))
    assert code == 0 and "Tidak ada perubahan" in out
    assert _snapshot(kb) == before


def test_the_real_knowledge_base_round_trips_byte_for_byte(tmp_path: Path) -> None:
    from teman.knowledge.sheet import export_csv, plan_import, read_csv, write_plan

    kb = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", kb)
    before = _snapshot(kb)
    export_csv(kb, tmp_path / "all.csv")
    plan = plan_import(kb, read_csv(tmp_path / "all.csv"))
    assert plan.empty
    # even rewriting every file leaves them as they were
    from teman.knowledge import sheet

    for path in sorted((kb / "entries").glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        assert sheet.dump(sheet._yaml().load(text)) == text, path.name
    write_plan(kb, plan)
    assert _snapshot(kb) == before


def _rows(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    import csv

    from teman.knowledge.sheet import COLUMNS

    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def test_an_edit_in_the_sheet_changes_only_that_entry(kb: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "kb.csv"
    _run(kb, "export", str(sheet))
    rows = _rows(sheet)
    row = next(r for r in rows if r["id"] == "kur-agunan")
    row["questions"] += "\nbeta takut tanah keluarga hilang kalau pinjam kur"
    row["reviewed"] = "2026-11-24"
    rows.append({**row, "id": "kur-baru", "title": "KUR baru", "questions": "\n".join(
        f"pertanyaan baru nomor {i}" for i in range(8))})
    _write_rows(sheet, rows)
    paspor = (kb / "entries" / "paspor.yml").read_bytes()
    code, out = _run(kb, "import", str(sheet))
    assert code == 0, out
    assert "1 baru (kur-baru)" in out and "1 diubah (kur-agunan)" in out
    assert (kb / "entries" / "paspor.yml").read_bytes() == paspor
    text = (kb / "entries" / "kur.yml").read_text()
    assert "      - beta takut tanah keluarga hilang kalau pinjam kur\n" in text
    assert "    reviewed: 2026-11-24\n" in text and "id: kur-baru" in text
    assert _issues(kb) == _issues(kb)  # loads
    from teman.knowledge.loader import load_knowledge

    assert "kur-baru" in load_knowledge(kb).by_id()


def test_an_import_with_an_error_writes_nothing(kb: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "kb.csv"
    _run(kb, "export", str(sheet))
    rows = _rows(sheet)
    rows[0]["title"] = "Judul diubah"
    rows[1]["places"] = "Atlantis"
    _write_rows(sheet, rows)
    before = _snapshot(kb)
    code, out = _run(kb, "import", str(sheet))
    assert code == 1
    assert "tempat 'Atlantis' tidak ada di places.yml" in out
    assert "tidak ada yang ditulis" in out
    assert _snapshot(kb) == before


def test_a_sheet_without_its_columns_is_refused(kb: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "bad.csv"
    sheet.write_text("id,title\nx,y\n", encoding="utf-8")
    code, out = _run(kb, "import", str(sheet))
    assert code == 1 and "kolom berikut tidak ada di baris judul: file, topic" in out


# ------------------------------------------------------------------ build and ask


def _kb_process(kb: Path, index: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **_env(kb, index), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tools.kb", *args], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The fixture knowledge base built once (base encoder, no fine-tuning)."""
    folder = tmp_path_factory.mktemp("built")
    kb = folder / "knowledge"
    shutil.copytree(FIXTURE, kb)
    proc = _kb_process(kb, folder / "index", "build")
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out
    assert "Tidak ada bot yang berjalan" in out and "build penuh" in out
    return kb, folder / "index"


def _manifest(index: Path) -> dict[str, object]:
    return json.loads(((index / "current").resolve() / "manifest.json").read_text())


def test_one_edited_entry_encodes_only_its_new_phrasing(built: tuple[Path, Path]) -> None:
    kb, index = built
    first = _manifest(index)
    _edit(kb / "entries" / "paspor.yml", "      - uang untuk paspor berapa\n",
          "      - uang untuk paspor berapa\n      - paspor elektronik harganya brp skrg\n")
    proc = _kb_process(kb, index, "build")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    manifest = _manifest(index)
    assert manifest["kind"] == "incremental" and manifest["encoded"] == 1
    assert manifest["changes"] == {"added": [], "changed": ["paspor-biaya"], "removed": []}
    assert manifest["encoder_id"] == first["encoder_id"]
    assert "build sebagian" in out and "1 diubah (paspor-biaya)" in out
    proc = _kb_process(kb, index, "build")
    out, _ = proc.communicate(timeout=600)
    assert "Tidak ada perubahan" in out


def test_two_builds_at_once_leave_a_sound_index(built: tuple[Path, Path]) -> None:
    from teman.config import Settings
    from teman.retrieval.index import load_index

    kb, index = built
    _edit(kb / "entries" / "kur.yml", "      - harus gadai rumah buat kur?\n",
          "      - harus gadai rumah buat kur?\n      - sawah keluarga jadi jaminan kur?\n")
    procs = [_kb_process(kb, index, "build") for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum("Tidak ada perubahan" in o for o in outs) == 1  # the second waited, then saw it
    settings = Settings.load(knowledge_dir=str(kb), index_dir=str(index), finetune=False)
    loaded = load_index(settings)
    assert "sawah keluarga jadi jaminan kur" in loaded.docs.texts
    assert loaded.faiss_index.ntotal == len(loaded.docs.texts)


def test_ask_shows_the_decision_on_the_working_copy(built: tuple[Path, Path]) -> None:
    kb, index = built
    code, out = _run(kb, "ask", "kur pmi pakai jaminan ga", index=index)
    assert code == 0, out
    assert "Menjawab dengan entri kur-agunan" in out and "Kandidat teratas" in out
    assert "Risiko: tidak ada" in out
    # an unpublished new question is already seen by `kb ask`
    _edit(kb / "entries" / "kur.yml", "      - kur pmi itu apa\n",
          "      - kur pmi itu apa\n      - koperasi simpan pinjam migran apa bedanya\n")
    code, out = _run(kb, "ask", "koperasi simpan pinjam migran apa bedanya", index=index)
    assert code == 0 and "belum diterbitkan" in out and "entri kur-dasar" in out
    code, out = _run(kb, "ask", "paspor saya ditahan majikan", index=index)
    assert "SI-SAGA" in out and "Risiko: tidak ada" not in out
