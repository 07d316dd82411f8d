"""Durable storage of hand-off cases and their hotline outbox.

The action server calls :meth:`CaseStore.record_case`; the forwarder and the staff CLI use
the other methods. Privacy rules enforced here (not by callers):

* without consent only an anonymous statistics row is written (no hash, excerpt, contact,
  victim or location) and nothing is queued for the hotline;
* with consent the raw sender id is never stored, only a keyed HMAC-SHA256 of it, and the
  case row plus its outbox row are committed in one transaction, so a case can never exist
  without a pending delivery (or vice versa).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from . import CASE_STATUSES
from .config import StoreConfig, normalize_database_url
from .models import Base, Case, OutboxItem, StoreSetting, utcnow

log = logging.getLogger("teman_migrasi.cases.store")

#: Characters for references: no 0/O, 1/I/L so staff can read them out over the phone.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_PREFIX = "SG-"
REFERENCE_LENGTH = 5
EXCERPT_MAX_CHARS = 280
PAYLOAD_SOURCE = "teman-migrasi"
_HASH_KEY_SETTING = "sender_hash_key"
_SQLITE_BUSY_TIMEOUT_MS = 30_000
# Arbitrary constant for pg_advisory_xact_lock so concurrent processes don't race create_all.
_PG_SCHEMA_LOCK_ID = 7_263_540_118


class CaseStoreError(RuntimeError):
    """The case could not be stored; the message never contains personal data."""


class CaseNotFoundError(LookupError):
    """No case with the given reference."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"Kasus tidak ditemukan / case not found: {reference}")
        self.reference = reference


@dataclass(frozen=True)
class CaseView:
    """Detached, read-only snapshot of a case and its delivery state (for CLI/tests)."""

    id: int
    reference: str
    created_at: datetime
    channel: str
    sender_hash: str | None
    category: str
    excerpt: str | None
    consent: bool
    victim: str | None
    location: str | None
    contact: str | None
    status: str
    closed_at: datetime | None
    staff_note: str | None
    # Delivery state of the (single) outbox row; all None for anonymous records.
    idempotency_key: str | None = None
    attempts: int | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    dead_at: datetime | None = None

    @property
    def delivery_status(self) -> str:
        """Human summary: not-queued / pending / delivered / dead."""
        if self.idempotency_key is None:
            return "not-queued"
        if self.delivered_at is not None:
            return "delivered"
        if self.dead_at is not None:
            return "dead"
        return "pending"


@dataclass(frozen=True)
class ClaimedItem:
    """An outbox row claimed by a forwarder for one delivery attempt."""

    outbox_id: int
    reference: str
    idempotency_key: str
    payload: str
    attempts: int
    case_created_at: datetime


def generate_reference() -> str:
    """Return a short random reference such as ``SG-7K3Q9`` (uniqueness checked by caller)."""
    body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
    return REFERENCE_PREFIX + body


