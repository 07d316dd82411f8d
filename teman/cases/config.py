"""Environment-only configuration for the case store and the hotline forwarder.

Everything is read from environment variables so that the action server, the forwarder and
the staff CLI (three processes) agree without a shared config file. Every variable is
documented in ``docs/cases.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Repository root (``teman/cases/config.py`` -> three levels up).
REPO_ROOT: Path = Path(__file__).resolve().parents[2]
#: SQLite file used when CASES_DATABASE_URL is unset.
DEFAULT_SQLITE_PATH: Path = REPO_ROOT / "var" / "cases.sqlite3"


class ConfigError(ValueError):
    """Raised for an invalid environment variable, with a message naming the variable."""


def default_database_url() -> str:
    """Return the default SQLite URL (the directory is created by the store, not here)."""
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def database_url_from_env(env: Mapping[str, str], *names: str) -> str | None:
    """The first non-empty of these variables, then DATABASE_URL; None when all are unset.

    The one place the case store (and the analytics tables) read a database URL from the
    environment, so production's URL handling can take over here.
    """
    for name in (*names, "DATABASE_URL"):
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def normalize_database_url(url: str) -> str:
    """Make common PostgreSQL URL spellings use psycopg 3, the only driver we ship.

    ``postgres://`` (Heroku style) and bare ``postgresql://`` would otherwise make SQLAlchemy
    look for psycopg2, which is not installed.
    """
    url = url.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _get_float(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    """Read a float variable; fail loudly on garbage instead of silently using a default."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _get_int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    """Read an integer variable with the same strictness as :func:`_get_float`."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class StoreConfig:
    """Where cases live and which key hashes sender ids."""

    database_url: str
    #: HMAC key for sender ids; ``None`` means "generate once and persist in the database".
    hash_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StoreConfig:
        """Build from ``CASES_DATABASE_URL`` (else ``DATABASE_URL``) and ``CASE_HASH_KEY``."""
        env = os.environ if env is None else env
        url = database_url_from_env(env, "CASES_DATABASE_URL") or default_database_url()
        key = env.get("CASE_HASH_KEY") or None
        return cls(database_url=normalize_database_url(url), hash_key=key)


@dataclass(frozen=True)
class ForwarderConfig:
    """Delivery settings for the outbox worker."""

    url: str | None
    token: str | None
    timeout: float = 10.0
    backoff_base: float = 2.0
    backoff_max: float = 300.0
    give_up_after_hours: float = 72.0
    poll_interval: float = 2.0
    batch_size: int = 10

    @property
    def claim_lease(self) -> float:
        """Seconds a claimed row stays invisible to other workers.

        Longer than one POST (timeout) plus bookkeeping, so a live worker normally finishes
        first; if a worker dies mid-flight the row becomes due again after this lease.
        """
        return 2 * self.timeout + 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ForwarderConfig:
        """Build from the ``HOTLINE_FORWARD_*`` and ``FORWARD_*`` variables."""
        env = os.environ if env is None else env
        base = _get_float(env, "FORWARD_BACKOFF_BASE", 2.0, minimum=0.0)
        maximum = _get_float(env, "FORWARD_BACKOFF_MAX", 300.0, minimum=0.0)
        if maximum < base:
            raise ConfigError("FORWARD_BACKOFF_MAX must be >= FORWARD_BACKOFF_BASE")
        return cls(
            url=env.get("HOTLINE_FORWARD_URL", "").strip() or None,
            token=env.get("HOTLINE_FORWARD_TOKEN", "").strip() or None,
            timeout=_get_float(env, "HOTLINE_FORWARD_TIMEOUT", 10.0, minimum=0.01),
            backoff_base=base,
            backoff_max=maximum,
            give_up_after_hours=_get_float(env, "FORWARD_GIVE_UP_AFTER", 72.0, minimum=0.0),
            poll_interval=_get_float(env, "FORWARD_POLL_INTERVAL", 2.0, minimum=0.01),
            batch_size=_get_int(env, "FORWARD_BATCH_SIZE", 10, minimum=1),
        )
