"""Pseudonymous sender ids and the encrypted, expiring sender map (bot/channels/identity.py)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.channels.identity import (
    HASH_HEX_CHARS,
    RESERVED_PREFIXES,
    TWILIO_PREFIX,
    WHATSAPP_PREFIX,
    SenderIdentity,
    SenderMap,
    is_reserved,
)
from tests.bot.channel_helpers import PHONE, SENDER_KEY, db_bytes

DAY = 86400.0


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM sender_map").fetchone()[0])


def test_reserved_prefixes() -> None:
    assert RESERVED_PREFIXES == ("wa:", "tw:")
    for sender in ("wa:abc", "tw:abc", "WA:abc", " tw:abc"):
        assert is_reserved(sender)
    for sender in ("demo-0123", "wa-abc", "user:wa:x", "6281234567890"):
        assert not is_reserved(sender)


def test_sender_ids_are_stable_namespaced_and_keyed(tmp_path: Path) -> None:
    sender_map = SenderMap(tmp_path / "m.db", SENDER_KEY)
    wa = SenderIdentity(WHATSAPP_PREFIX, SENDER_KEY, sender_map)
    tw = SenderIdentity(TWILIO_PREFIX, SENDER_KEY, sender_map)
    wa_id = wa.sender_id(PHONE)
    assert wa_id == wa.sender_id(PHONE)
    assert wa_id.startswith("wa:") and len(wa_id) == 3 + HASH_HEX_CHARS
    assert PHONE not in wa_id
    tw_id = tw.sender_id("whatsapp:+" + PHONE)
    assert tw_id.startswith("tw:") and tw_id[3:] != wa_id[3:]
    assert wa.sender_id("6281234567891") != wa_id
    other_key = SenderIdentity(WHATSAPP_PREFIX, "x" * 32, sender_map)
    assert other_key.sender_id(PHONE) != wa_id
    assert wa.owns(wa_id) and not wa.owns(tw_id) and not wa.owns(PHONE)
    assert not wa.owns("wa:short")
    assert not (tmp_path / "m.db").exists()  # nothing stored just by hashing


def test_identity_rejects_short_key_and_unknown_prefix(tmp_path: Path) -> None:
    sender_map = SenderMap(tmp_path / "m.db", SENDER_KEY)
    with pytest.raises(ValueError):
        SenderIdentity(WHATSAPP_PREFIX, "short", sender_map)
    with pytest.raises(ValueError):
        SenderIdentity("demo-", SENDER_KEY, sender_map)


def test_map_created_on_demand_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "deeper" / "sender_map.db"
    sender_map = SenderMap(path, SENDER_KEY)
    assert not path.parent.exists()
    assert sender_map.lookup("wa:" + "0" * 32) is None
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_map_encrypted_at_rest(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    sender_map = SenderMap(path, SENDER_KEY)
    numbers = [PHONE, "whatsapp:+6281234567890", "6285277554433"]
    for i, number in enumerate(numbers):
        sender_map.remember(f"wa:{i:032d}", number)
    assert [sender_map.lookup(f"wa:{i:032d}") for i in range(3)] == numbers
    raw = db_bytes(path)
    for number in numbers:
        assert number.encode() not in raw
        assert number[-7:].encode() not in raw


def test_map_entries_expire_and_are_purged_on_access(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    clock = Clock()
    sender_map = SenderMap(path, SENDER_KEY, ttl_seconds=30 * DAY, clock=clock)
    sender_map.remember("wa:a", "111")
    clock.now += 10 * DAY
    sender_map.remember("wa:b", "222")
    clock.now += 19 * DAY
    assert sender_map.lookup("wa:a") == "111"  # 29 days old
    clock.now += 2 * DAY
    # wa:a is 31 days old: gone, and the lookup of another id already purged it.
    assert sender_map.lookup("wa:b") == "222"
    assert rows(path) == 1
    assert sender_map.lookup("wa:a") is None
    clock.now += 30 * DAY
    assert len(sender_map) == 0 and rows(path) == 0


def test_remember_refreshes_expiry(tmp_path: Path) -> None:
    clock = Clock()
    sender_map = SenderMap(tmp_path / "m.db", SENDER_KEY, ttl_seconds=30 * DAY, clock=clock)
    sender_map.remember("wa:a", "111")
    clock.now += 25 * DAY
    sender_map.remember("wa:a", "111")  # the user wrote again
    clock.now += 25 * DAY
    assert sender_map.lookup("wa:a") == "111"


def test_purge_returns_removed_count(tmp_path: Path) -> None:
    clock = Clock()
    sender_map = SenderMap(tmp_path / "m.db", SENDER_KEY, ttl_seconds=DAY, clock=clock)
    for i in range(5):
        sender_map.remember(f"wa:{i}", str(i))
    clock.now += 2 * DAY
    assert sender_map.purge() == 5


def test_wrong_key_or_swapped_token_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    sender_map = SenderMap(path, SENDER_KEY)
    sender_map.remember("wa:victim", "111")
    sender_map.remember("wa:attacker", "999")
    # Someone with write access copies the attacker's token onto the victim's row.
    with sqlite3.connect(path) as conn:
        token = conn.execute("SELECT token FROM sender_map WHERE sender_id = 'wa:attacker'"
                             ).fetchone()[0]
        conn.execute("UPDATE sender_map SET token = ? WHERE sender_id = 'wa:victim'",
                     (token,))
    assert sender_map.lookup("wa:victim") is None
    assert sender_map.lookup("wa:attacker") == "999"
    # A map opened with another key (rotated SENDER_MAP_KEY) cannot read old rows.
    rotated = SenderMap(path, "a-completely-different-key-123")
    assert rotated.lookup("wa:attacker") is None
    assert rows(path) == 0  # unreadable rows are dropped


async def test_identity_remember_and_number_for(tmp_path: Path) -> None:
    identity = SenderIdentity(WHATSAPP_PREFIX, SENDER_KEY,
                              SenderMap(tmp_path / "m.db", SENDER_KEY))
    sid = identity.sender_id(PHONE)
    assert await identity.number_for(sid) is None
    await identity.remember(sid, PHONE)
    assert await identity.number_for(sid) == PHONE
    assert await identity.number_for(PHONE) is None  # not one of our ids: no lookup
    assert await identity.number_for("tw:" + sid[3:]) is None


async def test_identity_survives_unusable_map(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    identity = SenderIdentity(WHATSAPP_PREFIX, SENDER_KEY,
                              SenderMap(blocker / "m.db", SENDER_KEY))
    sid = identity.sender_id(PHONE)
    await identity.remember(sid, PHONE)  # logs, does not raise
    assert await identity.number_for(sid) is None
    assert "sender map" in caplog.text and PHONE not in caplog.text


def _writer(path: str, worker: int, count: int) -> None:
    sender_map = SenderMap(path, SENDER_KEY)
    for i in range(count):
        sender_map.remember(f"wa:{worker:02d}{i:030d}", f"62{worker:02d}{i:08d}")
        sender_map.lookup(f"wa:{(worker + 1) % 4:02d}{i:030d}")


def test_map_safe_for_concurrent_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    sender_map = SenderMap(path, SENDER_KEY)
    assert len(sender_map) == 160
    assert sender_map.lookup(f"wa:03{39:030d}") == f"6203{39:08d}"


def test_map_recreated_after_deletion(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    sender_map = SenderMap(path, SENDER_KEY)
    sender_map.remember("wa:a", "111")
    for leftover in tmp_path.glob("m.db*"):
        leftover.unlink()
    assert sender_map.lookup("wa:a") is None
    sender_map.remember("wa:a", "222")
    assert sender_map.lookup("wa:a") == "222" and path.exists()
    sender_map.close()
    assert SenderMap(path, SENDER_KEY).lookup("wa:a") == "222"
