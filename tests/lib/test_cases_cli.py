"""Staff CLI tests: run ``python -m tools.cases_cli`` as a subprocess on both backends."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from teman.cases.store import CaseStore
from tools.cases_cli import EXPORT_COLUMNS

REPO_ROOT = Path(__file__).resolve().parents[2]


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CASES_DATABASE_URL": db_url, "CASE_HASH_KEY": "cli-test-key"}
    return subprocess.run(
        [sys.executable, "-m", "tools.cases_cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def seeded(cases_db_url: str) -> dict[str, str]:
    """Three consented cases and one anonymous record."""
    store = CaseStore(cases_db_url, hash_key="cli-test-key")
    try:
        common = {"channel": "rest", "sender_id": "u-1", "consent": True}
        return {
            "held": store.record_case(
                **common,
                category="held_documents",
                excerpt="paspor saya ditahan",
                victim="saya sendiri",
                location="Malaysia",
                contact="0812-1111-2222",
            ),
            "traffic": store.record_case(
                **common,
                category="trafficking",
                excerpt='=HYPERLINK("http://evil")',
                victim=None,
                location="Kupang",
                contact=None,
            ),
            "wage": store.record_case(
                **common, category="unpaid_wages", excerpt="gaji tidak dibayar"
            ),
            "anon": store.record_case(
                channel="rest",
                sender_id="u-2",
                category="trafficking",
                excerpt="rahasia",
                consent=False,
            ),
        }
    finally:
        store.dispose()


def test_list(cases_db_url: str, seeded: dict[str, str]) -> None:
    result = _cli(cases_db_url, "list")
    assert result.returncode == 0, result.stderr
    assert "REFERENCE" in result.stdout and "STATUS" in result.stdout
    for key in ("held", "traffic", "wage"):
        assert seeded[key] in result.stdout
    assert seeded["anon"] not in result.stdout  # default: open cases only
    assert "3 kasus / case(s)" in result.stdout

    result = _cli(cases_db_url, "list", "--status", "all", "--limit", "10")
    assert result.returncode == 0 and seeded["anon"] in result.stdout
    result = _cli(cases_db_url, "list", "--status", "all", "--limit", "1")
    assert "1 kasus / case(s)" in result.stdout
    result = _cli(cases_db_url, "list", "--status", "forwarded")
    assert result.returncode == 0 and "no cases" in result.stdout
    assert _cli(cases_db_url, "list", "--status", "bogus").returncode == 2


def test_show_and_unknown_reference(cases_db_url: str, seeded: dict[str, str]) -> None:
    result = _cli(cases_db_url, "show", seeded["held"].lower())
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in (
        seeded["held"],
        "held_documents",
        "paspor saya ditahan",
        "saya sendiri",
        "Malaysia",
        "0812-1111-2222",
        "open",
    ):
        assert expected in out
    assert "delivery        pending" in out
    assert "attempts        0" in out

    result = _cli(cases_db_url, "show", "SG-ZZZZZ")
    assert result.returncode == 1
    assert "tidak ditemukan" in result.stderr and "not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_csv(cases_db_url: str, seeded: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "exports" / "cases.csv"
    result = _cli(cases_db_url, "export", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "4 kasus" in result.stdout
    with out.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == EXPORT_COLUMNS
        rows = {row["reference"]: row for row in reader}
    assert set(rows) == set(seeded.values())
    held = rows[seeded["held"]]
    assert (held["status"], held["category"], held["contact"], held["excerpt"]) == (
        "open",
        "held_documents",
        "0812-1111-2222",
        "paspor saya ditahan",
    )
    assert held["consent"] == "True" and held["delivery_status"] == "pending"
    assert held["created_at"].endswith("Z")
    # Spreadsheet formula injection is neutralized.
    assert rows[seeded["traffic"]]["excerpt"] == '\'=HYPERLINK("http://evil")'
    anon = rows[seeded["anon"]]
    assert (anon["status"], anon["excerpt"], anon["contact"], anon["sender_hash"]) == (
        "anonymous",
        "",
        "",
        "",
    )

    only_open = tmp_path / "open.csv"
    assert _cli(cases_db_url, "export", "--out", str(only_open), "--status", "open").returncode == 0
    with only_open.open(encoding="utf-8-sig", newline="") as fh:
        assert {r["reference"] for r in csv.DictReader(fh)} == {
            seeded["held"],
            seeded["traffic"],
            seeded["wage"],
        }


def test_close_and_stats(cases_db_url: str, seeded: dict[str, str]) -> None:
    result = _cli(cases_db_url, "close", seeded["held"], "--note", "sudah dihubungi SI-SAGA")
    assert result.returncode == 0, result.stderr
    assert f"{seeded['held']} ditutup / closed" in result.stdout

    show = _cli(cases_db_url, "show", seeded["held"]).stdout
    assert "status          closed" in show and "sudah dihubungi SI-SAGA" in show
    listed = _cli(cases_db_url, "list", "--status", "closed").stdout
    assert seeded["held"] in listed and seeded["wage"] not in listed

    assert _cli(cases_db_url, "close", seeded["anon"]).returncode == 1
    missing = _cli(cases_db_url, "close", "SG-ZZZZZ")
    assert missing.returncode == 1 and "not found" in missing.stderr

    result = _cli(cases_db_url, "stats")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:]}
    # Columns: open forwarded closed anonymous total
    assert lines["held_documents"] == ["0", "0", "1", "0", "1"]
    assert lines["trafficking"] == ["1", "0", "0", "1", "2"]
    assert lines["unpaid_wages"] == ["1", "0", "0", "0", "1"]
    assert lines["total"] == ["2", "0", "1", "1", "4"]


def test_retry_requeues(cases_db_url: str, seeded: dict[str, str]) -> None:
    result = _cli(cases_db_url, "retry", seeded["wage"])
    assert result.returncode == 0 and "pending" in result.stdout


def test_dead_letters_and_health(cases_db_url: str) -> None:
    from teman.cases import alerts
    from teman.cases.models import utcnow

    store = CaseStore(cases_db_url, hash_key="cli-test-key",
                      targets=("webhook", "email:petugas@sisaga.example.id"))
    try:
        ref = store.record_case(channel="rest", sender_id="u-9", consent=True,
                                category="unpaid_wages", excerpt="gaji tidak dibayar")
        healthy = _cli(cases_db_url, "health")
        assert "belum pernah berjalan" in healthy.stdout and "Menunggu kirim  : 2" in healthy.stdout
        assert healthy.returncode == 1  # a queued case and no forwarder: staff must act
        store.beat()
        assert _cli(cases_db_url, "health").returncode == 0
        assert _cli(cases_db_url, "dead").stdout.startswith("Tidak ada pengiriman")

        [_, mail] = store.claim_due(limit=10, lease_seconds=30)
        assert mail.target == "email:petugas@sisaga.example.id"
        store.mark_failed(mail.outbox_id, error="SMTP recipient refused",
                          next_attempt_at=utcnow(), dead=True)
        alerts.raise_dead_letter(store, ref, mail.target, 1, "SMTP recipient refused")
    finally:
        store.dispose()
    listed = _cli(cases_db_url, "list").stdout
    assert "webhook:pending email:dead" in listed and "PERHATIAN: 1 pengiriman" in listed
    dead = _cli(cases_db_url, "dead")
    assert dead.returncode == 0 and ref in dead.stdout
    assert "email:petugas@sisaga.example.id" in dead.stdout
    assert "SMTP recipient refused" in dead.stdout
    health = _cli(cases_db_url, "health")
    assert health.returncode == 1
    assert "Gagal total     : 1" in health.stdout and "dead_letter" in health.stdout
    show = _cli(cases_db_url, "show", ref).stdout
    assert "delivery        dead" in show and "email:petugas@sisaga.example.id" in show
    # Staff passed it on by phone and closed it: no longer a dead letter to act on.
    assert _cli(cases_db_url, "close", ref, "--note", "disampaikan lewat telepon").returncode == 0
    assert _cli(cases_db_url, "dead").stdout.startswith("Tidak ada pengiriman")
