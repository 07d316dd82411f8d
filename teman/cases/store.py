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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    create_engine,
    delete,
    event,
    func,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from . import CASE_STATUSES
from .config import StoreConfig, normalize_database_url
from .models import (
    WEBHOOK_TARGET,
    Base,
    Case,
    DeliveryAlert,
    OutboxItem,
    StoreSetting,
    utcnow,
)

log = logging.getLogger("teman_migrasi.cases.store")

#: Characters for references: no 0/O, 1/I/L so staff can read them out over the phone.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_PREFIX = "SG-"
REFERENCE_LENGTH = 5
EXCERPT_MAX_CHARS = 280
PAYLOAD_SOURCE = "teman-migrasi"
_HASH_KEY_SETTING = "sender_hash_key"
_HEARTBEAT_PREFIX = "heartbeat:"
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
class DeliveryView:
    """The state of one case's delivery to one target."""

    target: str
    idempotency_key: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    dead_at: datetime | None

    @property
    def status(self) -> str:
        """pending / delivered / dead (dead = the dead-letter state: staff must act)."""
        if self.delivered_at is not None:
            return "delivered"
        if self.dead_at is not None:
            return "dead"
        return "pending"


@dataclass(frozen=True)
class DeadLetter:
    """A delivery the forwarder gave up on, for the staff list and alerts."""

    reference: str
    target: str
    attempts: int
    last_error: str | None
    dead_at: datetime


