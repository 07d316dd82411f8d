"""Shared state of the Rasa replicas on the machine's real Redis: the lock store's tickets
and the channels' dedupe/window state. Fails naming Redis when it is down, unless
SKIP_SERVICES=1."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from bot.channels.dedupe import Deduplicator
from bot.channels.shared_state import RedisState
from bot.channels.whatsapp import ServiceWindow
from bot.lock_store import AtomicRedisLockStore

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def prefix() -> Iterator[str]:
    import redis

    try:
        client = redis.Redis.from_url(REDIS, socket_connect_timeout=3)
        client.ping()
    except Exception as exc:
        if os.environ.get("SKIP_SERVICES") == "1":
            pytest.skip("SKIP_SERVICES=1 and Redis unreachable")
        pytest.fail(f"Redis unreachable at 127.0.0.1:6379 ({type(exc).__name__}); start it "
                    "or set SKIP_SERVICES=1", pytrace=False)
    tag = "t" + uuid.uuid4().hex[:10]
    yield tag
    for key in client.scan_iter(match=f"{tag}:*"):
        client.delete(key)


def test_tickets_from_two_replicas_are_unique_and_released(prefix: str) -> None:
    stores = [AtomicRedisLockStore(host="127.0.0.1", port=6379, db=0, key_prefix=prefix)
              for _ in range(2)]
    issued: list[int] = []
    lock = threading.Lock()

    def issue(store: AtomicRedisLockStore) -> None:
        for _ in range(100):
            ticket = store.issue_ticket("conv")
            with lock:
                issued.append(ticket)

    threads = [threading.Thread(target=issue, args=(s,)) for s in stores for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(issued) == list(range(400))  # no ticket issued twice, none lost
    for ticket in sorted(issued):
        stores[ticket % 2].cleanup("conv", ticket)
    assert stores[0].get_lock("conv") is None


async def test_dedupe_and_window_are_shared_between_replicas(prefix: str) -> None:
    a, b = RedisState(REDIS, prefix), RedisState(REDIS, prefix)
    try:
        assert await Deduplicator(a).first_time("wamid.1")
        assert not await Deduplicator(b).first_time("wamid.1")
        await Deduplicator(b).forget("wamid.1")
        assert await Deduplicator(a).first_time("wamid.1")
        wa, wb = ServiceWindow(a), ServiceWindow(b)
        assert not await wb.is_open("wa:x")
        await wa.record_inbound("wa:x", time.time() - 60)
        await wb.record_inbound("wa:x", time.time() - 3600)  # older: keeps the newer one
        assert await wb.is_open("wa:x")
        await wa.record_inbound("wa:y", time.time() - 25 * 3600)
        assert not await wb.is_open("wa:y")
        assert await wa.claim_template("wa:y") and not await wb.claim_template("wa:y")
    finally:
        await a.close()
        await b.close()
