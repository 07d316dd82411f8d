"""Case delivery to staff WhatsApp numbers (fake Graph API) and e-mail (a real local SMTP
server with STARTTLS + AUTH): retries, dedupe keys, dead letters and alert e-mails, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from teman.cases import alerts
from teman.cases.config import ForwarderConfig
from teman.cases.forwarder import Forwarder
from teman.cases.models import utcnow
from teman.cases.store import CaseStore
from teman.cases.targets import DeliveryConfig
from tests.support.fake_graph_api import FakeGraphAPI
from tests.support.fake_hotline import FakeHotline
from tests.support.smtp_server import LocalSmtp

REPO_ROOT = Path(__file__).resolve().parents[2]
SENDER = "wa:0123456789abcdef0123456789abcdef"
EXCERPT = "paspor saya ditahan majikan di Sibu, tidak digaji 5 bulan"
STAFF_NUMBERS = ("6281100000001", "6281100000002")
STAFF_MAIL = "petugas@sisaga.example.id"
ALERT_MAIL = "koordinator@sisaga.example.id"
TOKEN = "graph-test-token"


def _record(store: CaseStore, **overrides: object) -> str:
    fields: dict[str, object] = {
        "channel": "whatsapp",
        "sender_id": SENDER,
        "category": "held_documents",
        "excerpt": EXCERPT,
        "consent": True,
        "victim": "saya sendiri",
        "location": "Sibu, Malaysia",
        "contact": None,
    }
    fields.update(overrides)
    return store.record_case(**fields)  # type: ignore[arg-type]


def _forwarder(store: CaseStore, env: dict[str, str], *, give_up: float = 72.0,
               webhook: str | None = None) -> Forwarder:
    config = ForwarderConfig(url=webhook, token=None, timeout=2.0, backoff_base=0.01,
                             backoff_max=0.02, give_up_after_hours=give_up,
                             poll_interval=0.05, batch_size=10)
    return Forwarder(store, config, delivery=DeliveryConfig.load(env=env))


async def _run_once(forwarder: Forwarder) -> int:
    async with aiohttp.ClientSession() as http:
        return await forwarder.run_once(http)


def _make_due(store: CaseStore) -> None:
    """Move every pending row's retry time to now (instead of sleeping through a backoff)."""
    from sqlalchemy import update

    from teman.cases.models import OutboxItem

    with store.engine.begin() as conn:
        conn.execute(update(OutboxItem).where(OutboxItem.delivered_at.is_(None))
                     .values(next_attempt_at=utcnow() - timedelta(seconds=1)))


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[LocalSmtp]:
    with LocalSmtp(tmp_path) as server:
        yield server


@pytest.fixture
async def graph() -> FakeGraphAPI:
    api = FakeGraphAPI(access_token=TOKEN)
    await api.start()
    yield api
    await api.stop()


def _wa_env(graph: FakeGraphAPI) -> dict[str, str]:
    return {
        "DELIVERY_WHATSAPP_TO": ",".join(STAFF_NUMBERS),
        "WHATSAPP_API_URL": graph.url,
        "WHATSAPP_PHONE_NUMBER_ID": "1098765",
        "WHATSAPP_ACCESS_TOKEN": TOKEN,
    }


def _store(url: str, env: dict[str, str]) -> CaseStore:
    return CaseStore(url, hash_key="test-hash-key", targets=DeliveryConfig.load(env=env).targets())


def test_targets_from_file_and_env(tmp_path: Path) -> None:
    file = tmp_path / "delivery.yml"
    file.write_text("whatsapp:\n  to: ['+6281200000009']\nemail:\n  to: [a@x.id]\n")
    config = DeliveryConfig.load(env={"DELIVERY_CONFIG": str(file)})
    assert config.targets() == ("whatsapp:6281200000009", "email:a@x.id")
    env = {"DELIVERY_CONFIG": str(file), "HOTLINE_FORWARD_URL": "http://h/cases",
           "DELIVERY_EMAIL_TO": "b@x.id, c@x.id"}
    assert DeliveryConfig.load(env=env).targets() == (
        "webhook", "whatsapp:6281200000009", "email:b@x.id", "email:c@x.id")
    # nothing configured: the case still waits for the webhook, never "no delivery"
    assert DeliveryConfig.load(env={}).targets() == ("webhook",)


