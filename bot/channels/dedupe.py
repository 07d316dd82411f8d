"""Small in-memory helpers shared by the channels: TTL cache and per-key locks.

Meta and Twilio re-deliver webhooks when they think we were slow, so every
channel needs a bounded "have I seen this id?" memory that cannot grow forever.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from bot.channels.shared_state import SharedState

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING = object()


class TTLCache(Generic[K, V]):
    """Bounded mapping whose entries expire after ``ttl`` seconds.

    Oldest entries are evicted first when ``max_size`` is reached, so memory stays
    bounded even under a flood of unique ids.
    """

    def __init__(
        self,
        max_size: int = 10_000,
        ttl: float = 24 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_size <= 0:
            raise ValueError("max_size must be positive")
        self.max_size = max_size
        self.ttl = ttl
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def _purge(self) -> None:
        now = self._clock()
        while self._data:
            key, (expires, _) = next(iter(self._data.items()))
            if expires > now:
                break
            del self._data[key]

    def set(self, key: K, value: V) -> None:
        """Store ``value`` and refresh its expiry (moves it to the young end)."""
        self._purge()
        self._data.pop(key, None)
        self._data[key] = (self._clock() + self.ttl, value)
        while len(self._data) > self.max_size:
            self._data.popitem(last=False)

    def get(self, key: K, default: Any = None) -> Any:
        """Return the live value for ``key`` or ``default``."""
        item = self._data.get(key, _MISSING)
        if item is _MISSING:
            return default
        expires, value = item  # type: ignore[misc]
        if expires <= self._clock():
            del self._data[key]
            return default
        return value

    def pop(self, key: K, default: Any = None) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            return default
        del self._data[key]
        return value

    def __contains__(self, key: object) -> bool:
        return self.get(key, _MISSING) is not _MISSING  # type: ignore[arg-type]

    def __len__(self) -> int:
        self._purge()
        return len(self._data)


class Deduplicator:
    """Answers "first time I see this id?" atomically (check and mark in one call).

    The ids live in a :class:`~bot.channels.shared_state.SharedState`: in Redis when
    several Rasa replicas run (a redelivery may reach another replica), else in-process.
    """

    def __init__(self, state: SharedState, ttl: float = 48 * 3600,
                 namespace: str = "seen") -> None:
        self._state = state
        self.ttl = ttl
        self.namespace = namespace

    async def first_time(self, message_id: str | None) -> bool:
        """True the first time an id is seen; ids that are missing are never deduped."""
        if not message_id:
            return True
        return await self._state.claim(f"{self.namespace}:{message_id}", self.ttl)

    async def forget(self, message_id: str | None) -> None:
        """Undo a claim (the message could not be queued: let the redelivery through)."""
        if message_id:
            await self._state.release(f"{self.namespace}:{message_id}")


class KeyedLocks:
    """One asyncio.Lock per key, dropped when unused, so one user's messages stay in order."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._users: dict[Hashable, int] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                del self._locks[key]


class BackgroundTasks:
    """Keeps strong references to fire-and-forget tasks so they are not garbage-collected."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for running tasks (used on shutdown and in tests)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