@dataclass(frozen=True)
class AlertView:
    """An alert e-mail and whether it went out."""

    id: int
    kind: str
    subject: str
    detail: str
    created_at: datetime
    attempts: int
    sent_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class ForgottenCase:
    """A deleted case and what had already left the system before it was deleted."""

    reference: str
    status: str
    #: (target, delivered_at) of deliveries SI-SAGA already received: these cannot be recalled.
    delivered: tuple[tuple[str, datetime], ...]
    #: Deliveries cancelled by the deletion (never sent, or sent but not acknowledged).
    cancelled: tuple[str, ...]


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
    #: One entry per delivery target (webhook, whatsapp:<n>, email:<a>); empty if anonymous.
    deliveries: tuple[DeliveryView, ...] = ()

    def _first(self, name: str) -> Any:
        return getattr(self.deliveries[0], name) if self.deliveries else None

    # The first delivery's state (the only one when a single target is configured).
    @property
    def idempotency_key(self) -> str | None:
        return self._first("idempotency_key")

    @property
    def attempts(self) -> int | None:
        return self._first("attempts")

    @property
    def next_attempt_at(self) -> datetime | None:
        return self._first("next_attempt_at")

    @property
    def last_error(self) -> str | None:
        return self._first("last_error")

    def _earliest(self, name: str) -> datetime | None:
        times = [getattr(d, name) for d in self.deliveries if getattr(d, name) is not None]
        return min(times) if times else None

    @property
    def delivered_at(self) -> datetime | None:
        """When the first target acknowledged the case (None until one did)."""
        return self._earliest("delivered_at")

    @property
    def dead_at(self) -> datetime | None:
        return self._earliest("dead_at")

    @property
    def delivery_status(self) -> str:
        """Summary over all targets: not-queued / pending / delivered / dead.

        ``dead`` as soon as one target is dead-lettered (staff must act on it), else
        ``delivered`` when every target acknowledged, else ``pending``.
        """
        if not self.deliveries:
            return "not-queued"
        statuses = {d.status for d in self.deliveries}
        if "dead" in statuses:
            return "dead"
        if statuses == {"delivered"}:
            return "delivered"
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
    target: str = WEBHOOK_TARGET


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
        targets: Sequence[str] = (WEBHOOK_TARGET,),
    ) -> None:
        if not targets:
            raise ValueError("a case needs at least one delivery target")
        self.targets: tuple[str, ...] = tuple(targets)
        self.engine: Engine = engine or create_case_engine(database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._configured_key = hash_key.encode("utf-8") if hash_key else None
        self._hash_key: bytes | None = self._configured_key
        self._create_tables()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CaseStore:
        """Build from CASES_DATABASE_URL / CASE_HASH_KEY and the delivery targets
        (teman/cases/delivery.yml + environment; see docs/cases.md)."""
        from .targets import DeliveryConfig

        cfg = StoreConfig.from_env(env)
        targets = DeliveryConfig.load(env).targets()
        return cls(cfg.database_url, hash_key=cfg.hash_key, targets=targets)

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
            columns = {c["name"] for c in inspect(conn).get_columns(OutboxItem.__tablename__)}
            if "target" not in columns:  # a database from before multi-target delivery
                conn.execute(
                    text(
                        "ALTER TABLE case_outbox ADD COLUMN target VARCHAR(200) "
                        f"NOT NULL DEFAULT '{WEBHOOK_TARGET}'"
                    )
                )

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
                        payload = json.dumps(self._payload(case), ensure_ascii=False)
                        for target in self.targets:
                            s.add(
                                OutboxItem(
                                    case_id=case.id,
                                    idempotency_key=str(uuid.uuid4()),
                                    target=target,
                                    payload=payload,
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
    def _view(case: Case, items: Sequence[OutboxItem]) -> CaseView:
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
            deliveries=tuple(
                DeliveryView(
                    target=item.target,
                    idempotency_key=item.idempotency_key,
                    attempts=item.attempts,
                    next_attempt_at=item.next_attempt_at,
                    last_error=item.last_error,
                    delivered_at=item.delivered_at,
                    dead_at=item.dead_at,
                )
                for item in sorted(items, key=lambda i: i.id)
            ),
        )

    def _views(self, s: Session, cases: Sequence[Case]) -> list[CaseView]:
        """Views of these cases with their outbox rows (one extra query)."""
        ids = [c.id for c in cases]
        rows: dict[int, list[OutboxItem]] = {i: [] for i in ids}
        if ids:
            for item in s.scalars(select(OutboxItem).where(OutboxItem.case_id.in_(ids))):
                rows[item.case_id].append(item)
        return [self._view(c, rows[c.id]) for c in cases]

    def list_cases(self, status: str = "all", limit: int | None = None) -> list[CaseView]:
        """Newest first; ``status`` is one of CASE_STATUSES or ``all``."""
        if status != "all" and status not in CASE_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        stmt = select(Case).order_by(Case.created_at.desc(), Case.id.desc())
        if status != "all":
            stmt = stmt.where(Case.status == status)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._transaction() as s:
            return self._views(s, list(s.scalars(stmt)))

    def get_case(self, reference: str) -> CaseView:
        """Look up one case (case-insensitive reference); raises CaseNotFoundError."""
        ref = reference.strip().upper()
        with self._transaction() as s:
            case = s.scalar(select(Case).where(Case.reference == ref))
            if case is None:
                raise CaseNotFoundError(ref)
            return self._views(s, [case])[0]

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
                        target=item.target,
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

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead-lettered delivery of a case staff have not closed (newest first): these
        must be passed on by phone. Closing the case is how staff say it was handled."""
        stmt = (
            select(Case.reference, OutboxItem)
            .join(Case, Case.id == OutboxItem.case_id)
            .where(
                OutboxItem.dead_at.is_not(None),
                OutboxItem.delivered_at.is_(None),
                Case.status != "closed",
            )
            .order_by(OutboxItem.dead_at.desc(), OutboxItem.id.desc())
        )
        with self._transaction() as s:
            return [
                DeadLetter(ref, item.target, item.attempts, item.last_error, item.dead_at)
                for ref, item in s.execute(stmt).all()
            ]

    # ------------------------------------------------------------- heartbeat
    def beat(self, name: str = "forwarder") -> None:
        """Record that a worker is alive now (the watchdog reads it)."""
        key = _HEARTBEAT_PREFIX + name
        now = _iso(utcnow())
        with self._transaction() as s:
            row = s.get(StoreSetting, key)
            if row is None:
                s.add(StoreSetting(name=key, value=now))
            else:
                row.value = now

    def last_beat(self, name: str = "forwarder") -> datetime | None:
        """When the worker last recorded a heartbeat, or None if never."""
        with self._transaction() as s:
            row = s.get(StoreSetting, _HEARTBEAT_PREFIX + name)
        if row is None:
            return None
        return datetime.strptime(row.value, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=utcnow().tzinfo
        )

    def oldest_pending(self) -> datetime | None:
        """Creation time of the oldest case still waiting for a delivery."""
        stmt = (
            select(func.min(Case.created_at))
            .join(OutboxItem, OutboxItem.case_id == Case.id)
            .where(OutboxItem.delivered_at.is_(None), OutboxItem.dead_at.is_(None))
        )
        with self._transaction() as s:
            return s.scalar(stmt)

    # ---------------------------------------------------------------- alerts
    def raise_alert(self, kind: str, subject: str, detail: str) -> bool:
        """Queue an alert e-mail once per (kind, subject); True if it is new."""
        try:
            with self._transaction() as s:
                exists = s.scalar(
                    select(DeliveryAlert.id).where(
                        DeliveryAlert.kind == kind, DeliveryAlert.subject == subject
                    )
                )
                if exists is not None:
                    return False
                s.add(DeliveryAlert(kind=kind, subject=subject, detail=detail,
                                    created_at=utcnow(), next_attempt_at=utcnow(), attempts=0))
        except IntegrityError:
            return False  # another process raised the same alert first
        return True

    def claim_alerts(self, kinds: Sequence[str], *, lease_seconds: float) -> list[AlertView]:
        """Unsent, due alerts of these kinds, leased to the caller."""
        now = utcnow()
        stmt = (
            select(DeliveryAlert)
            .where(
                DeliveryAlert.kind.in_(list(kinds)),
                DeliveryAlert.sent_at.is_(None),
                DeliveryAlert.next_attempt_at <= now,
            )
            .order_by(DeliveryAlert.id)
            .with_for_update(skip_locked=True)
        )
        with self._transaction() as s:
            rows = list(s.scalars(stmt))
            for row in rows:
                row.next_attempt_at = now + timedelta(seconds=lease_seconds)
            return [self._alert_view(r) for r in rows]

    @staticmethod
    def _alert_view(row: DeliveryAlert) -> AlertView:
        return AlertView(row.id, row.kind, row.subject, row.detail, row.created_at,
                         row.attempts, row.sent_at, row.last_error)

    def mark_alert(self, alert_id: int, *, error: str | None, retry_at: datetime) -> None:
        """Record an alert e-mail attempt (``error`` None = sent)."""
        with self._transaction() as s:
            row = s.get(DeliveryAlert, alert_id)
            if row is None or row.sent_at is not None:
                return
            row.attempts += 1
            if error is None:
                row.sent_at = utcnow()
                row.last_error = None
            else:
                row.last_error = error[:200]
                row.next_attempt_at = retry_at

    def alerts(self, *, unsent_only: bool = False, limit: int = 50) -> list[AlertView]:
        """Alerts, newest first."""
        stmt = select(DeliveryAlert).order_by(DeliveryAlert.id.desc()).limit(limit)
        if unsent_only:
            stmt = stmt.where(DeliveryAlert.sent_at.is_(None))
        with self._transaction() as s:
            return [self._alert_view(r) for r in s.scalars(stmt)]

    # ---------------------------------------------------------------- forget
    def hash_of_reference(self, reference: str) -> str | None:
        """The sender hash behind a case (None for anonymous records); CaseNotFoundError."""
        return self.get_case(reference).sender_hash

    def forget(
        self,
        *,
        sender_hashes: Sequence[str] = (),
        references: Sequence[str] = (),
        dry_run: bool = False,
    ) -> list[ForgottenCase]:
        """Delete these people's cases (by sender hash) and these cases, with their outbox
        rows and alerts; returns what was (``dry_run``: would be) deleted and what had
        already been delivered."""
        refs = [r.strip().upper() for r in references]
        conditions = []
        if sender_hashes:
            conditions.append(Case.sender_hash.in_(list(sender_hashes)))
        if refs:
            conditions.append(Case.reference.in_(refs))
        if not conditions:
            return []
        out: list[ForgottenCase] = []
        with self._transaction() as s:
            cases = list(s.scalars(select(Case).where(or_(*conditions)).order_by(Case.id)))
            for view in self._views(s, cases):
                out.append(
                    ForgottenCase(
                        reference=view.reference,
                        status=view.status,
                        delivered=tuple(
                            (d.target, d.delivered_at)
                            for d in view.deliveries
                            if d.delivered_at is not None
                        ),
                        cancelled=tuple(
                            d.target for d in view.deliveries if d.delivered_at is None
                        ),
                    )
                )
            ids = [c.id for c in cases]
            if ids and not dry_run:
                s.execute(delete(OutboxItem).where(OutboxItem.case_id.in_(ids)))
                for ref in [c.reference for c in cases]:
                    s.execute(
                        delete(DeliveryAlert).where(DeliveryAlert.subject.like(f"{ref} %"))
                    )
                s.execute(delete(Case).where(Case.id.in_(ids)))
        for item in out if not dry_run else []:
            log.info("case %s deleted on request", item.reference)
        return out
