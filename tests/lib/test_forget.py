"""Forget me: one person's conversations, cases, outbox rows and number map are deleted on
request (by phone number, case reference or sender id) on SQLite and PostgreSQL; what SI-SAGA
already received is reported as not recallable. Retention works on a plain postgresql:// URL."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.channels.pseudonym import ID_CONTEXT, derive, sender_id_for
from teman.cases.store import CaseNotFoundError, CaseStore
from teman.privacy.forget import ForgetError, forget, normalize_phone, sender_ids_for_request
from teman.privacy.trackers import REDACTED, expire
from tests.support.tracker_db import bot, insert, rows, user

REPO_ROOT = Path(__file__).resolve().parents[2]
SENDER_KEY = "forget-test-sender-key-0123456789"
HASH_KEY = "forget-test-hash-key"
NUMBER = "6281234567890"


def wa_id(number: str = NUMBER) -> str:
    return sender_id_for("wa:", derive(SENDER_KEY, ID_CONTEXT), number)


def tw_id(number: str = NUMBER) -> str:
    return sender_id_for("tw:", derive(SENDER_KEY, ID_CONTEXT), f"whatsapp:+{number}")


def _sender_map(path: Path, *ids: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE sender_map (sender_id TEXT PRIMARY KEY, token BLOB NOT NULL,"
                     " expires_at REAL NOT NULL)")
        conn.executemany("INSERT INTO sender_map VALUES (?, x'00', 0)", [(i,) for i in ids])


def _map_ids(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT sender_id FROM sender_map")}


@pytest.fixture
def world(tracker_url: str, tmp_path: Path):
    """Two people: the requester (WhatsApp, two cases, one already delivered) and another."""
    now = time.time()
    me, other = wa_id(), wa_id("6285200000000")
    insert(tracker_url, user(me, "paspor saya ditahan majikan", now), bot(me, now),
           user(me, "tolong teruskan", now), user(other, "gaji tidak dibayar", now))
    store = CaseStore(tracker_url, hash_key=HASH_KEY, targets=("webhook", "email:s@x.id"))
    mine = store.record_case(channel="whatsapp", sender_id=me, category="held_documents",
                             excerpt="paspor saya ditahan majikan", consent=True,
                             contact="0812 3456 7890")
    second = store.record_case(channel="whatsapp", sender_id=me, category="unpaid_wages",
                               excerpt="gaji", consent=True)
    theirs = store.record_case(channel="whatsapp", sender_id=other, category="unpaid_wages",
                               excerpt="gaji tidak dibayar", consent=True)
    # SI-SAGA's webhook already acknowledged the first case.
    [first_webhook] = [c for c in store.claim_due(limit=10, lease_seconds=30)
                       if c.reference == mine and c.target == "webhook"]
    store.mark_delivered(first_webhook.outbox_id)
    sender_map = tmp_path / "sender_map.db"
    _sender_map(sender_map, me, other)
    yield {"store": store, "url": tracker_url, "me": me, "other": other, "mine": mine,
           "second": second, "theirs": theirs, "map": sender_map}
    store.dispose()


def test_phone_numbers_as_staff_type_them() -> None:
    for raw in ("0812-3456-7890", "+62 812 3456 7890", "812 3456 7890", "6281234567890"):
        assert normalize_phone(raw) == NUMBER
    assert normalize_phone("+60 12-345 6789") == "60123456789"
    with pytest.raises(ForgetError):
        normalize_phone("12")
    ids = sender_ids_for_request({"SENDER_ID_KEY": SENDER_KEY}, phone="0812-3456-7890",
                                 sender_id=None)
    assert ids == [wa_id(), tw_id()]
    with pytest.raises(ForgetError, match="SENDER_ID_KEY"):
        sender_ids_for_request({}, phone="0812-3456-7890", sender_id=None)


def test_forget_by_phone_number(world: dict) -> None:
    store: CaseStore = world["store"]
    ids = sender_ids_for_request({"SENDER_ID_KEY": SENDER_KEY}, phone="0812 3456 7890",
                                 sender_id=None)
    preview = forget(store, world["url"], sender_ids=ids, sender_map_path=world["map"],
                     dry_run=True)
    assert {c.reference for c in preview.cases} == {world["mine"], world["second"]}
    assert len(rows(world["url"])) == 4 and len(store.list_cases()) == 3  # nothing gone yet

    report = forget(store, world["url"], sender_ids=ids, sender_map_path=world["map"])
    assert report.conversations == {world["me"]: 3}
    assert report.number_map_rows == 1
    assert {c.reference for c in report.cases} == {world["mine"], world["second"]}
    assert [(ref, target) for ref, target, _ in report.not_recallable] == [
        (world["mine"], "webhook")]
    first = next(c for c in report.cases if c.reference == world["mine"])
    assert first.cancelled == ("email:s@x.id",)
    # Only the other person is left, everywhere.
    assert {s for s, _ in rows(world["url"])} == {world["other"]}
    assert [c.reference for c in store.list_cases()] == [world["theirs"]]
    assert _map_ids(world["map"]) == {world["other"]}
    with store.engine.connect() as conn:
        outbox = conn.execute(sa.text("SELECT COUNT(*) FROM case_outbox")).scalar()
    assert outbox == 2  # the other person's two deliveries
    assert store.pending_count() == 2
    # Asking again finds nothing.
    again = forget(store, world["url"], sender_ids=ids, sender_map_path=world["map"])
    assert not again.found_anything


def test_forget_by_case_reference_finds_the_conversation(world: dict) -> None:
    store: CaseStore = world["store"]
    report = forget(store, world["url"], reference=world["second"].lower(),
                    sender_map_path=world["map"])
    # the reference leads to the person: both their cases and their conversation
    assert {c.reference for c in report.cases} == {world["mine"], world["second"]}
    assert report.conversations == {world["me"]: 3} and report.number_map_rows == 1
    assert {s for s, _ in rows(world["url"])} == {world["other"]}
    with pytest.raises(CaseNotFoundError):
        forget(store, world["url"], reference="SG-ZZZZZ", sender_map_path=world["map"])


def test_forget_cli_in_indonesian(world: dict) -> None:
    env = {**os.environ, "CASES_DATABASE_URL": world["url"], "CASE_HASH_KEY": HASH_KEY,
           "SENDER_ID_KEY": SENDER_KEY, "TEMAN_TRACKER_STORE_URL": world["url"],
           "SENDER_MAP_PATH": str(world["map"]), "COLUMNS": "160"}

    def cli(*args: str, answer: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tools.forget", *args], cwd=REPO_ROOT,
                              env=env, capture_output=True, text=True, timeout=120,
                              input=answer)

    dry = cli("--phone", "0812-3456-7890", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "UJI COBA" in dry.stdout and world["mine"] in dry.stdout
    assert len(rows(world["url"])) == 4
    refused = cli("--phone", "0812-3456-7890", answer="n\n")
    assert refused.returncode == 1 and "Dibatalkan" in refused.stdout
    assert len(rows(world["url"])) == 4
    done = cli("--phone", "0812-3456-7890", "--yes")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Data sudah dihapus" in out and "Percakapan dihapus: 1 (3 baris)" in out
    assert "TIDAK BISA DITARIK KEMBALI" in out and f"{world['mine']} → webhook" in out
    assert world["me"] not in out and NUMBER not in out
    assert {s for s, _ in rows(world["url"])} == {world["other"]}
    missing = cli("--ref", "SG-ZZZZZ", "--yes")
    assert missing.returncode == 1 and "Laporan tidak ditemukan" in missing.stderr
    assert cli().returncode == 2


def test_retention_on_a_plain_postgresql_url(tracker_url: str) -> None:
    """Rasa's own spelling of the URL (postgresql://, no driver) works for retention too."""
    url = tracker_url.replace("postgresql+psycopg://", "postgresql://")
    now = time.time()
    old = now - 40 * 86400
    insert(tracker_url, user("idle", "cerita lama", old), user("live", "pesan lama", old),
           user("live", "pesan baru", now))
    assert expire(url, retention_days=30, now=now) == {
        "deleted_conversations": 1, "blanked_messages": 1}
    assert [d["text"] for _, d in rows(tracker_url)] == [REDACTED, "pesan baru"]
