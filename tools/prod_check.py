"""Check the services production mode needs, before anything starts.

`python -m tools.prod_check` reads DATABASE_URL, CASES_DATABASE_URL, REDIS_URL and
RABBITMQ_URL; for each one that is set it connects, and exits 1 with a message naming
every unreachable service. A missing PostgreSQL database is created (the server must
allow it). Passwords are never printed.
"""

from __future__ import annotations

import os
import sys

from teman.cases.config import normalize_database_url
from teman.infra.urls import ServiceUrl, redacted


def check_postgres(url: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    target = make_url(normalize_database_url(url))
    try:
        engine = sa.create_engine(target, connect_args={"connect_timeout": 5})
        with engine.connect():
            pass
        engine.dispose()
        return
    except sa.exc.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    admin = sa.create_engine(target.set(database="postgres"),
                             isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    with admin.connect() as conn:
        name = (target.database or "").replace('"', "")
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    print(f"[prod] created database {name}")


def check_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5).ping()


def check_rabbitmq(url: str) -> None:
    import pika

    params = pika.URLParameters(url)
    params.socket_timeout = 5
    params.blocked_connection_timeout = 5
    pika.BlockingConnection(params).close()


CHECKS = (
    ("DATABASE_URL", "PostgreSQL", check_postgres),
    ("CASES_DATABASE_URL", "PostgreSQL (cases)", check_postgres),
    ("REDIS_URL", "Redis", check_redis),
    ("RABBITMQ_URL", "RabbitMQ", check_rabbitmq),
)


def main() -> int:
    problems = []
    for var, service, check in CHECKS:
        url = os.environ.get(var, "").strip()
        if not url:
            continue
        try:
            ServiceUrl.parse(url)
            check(url)
        except Exception as exc:
            problems.append(f"{service} unreachable at {redacted(url)} ({var}): "
                            f"{type(exc).__name__}")
    for problem in problems:
        print(f"[prod] {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
