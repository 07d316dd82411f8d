"""Rasa's Redis lock store with atomic ticket updates, for several Rasa replicas.

Rasa 3.6's `RedisLockStore` reads a conversation's ticket lock, changes it in Python and
writes it back (GET ... SET). Within one process that is safe (no await in between), but
two replicas can interleave: both read "last ticket 3" and both issue ticket 4 (two
messages of one conversation processed at once), or one replica's cleanup writes back a
lock without the ticket the other just appended (that message then fails with LockError).
This subclass keeps Rasa's lock algorithm, data format and options and only makes each
read-modify-write one Redis transaction (WATCH/MULTI, retried on conflict).

endpoints.yml: `lock_store: {type: bot.lock_store.AtomicRedisLockStore, url, port, db,
password, key_prefix, ...}` (the keys of Rasa's `type: redis`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

Change = Callable[[TicketLock | None], tuple[TicketLock | None, Any]]


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` whose ticket issue, update and release are atomic in Redis."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs}
        super().__init__(**kwargs)

    def _atomically(self, conversation_id: str, change: Change) -> Any:
        """Apply `change` to the stored lock in one WATCH/MULTI transaction."""
        key = self.key_prefix + conversation_id
        outcome: dict[str, Any] = {}

        def apply(pipe: Any) -> None:
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else None
            new, outcome["value"] = change(lock)
            pipe.multi()
            if new is None:
                pipe.delete(key)
            else:
                pipe.set(key, new.dumps())

        self.red.transaction(apply, key)
        return outcome.get("value")

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or TicketLock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return int(self._atomically(conversation_id, issue))
        except Exception as exc:
            raise LockError(f"Error while acquiring lock: {type(exc).__name__}") from exc

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._atomically(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self.cleanup(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove this ticket; delete the lock when nobody else waits (one transaction)."""

        def release(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else None), None

        self._atomically(conversation_id, release)
