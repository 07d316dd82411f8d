"""The aggregate table: counts per (local day, hour, channel, metric, key).

``ANALYTICS_DATABASE_URL``, else ``DATABASE_URL``, else ``var/analytics.sqlite3``. One
table, created on first use; increments are upserts (``INSERT … ON CONFLICT DO UPDATE``) on
SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from teman.analytics.events import Increment
from teman.cases.config import REPO_ROOT, database_url_from_env
from teman.cases.store import create_case_engine

DEFAULT_URL = f"sqlite:///{REPO_ROOT / 'var' / 'analytics.sqlite3'}"

metadata = sa.MetaData()
COUNTS = sa.Table(
    "analytics_counts",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("hour", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("metric", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)


def analytics_url(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return database_url_from_env(env, "ANALYTICS_DATABASE_URL") or DEFAULT_URL


@dataclass(frozen=True)
class CountRow:
    day: str
    hour: int
    channel: str
    metric: str
    key: str
    count: int


class AnalyticsStore:
    """Writes and reads the aggregate counts."""

    def __init__(self, url: str) -> None:
        # The case store's engine factory: psycopg 3 for PostgreSQL, WAL SQLite.
        self.engine = create_case_engine(url)
        with self.engine.begin() as conn:
            metadata.create_all(conn)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AnalyticsStore:
        return cls(analytics_url(env))

    def add(self, increments: Iterable[Increment]) -> int:
        """Add a batch of increments in one transaction; returns how many rows changed."""
        counts = Counter(increments)
        if not counts:
            return 0
        values = [
            {"day": i.day, "hour": i.hour, "channel": i.channel, "metric": i.metric,
             "key": i.key, "count": n}
            for i, n in counts.items()
        ]
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(COUNTS)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day", "hour", "channel", "metric", "key"],
            set_={"count": COUNTS.c.count + stmt.excluded.count},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, values)
        return len(values)

    def rows(self) -> list[CountRow]:
        with self.engine.connect() as conn:
            result = conn.execute(sa.select(COUNTS).order_by(*COUNTS.primary_key.columns))
            return [CountRow(*r) for r in result]

    def dispose(self) -> None:
        self.engine.dispose()