def _clean(value: str | None) -> str | None:
    """Strip whitespace; treat empty strings as 'not given'."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def _iso(value: datetime) -> str:
    """ISO 8601 UTC with a trailing Z, as the hotline expects."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _install_sqlite_pragmas(engine: Engine) -> None:
    """WAL + busy timeout + BEGIN IMMEDIATE so several processes can share the file.

    BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
    writes can fail instantly with "database is locked" when another process wrote in between,
    which the busy timeout cannot fix.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let us issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_case_engine(database_url: str) -> Engine:
    """Create an engine for SQLite (file, dir created) or PostgreSQL via psycopg 3."""
    url = make_url(normalize_database_url(database_url))
    if url.get_backend_name() == "sqlite":
        db = url.database or ""
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000})
        _install_sqlite_pragmas(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


class CaseStore:
    """All database access for cases; safe to share between threads of one process."""

    def __init__(
        self,
        database_url: str,
        *,
        hash_key: str | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.engine: Engine = engine or create_case_engine(database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._configured_key = hash_key.encode("utf-8") if hash_key else None
        self._hash_key: bytes | None = self._configured_key
        self._create_tables()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CaseStore:
        """Build from CASES_DATABASE_URL / CASE_HASH_KEY (see docs/cases.md)."""
        cfg = StoreConfig.from_env(env)
        return cls(cfg.database_url, hash_key=cfg.hash_key)

    @property
    def is_postgres(self) -> bool:
        """True when running on PostgreSQL (enables SKIP LOCKED claiming)."""
        return self.engine.dialect.name == "postgresql"

    def describe(self) -> str:
        """Database URL with the password hidden, safe for logs."""
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        """Close pooled connections (tests, CLI exit, forwarder shutdown)."""
        self.engine.dispose()

    # ------------------------------------------------------------------ setup
    def _create_tables(self) -> None:
        """Create tables on first use; serialized on PostgreSQL to avoid create races."""
        with self.engine.begin() as conn:
            if self.is_postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_SCHEMA_LOCK_ID})
            Base.metadata.create_all(conn)

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """One session = one transaction, committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    # --------------------------------------------------------------- hashing
    def _key(self) -> bytes:
        """Return the HMAC key, generating and persisting one on first use if unset.

        The key itself is never logged. Production should set CASE_HASH_KEY instead, so that
        a copy of the database alone is not enough to test guesses against the hashes.
        """
        if self._hash_key is not None:
            return self._hash_key
        created = False
        try:
            with self._transaction() as s:
                if s.get(StoreSetting, _HASH_KEY_SETTING) is None:
                    s.add(StoreSetting(name=_HASH_KEY_SETTING, value=secrets.token_hex(32)))
                    created = True
        except IntegrityError:
            created = False  # another process stored its key first; use that one
        with self._transaction() as s:
            row = s.get(StoreSetting, _HASH_KEY_SETTING)
            if row is None:
                raise CaseStoreError("sender hash key missing after creation")
            self._hash_key = row.value.encode("utf-8")
        if created:
            log.info("generated a new sender hash key and stored it in case_settings")
        return self._hash_key

    def hash_sender(self, sender_id: str) -> str:
        """Keyed HMAC-SHA256 of a sender id (hex): stable per key, useless without it."""
        return hmac.new(self._key(), sender_id.encode("utf-8"), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------- recording
    def recent_cases(self, sender_id: str, within: timedelta) -> int:
        """How many consented cases this sender created in the last `within` (rate limit)."""
        sender_hash = self.hash_sender(sender_id)
        with self._transaction() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(Case)
                    .where(Case.sender_hash == sender_hash, Case.created_at >= utcnow() - within)
                )
                or 0
            )

    def record_case(
        self,
        *,
        channel: str,
        sender_id: str,
        category: str,
        excerpt: str | None,
        consent: bool,
        victim: str | None = None,
        location: str | None = None,
        contact: str | None = None,
    ) -> str:
        """Store a hand-off and return its reference (e.g. ``SG-7K3Q9``).

        With consent the case and its outbox row are written in one transaction. Without
        consent only an anonymous row (time, channel, category) is written. Raises
        :class:`CaseStoreError` if the database write fails.
        """
        channel = (channel or "unknown").strip()[:64] or "unknown"
        category = (category or "unknown").strip()[:64] or "unknown"
        try:
            sender_hash = self.hash_sender(sender_id) if consent else None
        except SQLAlchemyError as exc:
            raise CaseStoreError("could not load the sender hash key") from exc
        for _ in range(8):
            reference = generate_reference()
            now = utcnow()
            try:
                with self._transaction() as s:
                    if consent:
                        case = Case(
                            reference=reference,
                            created_at=now,
                            channel=channel,
                            sender_hash=sender_hash,
                            category=category,
                            excerpt=(_clean(excerpt) or "")[:EXCERPT_MAX_CHARS] or None,
                            consent=True,
                            victim=_clean(victim),
                            location=_clean(location),
                            contact=_clean(contact),
                            status="open",
                        )
                    else:
                        case = Case(
                            reference=reference,
                            created_at=now,
                            channel=channel,
                            category=category,
                            consent=False,
                            status="anonymous",
                        )
                    s.add(case)
                    s.flush()  # the case insert happens first; the outbox depends on it
                    if consent:
                        s.add(
                            OutboxItem(
                                case_id=case.id,
                                idempotency_key=str(uuid.uuid4()),
                                payload=json.dumps(self._payload(case), ensure_ascii=False),
                                attempts=0,
                                next_attempt_at=now,
                            )
                        )
                        s.flush()
            except IntegrityError as exc:
                if self._reference_exists(reference):
                    continue  # astronomically rare collision: try another reference
                raise CaseStoreError("could not store the case") from exc
            except SQLAlchemyError as exc:
                raise CaseStoreError("could not store the case") from exc
            log.info("recorded case %s (status %s)", reference, case.status)
            return reference
        raise CaseStoreError("could not allocate a unique case reference")

    @staticmethod
    def _payload(case: Case) -> dict[str, Any]:
        """Hotline payload: what staff need to act, never the sender hash."""
        return {
            "reference": case.reference,
            "created_at": _iso(case.created_at),
            "channel": case.channel,
            "category": case.category,
            "excerpt": case.excerpt,
            "victim": case.victim,
            "location": case.location,
            "contact": case.contact,
            "consent": True,
            "source": PAYLOAD_SOURCE,
        }

    def _reference_exists(self, reference: str) -> bool:
        """Used after an IntegrityError to tell a reference collision from other failures."""
        try:
            with self._transaction() as s:
                return s.scalar(select(Case.id).where(Case.reference == reference)) is not None
        except SQLAlchemyError:
            return False

    # ------------------------------------------------------------ staff view
    @staticmethod
    def _view(case: Case, item: OutboxItem | None) -> CaseView:
        """Copy ORM state into an immutable view."""
        return CaseView(
            id=case.id,
            reference=case.reference,
            created_at=case.created_at,
            channel=case.channel,
            sender_hash=case.sender_hash,
            category=case.category,
            excerpt=case.excerpt,
            consent=case.consent,
            victim=case.victim,
            location=case.location,
            contact=case.contact,
            status=case.status,
            closed_at=case.closed_at,
            staff_note=case.staff_note,
            idempotency_key=item.idempotency_key if item else None,
            attempts=item.attempts if item else None,
            next_attempt_at=item.next_attempt_at if item else None,
            last_error=item.last_error if item else None,
            delivered_at=item.delivered_at if item else None,
            dead_at=item.dead_at if item else None,
        )

    def list_cases(self, status: str = "all", limit: int | None = None) -> list[CaseView]:
        """Newest first; ``status`` is one of CASE_STATUSES or ``all``."""
        if status != "all" and status not in CASE_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        stmt = (
            select(Case, OutboxItem)
            .outerjoin(OutboxItem, OutboxItem.case_id == Case.id)
            .order_by(Case.created_at.desc(), Case.id.desc())
        )
        if status != "all":
            stmt = stmt.where(Case.status == status)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._transaction() as s:
            return [self._view(c, o) for c, o in s.execute(stmt).all()]

    def get_case(self, reference: str) -> CaseView:
        """Look up one case (case-insensitive reference); raises CaseNotFoundError."""
        ref = reference.strip().upper()
        stmt = (
            select(Case, OutboxItem)
            .outerjoin(OutboxItem, OutboxItem.case_id == Case.id)
            .where(Case.reference == ref)
        )
        with self._transaction() as s:
            row = s.execute(stmt).first()
            if row is None:
                raise CaseNotFoundError(ref)
            return self._view(row[0], row[1])

    def close_case(self, reference: str, note: str | None = None) -> CaseView:
        """Mark a case closed by staff; anonymous records cannot be closed.

        A still-pending delivery is kept: the hotline should still receive the record.
        """
        ref = reference.strip().upper()
        with self._transaction() as s:
            case = s.scalar(select(Case).where(Case.reference == ref))
            if case is None:
                raise CaseNotFoundError(ref)
            if case.status == "anonymous":
                raise ValueError(
                    f"{ref} adalah catatan anonim dan tidak bisa ditutup / "
                    "is an anonymous record and cannot be closed"
                )
            if case.status != "closed":
                case.status = "closed"
                case.closed_at = utcnow()
            if note is not None:
                case.staff_note = note.strip() or None
        return self.get_case(ref)

    def requeue(self, reference: str) -> CaseView:
        """Make an undelivered (e.g. dead) outbox row due again now."""
        ref = reference.strip().upper()
        with self._transaction() as s:
            case = s.scalar(select(Case).where(Case.reference == ref))
            if case is None:
                raise CaseNotFoundError(ref)
            s.execute(
                update(OutboxItem)
                .where(OutboxItem.case_id == case.id, OutboxItem.delivered_at.is_(None))
                .values(dead_at=None, next_attempt_at=utcnow())
            )
        return self.get_case(ref)

    def stats(self) -> dict[tuple[str, str], int]:
        """Counts keyed by (category, status)."""
        stmt = select(Case.category, Case.status, func.count()).group_by(Case.category, Case.status)
        with self._transaction() as s:
            return {(cat, st): n for cat, st, n in s.execute(stmt).all()}

    # ---------------------------------------------------------------- outbox
    def claim_due(self, *, limit: int, lease_seconds: float) -> list[ClaimedItem]:
        """Claim up to ``limit`` due rows by pushing their next_attempt_at past a lease.

        On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several workers claim disjoint rows.
        SQLite ignores FOR UPDATE; there BEGIN IMMEDIATE serializes claims, and a single
        worker is assumed (see docs/cases.md). If a worker dies after claiming, the rows
        become due again when the lease expires.
        """
        now = utcnow()
        stmt = (
            select(OutboxItem, Case.reference, Case.created_at)
            .join(Case, Case.id == OutboxItem.case_id)
            .where(
                OutboxItem.delivered_at.is_(None),
                OutboxItem.dead_at.is_(None),
                OutboxItem.next_attempt_at <= now,
            )
            .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=OutboxItem)
        )
        claimed: list[ClaimedItem] = []
        with self._transaction() as s:
            for item, reference, created_at in s.execute(stmt).all():
                item.next_attempt_at = now + timedelta(seconds=lease_seconds)
                claimed.append(
                    ClaimedItem(
                        outbox_id=item.id,
                        reference=reference,
                        idempotency_key=item.idempotency_key,
                        payload=item.payload,
                        attempts=item.attempts,
                        case_created_at=created_at,
                    )
                )
        return claimed

    def mark_delivered(self, outbox_id: int) -> None:
        """Record an acknowledged delivery; an open case becomes 'forwarded'.

        A case closed by staff in the meantime keeps its 'closed' status.
        """
        now = utcnow()
        with self._transaction() as s:
            item = s.get(OutboxItem, outbox_id)
            if item is None or item.delivered_at is not None:
                return
            item.delivered_at = now
            item.attempts += 1
            item.last_error = None
            s.execute(
                update(Case)
                .where(Case.id == item.case_id, Case.status == "open")
                .values(status="forwarded")
            )

    def mark_failed(
        self, outbox_id: int, *, error: str, next_attempt_at: datetime, dead: bool = False
    ) -> None:
        """Record a failed attempt; ``dead`` stops further retries (give-up deadline)."""
        with self._transaction() as s:
            item = s.get(OutboxItem, outbox_id)
            if item is None or item.delivered_at is not None:
                return
            item.attempts += 1
            item.last_error = error[:200]
            item.next_attempt_at = next_attempt_at
            if dead:
                item.dead_at = utcnow()

    def pending_count(self) -> int:
        """Rows still waiting for delivery (not delivered, not dead)."""
        stmt = (
            select(func.count())
            .where(OutboxItem.delivered_at.is_(None), OutboxItem.dead_at.is_(None))
            .select_from(OutboxItem)
        )
        with self._transaction() as s:
            return int(s.scalar(stmt) or 0)
