"""The one place service URLs are split into what Rasa's stores take.

Rasa's endpoint sections want host, port, db, username and password as separate keys,
while operators hand out URLs (DATABASE_URL, REDIS_URL, RABBITMQ_URL). Standard library
only, so the Rasa environment and the decision service's can both import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

POSTGRES_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2")


@dataclass(frozen=True)
class ServiceUrl:
    """A URL split into its parts (percent-escapes decoded)."""

    scheme: str
    host: str
    port: int | None
    username: str | None
    password: str | None
    path: str  # without the leading slash: database name, Redis db number or vhost
    query: dict[str, str]

    @classmethod
    def parse(cls, url: str) -> ServiceUrl:
        parts = urlsplit(url.strip())
        if not parts.scheme:
            raise ValueError("not a URL (no scheme)")
        return cls(
            scheme=parts.scheme.lower(),
            host=parts.hostname or "127.0.0.1",
            port=parts.port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            path=unquote(parts.path[1:]) if len(parts.path) > 1 else "",
            query={k: v[-1] for k, v in parse_qs(parts.query).items()},
        )


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        u = ServiceUrl.parse(url)
    except ValueError:
        return "<invalid URL>"
    user = f"{u.username}@" if u.username else ""
    port = f":{u.port}" if u.port else ""
    return f"{u.scheme}://{user}{u.host}{port}/{u.path}"


def sql_tracker_store(url: str) -> dict[str, Any]:
    """Rasa's `tracker_store: {type: SQL, ...}` for a PostgreSQL (or other server) URL."""
    u = ServiceUrl.parse(url)
    dialect = "postgresql" if u.scheme in POSTGRES_SCHEMES else u.scheme.split("+")[0]
    store: dict[str, Any] = {"type": "SQL", "dialect": dialect, "url": u.host, "db": u.path}
    if u.port:
        store["port"] = u.port
    if u.username:
        store["username"] = u.username
    if u.password:
        store["password"] = u.password
    return store


def redis_lock_store(url: str, key_prefix: str | None = None) -> dict[str, Any]:
    """Rasa's `lock_store` section for REDIS_URL (redis:// or rediss://, db as the path).

    The type is our subclass of Rasa's RedisLockStore whose ticket updates are atomic
    (bot/lock_store.py); every option is Rasa's own.
    """
    u = ServiceUrl.parse(url)
    if u.scheme not in ("redis", "rediss"):
        raise ValueError("REDIS_URL must start with redis:// or rediss://")
    store: dict[str, Any] = {
        "type": "bot.lock_store.AtomicRedisLockStore",
        "url": u.host,
        "port": u.port or 6379,
        "db": int(u.path or 0),
        "use_ssl": u.scheme == "rediss",
    }
    if u.username:
        store["username"] = u.username
    if u.password:
        store["password"] = u.password
    if key_prefix:
        store["key_prefix"] = key_prefix
    return store


def rabbitmq(url: str) -> dict[str, Any]:
    """RABBITMQ_URL (amqp://user:pass@host:port/vhost) as Rasa's pika broker keys."""
    u = ServiceUrl.parse(url)
    if u.scheme not in ("amqp", "amqps"):
        raise ValueError("RABBITMQ_URL must start with amqp:// or amqps://")
    vhost = "" if u.path == "/" else u.path  # %2F: the default vhost keeps the plain host
    return {
        # Rasa builds its own amqp URL when `url` starts with amqp: needed for a vhost.
        "url": f"{u.scheme}://{u.host}/{vhost}" if vhost else u.host,
        "port": u.port or 5672,
        "username": u.username or "guest",
        "password": u.password or "guest",
    }
