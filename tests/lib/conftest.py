"""Fixtures for tests/actions.

Case-store fixtures (prefix ``cases_``): real SQLite files and a real PostgreSQL schema per
test. PostgreSQL tests FAIL when the server is unreachable unless SKIP_POSTGRES=1.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # so `tests.support` imports work however pytest is started
    sys.path.insert(0, str(REPO_ROOT))

CASES_POSTGRES_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def cases_sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite case database file (the directory is created by the store)."""
    return f"sqlite:///{tmp_path / 'var' / 'cases.sqlite3'}"


@pytest.fixture
def cases_postgres_url() -> Iterator[str]:
    """A URL whose search_path points at a fresh, private schema (dropped afterwards)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    base = os.environ.get("TEST_POSTGRES_URL", CASES_POSTGRES_DEFAULT_URL)
    if os.environ.get("SKIP_POSTGRES") == "1":
        pytest.skip("SKIP_POSTGRES=1")
    engine = sa.create_engine(base, connect_args={"connect_timeout": 5})
    schema = f"cases_test_{uuid.uuid4().hex[:12]}"
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.fail(
            f"PostgreSQL unreachable at {make_url(base).render_as_string(hide_password=True)}"
            f" ({type(exc).__name__}); start it or set SKIP_POSTGRES=1",
            pytrace=False,
        )
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cases_db_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"cases_{request.param}_url")


@pytest.fixture
def tracker_url(cases_db_url: str) -> str:
    """An empty tracker table laid out like Rasa's SQL tracker store, on both backends."""
    import sqlalchemy as sa

    from tests.support.tracker_db import EVENTS

    if cases_db_url.startswith("sqlite:///"):
        Path(cases_db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(cases_db_url)
    EVENTS.metadata.create_all(engine)
    engine.dispose()
    return cases_db_url


@pytest.fixture
def cases_store(cases_db_url: str) -> Iterator[object]:
    """A CaseStore on the parametrized backend with a fixed test HMAC key."""
    from teman.cases.store import CaseStore

    store = CaseStore(cases_db_url, hash_key="test-hash-key")
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture
def cases_fake_hotline() -> Iterator[object]:
    """A running fake SI-SAGA endpoint (tests/support/fake_hotline.py), mode 'ok'."""
    from tests.support.fake_hotline import FakeHotline

    with FakeHotline(token="hotline-test-token") as hotline:
        yield hotline


# --- Retrieval fixtures (prefix ``kb_``): the real knowledge base and the index `make run`
# uses (built, with fine-tuning, only when its inputs changed; the fine-tuned encoder is
# cached by its inputs), so these tests judge what users get.


@pytest.fixture(scope="session")
def kb_settings():
    from teman.config import Settings

    return Settings.load()


@pytest.fixture(scope="session")
def kb_assistant(kb_settings):
    from teman.decision import Assistant

    return Assistant.from_settings(kb_settings)
