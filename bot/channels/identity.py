"""Pseudonymous, namespaced sender ids for the WhatsApp channels.

Rasa keys every conversation (tracker) by the channel's sender id, and anyone who can
reach Rasa's HTTP API can read a conversation by that id. A phone number is a poor
secret: it is known to family, employers and recruiters. So the WhatsApp channels
never use it as the sender id:

* the tracker key is ``<prefix><keyed hash of the number>``, e.g. ``wa:3f9a…`` for
  the WhatsApp Cloud API and ``tw:…`` for Twilio (HMAC-SHA256 with ``SENDER_ID_KEY``,
  32 hex characters). The prefixes are reserved: the REST channel refuses them.
* replies to the current message go to the number the output channel was created
  with; for proactive messages (``POST /conversations/<id>/trigger_intent``) the
  number is looked up in :class:`SenderMap`, a small SQLite file holding the number
  *encrypted* (Fernet) under the sender id, for ``SENDER_MAP_TTL_DAYS`` (30) days
  after the user's last message. Expired rows are deleted whenever the map is used.

Environment (credentials.yml keys in brackets, env wins only when the key is empty):
``SENDER_ID_KEY`` [sender_id_key] (required, ≥ 16 characters), ``SENDER_MAP_KEY``
[sender_map_key] (optional, defaults to a key derived from SENDER_ID_KEY),
``SENDER_MAP_PATH`` [sender_map_path] (default ``var/sender_map.db`` in the
repository), ``SENDER_MAP_TTL_DAYS`` [sender_map_ttl_days] (default 30).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from bot.channels.common import ChannelConfigError, log_id, setting
from bot.channels.dedupe import TTLCache
from bot.channels.pseudonym import (  # noqa: F401 - re-exported for the channels
    HASH_HEX_CHARS,
    ID_CONTEXT,
    RESERVED_PREFIXES,
    TWILIO_PREFIX,
    WHATSAPP_PREFIX,
    derive,
    sender_id_for,
)

logger = logging.getLogger(__name__)

MIN_KEY_LENGTH = 16
DEFAULT_TTL_DAYS = 30.0
DEFAULT_MAP_PATH = Path(__file__).resolve().parents[2] / "var" / "sender_map.db"
# The map row is re-written (expiry pushed back) at most this often per user and process.
REFRESH_SECONDS = 3600.0
SQLITE_TIMEOUT = 10.0

_MAP_CONTEXT = b"teman-migrasi/sender-map/v1"


def is_reserved(sender_id: str) -> bool:
    """True for ids in a phone channel's namespace (compared case-insensitively)."""
    return sender_id.strip().lower().startswith(RESERVED_PREFIXES)


