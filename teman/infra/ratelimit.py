"""Per-sender limits shared by every process: a sliding window in Redis.

Used for `cases_per_hour` when REDIS_URL is set (several decision services or replicas
must count together); without Redis the hand-off counts the sender's cases in the case
store instead. Keys are keyed hashes of sender ids (the case store's `hash_sender`), never
sender ids or numbers.
"""

from __future__ import annotations

import os
import time
import uuid
from functools import lru_cache
from typing import Any

# Drop hits older than the window, then record this one only if under the limit.
_HIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(ARGV[2] * 1000))
return 1
"""


class SlidingWindowLimit:
    """At most `limit` hits per `window` seconds per key, atomically across processes."""

    def __init__(self, url: str, prefix: str, name: str) -> None:
        import redis

        self._redis: Any = redis.Redis.from_url(url, socket_timeout=5,
                                                socket_connect_timeout=5)
        self._hit = self._redis.register_script(_HIT)
        self.prefix = f"{prefix}:limit:{name}:"

    def allow(self, key: str, limit: int, window: float) -> bool:
        """Record a hit and return True, or return False when the limit is reached."""
        now = time.time()
        return bool(self._hit(keys=[self.prefix + key],
                              args=[now, window, limit, f"{now}:{uuid.uuid4().hex[:8]}"]))

    def count(self, key: str, window: float) -> int:
        now = time.time()
        return int(self._redis.zcount(self.prefix + key, now - window, "+inf"))


@lru_cache(maxsize=1)
def cases_limit() -> SlidingWindowLimit | None:
    """The shared cases-per-hour limit, or None without REDIS_URL."""
    url = os.environ.get("REDIS_URL", "").strip()
    if not url:
        return None
    prefix = os.environ.get("TEMAN_REDIS_PREFIX", "").strip() or "teman"
    return SlidingWindowLimit(url, prefix, "cases")