async def test_whatsapp_template_to_each_staff_number(
    cases_db_url: str, graph: FakeGraphAPI
) -> None:
    env = _wa_env(graph)
    store = _store(cases_db_url, env)
    try:
        ref = _record(store)
        assert await _run_once(_forwarder(store, env)) == 2
        case = store.get_case(ref)
        assert case.status == "forwarded" and case.delivery_status == "delivered"
        assert [d.target for d in case.deliveries] == [f"whatsapp:{n}" for n in STAFF_NUMBERS]
        sent = graph.delivered
        assert sorted(r.json["to"] for r in sent) == sorted(STAFF_NUMBERS)
        keys = {d.idempotency_key for d in case.deliveries}
        for request in sent:
            assert request.path == "/1098765/messages"
            assert request.headers["Authorization"] == f"Bearer {TOKEN}"
            body = request.json
            assert body["type"] == "template"
            assert body["template"]["name"] == "sisaga_laporan_kasus"
            assert body["template"]["language"] == {"code": "id"}
            params = [p["text"] for p in body["template"]["components"][0]["parameters"]]
            assert params[0] == ref and params[1] == "Dokumen ditahan"
            assert params[3] == "Sibu, Malaysia" and params[4] == "(tidak diisi)"
            assert EXCERPT in params[5]
            assert body["biz_opaque_callback_data"] in keys
            text = json.dumps(body)
            assert SENDER not in text and str(case.sender_hash) not in text
    finally:
        store.dispose()


async def test_whatsapp_retries_with_the_same_key_then_permanent_error_dead_letters(
    cases_db_url: str, graph: FakeGraphAPI
) -> None:
    env = {**_wa_env(graph), "DELIVERY_WHATSAPP_TO": STAFF_NUMBERS[0]}
    store = _store(cases_db_url, env)
    try:
        ref = _record(store)
        forwarder = _forwarder(store, env)
        graph.fail_next(1, status=500)
        graph.rate_limit_next(1)
        await _run_once(forwarder)
        assert store.get_case(ref).delivery_status == "pending"
        _make_due(store)
        await _run_once(forwarder)
        case = store.get_case(ref)
        assert (case.delivery_status, case.last_error) == ("pending", "HTTP 429")
        _make_due(store)
        await _run_once(forwarder)
        case = store.get_case(ref)
        assert case.delivery_status == "delivered" and case.attempts == 3
        keys = {r.json["biz_opaque_callback_data"] for r in graph.requests}
        assert keys == {case.idempotency_key}  # one key for every attempt

        # A rejected template (HTTP 400) cannot be fixed by retrying: dead letter + alert.
        other = _record(store, sender_id="wa:ffffffffffffffffffffffffffffffff")
        graph.fail_next(1, status=400)
        await _run_once(forwarder)
        dead = store.get_case(other)
        assert dead.delivery_status == "dead" and dead.last_error == "HTTP 400"
        assert dead.status == "open"
        [letter] = store.dead_letters()
        assert (letter.reference, letter.target) == (other, f"whatsapp:{STAFF_NUMBERS[0]}")
        [alert] = store.alerts()
        assert alert.kind == alerts.DEAD_LETTER and alert.subject.startswith(other)
        assert alert.sent_at is None  # no alert address configured: shown as unsent
    finally:
        store.dispose()


async def test_email_over_starttls_with_auth(cases_db_url: str, smtp: LocalSmtp) -> None:
    env = smtp.env(DELIVERY_EMAIL_TO=STAFF_MAIL)
    store = _store(cases_db_url, env)
    try:
        ref = _record(store, contact="0812 3456 7890 (WA)")
        assert await _run_once(_forwarder(store, env)) == 1
        [mail] = smtp.wait_for(1)
        case = store.get_case(ref)
        assert case.status == "forwarded" and case.deliveries[0].target == f"email:{STAFF_MAIL}"
        assert mail.rcpt_tos == [STAFF_MAIL] and smtp.auth_attempts == 1
        msg = mail.message
        assert msg["Message-ID"] == f"<{case.idempotency_key}@teman-migrasi>"
        assert ref in msg["Subject"] and "Dokumen ditahan" in msg["Subject"]
        body = mail.body
        assert EXCERPT in body and "0812 3456 7890 (WA)" in body and "Sibu, Malaysia" in body
        assert case.idempotency_key in body
        assert SENDER not in mail.raw.decode() and str(case.sender_hash) not in mail.raw.decode()
    finally:
        store.dispose()


async def test_email_temporary_rejection_and_wrong_password_are_retried(
    cases_db_url: str, smtp: LocalSmtp
) -> None:
    env = smtp.env(DELIVERY_EMAIL_TO=STAFF_MAIL, SMTP_PASSWORD="salah")
    store = _store(cases_db_url, env)
    try:
        ref = _record(store)
        await _run_once(_forwarder(store, env))
        case = store.get_case(ref)
        assert case.delivery_status == "pending"
        assert case.last_error == "SMTP 535 authentication failed"
        env = smtp.env(DELIVERY_EMAIL_TO=STAFF_MAIL)
        smtp.reject_next("451 4.3.0 mailbox busy")
        _make_due(store)
        await _run_once(_forwarder(store, env))
        assert store.get_case(ref).last_error == "SMTP 451"
        _make_due(store)
        await _run_once(_forwarder(store, env))
        [mail] = smtp.wait_for(1)
        case = store.get_case(ref)
        assert case.delivery_status == "delivered" and case.attempts == 3
        assert mail.message["Message-ID"] == f"<{case.idempotency_key}@teman-migrasi>"
    finally:
        store.dispose()


