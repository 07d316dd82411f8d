"""kill -9 in the middle of conversations: a replica, the decision service, the
forwarder. The conversation continues from PostgreSQL with nothing lost, a case stored just
before the kill reaches the hotline exactly once, and a WhatsApp message acknowledged to
Meta but not yet answered is answered after the restart (durable inbound queue)."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid

import redis
import sqlalchemy as sa

from teman.cases.config import normalize_database_url
from tests.prod.conftest import (
    REDIS,
    Prod,
    post_whatsapp,
    sender_id,
    user_texts,
    wait_sent,
    wait_turns,
    whatsapp_body,
)

REFERENCE = re.compile(r"SG-[A-Z0-9]+")


def kill(prod: Prod, *names: str) -> dict[str, int]:
    pids = {name: prod.pid(name) for name in names}
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    return pids


def test_conversation_survives_kill_9_and_its_case_is_delivered_once(prod: Prod) -> None:
    s = f"k-{uuid.uuid4().hex[:8]}"
    prod.say(s, "beta di penampungan di batam, sonde boleh keluar, hp diambil")
    assert "siapa" in prod.reply_text(s, "iya kak, tolong sampaikan ke petugas").lower()

    # Mid-form: a replica and the decision service die.
    old = kill(prod, "rasa0", "service")
    prod.wait_restarted("service", old["service"], prod.service_health())
    prod.wait_restarted("rasa0", old["rasa0"], prod.replica_health(0))

    assert "di mana" in prod.reply_text(s, "saya sendiri").lower()
    assert prod.reply_text(s, "Batam")
    done = prod.reply_text(s, "WA 081234567890 malam saja")
    found = REFERENCE.search(done)
    assert found, done
    reference = found.group(0)
    # cases_per_hour counts in Redis (shared by every process), keyed by a hash, not the id.
    limits = list(redis.Redis.from_url(REDIS).scan_iter(
        match=f"{prod.redis_prefix}:limit:cases:*"))
    assert limits and all(s.encode() not in key for key in limits)
    # The case is stored; everything that could deliver it dies at once.
    old = kill(prod, "forwarder", "service", "rasa1")
    prod.wait_restarted("forwarder", old["forwarder"], prod.service_health())
    prod.wait_restarted("service", old["service"], prod.service_health())
    prod.wait_restarted("rasa1", old["rasa1"], prod.replica_health(1))

    assert user_texts(prod.tracker(s)) == [
        "beta di penampungan di batam, sonde boleh keluar, hp diambil",
        "iya kak, tolong sampaikan ke petugas", "saya sendiri", "Batam",
        "WA 081234567890 malam saja"]
    assert prod.hotline.wait_for(
        lambda: any(p["reference"] == reference for p in prod.hotline.processed.values()),
        timeout=180)
    keys = [k for k, p in prod.hotline.processed.items() if p["reference"] == reference]
    assert len(keys) == 1 and prod.hotline.process_counts[keys[0]] == 1
    engine = sa.create_engine(normalize_database_url(prod.database_url))
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            status = conn.execute(sa.text("SELECT status FROM cases WHERE reference = :r"),
                                  {"r": reference}).scalar()
        if status == "forwarded":
            break
        time.sleep(0.5)
    engine.dispose()
    assert status == "forwarded"


def test_acknowledged_whatsapp_message_is_answered_after_the_replicas_die(prod: Prod) -> None:
    number = "62817" + str(uuid.uuid4().int)[:8]
    service = prod.pid("service")
    # The decision service is paused: a replica takes the message from the queue but
    # cannot answer it yet.
    os.kill(service, signal.SIGSTOP)
    try:
        assert post_whatsapp(prod, whatsapp_body(number, "syarat jadi pmi apa aja")) == 200
        old = kill(prod, "rasa0", "rasa1")
    finally:
        os.kill(service, signal.SIGKILL)  # (a stopped process dies of SIGKILL too)
    prod.wait_restarted("service", service, prod.service_health())
    prod.wait_restarted("rasa0", old["rasa0"], prod.replica_health(0))
    prod.wait_restarted("rasa1", old["rasa1"], prod.replica_health(1))
    sent = wait_sent(prod, number, 1)
    assert sent[0].json["type"] in ("text", "interactive")
    tracker = wait_turns(prod, sender_id(number), 1)
    assert user_texts(tracker) == ["syarat jadi pmi apa aja"]
