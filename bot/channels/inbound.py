"""Where an acknowledged WhatsApp/Twilio message waits until it is answered.

Meta and Twilio get their 200 at once; the message is answered afterwards. With
`RABBITMQ_URL` set the message is first published, persistent and with a publisher
confirm, to a durable RabbitMQ queue, and only then acknowledged: a replica that dies
before answering leaves it in the queue and another (or the restarted) replica answers it.
The queue message is acknowledged to RabbitMQ only after the bot's answer was handled.

Order: a user's messages always go to the same one of `INBOUND_SHARDS` queues, each with
RabbitMQ's single active consumer, so one user's messages are answered one at a time in
arrival order while different users spread over the shards. Replica `i` of `n`
(`TEMAN_REPLICA_INDEX`, `TEMAN_REPLICAS`) subscribes to its own shards first, so the
active consumers spread over the replicas; it also stands by for the others.

The body is encrypted (Fernet, key derived from `SENDER_ID_KEY`): the queue holds phone
numbers and texts only as ciphertext. Without RABBITMQ_URL (`make run`) the message is
handled in a background task of the same process, as before.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from cryptography.fernet import Fernet, InvalidToken

from bot.channels.dedupe import BackgroundTasks

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]
_CONTEXT = b"teman-migrasi/inbound-queue/v1"
DEFAULT_SHARDS = 16
PUBLISH_TIMEOUT = 10.0
STANDBY_DELAY = 2.0


class Inbound(Protocol):
    async def start(self, handler: Handler) -> None: ...

    async def submit(self, user: str, item: dict[str, Any]) -> None:
        """Durable (or handed to a task) when it returns; raises when it could not be."""

    async def close(self) -> None: ...


class LocalInbound:
    """Handle in a background task of this process (`make run`: one Rasa server)."""

    def __init__(self, tasks: BackgroundTasks) -> None:
        self.tasks = tasks
        self._handler: Handler | None = None

    async def start(self, handler: Handler) -> None:
        self._handler = handler

    async def submit(self, user: str, item: dict[str, Any]) -> None:
        if self._handler is None:
            raise RuntimeError("inbound handler not started")
        self.tasks.spawn(self._handler(item))

    async def close(self) -> None:
        await self.tasks.drain(timeout=5)


class RabbitInbound:
    """Durable inbound queue on RabbitMQ (aio-pika, already in Rasa's environment)."""

    def __init__(self, url: str, name: str, secret: str, shards: int = DEFAULT_SHARDS,
                 replica: int = 0, replicas: int = 1) -> None:
        self.url = url
        self.name = name
        self.shards = max(1, shards)
        self.replica = replica
        self.replicas = max(1, replicas)
        key = hmac.new(secret.encode("utf-8"), _CONTEXT, hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self._connection: Any = None
        self._publish_channel: Any = None
        self._consumers: list[asyncio.Task[Any]] = []

    def queue_name(self, shard: int) -> str:
        return f"{self.name}.{shard}"

    def shard_of(self, user: str) -> int:
        return int.from_bytes(hashlib.sha256(user.encode("utf-8")).digest()[:4], "big") \
            % self.shards

    async def _declare(self, channel: Any, shard: int) -> Any:
        return await channel.declare_queue(
            self.queue_name(shard), durable=True,
            arguments={"x-single-active-consumer": True, "x-queue-type": "classic"},
        )

    async def start(self, handler: Handler) -> None:
        import aio_pika

        try:
            self._connection = await asyncio.wait_for(
                aio_pika.connect_robust(self.url), timeout=15)
        except Exception as exc:
            raise RuntimeError(
                f"RabbitMQ unreachable for the inbound queue ({type(exc).__name__}); "
                "check RABBITMQ_URL") from exc
        self._publish_channel = await self._connection.channel(publisher_confirms=True)
        for shard in range(self.shards):
            await self._declare(self._publish_channel, shard)
        own = [s for s in range(self.shards) if s % self.replicas == self.replica]
        others = [s for s in range(self.shards) if s not in own]
        self._consumers.append(asyncio.ensure_future(self._consume(own, handler, 0.0)))
        self._consumers.append(asyncio.ensure_future(
            self._consume(others, handler, STANDBY_DELAY)))

    async def _consume(self, shards: list[int], handler: Handler, delay: float) -> None:
        if not shards:
            return
        if delay:
            await asyncio.sleep(delay)  # not synchronisation: lets each replica go first
        for shard in shards:
            # One channel per shard with prefetch 1: one message per shard at a time.
            channel = await self._connection.channel()
            await channel.set_qos(prefetch_count=1)
            queue = await self._declare(channel, shard)
            await queue.consume(self._callback(handler))

    def _callback(self, handler: Handler) -> Callable[[Any], Awaitable[None]]:
        async def on_message(message: Any) -> None:
            try:
                item = json.loads(self._fernet.decrypt(message.body))
            except (InvalidToken, ValueError):
                logger.error("inbound: unreadable queue message dropped (wrong key?)")
                await message.reject(requeue=False)
                return
            await handler(item)  # never raises: the channel logs and answers kindly
            await message.ack()

        return on_message

    async def submit(self, user: str, item: dict[str, Any]) -> None:
        import aio_pika

        body = self._fernet.encrypt(json.dumps(item, ensure_ascii=False).encode("utf-8"))
        message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                   content_type="application/octet-stream")
        if self._publish_channel is None:
            raise RuntimeError("inbound queue not connected")
        await asyncio.wait_for(
            self._publish_channel.default_exchange.publish(
                message, routing_key=self.queue_name(self.shard_of(user))),
            timeout=PUBLISH_TIMEOUT,
        )

    async def close(self) -> None:
        for task in self._consumers:
            task.cancel()
        if self._connection is not None:
            await self._connection.close()


def inbound_from_env(channel: str, tasks: BackgroundTasks, secret: str) -> Inbound:
    """RabbitMQ when RABBITMQ_URL is set, else in-process tasks."""
    url = os.environ.get("RABBITMQ_URL", "").strip()
    if not url:
        return LocalInbound(tasks)
    prefix = os.environ.get("TEMAN_INBOUND_QUEUE", "").strip() or "teman.inbound"
    return RabbitInbound(
        url, f"{prefix}.{channel}", secret,
        shards=int(os.environ.get("INBOUND_SHARDS", DEFAULT_SHARDS)),
        replica=int(os.environ.get("TEMAN_REPLICA_INDEX", "0")),
        replicas=int(os.environ.get("TEMAN_REPLICAS", "1")),
    )
