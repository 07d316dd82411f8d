"""Consume Rasa's tracker events from RabbitMQ and write aggregate counts only.

Run as ``python -m teman.analytics.consumer`` (``scripts/run_bot.sh`` starts it when
``RABBITMQ_URL`` is set). Rasa's pika broker publishes every tracker event to a fanout
exchange (``RABBITMQ_EXCHANGE``, default ``rasa-exchange``) bound to a durable queue
(``RABBITMQ_QUEUE``, default ``rasa_core_events``); this worker declares the same, so either
may start first. Messages are acknowledged only after their counts are committed (a batch at
a time): a crash re-delivers, never loses (a re-delivered batch may be counted twice). The
message text and sender id are read from memory and dropped; logs hold counts only.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from teman.analytics.events import Aggregator, Increment
from teman.analytics.store import AnalyticsStore

log = logging.getLogger("teman_migrasi.analytics")

DEFAULT_QUEUE = "rasa_core_events"
DEFAULT_EXCHANGE = "rasa-exchange"
BATCH = 200


@dataclass(frozen=True)
class BrokerSettings:
    url: str
    queue: str
    exchange: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BrokerSettings | None:
        env = os.environ if env is None else env
        url = env.get("RABBITMQ_URL", "").strip()
        if not url:
            return None
        return cls(
            url=url,
            queue=env.get("RABBITMQ_QUEUE", "").strip() or DEFAULT_QUEUE,
            exchange=env.get("RABBITMQ_EXCHANGE", "").strip() or DEFAULT_EXCHANGE,
        )


def declare(channel: BlockingChannel, settings: BrokerSettings) -> None:
    """The exchange and queue exactly as Rasa's pika broker declares them."""
    channel.exchange_declare(settings.exchange, exchange_type="fanout")
    channel.queue_declare(settings.queue, durable=True)
    channel.queue_bind(settings.queue, settings.exchange, routing_key="")


class Consumer:
    """Reads batches from the queue, adds their counts, then acknowledges them."""

    def __init__(self, settings: BrokerSettings, store: AnalyticsStore) -> None:
        self.settings = settings
        self.store = store
        self.aggregator = Aggregator()
        self.stopping = False
        self.events = 0

    def _decode(self, body: bytes) -> list[Increment]:
        try:
            event: Any = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            log.warning("skipped a message that is not JSON")
            return []
        return self.aggregator.increments(event) if isinstance(event, dict) else []

    def run(self, idle_timeout: float = 1.0, stop_when_idle: bool = False) -> int:
        """Consume until stopped (or, with ``stop_when_idle``, until the queue is empty);
        returns the number of events read."""
        params = pika.URLParameters(self.settings.url)
        connection = pika.BlockingConnection(params)
        try:
            channel = connection.channel()
            declare(channel, self.settings)
            channel.basic_qos(prefetch_count=BATCH)
            pending: list[Increment] = []
            last_tag: int | None = None
            for method, _props, body in channel.consume(
                self.settings.queue, inactivity_timeout=idle_timeout
            ):
                if method is not None:
                    pending += self._decode(body)
                    last_tag = method.delivery_tag
                    self.events += 1
                if last_tag is not None and (method is None or self.events % BATCH == 0):
                    self.store.add(pending)
                    channel.basic_ack(last_tag, multiple=True)
                    log.info("analytics: %d events so far", self.events)
                    pending, last_tag = [], None
                if self.stopping or (stop_when_idle and method is None):
                    break
            if last_tag is not None:
                self.store.add(pending)
                channel.basic_ack(last_tag, multiple=True)
            channel.cancel()
        finally:
            if connection.is_open:
                connection.close()
        return self.events


def main() -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)  # connection chatter at INFO
    settings = BrokerSettings.from_env()
    if settings is None:
        log.error("RABBITMQ_URL is not set: nothing to consume")
        return 2
    store = AnalyticsStore.from_env()
    consumer = Consumer(settings, store)

    stop = threading.Event()

    def _stop(*_: object) -> None:
        consumer.stopping = True
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("analytics consumer reading queue %s (store %s)", settings.queue,
             store.engine.dialect.name)
    try:
        while not consumer.stopping:
            try:
                consumer.run()
            except pika.exceptions.AMQPConnectionError as exc:
                if consumer.stopping:
                    break
                log.error("RabbitMQ unreachable (%s); retrying in 5 s", type(exc).__name__)
                stop.wait(5)
    finally:
        store.dispose()
    log.info("analytics consumer stopped after %d events", consumer.events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
