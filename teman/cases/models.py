"""SQLAlchemy 2.0 ORM models for hand-off cases, their outbox and store settings.

The case table deliberately holds only the columns listed in ``docs/cases.md``: anything
more would be personal data we would have to justify keeping.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Timezone-aware current UTC time (the only clock the package uses)."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC everywhere and always hand back aware datetimes.

    SQLite has no time zone support, so values are stored there as naive UTC; PostgreSQL uses
    ``timestamptz``. Either way Python code only ever sees aware UTC datetimes, which keeps
    comparisons such as ``next_attempt_at <= now`` correct on both backends.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; drop tzinfo for SQLite so stored strings sort correctly."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not allowed; use utcnow()")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to naive values read back from SQLite."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base for the case tables only (separate metadata from other features)."""


class Case(Base):
    """One hand-off: a consented case or an anonymous statistics record."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    sender_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    category: Mapped[str] = mapped_column(String(64), nullable=False)
    excerpt: Mapped[str | None] = mapped_column(Text, nullable=True)
    consent: Mapped[bool] = mapped_column(Boolean, nullable=False)
    victim: Mapped[str | None] = mapped_column(Text, nullable=True)
    location: Mapped[str | None] = mapped_column(Text, nullable=True)
    contact: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    staff_note: Mapped[str | None] = mapped_column(Text, nullable=True)

    outbox: Mapped[list[OutboxItem]] = relationship(back_populates="case")


#: Delivery target of an outbox row: the hotline webhook, or one staff WhatsApp number / e-mail
#: address (``whatsapp:<number>``, ``email:<address>``). Staff addresses, never a user's.
WEBHOOK_TARGET = "webhook"


class OutboxItem(Base):
    """A pending (or finished) delivery of one case to one target (webhook, WhatsApp, e-mail).

    ``dead_at`` is set when the forwarder gave up (FORWARD_GIVE_UP_AFTER hours, or an error
    that no retry can fix), so that staff can see the case was never acknowledged there and
    handle it by phone: the dead-letter state.
    """

    __tablename__ = "case_outbox"
    __table_args__ = (Index("ix_case_outbox_due", "delivered_at", "dead_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    target: Mapped[str] = mapped_column(
        String(200), nullable=False, default=WEBHOOK_TARGET, server_default=WEBHOOK_TARGET
    )
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    case: Mapped[Case] = relationship(back_populates="outbox")


class StoreSetting(Base):
    """Tiny key/value table; holds the generated sender-hash key when none is configured.

    A table (rather than a file next to the SQLite database) works the same on PostgreSQL
    and is shared by every process that uses the same CASES_DATABASE_URL.
    """

    __tablename__ = "case_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)


class DeliveryAlert(Base):
    """An alert e-mail to staff: a dead-lettered delivery or a forwarder that stopped.

    One row per (kind, subject): the unique constraint makes raising an alert idempotent, so
    a dead letter or an outage is announced once, however many processes notice it.
    ``sent_at`` stays NULL until an e-mail was accepted by the SMTP server.
    """

    __tablename__ = "delivery_alerts"
    __table_args__ = (UniqueConstraint("kind", "subject", name="uq_delivery_alerts_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    #: What the alert is about: ``<reference> <target>`` or an outage's start time.
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    #: Personal-data-free text of the alert (reference, target, error class).
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
