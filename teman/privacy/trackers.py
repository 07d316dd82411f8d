"""Redact and expire conversations in Rasa's SQL tracker store (SQLite or PostgreSQL).

Rasa 3.6's SQL tracker store appends a conversation's new events by counting the rows it
already has, so rows of a live conversation are blanked in place, never deleted; only whole
conversations idle past the retention are deleted. Rasa has no retention of its own.
"""

from __future__ import annotations

import json
import logging
import time
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

from teman.config import ROOT

logger = logging.getLogger(__name__)

REDACTED = "[dihapus]"


def resolve_url(url: str) -> str:
    """A relative SQLite path is taken from the project folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        return prefix + str(ROOT / url[len(prefix):])
    return url


def sqlite_path(url: str) -> Path | None:
    url = resolve_url(url)
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


@lru_cache(maxsize=4)
def _engine(url: str) -> sa.Engine:
    from teman.cases.config import normalize_database_url  # postgresql:// -> psycopg 3

    return sa.create_engine(normalize_database_url(resolve_url(url)), pool_pre_ping=True)


def _events_table(engine: sa.Engine) -> bool:
    """Whether Rasa has created its tracker table here (no database yet is no table)."""
    path = sqlite_path(engine.url.render_as_string(hide_password=False))
    if path is not None and not path.exists():
        return False
    return sa.inspect(engine).has_table("events")


def _blank(data: str) -> str:
    event = json.loads(data)
    event["text"] = REDACTED
    parse = event.get("parse_data")
    if isinstance(parse, dict):
        parse["text"] = REDACTED
        parse["entities"] = []
    return json.dumps(event)


def redact_user_messages(url: str, sender_id: str, since: float | None = None) -> int:
    """Blank the text of every user message of a conversation (from `since`, a Unix time);
    returns how many were blanked."""
    engine = _engine(url)
    if not _events_table(engine):
        return 0
    query = sa.text(
        "SELECT id, data FROM events WHERE sender_id = :sender AND type_name = 'user'"
        + (" AND timestamp >= :since" if since is not None else "")
    )
    params: dict[str, object] = {"sender": sender_id}
    if since is not None:
        params["since"] = since
    with engine.begin() as conn:
        return _blank_rows(conn, conn.execute(query, params).all())


def _blank_rows(conn: sa.Connection, rows: list[sa.Row]) -> int:
    """Blank the user text of these (id, data) event rows in place; returns how many."""
    count = 0
    for row_id, data in rows:
        if json.loads(data).get("text") == REDACTED:
            continue
        conn.execute(
            sa.text("UPDATE events SET data = :data WHERE id = :id"),
            {"data": _blank(data), "id": row_id},
        )
        count += 1
    return count


def expire(url: str, retention_days: int, now: float | None = None) -> dict[str, int]:
    """Delete conversations idle for longer than the retention; blank older user messages of
    the others. Returns counts, for the log."""
    engine = _engine(url)
    if not _events_table(engine):
        return {"deleted_conversations": 0, "blanked_messages": 0}
    cutoff = (now or time.time()) - retention_days * 86400
    with engine.begin() as conn:
        idle = [
            row[0]
            for row in conn.execute(
                sa.text(
                    "SELECT sender_id FROM events GROUP BY sender_id "
                    "HAVING MAX(timestamp) < :cutoff"
                ),
                {"cutoff": cutoff},
            )
        ]
        for sender in idle:
            conn.execute(sa.text("DELETE FROM events WHERE sender_id = :s"), {"s": sender})
        old = conn.execute(
            sa.text(
                "SELECT id, data FROM events WHERE type_name = 'user' AND timestamp < :cutoff"
            ),
            {"cutoff": cutoff},
        ).all()
        blanked = _blank_rows(conn, old)
    return {"deleted_conversations": len(idle), "blanked_messages": blanked}
