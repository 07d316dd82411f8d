"""The `prod` fixture: production mode as `make run-prod` starts it (scripts/run_prod.sh),
on the machine's real PostgreSQL, Redis and RabbitMQ, with nginx and TLS in front.

Each session gets its own PostgreSQL database, Redis key prefix, RabbitMQ queues and
exchange, free ports and a self-signed certificate generated here, so runs of other
engineers on the same machine do not clash; all of it is removed at the end. A service
that is down fails the tests with a message naming it, unless SKIP_SERVICES=1 (never in
CI) skips them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.certs import make_certificate  # noqa: E402
from tests.support.channel_env import SENDER_ID_KEY, TWILIO, WHATSAPP  # noqa: E402
from tests.support.fake_hotline import FakeHotline  # noqa: E402
from tests.support.net import free_port, port_open  # noqa: E402
from tests.support.threaded_graph import ThreadedFakeGraph  # noqa: E402
from tests.support.whatsapp_payload import webhook_body  # noqa: E402

POSTGRES = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
API_TOKEN = "prod-" + uuid.uuid4().hex[:16]
REPLICAS = 2


def _service_problems() -> list[str]:
    """Which of the machine's services cannot be reached (named)."""
    import pika
    import redis
    import sqlalchemy as sa

    from teman.cases.config import normalize_database_url

    problems = []
    try:
        engine = sa.create_engine(normalize_database_url(POSTGRES),
                                  connect_args={"connect_timeout": 5})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        problems.append(f"PostgreSQL at 127.0.0.1:5432 ({type(exc).__name__})")
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=5).ping()
    except Exception as exc:
        problems.append(f"Redis at 127.0.0.1:6379 ({type(exc).__name__})")
    try:
        params = pika.URLParameters(RABBITMQ)
        params.socket_timeout = 5
        pika.BlockingConnection(params).close()
    except Exception as exc:
        problems.append(f"RabbitMQ at 127.0.0.1:5672 ({type(exc).__name__})")
    return problems


