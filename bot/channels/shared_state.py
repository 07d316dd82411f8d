"""Channel state that every Rasa replica must see: redelivery dedupe, the WhatsApp 24-hour
window, Twilio's numbered choices.

`state_from_env()` gives a Redis-backed store when `REDIS_URL` is set (keys under
`TEMAN_REDIS_PREFIX`, default `teman`, each with an expiry), otherwise a bounded in-process
one (the default for `make run`: one Rasa process). Keys hold message ids and pseudonymous
sender ids only, never phone numbers or texts.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

# Keep the larger of the stored and the given number (the last inbound time).
_RAISE_TO = """
local current = redis.call('GET', KEYS[1])
if (not current) or tonumber(current) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""


class SharedState(Protocol):
    async def claim(self, key: str, ttl: float) -> bool:
        """Set `key` if absent; True when this call set it (atomic)."""

    async def release(self, key: str) -> None: ...

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str, ttl: float) -> None: ...

    async def raise_to(self, key: str, value: float, ttl: float) -> None:
        """Store `value` unless a larger number is stored (atomic)."""

    async def close(self) -> None: ...


class MemoryState:
    """In-process state with per-key expiry, bounded (oldest keys evicted first)."""

    def __init__(self, max_size: int = 200_000, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.max_size = max_size
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[0] <= self._clock():
            del self._data[key]
            return None
        return item[1]

    def _set(self, key: str, value: str, ttl: float) -> None:
        self._data.pop(key, None)
        self._data[key] = (self._clock() + ttl, value)
        while len(self._data) > self.max_size:
            self._data.popitem(last=False)

    async def claim(self, key: str, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        self._set(key, "1", ttl)
        return True

    async def release(self, key: str) -> None:
        self._data.pop(key, None)

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def put(self, key: str, value: str, ttl: float) -> None:
        self._set(key, value, ttl)

    async def raise_to(self, key: str, value: float, ttl: float) -> None:
        current = self._live(key)
        if current is None or float(current) < value:
            self._set(key, repr(value), ttl)

    async def close(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return sum(1 for k in list(self._data) if self._live(k) is not None)


class RedisState:
    """The same operations on Redis (redis.asyncio), shared by every replica."""

    def __init__(self, url: str, prefix: str = "teman") -> None:
        import redis.asyncio as aioredis

        self.prefix = f"{prefix}:chan:"
        self._redis: Any = aioredis.Redis.from_url(url, socket_timeout=5,
                                                   socket_connect_timeout=5)
        self._raise = self._redis.register_script(_RAISE_TO)

    async def ping(self) -> None:
        await self._redis.ping()

    async def claim(self, key: str, ttl: float) -> bool:
        return bool(await self._redis.set(self.prefix + key, "1", nx=True,
                                          px=max(1, int(ttl * 1000))))

    async def release(self, key: str) -> None:
        await self._redis.delete(self.prefix + key)

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(self.prefix + key)
        return value.decode("utf-8") if isinstance(value, bytes) else value

    async def put(self, key: str, value: str, ttl: float) -> None:
        await self._redis.set(self.prefix + key, value, px=max(1, int(ttl * 1000)))

    async def raise_to(self, key: str, value: float, ttl: float) -> None:
        await self._raise(keys=[self.prefix + key],
                          args=[repr(value), max(1, int(ttl * 1000))])

    async def close(self) -> None:
        await self._redis.aclose() if hasattr(self._redis, "aclose") else \
            await self._redis.close()


def state_from_env() -> SharedState:
    """Redis when REDIS_URL is set, else in-process."""
    url = os.environ.get("REDIS_URL", "").strip()
    if url:
        return RedisState(url, os.environ.get("TEMAN_REDIS_PREFIX", "").strip() or "teman")
    return MemoryState()
