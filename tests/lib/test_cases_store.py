"""CaseStore tests on real SQLite and PostgreSQL: privacy rules, hashing, atomicity."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import uuid

import pytest
import sqlalchemy as sa

from teman.cases.config import (
    DEFAULT_SQLITE_PATH,
    ConfigError,
    ForwarderConfig,
    StoreConfig,
    normalize_database_url,
)
from teman.cases.store import (
    EXCERPT_MAX_CHARS,
    CaseNotFoundError,
    CaseStore,
    CaseStoreError,
)

SENDER = "whatsapp:+6281234567890"
EXCERPT = "paspor saya ditahan agen di Kuala Lumpur"
CONTACT = "0812-3456-7890"
VICTIM = "adik perempuan saya"
LOCATION = "Malaysia"
REF_RE = re.compile(r"SG-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{5}")


def _record(store: CaseStore, *, consent: bool, **overrides: object) -> str:
    fields: dict[str, object] = {
        "channel": "rest",
        "sender_id": SENDER,
        "category": "held_documents",
        "excerpt": EXCERPT,
        "consent": consent,
        "victim": VICTIM,
        "location": LOCATION,
        "contact": CONTACT,
    }
    fields.update(overrides)
    return store.record_case(**fields)  # type: ignore[arg-type]


def _dump(store: CaseStore) -> str:
    """Every value of every case table as one string, to search for leaked data."""
    with store.engine.connect() as conn:
        parts = []
        for table in ("cases", "case_outbox", "case_settings"):
            parts.extend(repr(tuple(row)) for row in conn.exec_driver_sql(f"SELECT * FROM {table}"))
    return "\n".join(parts)


def _count(store: CaseStore, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def test_consent_stores_case_and_outbox(cases_store: CaseStore) -> None:
    ref = _record(cases_store, consent=True)
    assert REF_RE.fullmatch(ref)
    case = cases_store.get_case(ref)
    assert case.status == "open"
    assert case.consent is True
    assert (case.channel, case.category) == ("rest", "held_documents")
    assert (case.excerpt, case.victim, case.location, case.contact) == (
        EXCERPT,
        VICTIM,
        LOCATION,
        CONTACT,
    )
    assert case.created_at.utcoffset() is not None and case.created_at.utcoffset().seconds == 0
    expected_hash = hmac.new(b"test-hash-key", SENDER.encode(), hashlib.sha256).hexdigest()
    assert case.sender_hash == expected_hash
    assert SENDER not in _dump(cases_store)  # the raw sender id is never stored

    assert case.idempotency_key is not None
    assert uuid.UUID(case.idempotency_key).version == 4
    assert (case.attempts, case.delivered_at, case.dead_at) == (0, None, None)
    assert case.delivery_status == "pending"
    with cases_store.engine.connect() as conn:
        payload = json.loads(conn.exec_driver_sql("SELECT payload FROM case_outbox").scalar_one())
    assert payload == {
        "reference": ref,
        "created_at": case.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "channel": "rest",
        "category": "held_documents",
        "excerpt": EXCERPT,
        "victim": VICTIM,
        "location": LOCATION,
        "contact": CONTACT,
        "consent": True,
        "source": "teman-migrasi",
    }
    assert expected_hash not in json.dumps(payload)


def test_without_consent_only_anonymous_record(cases_store: CaseStore) -> None:
    ref = _record(cases_store, consent=False)
    case = cases_store.get_case(ref)
    assert case.status == "anonymous"
    assert case.consent is False
    assert (case.channel, case.category) == ("rest", "held_documents")
    assert (case.sender_hash, case.excerpt, case.victim, case.location, case.contact) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert case.delivery_status == "not-queued"
    assert _count(cases_store, "case_outbox") == 0
    dump = _dump(cases_store)
    sender_hash = hmac.new(b"test-hash-key", SENDER.encode(), hashlib.sha256).hexdigest()
    for secret in (SENDER, EXCERPT, CONTACT, VICTIM, LOCATION, sender_hash):
        assert secret not in dump


def test_sender_hash_is_keyed_and_stable(cases_db_url: str) -> None:
    store_a = CaseStore(cases_db_url, hash_key="key-a")
    store_b = CaseStore(cases_db_url, hash_key="key-b")
    try:
        ref1 = _record(store_a, consent=True)
        ref2 = _record(store_a, consent=True)
        ref3 = _record(store_b, consent=True)
        ref4 = _record(store_a, consent=True, sender_id="telegram:99")
        h1, h2, h3, h4 = (store_a.get_case(r).sender_hash for r in (ref1, ref2, ref3, ref4))
        assert h1 == h2  # stable: repeat reports from one sender can be linked
        assert h1 != h3  # keyed: depends on the secret
        assert h1 != h4
        assert h1 != hashlib.sha256(SENDER.encode()).hexdigest()  # not a plain hash
        assert h1 == hmac.new(b"key-a", SENDER.encode(), hashlib.sha256).hexdigest()
    finally:
        store_a.dispose()
        store_b.dispose()


def test_generated_hash_key_is_persisted_and_never_logged(
    cases_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = CaseStore.from_env({"CASES_DATABASE_URL": cases_db_url})
    second = CaseStore.from_env({"CASES_DATABASE_URL": cases_db_url})
    try:
        ref1 = _record(first, consent=True)
        ref2 = _record(second, consent=True)
        assert first.get_case(ref1).sender_hash == second.get_case(ref2).sender_hash
        with first.engine.connect() as conn:
            keys = conn.exec_driver_sql("SELECT value FROM case_settings").scalars().all()
        assert len(keys) == 1 and len(keys[0]) == 64
        assert keys[0] not in caplog.text
        for secret in (SENDER, EXCERPT, CONTACT):
            assert secret not in caplog.text
        assert ref1 in caplog.text  # references are fine to log
    finally:
        first.dispose()
        second.dispose()


def test_excerpt_is_truncated(cases_store: CaseStore) -> None:
    long_text = "paspor ditahan " + "x" * 500
    ref = _record(cases_store, consent=True, excerpt=long_text)
    case = cases_store.get_case(ref)
    assert case.excerpt == long_text[:EXCERPT_MAX_CHARS]
    assert len(case.excerpt or "") == 280
    with cases_store.engine.connect() as conn:
        payload = json.loads(conn.exec_driver_sql("SELECT payload FROM case_outbox").scalar_one())
    assert payload["excerpt"] == long_text[:280]


def test_blank_optional_fields_become_null(cases_store: CaseStore) -> None:
    ref = _record(cases_store, consent=True, victim="  ", location=None, contact="")
    case = cases_store.get_case(ref)
    assert (case.victim, case.location, case.contact) == (None, None, None)


def _install_outbox_failure(store: CaseStore) -> None:
    """A real database trigger that makes every outbox insert fail."""
    with store.engine.begin() as conn:
        if store.is_postgres:
            conn.exec_driver_sql(
                "CREATE FUNCTION case_outbox_fail() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'forced outbox failure'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER case_outbox_fail BEFORE INSERT ON case_outbox "
                "FOR EACH ROW EXECUTE FUNCTION case_outbox_fail()"
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER case_outbox_fail BEFORE INSERT ON case_outbox "
                "BEGIN SELECT RAISE(ABORT, 'forced outbox failure'); END"
            )


def _remove_outbox_failure(store: CaseStore) -> None:
    with store.engine.begin() as conn:
        if store.is_postgres:
            conn.exec_driver_sql("DROP TRIGGER case_outbox_fail ON case_outbox")
        else:
            conn.exec_driver_sql("DROP TRIGGER case_outbox_fail")


def test_case_and_outbox_are_written_atomically(cases_store: CaseStore) -> None:
    _install_outbox_failure(cases_store)
    with pytest.raises(CaseStoreError) as excinfo:
        _record(cases_store, consent=True)
    for secret in (SENDER, EXCERPT, CONTACT):
        assert secret not in str(excinfo.value)
    # The case insert happened first in the same transaction and was rolled back with it.
    assert _count(cases_store, "cases") == 0
    assert _count(cases_store, "case_outbox") == 0

    anon = _record(cases_store, consent=False)  # anonymous records never touch the outbox
    assert cases_store.get_case(anon).status == "anonymous"

    _remove_outbox_failure(cases_store)
    ref = _record(cases_store, consent=True)
    assert cases_store.get_case(ref).delivery_status == "pending"
    assert (_count(cases_store, "cases"), _count(cases_store, "case_outbox")) == (2, 1)


def test_references_are_unique(cases_store: CaseStore) -> None:
    refs = [_record(cases_store, consent=i % 3 != 0) for i in range(120)]
    assert len(set(refs)) == len(refs)
    assert all(REF_RE.fullmatch(r) for r in refs)


def test_concurrent_writers_share_the_database(cases_db_url: str) -> None:
    """Two engines (as action server + forwarder would have) writing at once."""
    stores = [CaseStore(cases_db_url, hash_key="k") for _ in range(2)]
    refs: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(store: CaseStore) -> None:
        try:
            for _ in range(15):
                ref = _record(store, consent=True)
                store.claim_due(limit=3, lease_seconds=30)
                with lock:
                    refs.append(ref)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert not errors, errors
        assert len(set(refs)) == 60
        assert _count(stores[0], "case_outbox") == 60
    finally:
        for s in stores:
            s.dispose()


def test_close_list_stats_and_requeue(cases_store: CaseStore) -> None:
    open_ref = _record(cases_store, consent=True)
    other_ref = _record(cases_store, consent=True, category="trafficking")
    anon_ref = _record(cases_store, consent=False, category="trafficking")

    closed = cases_store.close_case(open_ref.lower(), note="sudah ditelepon")
    assert (closed.status, closed.staff_note) == ("closed", "sudah ditelepon")
    assert closed.closed_at is not None
    assert [c.reference for c in cases_store.list_cases("closed")] == [open_ref]
    assert [c.reference for c in cases_store.list_cases("open")] == [other_ref]
    assert {c.reference for c in cases_store.list_cases("all")} == {open_ref, other_ref, anon_ref}
    assert len(cases_store.list_cases("all", limit=2)) == 2
    assert cases_store.stats() == {
        ("held_documents", "closed"): 1,
        ("trafficking", "open"): 1,
        ("trafficking", "anonymous"): 1,
    }
    with pytest.raises(ValueError):
        cases_store.close_case(anon_ref)
    with pytest.raises(CaseNotFoundError):
        cases_store.close_case("SG-NOPE2")
    with pytest.raises(CaseNotFoundError):
        cases_store.get_case("SG-NOPE2")
    with pytest.raises(ValueError):
        cases_store.list_cases("bogus")

    # A dead delivery can be queued again by staff.
    item = cases_store.claim_due(limit=10, lease_seconds=30)
    assert {i.reference for i in item} == {open_ref, other_ref}
    target = next(i for i in item if i.reference == other_ref)
    cases_store.mark_failed(
        target.outbox_id, error="HTTP 500", next_attempt_at=closed.created_at, dead=True
    )
    assert cases_store.get_case(other_ref).delivery_status == "dead"
    assert cases_store.requeue(other_ref).delivery_status == "pending"


def test_claims_are_leased(cases_store: CaseStore) -> None:
    _record(cases_store, consent=True)
    first = cases_store.claim_due(limit=5, lease_seconds=60)
    assert len(first) == 1
    assert cases_store.claim_due(limit=5, lease_seconds=60) == []  # still leased
    assert cases_store.pending_count() == 1


def test_config_from_env() -> None:
    cfg = StoreConfig.from_env({})
    assert cfg.database_url == f"sqlite:///{DEFAULT_SQLITE_PATH}"
    assert cfg.hash_key is None
    assert DEFAULT_SQLITE_PATH.name == "cases.sqlite3" and DEFAULT_SQLITE_PATH.parent.name == "var"
    assert (
        normalize_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
        and normalize_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
        and normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"
    )
    fwd = ForwarderConfig.from_env({})
    assert (fwd.url, fwd.token, fwd.timeout, fwd.backoff_base, fwd.backoff_max) == (
        None,
        None,
        10.0,
        2.0,
        300.0,
    )
    assert (fwd.give_up_after_hours, fwd.poll_interval) == (72.0, 2.0)
    with pytest.raises(ConfigError, match="HOTLINE_FORWARD_TIMEOUT"):
        ForwarderConfig.from_env({"HOTLINE_FORWARD_TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match="FORWARD_BACKOFF_MAX"):
        ForwarderConfig.from_env({"FORWARD_BACKOFF_BASE": "10", "FORWARD_BACKOFF_MAX": "1"})


def test_tables_have_only_the_documented_columns(cases_store: CaseStore) -> None:
    columns = {c["name"] for c in sa.inspect(cases_store.engine).get_columns("cases")}
    assert columns == {
        "id",
        "reference",
        "created_at",
        "channel",
        "sender_hash",
        "category",
        "excerpt",
        "consent",
        "victim",
        "location",
        "contact",
        "status",
        "closed_at",
        "staff_note",
    }