def _admin(sql: str) -> None:
    import sqlalchemy as sa

    from teman.cases.config import normalize_database_url

    engine = sa.create_engine(normalize_database_url(POSTGRES), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()


@dataclass
class Prod:
    base: str  # https://127.0.0.1:<nginx port>
    run_dir: Path
    rasa_ports: list[int]
    action_port: int
    database_url: str
    redis_prefix: str
    inbound_queue: str
    events_queue: str
    hotline: FakeHotline
    graph: ThreadedFakeGraph
    cert: Path
    proc: subprocess.Popen[bytes]
    api_token: str = API_TOKEN
    env: dict[str, str] = field(default_factory=dict)

    # -- HTTP ---------------------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def request(self, path: str, body: bytes | None = None, headers: dict[str, str] | None
                = None, method: str | None = None, timeout: float = 120) -> tuple[int, bytes]:
        """(status, body) of one HTTPS request through nginx; errors are statuses too."""
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {},
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout,
                                        context=self.ssl_context()) as r:
                return int(r.status), r.read()
        except urllib.error.HTTPError as err:
            return int(err.code), err.read()

    def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        status, body = self.request(
            "/webhooks/rest/webhook", json.dumps({"sender": sender, "message": text}).encode(),
            {"Content-Type": "application/json"})
        assert status == 200, (status, body[:300])
        return list(json.loads(body))

    def reply_text(self, sender: str, text: str) -> str:
        return "\n".join(str(m.get("text", "")) for m in self.say(sender, text))

    def tracker(self, sender: str, port: int | None = None) -> dict[str, Any]:
        port = port or self.rasa_ports[0]
        url = f"http://127.0.0.1:{port}/conversations/{sender}/tracker?token={API_TOKEN}"
        with urllib.request.urlopen(url, timeout=60) as r:
            return dict(json.loads(r.read()))

    # -- processes ----------------------------------------------------------------------
    def pid(self, name: str) -> int:
        return int((self.run_dir / "pids" / f"{name}.pid").read_text().strip())

    def wait_restarted(self, name: str, old_pid: int, health_url: str,
                       timeout: float = 600) -> None:
        """Until run_prod.sh started `name` again and it answers `health_url`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.pid(name) != old_pid:
                    with urllib.request.urlopen(health_url, timeout=5):
                        return
            except (OSError, ValueError):
                pass
            assert self.proc.poll() is None, "run_prod.sh exited"
            time.sleep(0.5)
        raise AssertionError(f"{name} was not started again")

    def replica_health(self, i: int) -> str:
        return f"http://127.0.0.1:{self.rasa_ports[i]}/status?token={API_TOKEN}"

    def service_health(self) -> str:
        return f"http://127.0.0.1:{self.action_port}/health"

    def logs(self) -> dict[str, str]:
        return {p.name: p.read_text(errors="replace") for p in self.run_dir.glob("*.log")}


def _cleanup_services(db: str, prefix: str, queues: list[str], exchange: str) -> None:
    import pika
    import redis

    with contextlib.suppress(Exception):
        _admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    try:
        r = redis.Redis.from_url(REDIS)
        for key in r.scan_iter(match=f"{prefix}:*", count=1000):
            r.delete(key)
    except Exception:
        pass
    try:
        conn = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
        channel = conn.channel()
        for queue in queues:
            channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        conn.close()
    except Exception:
        pass


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prod]:
    problems = _service_problems()
    if problems:
        if os.environ.get("SKIP_SERVICES") == "1":
            pytest.skip("SKIP_SERVICES=1 and not reachable: " + "; ".join(problems))
        pytest.fail("production-mode tests need these services (SKIP_SERVICES=1 skips): "
                    + "; ".join(problems), pytrace=False)
    run_dir = tmp_path_factory.mktemp("prod")
    tag = uuid.uuid4().hex[:10]
    db = f"teman_prod_{tag}"
    _admin(f'CREATE DATABASE "{db}"')
    database_url = POSTGRES.rsplit("/", 1)[0] + f"/{db}"
    prefix, inbound, events, exchange = f"t{tag}", f"t{tag}.inbound", f"t{tag}.events", \
        f"t{tag}-exchange"
    cert, key = make_certificate(run_dir)
    nginx_port, action_port = free_port(), free_port()
    rasa_base = free_port()
    while not all(not port_open(rasa_base + i) for i in range(REPLICAS)):
        rasa_base = free_port()
    hotline = FakeHotline(mode="ok").start()
    graph = ThreadedFakeGraph(access_token=WHATSAPP["WHATSAPP_ACCESS_TOKEN"]).start()
    env = dict(os.environ)
    for var in [k for k in env if k.startswith(("WHATSAPP_", "TWILIO_", "SENDER_", "PROD_"))]:
        env.pop(var)
    env.update(WHATSAPP)
    env.update(TWILIO)
    env.update(
        DATABASE_URL=database_url, REDIS_URL=REDIS, RABBITMQ_URL=RABBITMQ,
        TEMAN_REDIS_PREFIX=prefix, TEMAN_INBOUND_QUEUE=inbound, RABBITMQ_QUEUE=events,
        RABBITMQ_EXCHANGE=exchange, INBOUND_SHARDS="4",
        PROD_PORT=str(nginx_port), PROD_BIND="127.0.0.1", PROD_REPLICAS=str(REPLICAS),
        PROD_TLS_CERT=str(cert), PROD_TLS_KEY=str(key),
        # generous per-address limit: the tests all come from 127.0.0.1
        PROD_RATE=os.environ.get("TEST_PROD_RATE", "2000r/s"), PROD_BURST="4000",
        RASA_PORT=str(rasa_base), ACTION_PORT=str(action_port), TEMAN_RUN_DIR=str(run_dir),
        RASA_API_TOKEN=API_TOKEN, CASE_HASH_KEY="prod-test-key",
        HOTLINE_FORWARD_URL=hotline.url, FORWARD_POLL_INTERVAL="0.5",
        WHATSAPP_API_URL=graph.url, TWILIO_API_URL=graph.url,
        TWILIO_WEBHOOK_URL=f"https://127.0.0.1:{nginx_port}/webhooks/twilio_whatsapp/webhook",
        SENDER_ID_KEY=SENDER_ID_KEY,
    )
    env.pop("CASES_DATABASE_URL", None)
    env.pop("TEMAN_TRACKER_STORE_URL", None)
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "run_prod.sh")], cwd=ROOT, env=env,
        stdout=open(run_dir / "run_prod.out", "wb"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    queues = [f"{inbound}.{c}.{i}" for c in ("whatsapp", "twilio_whatsapp") for i in range(4)]
    try:
        while not (run_dir / "ready").exists():
            if proc.poll() is not None:
                raise RuntimeError(f"run_prod.sh exited with {proc.returncode}")
            time.sleep(1)
    except Exception:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        hotline.stop()
        graph.stop()
        _cleanup_services(db, prefix, queues + [events], exchange)
        out = (run_dir / "run_prod.out").read_text(errors="replace")[-4000:]
        pytest.fail(f"production mode did not start:\n{out}")
    prod = Prod(
        base=f"https://127.0.0.1:{nginx_port}", run_dir=run_dir,
        rasa_ports=[rasa_base + i for i in range(REPLICAS)], action_port=action_port,
        database_url=database_url, redis_prefix=prefix, inbound_queue=inbound,
        events_queue=events, hotline=hotline, graph=graph, cert=cert, proc=proc, env=env,
    )
    try:
        yield prod
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
        hotline.stop()
        graph.stop()
        _cleanup_services(db, prefix, queues + [events], exchange)
    leftovers = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True,
                               text=True).stdout.split()
    assert not leftovers, f"processes left behind after SIGTERM: {leftovers}"
    assert code in (0, 143), f"run_prod.sh exited with {code}"


# -- messaging helpers ------------------------------------------------------------------
def whatsapp_body(number: str, text: str, wamid: str | None = None) -> bytes:
    return webhook_body(number, "text", {"body": text}, wamid)


def whatsapp_signature(body: bytes) -> str:
    import hashlib
    import hmac

    digest = hmac.new(WHATSAPP["WHATSAPP_APP_SECRET"].encode(), body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def post_whatsapp(prod: Prod, body: bytes, signed: bool = True) -> int:
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["X-Hub-Signature-256"] = whatsapp_signature(body)
    status, _ = prod.request("/webhooks/whatsapp/webhook", body, headers)
    return status


def sent_to(prod: Prod, number: str) -> list[Any]:
    """Messages the fake Graph API accepted for this number."""
    return [r for r in prod.graph.delivered() if isinstance(r.json, dict)
            and r.json.get("to") == number]


def wait_sent(prod: Prod, number: str, count: int, timeout: float = 180) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sent_to(prod, number)
        if len(found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"only {len(sent_to(prod, number))} of {count} replies to the number")


def sender_id(number: str) -> str:
    """The tracker key the WhatsApp channel gives this number."""
    import hashlib
    import hmac

    key = hmac.new(SENDER_ID_KEY.encode(), b"teman-migrasi/sender-id/v1", hashlib.sha256).digest()
    digest = hmac.new(key, ("wa:" + number).encode(), hashlib.sha256).hexdigest()
    return "wa:" + digest[:32]


def user_texts(tracker: dict[str, Any]) -> list[str]:
    return [str(e.get("text")) for e in tracker.get("events", []) if e.get("event") == "user"]


def wait_turns(prod: Prod, sid: str, users: int, timeout: float = 180) -> dict[str, Any]:
    """Until the tracker holds `users` user messages and the bot finished answering the
    last one (its last event is action_listen); returns the tracker."""
    deadline = time.monotonic() + timeout
    tracker: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            tracker = prod.tracker(sid)
        except urllib.error.HTTPError:
            tracker = {}
        events = tracker.get("events") or []
        if len(user_texts(tracker)) >= users and events and \
                events[-1].get("event") == "action" and \
                events[-1].get("name") == "action_listen":
            return tracker
        time.sleep(0.3)
    raise AssertionError(f"conversation did not reach {users} answered messages: "
                         f"{user_texts(tracker)}")
