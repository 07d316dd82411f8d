"""Analytics without identities: events -> counts (unit), and the consumer on a real RabbitMQ
queue writing to SQLite and PostgreSQL; nothing that identifies a person is stored."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pika
import pytest

from teman.analytics.consumer import BrokerSettings, Consumer, declare
from teman.analytics.events import Aggregator
from teman.analytics.store import AnalyticsStore

REPO_ROOT = Path(__file__).resolve().parents[2]
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
# 2025-03-03 01:30 UTC = 09:30 WITA
T0 = 1740965400.0
SENDER = "wa:5f0c0ffee5f0c0ffee5f0c0ffee5f0c0"
SECRET_TEXT = "paspor Maria Goreti ditahan di Tawau nomor 081234567890"


def ent(**values: object) -> list[dict]:
    return [{"entity": k, "value": v} for k, v in values.items()]


def user(text: str, intent: str, entities: list[dict], at: float = T0,
         channel: str = "whatsapp", sender: str = SENDER) -> dict:
    return {"event": "user", "sender_id": sender, "timestamp": at, "text": text,
            "input_channel": channel, "metadata": {},
            "parse_data": {"text": text, "intent": {"name": intent}, "entities": entities}}


def action(name: str, at: float = T0, sender: str = SENDER) -> dict:
    return {"event": "action", "sender_id": sender, "timestamp": at, "name": name}


CONVERSATION = [
    {"event": "session_started", "sender_id": SENDER, "timestamp": T0},
    user("kur pmi itu apa", "ask_question", ent(decision="answer", entry_id="kur-penempatan")),
    action("action_answer"),
    user("pinjaman", "ask_question", ent(decision="clarify", suggestion="kur-penempatan")),
    user("resep nasi goreng", "out_of_scope", []),
    user(SECRET_TEXT, "report_risk",
         ent(risk_category="held_documents", abroad=True, place="Tawau")),
    action("action_handoff_sisaga"),
    user("iya", "affirm", []),
    action("action_handoff_consent"),
    {"event": "slot", "sender_id": SENDER, "timestamp": T0, "name": "handoff_contact",
     "value": "081234567890"},
    action("action_submit_case"),
    user("halo", "greet", [], at=T0 + 86400, channel="rest", sender="demo-abc"),
]


def test_events_become_vocabulary_counts() -> None:
    agg = Aggregator()
    counts: dict[tuple, int] = {}
    for event in CONVERSATION:
        for inc in agg.increments(event):
            k = (inc.day, inc.hour, inc.channel, inc.metric, inc.key)
            counts[k] = counts.get(k, 0) + 1
    day = ("2025-03-03", 9, "whatsapp")
    assert counts[(*day, "message", "")] == 5
    assert counts[(*day, "decision", "answer")] == 1
    assert counts[(*day, "decision", "clarify")] == 1
    assert counts[(*day, "decision", "out_of_scope")] == 1
    assert counts[(*day, "topic", "kur-penempatan")] == 1
    assert counts[(*day, "risk_report", "held_documents")] == 1
    for metric in ("handoff_offered", "handoff_consent", "case_submitted"):
        assert counts[(*day, metric, "held_documents")] == 1
    assert counts[("2025-03-04", 9, "rest", "intent", "greet")] == 1
    assert counts[("2025-03-03", 9, "unknown", "session", "")] == 1
    dump = json.dumps(sorted(counts))
    for secret in (SENDER, "demo-abc", "Maria", "Tawau", "0812", "nasi"):
        assert secret not in dump
    # text smuggled into a vocabulary field is not copied
    odd = agg.increments(user("x", "ask question with spaces", []))
    assert {i.key for i in odd if i.metric == "intent"} == {"unknown"}


@pytest.fixture
def broker() -> Iterator[BrokerSettings]:
    """A private exchange and queue on the real RabbitMQ, deleted afterwards."""
    run = uuid.uuid4().hex[:10]
    settings = BrokerSettings(RABBITMQ_URL, f"test_events_{run}", f"test-exchange-{run}")
    try:
        connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    except pika.exceptions.AMQPConnectionError:
        pytest.fail("RabbitMQ unreachable at 127.0.0.1:5672 (guest/guest)", pytrace=False)
    channel = connection.channel()
    declare(channel, settings)
    try:
        yield settings
    finally:
        channel.queue_delete(settings.queue)
        channel.exchange_delete(settings.exchange)
        connection.close()


def publish(settings: BrokerSettings, events: list[dict]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(settings.url))
    channel = connection.channel()
    for event in events:
        channel.basic_publish(settings.exchange, "", json.dumps(event).encode())
    channel.basic_publish(settings.exchange, "", b"not json")
    connection.close()


def test_consumer_writes_aggregates_only(broker: BrokerSettings, cases_db_url: str) -> None:
    store = AnalyticsStore(cases_db_url)
    try:
        publish(broker, CONVERSATION)
        assert Consumer(broker, store).run(stop_when_idle=True) == len(CONVERSATION) + 1
        rows = {(r.day, r.hour, r.channel, r.metric, r.key): r.count for r in store.rows()}
        assert rows[("2025-03-03", 9, "whatsapp", "message", "")] == 5
        assert rows[("2025-03-03", 9, "whatsapp", "handoff_offered", "held_documents")] == 1
        assert rows[("2025-03-03", 9, "whatsapp", "topic", "kur-penempatan")] == 1
        # every message was acknowledged: nothing is left for a re-delivery
        connection = pika.BlockingConnection(pika.URLParameters(broker.url))
        left = connection.channel().queue_declare(broker.queue, durable=True, passive=True)
        connection.close()
        assert left.method.message_count == 0
        # a second pass adds to the same rows (upsert), not new ones
        publish(broker, CONVERSATION[:2])
        Consumer(broker, store).run(stop_when_idle=True)
        again = {(r.day, r.hour, r.channel, r.metric, r.key): r.count for r in store.rows()}
        assert again[("2025-03-03", 9, "whatsapp", "message", "")] == 6
        assert len(again) == len(rows)
        dump = json.dumps([list(r.__dict__.values()) for r in store.rows()])
        for secret in (SENDER, "demo-abc", "Maria", "Tawau", "081234567890"):
            assert secret not in dump
        if cases_db_url.startswith("sqlite:///"):
            raw = Path(cases_db_url.removeprefix("sqlite:///")).read_bytes()
            for secret in (SENDER, "Maria", "081234567890"):
                assert secret.encode() not in raw
    finally:
        store.dispose()


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_report_page_has_the_charts_and_figures(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'analytics.sqlite3'}"
    store = AnalyticsStore(url)
    agg = Aggregator()
    try:
        for day in range(10):
            for event in CONVERSATION[:-1]:
                store.add(agg.increments({**event, "timestamp": T0 + day * 86400}))
    finally:
        store.dispose()
    out = tmp_path / "report" / "index.html"
    env = {**os.environ, "ANALYTICS_DATABASE_URL": url}
    result = subprocess.run([sys.executable, "-m", "tools.analytics_report", "--out", str(out),
                             "--days", "0"], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    page = _Page()
    page.feed(out.read_text(encoding="utf-8"))
    assert len(page.images) == 5
    for src in page.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix):])[:8] == b"\x89PNG\r\n\x1a\n"
    text = " ".join(" ".join(page.text).split())
    assert "Periode 2025-03-03 s.d. 2025-03-12" in text
    assert "50 Pesan" in text and "10 Rujukan SI-SAGA ditawarkan" in text
    assert "67% Belum terjawab" in text  # per day: 1 answered, 1 clarify, 1 out of scope
    assert "whatsapp 50" in text
    for secret in (SENDER, "Maria", "081234567890"):
        assert secret not in out.read_text(encoding="utf-8")

    empty = subprocess.run([sys.executable, "-m", "tools.analytics_report", "--out",
                            str(tmp_path / "empty.html")], cwd=REPO_ROOT,
                           env={**env, "ANALYTICS_DATABASE_URL":
                                f"sqlite:///{tmp_path / 'none.sqlite3'}"},
                           capture_output=True, text=True, timeout=300)
    assert empty.returncode == 0 and "Belum ada data" in (tmp_path / "empty.html").read_text()
