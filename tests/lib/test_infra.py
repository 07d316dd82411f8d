"""teman.infra: URL splitting for Rasa's stores and log redaction."""

from __future__ import annotations

import json
import logging

import pytest

from teman.infra import urls
from teman.infra.logs import redact, redact_record
from tools.write_endpoints import endpoints


def test_database_url_becomes_rasas_sql_tracker_store_keys() -> None:
    store = urls.sql_tracker_store("postgresql+psycopg://bot:p%40ss%2Fw@db.internal:6543/teman")
    assert store == {"type": "SQL", "dialect": "postgresql", "url": "db.internal",
                     "db": "teman", "port": 6543, "username": "bot", "password": "p@ss/w"}
    assert urls.sql_tracker_store("postgres://h/x")["dialect"] == "postgresql"


def test_redis_url_becomes_the_atomic_lock_store() -> None:
    store = urls.redis_lock_store("rediss://:secret@cache:6380/3", "teman")
    assert store == {"type": "bot.lock_store.AtomicRedisLockStore", "url": "cache",
                     "port": 6380, "db": 3, "use_ssl": True, "password": "secret",
                     "key_prefix": "teman"}
    with pytest.raises(ValueError):
        urls.redis_lock_store("http://cache")


def test_rabbitmq_url_with_and_without_vhost() -> None:
    assert urls.rabbitmq("amqp://u:p@mq:5673/") == {
        "url": "mq", "port": 5673, "username": "u", "password": "p"}
    assert urls.rabbitmq("amqp://mq/teman")["url"] == "amqp://mq/teman"
    assert urls.redacted("amqp://u:secret@mq:5673/v") == "amqp://u@mq:5673/v"


def test_endpoints_gain_lock_store_and_broker_only_when_configured(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("REDIS_URL", "RABBITMQ_URL"):
        monkeypatch.delenv(var, raising=False)
    plain = endpoints("http://127.0.0.1:5055", "t", "postgresql://h/x")
    assert "lock_store" not in plain and "event_broker" not in plain
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    monkeypatch.setenv("TEMAN_REDIS_PREFIX", "abc")
    prod = endpoints("http://127.0.0.1:5055", "t", "postgresql://h/x")
    assert prod["lock_store"]["key_prefix"] == "abc"
    assert prod["event_broker"]["type"] == "pika"
    assert prod["tracker_store"]["url"] == "h"


def test_structured_log_text_fields_and_numbers_are_redacted() -> None:
    line = json.dumps({"event": "http.parse.text.failure", "text": "paspor sy ditahan",
                       "nested": {"parse_data": {"text": "x"}}, "ok": 1})
    out = json.loads(redact(line))
    assert out["text"] == "[redacted]" and out["nested"]["parse_data"] == "[redacted]"
    assert out["ok"] == 1
    for number in ("081234567890", "+62 812-3456-7890", "6281234567890", "0812 7777 0002"):
        assert number not in redact(f"kontak {number} malam")
    assert redact("case SG-7K3Q9 forwarded in 1732420000.5 s") == \
        "case SG-7K3Q9 forwarded in 1732420000.5 s"


def test_exception_messages_are_withheld_but_frames_kept() -> None:
    try:
        raise ValueError("pesan 081234567890")
    except ValueError:
        record = logging.getLogger("t").makeRecord(
            "t", logging.ERROR, __file__, 1, "failed %s", ("x",), __import__("sys").exc_info())
    redact_record(record)  # (the filter would also install a global record factory)
    assert "081234567890" not in record.getMessage()
    assert "ValueError (message withheld)" in record.getMessage()
    assert "test_infra.py" in record.getMessage()