class SenderMap:
    """Encrypted, expiring ``sender id -> phone number`` map in one SQLite file.

    Safe for several processes: WAL journal, busy timeout and one short write
    transaction per operation (each process keeps one connection, used by one thread at
    a time). The file (and its folder) is created on first use, and again if deleted,
    with owner-only permissions. Each value is a Fernet token over ``{sender id, number}``,
    so a token copied to another row does not decrypt as that row's number.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        secret: str,
        ttl_seconds: float = DEFAULT_TTL_DAYS * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.path = Path(path)
        self.ttl_seconds = ttl_seconds
        self._fernet = Fernet(base64.urlsafe_b64encode(derive(secret, _MAP_CONTEXT)))
        self._clock = clock
        # One connection per process, used by one thread at a time (to_thread workers).
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    # -- storage -----------------------------------------------------------------------
    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Create the file owner-only before SQLite does (its -wal/-shm copy the mode).
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        with contextlib.closing(self._raw_connect()) as conn:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.DatabaseError:  # e.g. a file system without shared memory
                logger.warning("sender map: WAL journal unavailable, using the default")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS sender_map ("
                " sender_id TEXT PRIMARY KEY,"
                " token BLOB NOT NULL,"
                " expires_at REAL NOT NULL)"
            )
            conn.execute(
                "CREATE INDEX IF NOT EXISTS sender_map_expiry ON sender_map (expires_at)"
            )

    def _raw_connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=SQLITE_TIMEOUT, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(SQLITE_TIMEOUT * 1000)}")
        # With WAL this still never corrupts the file; a power cut may lose the last
        # few refreshes, which only delays expiry bookkeeping. Saves an fsync per write.
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; other processes wait on SQLite's lock (busy timeout)."""
        with self._lock:
            # (Re)open on first use, after a fork, or if someone deleted the file.
            if self._conn is None or self._pid != os.getpid() or not self.path.exists():
                if self._conn is not None and self._pid == os.getpid():
                    self._conn.close()
                self._conn = None
                self._create()
                self._conn = self._raw_connect()
                self._pid = os.getpid()
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    @staticmethod
    def _purge_expired(conn: sqlite3.Connection, now: float) -> int:
        return conn.execute("DELETE FROM sender_map WHERE expires_at <= ?", (now,)).rowcount

    # -- API -----------------------------------------------------------------------------
    def remember(self, sender_id: str, number: str) -> None:
        """Store (or refresh) the number for ``sender_id``; expires ``ttl`` from now."""
        now = self._clock()
        plain = json.dumps({"s": sender_id, "n": number}, separators=(",", ":"))
        token = self._fernet.encrypt_at_time(plain.encode("utf-8"), int(now))
        with self._transaction() as conn:
            self._purge_expired(conn, now)
            conn.execute(
                "INSERT INTO sender_map (sender_id, token, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(sender_id) DO UPDATE SET token = excluded.token, "
                "expires_at = excluded.expires_at",
                (sender_id, token, now + self.ttl_seconds),
            )

    def lookup(self, sender_id: str) -> str | None:
        """The number for ``sender_id``, or None if unknown, expired or undecryptable."""
        now = self._clock()
        with self._transaction() as conn:
            self._purge_expired(conn, now)
            row = conn.execute(
                "SELECT token FROM sender_map WHERE sender_id = ?", (sender_id,)
            ).fetchone()
            if row is None:
                return None
            try:
                plain = self._fernet.decrypt_at_time(
                    bytes(row[0]), int(self.ttl_seconds) + 1, int(now))
                data = json.loads(plain)
            except (InvalidToken, ValueError):
                data = None
            if not isinstance(data, dict) or data.get("s") != sender_id or not data.get("n"):
                # Wrong key (rotated SENDER_MAP_KEY), tampered or foreign row: drop it.
                logger.warning("sender map: unreadable entry for %s removed", log_id(sender_id))
                conn.execute("DELETE FROM sender_map WHERE sender_id = ?", (sender_id,))
                return None
            return str(data["n"])

    def forget(self, sender_id: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM sender_map WHERE sender_id = ?", (sender_id,))

    def purge(self) -> int:
        """Delete expired rows now; returns how many were removed."""
        with self._transaction() as conn:
            return self._purge_expired(conn, self._clock())

    def __len__(self) -> int:
        with self._transaction() as conn:
            self._purge_expired(conn, self._clock())
            return int(conn.execute("SELECT COUNT(*) FROM sender_map").fetchone()[0])


class SenderIdentity:
    """Turns phone numbers into one channel's pseudonymous sender ids and back."""

    def __init__(self, prefix: str, secret: str, sender_map: SenderMap,
                 refresh_seconds: float = REFRESH_SECONDS) -> None:
        if prefix not in RESERVED_PREFIXES:
            raise ValueError(f"unknown sender id prefix {prefix!r}")
        if len(secret) < MIN_KEY_LENGTH:
            raise ValueError(f"sender id key must have at least {MIN_KEY_LENGTH} characters")
        self.prefix = prefix
        self._key = derive(secret, ID_CONTEXT)
        self.map = sender_map
        # sender ids whose map row this process wrote recently (no numbers in here)
        self._fresh: TTLCache[str, bool] = TTLCache(max_size=50_000, ttl=refresh_seconds)

    def sender_id(self, number: str) -> str:
        """``<prefix><32 hex chars>``: stable for a number, not reversible without the key."""
        return sender_id_for(self.prefix, self._key, number)

    def owns(self, sender_id: str) -> bool:
        return sender_id.startswith(self.prefix) and len(sender_id) == (
            len(self.prefix) + HASH_HEX_CHARS)

    async def remember(self, sender_id: str, number: str) -> None:
        """Record the number for later proactive messages; never raises."""
        if sender_id in self._fresh:
            return
        try:
            await asyncio.to_thread(self.map.remember, sender_id, number)
            self._fresh.set(sender_id, True)
        except Exception as exc:  # the reply to this message works without the map
            logger.error("sender map: could not store %s: %s", log_id(sender_id),
                         type(exc).__name__)

    async def number_for(self, sender_id: str) -> str | None:
        """The number behind one of this channel's sender ids, or None; never raises."""
        if not self.owns(sender_id):
            return None
        try:
            return await asyncio.to_thread(self.map.lookup, sender_id)
        except Exception as exc:
            logger.error("sender map: lookup failed for %s: %s", log_id(sender_id),
                         type(exc).__name__)
            return None


def key_setting(credentials: Mapping[str, Any] | None) -> str | None:
    """SENDER_ID_KEY, for the channel's list of required settings."""
    return setting(credentials, "sender_id_key", "SENDER_ID_KEY")


def identity_from_settings(
    channel: str, prefix: str, credentials: Mapping[str, Any] | None
) -> SenderIdentity:
    """Build a channel's identity from env/credentials; ChannelConfigError if invalid."""
    secret = key_setting(credentials)
    if not secret:
        raise ChannelConfigError(
            f"Channel '{channel}' is enabled but not configured: missing SENDER_ID_KEY. "
            f"Set this environment variable; see docs/channels.md."
        )
    if len(secret) < MIN_KEY_LENGTH:
        raise ChannelConfigError(
            f"Channel '{channel}': SENDER_ID_KEY is too short (at least {MIN_KEY_LENGTH} "
            f"characters; use e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)."
        )
    raw_ttl = setting(credentials, "sender_map_ttl_days", "SENDER_MAP_TTL_DAYS",
                      str(DEFAULT_TTL_DAYS))
    try:
        ttl_days = float(raw_ttl or DEFAULT_TTL_DAYS)
    except ValueError:
        ttl_days = -1.0
    if not 0 < ttl_days < float("inf"):
        raise ChannelConfigError(
            f"Channel '{channel}': SENDER_MAP_TTL_DAYS must be a positive number of days."
        )
    map_secret = setting(credentials, "sender_map_key", "SENDER_MAP_KEY")
    if map_secret is not None and len(map_secret) < MIN_KEY_LENGTH:
        raise ChannelConfigError(
            f"Channel '{channel}': SENDER_MAP_KEY is too short (at least {MIN_KEY_LENGTH} "
            f"characters)."
        )
    path = setting(credentials, "sender_map_path", "SENDER_MAP_PATH") or DEFAULT_MAP_PATH
    sender_map = SenderMap(path, map_secret or secret, ttl_days * 86400)
    return SenderIdentity(prefix, secret, sender_map)
