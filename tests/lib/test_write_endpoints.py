"""The endpoints file Rasa runs with: the pika event broker from RABBITMQ_URL."""

from __future__ import annotations

from tools.write_endpoints import endpoints, event_broker


def test_no_broker_without_rabbitmq_url() -> None:
    assert event_broker({}) is None
    assert "event_broker" not in endpoints("http://127.0.0.1:5055", "t", "memory", env={})


def test_broker_from_rabbitmq_url() -> None:
    env = {"RABBITMQ_URL": "amqp://teman:s%40cret@mq.internal:5673/%2F",
           "RABBITMQ_QUEUE": "events_a", "RABBITMQ_EXCHANGE": "exchange-a"}
    out = endpoints("http://127.0.0.1:5055", "t", "memory", env=env)
    assert out["event_broker"] == {
        "type": "pika", "url": "mq.internal", "port": 5673, "username": "teman",
        "password": "s@cret", "queues": ["events_a"], "exchange_name": "exchange-a"}
    defaults = event_broker({"RABBITMQ_URL": "amqp://127.0.0.1"})
    assert defaults is not None
    assert (defaults["queues"], defaults["exchange_name"], defaults["port"]) == (
        ["rasa_core_events"], "rasa-exchange", 5672)
    assert (defaults["username"], defaults["password"]) == ("guest", "guest")
    # a named vhost goes through Rasa's own amqp URL handling
    vhost = event_broker({"RABBITMQ_URL": "amqp://u:p@mq:5672/teman"})
    assert vhost is not None and vhost["url"] == "amqp://mq/teman"