async def test_untrusted_certificate_is_refused(cases_db_url: str, smtp: LocalSmtp) -> None:
    env = {k: v for k, v in smtp.env(DELIVERY_EMAIL_TO=STAFF_MAIL).items()
           if k != "SMTP_CA_FILE"}
    store = _store(cases_db_url, env)
    try:
        ref = _record(store)
        await _run_once(_forwarder(store, env))
        case = store.get_case(ref)
        assert case.delivery_status == "pending" and "SSL" in (case.last_error or "")
        assert smtp.received == [] and smtp.auth_attempts == 0  # no password over bad TLS
    finally:
        store.dispose()


async def test_dead_letter_alerts_staff_by_email(cases_db_url: str, smtp: LocalSmtp) -> None:
    with FakeHotline(mode="refuse") as hotline:
        env = smtp.env(ALERT_EMAIL_TO=ALERT_MAIL, HOTLINE_FORWARD_URL=hotline.url)
        store = _store(cases_db_url, env)
        try:
            ref = _record(store)
            # give_up=0: the first failure is past the deadline -> dead letter
            await _run_once(_forwarder(store, env, give_up=0.0, webhook=hotline.url))
            assert store.get_case(ref).delivery_status == "dead"
            await _run_once(_forwarder(store, env, give_up=0.0, webhook=hotline.url))
            [mail] = smtp.wait_for(1)
            assert mail.rcpt_tos == [ALERT_MAIL]
            assert ref in mail.message["Subject"] and "gagal terkirim" in mail.message["Subject"]
            assert f"retry {ref}" in mail.body and "webhook" in mail.body
            assert EXCERPT not in mail.raw.decode()
            [alert] = store.alerts()
            assert alert.sent_at is not None
            # sent once: another pass sends nothing new
            await _run_once(_forwarder(store, env, give_up=0.0, webhook=hotline.url))
            assert len(smtp.received) == 1
            # staff re-queue it; the hotline is back
            hotline.set_mode("ok")
            store.requeue(ref)
            await _run_once(_forwarder(store, env, webhook=hotline.url))
            assert store.get_case(ref).delivery_status == "delivered"
            assert store.dead_letters() == []
        finally:
            store.dispose()


def test_stopped_forwarder_alerts_staff_once(cases_db_url: str, smtp: LocalSmtp) -> None:
    env = smtp.env(ALERT_EMAIL_TO=ALERT_MAIL, HOTLINE_FORWARD_URL="http://127.0.0.1:9/x",
                   FORWARDER_STALE_AFTER="60")
    delivery = DeliveryConfig.load(env=env)
    store = _store(cases_db_url, env)
    try:
        _record(store)
        now = utcnow()
        assert not alerts.check_forwarder(store, delivery, now)  # the case is fresh
        store.beat()
        assert not alerts.check_forwarder(store, delivery, now + timedelta(seconds=30))
        assert smtp.received == []
        later = now + timedelta(seconds=600)
        assert alerts.check_forwarder(store, delivery, later)
        [mail] = smtp.wait_for(1)
        assert "pengirim laporan berhenti" in mail.message["Subject"]
        assert "menunggu: 1" in mail.body
        assert alerts.check_forwarder(store, delivery, later + timedelta(seconds=60))
        assert len(smtp.received) == 1  # one e-mail per outage
        store.beat()
        assert not alerts.check_forwarder(store, delivery)
    finally:
        store.dispose()


def test_real_forwarder_beats_and_its_stop_alerts_staff(
    cases_db_url: str, smtp: LocalSmtp
) -> None:
    """The forwarder process delivers and writes heartbeats; once killed, the watch (as the
    decision service runs it) e-mails staff."""
    env = {**os.environ, **smtp.env(DELIVERY_EMAIL_TO=STAFF_MAIL, ALERT_EMAIL_TO=ALERT_MAIL),
           "CASES_DATABASE_URL": cases_db_url, "CASE_HASH_KEY": "test-hash-key",
           "FORWARD_POLL_INTERVAL": "0.1", "HOTLINE_FORWARD_URL": ""}
    store = _store(cases_db_url, env)
    proc = subprocess.Popen([sys.executable, "-m", "teman.cases.forwarder"], cwd=REPO_ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ref = _record(store)
        [mail] = smtp.wait_for(1)
        assert ref in mail.message["Subject"] and mail.rcpt_tos == [STAFF_MAIL]
        beat = store.last_beat()
        assert beat is not None
        delivery = DeliveryConfig.load(env=env)
        assert not alerts.check_forwarder(store, delivery)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    try:
        _record(store)  # waits: nobody delivers it now
        later = utcnow() + timedelta(seconds=delivery.stale_after + 1)
        assert alerts.check_forwarder(store, delivery, later)
        mails = smtp.wait_for(2)
        assert mails[1].rcpt_tos == [ALERT_MAIL]
        assert "pengirim laporan berhenti" in mails[1].message["Subject"]
        assert "menunggu: 1" in mails[1].body
    finally:
        store.dispose()
