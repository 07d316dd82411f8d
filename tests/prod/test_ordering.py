"""Twenty messages sent at once to one conversation, spread over both replicas by nginx,
are processed one at a time in arrival order: Rasa's lock store (in Redis, with atomic
ticket updates) serialises them across processes."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid

import redis

from tests.prod.conftest import REDIS, Prod, user_texts

MESSAGES = 20


def tickets(r: redis.Redis, key: str) -> int:
    raw = r.get(key)
    return len(json.loads(raw)["tickets"]) if raw else 0


def test_twenty_messages_across_replicas_are_processed_in_arrival_order(prod: Prod) -> None:
    sender = f"order-{uuid.uuid4().hex[:8]}"
    r = redis.Redis.from_url(REDIS)
    lock_key = f"{prod.redis_prefix}:lock:{sender}"
    access_log = prod.run_dir / "nginx-access.log"
    log_start = access_log.stat().st_size
    statuses: list[int] = []
    threads: list[threading.Thread] = []

    def send(i: int) -> None:
        status, _ = prod.request(
            "/webhooks/rest/webhook",
            json.dumps({"sender": sender, "message": f"pesan nomor {i}"}).encode(),
            {"Content-Type": "application/json"}, timeout=300)
        statuses.append(status)

    # The decision service is paused, so the first message holds the conversation's lock
    # (Rasa waits for its understanding) and every later one queues behind it. Each message
    # is sent once the previous one holds its ticket in Redis: arrival order = i.
    service = prod.pid("service")
    os.kill(service, signal.SIGSTOP)
    try:
        for i in range(MESSAGES):
            thread = threading.Thread(target=send, args=(i,))
            thread.start()
            threads.append(thread)
            deadline = time.monotonic() + 60
            while tickets(r, lock_key) < i + 1:
                assert time.monotonic() < deadline, f"message {i} never took a ticket"
                time.sleep(0.02)
    finally:
        os.kill(service, signal.SIGCONT)
    for thread in threads:
        thread.join(timeout=300)
    assert statuses == [200] * MESSAGES

    events = prod.tracker(sender)["events"]
    assert user_texts({"events": events}) == [f"pesan nomor {i}" for i in range(MESSAGES)]
    # One at a time: every message's turn ends (action_listen) before the next begins.
    kinds = [e["event"] if e["event"] != "action" else e.get("name") for e in events
             if e["event"] in ("user", "action")]
    turns = "".join("U" if k == "user" else "L" if k == "action_listen" else ""
                    for k in kinds)
    assert turns.endswith("UL" * MESSAGES), turns
    # nginx spread them over both replicas.
    lines = access_log.read_text()[log_start:].splitlines()
    upstreams = {line.rsplit('"', 2)[-2] for line in lines if "/webhooks/rest/webhook" in line}
    assert len(upstreams) == 2, upstreams
