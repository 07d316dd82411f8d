"""Production mode's shape: nginx with TLS exposes only the webhooks and the demo page,
Rasa's API only on loopback with its token; trackers in PostgreSQL, events on RabbitMQ,
channel state in Redis; per-address rate limits and body limits."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest
import sqlalchemy as sa

from teman.cases.config import normalize_database_url
from tests.prod.conftest import (
    RABBITMQ,
    REDIS,
    Prod,
    free_port,
    post_whatsapp,
    sender_id,
    sent_to,
    user_texts,
    wait_sent,
    whatsapp_body,
)


def test_chat_through_nginx_over_tls(prod: Prod) -> None:
    reply = prod.reply_text(f"p-{uuid.uuid4().hex[:8]}", "syarat jadi pmi apa aja")
    assert reply.strip()
    status, body = prod.request("/demo/")
    assert status == 200 and b"<html" in body.lower()


@pytest.mark.parametrize("path", [
    "/", "/status", "/version", "/conversations/x/tracker", "/model/parse", "/webhooks/rest/",
    "/webhooks/whatsapp/", "/domain", "/webhook", "/health", "/actions",
])
def test_nothing_else_is_exposed(prod: Prod, path: str) -> None:
    status, _ = prod.request(f"{path}?token={prod.api_token}")
    assert status == 404


def test_http_api_needs_its_token_and_only_listens_on_loopback(prod: Prod) -> None:
    port = prod.rasa_ports[0]
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/conversations/x/tracker", timeout=30)
    assert err.value.code == 401
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    for p in [*prod.rasa_ports, prod.action_port]:
        addresses = [line.split()[3] for line in listening.splitlines()
                     if line.split()[3].endswith(f":{p}")]
        assert addresses and all(a.startswith("127.0.0.1:") for a in addresses), addresses


def test_trackers_live_in_postgresql_and_every_replica_sees_them(prod: Prod) -> None:
    sender = f"p-{uuid.uuid4().hex[:8]}"
    prod.say(sender, "halo kak")
    prod.say(sender, "kur penempatan pake jaminan ga")
    engine = sa.create_engine(normalize_database_url(prod.database_url))
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM events WHERE sender_id = :s "
                                    "AND type_name = 'user'"), {"s": sender}).scalar()
    engine.dispose()
    assert rows == 2
    for port in prod.rasa_ports:
        assert user_texts(prod.tracker(sender, port)) == ["halo kak",
                                                          "kur penempatan pake jaminan ga"]


def test_events_reach_rabbitmq_and_become_counts(prod: Prod) -> None:
    """Rasa publishes tracker events to RabbitMQ; the analytics consumer (started by
    run_prod.sh) reads them from the queue and writes counts to the database."""
    import pika

    from teman.cases.config import normalize_database_url

    engine = sa.create_engine(normalize_database_url(prod.database_url))

    def messages_counted() -> int:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("analytics_counts"):
                return 0
            return int(conn.execute(sa.text(
                "SELECT COALESCE(SUM(count), 0) FROM analytics_counts "
                "WHERE channel = 'rest' AND metric = 'message'")).scalar_one())

    before = messages_counted()
    prod.say(f"p-{uuid.uuid4().hex[:8]}", "halo")
    conn = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    try:
        queue = conn.channel().queue_declare(prod.events_queue, passive=True)
    finally:
        conn.close()
    assert queue.method.consumer_count >= 1  # the analytics consumer
    deadline = time.monotonic() + 120
    while messages_counted() <= before and time.monotonic() < deadline:
        time.sleep(0.5)  # polling the consumer's writes, bounded by the deadline
    engine.dispose()
    assert messages_counted() > before


def test_redelivery_to_either_replica_is_answered_once(prod: Prod) -> None:
    import redis

    number = "62813" + str(uuid.uuid4().int)[:8]
    wamid = f"wamid.{uuid.uuid4().hex}"
    body = whatsapp_body(number, "halo kak", wamid)
    # Meta re-delivers: four times through nginx, which alternates the two replicas.
    assert [post_whatsapp(prod, body) for _ in range(4)] == [200] * 4
    # A second message of the same user is answered after the first (one queue shard,
    # one at a time): once its reply is there, a duplicate answer would be too.
    post_whatsapp(prod, whatsapp_body(number, "makasih kak"))
    tracker_key = sender_id(number)
    deadline = time.monotonic() + 180
    while len(user_texts(prod.tracker(tracker_key))) < 2 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert user_texts(prod.tracker(tracker_key)) == ["halo kak", "makasih kak"]
    assert redis.Redis.from_url(REDIS).exists(f"{prod.redis_prefix}:chan:wa:seen:{wamid}")


def test_24_hour_window_is_shared_by_the_replicas(prod: Prod) -> None:
    number = "62814" + str(uuid.uuid4().int)[:8]
    assert post_whatsapp(prod, whatsapp_body(number, "halo")) == 200
    answered = len(wait_sent(prod, number, 1))
    sid = sender_id(number)
    # A proactive message through each replica's API: the window opened by the message
    # (handled by whichever replica) is open for both, so free text goes out, no template.
    for i, port in enumerate(prod.rasa_ports):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/conversations/{sid}/trigger_intent"
            f"?output_channel=whatsapp&token={prod.api_token}",
            data=json.dumps({"name": "greet"}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as r:
            assert r.status == 200
        sent = wait_sent(prod, number, answered + i + 1)
        assert sent[-1].json["type"] != "template", sent[-1].json


def _limited_nginx(prod: Prod, tmp_path, rate: str, burst: int) -> tuple[subprocess.Popen, int]:
    """A second nginx from the same template, in front of the same replicas, with a low
    per-address limit."""
    port = free_port()
    conf = tmp_path / "nginx.conf"
    upstreams = [a for p in prod.rasa_ports for a in ("--upstream", f"127.0.0.1:{p}")]
    subprocess.run(
        [prod.env.get("ACTIONS_PY", "python"), "-m", "tools.write_nginx", str(conf),
         "--run-dir", str(tmp_path), "--port", str(port), "--bind", "127.0.0.1",
         "--cert", prod.env["PROD_TLS_CERT"], "--key", prod.env["PROD_TLS_KEY"],
         "--rate", rate, "--burst", str(burst), *upstreams],
        check=True, cwd=prod.run_dir.parent)
    proc = subprocess.Popen(["nginx", "-p", f"{tmp_path}/", "-c", str(conf), "-g",
                             "daemon off;"])
    return proc, port


@pytest.fixture
def limited(prod: Prod, tmp_path):
    import sys

    prod.env["ACTIONS_PY"] = sys.executable
    proc, port = _limited_nginx(prod, tmp_path, "1r/m", 3)
    base = prod.base
    deadline = time.monotonic() + 30
    prod.base = f"https://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            prod.request("/nothing")
            break
        except OSError:
            time.sleep(0.2)
    try:
        yield prod
    finally:
        prod.base = base
        proc.terminate()
        proc.wait(timeout=30)


def test_rest_is_rate_limited_per_address_with_a_friendly_answer(limited: Prod) -> None:
    body = json.dumps({"sender": f"p-{uuid.uuid4().hex[:8]}", "message": "halo"}).encode()
    statuses = []
    for _ in range(8):
        status, answer = limited.request("/webhooks/rest/webhook", body,
                                         {"Content-Type": "application/json"})
        statuses.append(status)
    assert statuses[:4] == [200] * 4  # the burst
    assert 429 in statuses[4:]
    assert "SI-SAGA" in json.loads(answer)["error"]
    # The WhatsApp webhook (Meta's few addresses) is not limited per address.
    number = "62815" + str(uuid.uuid4().int)[:8]
    assert [post_whatsapp(limited, whatsapp_body(number, "halo")) for _ in range(6)] == \
        [200] * 6


def test_phone_photos_pass_and_oversized_bodies_get_a_friendly_413(prod: Prod) -> None:
    number = "62816" + str(uuid.uuid4().int)[:8]
    photo = whatsapp_body(number, "x" * (6 * 1024 * 1024))  # a 6 MB body, signed
    assert post_whatsapp(prod, photo) == 200
    status, answer = prod.request("/webhooks/whatsapp/webhook", b"{" + b" " * (11 << 20) + b"}",
                                  {"Content-Type": "application/json"})
    assert status == 413 and "10 MB" in json.loads(answer)["error"]
    status, _ = prod.request("/webhooks/rest/webhook", b"[" * (11 << 20),
                             {"Content-Type": "application/json"})
    assert status == 413
    assert sent_to(prod, "nobody") == []
