"""In-process forwarder tests against the real fake-hotline HTTP server and real databases."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from datetime import timedelta

import aiohttp
import pytest

from teman.cases.config import ForwarderConfig
from teman.cases.forwarder import Forwarder, backoff_delay, is_delivered_status
from teman.cases.models import utcnow
from teman.cases.store import CaseStore
from tests.support.fake_hotline import FakeHotline

SENDER = "telegram:5550001"
EXCERPT = "saya dijual ke majikan, tidak digaji"
CONTACT = "+60 12-345 6789"
TOKEN = "hotline-test-token"


def _config(url: str | None, **overrides: object) -> ForwarderConfig:
    values: dict[str, object] = {
        "url": url,
        "token": TOKEN,
        "timeout": 0.5,
        "backoff_base": 1.0,
        "backoff_max": 4.0,
        "give_up_after_hours": 72.0,
        "poll_interval": 0.05,
        "batch_size": 10,
    }
    values.update(overrides)
    return ForwarderConfig(**values)  # type: ignore[arg-type]


def _record(store: CaseStore, **overrides: object) -> str:
    fields: dict[str, object] = {
        "channel": "telegram",
        "sender_id": SENDER,
        "category": "trafficking",
        "excerpt": EXCERPT,
        "consent": True,
        "victim": "saya sendiri",
        "location": "Malaysia",
        "contact": CONTACT,
    }
    fields.update(overrides)
    return store.record_case(**fields)  # type: ignore[arg-type]


async def _run_once(forwarder: Forwarder) -> int:
    async with aiohttp.ClientSession() as http:
        return await forwarder.run_once(http)


def _assert_no_personal_data(text: str) -> None:
    for secret in (SENDER, EXCERPT, CONTACT, TOKEN):
        assert secret not in text


async def test_delivers_with_headers_and_payload(
    cases_store: CaseStore, cases_fake_hotline: FakeHotline, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ref = _record(cases_store)
    _record(cases_store, consent=False)  # anonymous records are never forwarded
    forwarder = Forwarder(cases_store, _config(cases_fake_hotline.url))

    assert await _run_once(forwarder) == 1
    case = cases_store.get_case(ref)
    assert case.status == "forwarded"
    assert case.delivery_status == "delivered" and case.attempts == 1
    [request] = cases_fake_hotline.requests
    assert request.status == 201
    assert request.headers["Idempotency-Key"] == case.idempotency_key
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    body = request.json()
    assert body["reference"] == ref and body["excerpt"] == EXCERPT and body["contact"] == CONTACT
    assert body["consent"] is True and body["source"] == "teman-migrasi"
    assert "sender_hash" not in body and SENDER not in json.dumps(body)

    assert await _run_once(forwarder) == 0  # nothing left to do
    assert ref in caplog.text and "201" in caplog.text
    _assert_no_personal_data(caplog.text)


async def test_no_authorization_header_without_token(cases_store: CaseStore) -> None:
    with FakeHotline() as hotline:
        _record(cases_store)
        assert await _run_once(Forwarder(cases_store, _config(hotline.url, token=None))) == 1
        [request] = hotline.requests
        assert "Authorization" not in request.headers
        assert request.status == 201


async def test_server_error_schedules_backoff(
    cases_store: CaseStore, cases_fake_hotline: FakeHotline, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cases_fake_hotline.set_mode("error")
    ref = _record(cases_store)
    before = utcnow()
    assert await _run_once(Forwarder(cases_store, _config(cases_fake_hotline.url))) == 1
    case = cases_store.get_case(ref)
    assert case.status == "open"
    assert (case.attempts, case.last_error, case.delivery_status) == (1, "HTTP 500", "pending")
    # First failure: base 1 s with equal jitter -> between 0.5 s and 1 s from now.
    assert case.next_attempt_at is not None
    assert before + timedelta(seconds=0.45) <= case.next_attempt_at
    assert case.next_attempt_at <= utcnow() + timedelta(seconds=1.05)
    assert await _run_once(Forwarder(cases_store, _config(cases_fake_hotline.url))) == 0
    assert f"case {ref} delivery failed: HTTP 500" in caplog.text
    _assert_no_personal_data(caplog.text)


async def test_connection_refused_is_retried(
    cases_store: CaseStore, cases_fake_hotline: FakeHotline
) -> None:
    cases_fake_hotline.set_mode("refuse")
    ref = _record(cases_store)
    assert await _run_once(Forwarder(cases_store, _config(cases_fake_hotline.url))) == 1
    case = cases_store.get_case(ref)
    assert case.attempts == 1 and (case.last_error or "").startswith("connection failed")
    assert case.delivery_status == "pending"

    cases_fake_hotline.set_mode("ok")  # same port again
    cases_store.requeue(ref)
    assert await _run_once(Forwarder(cases_store, _config(cases_fake_hotline.url))) == 1
    assert cases_store.get_case(ref).status == "forwarded"


async def test_timeout_then_duplicate_409_counts_as_delivered(
    cases_store: CaseStore, cases_fake_hotline: FakeHotline
) -> None:
    # The hotline stores the case but its answer never arrives before our timeout.
    cases_fake_hotline.set_mode("timeout")
    ref = _record(cases_store)
    forwarder = Forwarder(cases_store, _config(cases_fake_hotline.url, timeout=0.3))
    started = time.monotonic()
    assert await _run_once(forwarder) == 1
    assert time.monotonic() - started < 3
    case = cases_store.get_case(ref)
    assert (case.attempts, case.last_error, case.status) == (1, "timeout", "open")
    assert [r.status for r in cases_fake_hotline.requests] == [None]  # unacknowledged

    cases_fake_hotline.set_mode("ok")
    cases_store.requeue(ref)
    assert await _run_once(forwarder) == 1
    assert [r.status for r in cases_fake_hotline.requests] == [None, 409]
    case = cases_store.get_case(ref)
    assert case.status == "forwarded" and case.attempts == 2
    assert cases_fake_hotline.process_counts == {case.idempotency_key: 1}


async def test_gives_up_after_deadline_and_staff_can_retry(
    cases_store: CaseStore, cases_fake_hotline: FakeHotline, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cases_fake_hotline.set_mode("error")
    ref = _record(cases_store)
    forwarder = Forwarder(cases_store, _config(cases_fake_hotline.url, give_up_after_hours=0))
    assert await _run_once(forwarder) == 1
    case = cases_store.get_case(ref)
    assert case.delivery_status == "dead" and case.status == "open"
    assert await _run_once(forwarder) == 0
    assert f"case {ref} NOT delivered; giving up" in caplog.text
    _assert_no_personal_data(caplog.text)

    cases_fake_hotline.set_mode("ok")
    cases_store.requeue(ref)
    assert await _run_once(forwarder) == 1
    assert cases_store.get_case(ref).status == "forwarded"


async def test_does_not_give_up_before_deadline(
    cases_store: CaseStore, cases_fake_hotline: FakeHotline
) -> None:
    cases_fake_hotline.set_mode("error")
    ref = _record(cases_store)
    forwarder = Forwarder(cases_store, _config(cases_fake_hotline.url, backoff_base=0.0))
    for _ in range(5):
        cases_store.requeue(ref)
        assert await _run_once(forwarder) == 1
    case = cases_store.get_case(ref)
    assert case.attempts == 5 and case.delivery_status == "pending"


async def test_closed_case_stays_closed_after_delivery(
    cases_store: CaseStore, cases_fake_hotline: FakeHotline
) -> None:
    ref = _record(cases_store)
    cases_store.close_case(ref, note="ditangani lewat telepon")
    assert await _run_once(Forwarder(cases_store, _config(cases_fake_hotline.url))) == 1
    case = cases_store.get_case(ref)
    assert (case.status, case.delivery_status) == ("closed", "delivered")


async def test_disabled_without_url_keeps_cases_queued(
    cases_store: CaseStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ref = _record(cases_store)
    stop = asyncio.Event()
    task = asyncio.create_task(Forwarder(cases_store, _config(None)).run(stop))
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert caplog.text.count("forwarding is disabled") == 1
    case = cases_store.get_case(ref)
    assert (case.status, case.delivery_status, case.attempts) == ("open", "pending", 0)


async def test_run_loop_delivers_and_stops_cleanly(
    cases_store: CaseStore, cases_fake_hotline: FakeHotline
) -> None:
    refs = [_record(cases_store) for _ in range(25)]  # more than one batch
    stop = asyncio.Event()
    task = asyncio.create_task(Forwarder(cases_store, _config(cases_fake_hotline.url)).run(stop))
    deadline = time.monotonic() + 20
    while cases_store.pending_count() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert all(cases_store.get_case(r).status == "forwarded" for r in refs)
    assert len(cases_fake_hotline.processed) == 25


def test_backoff_delay_is_bounded_exponential_with_jitter() -> None:
    rng = random.Random(1)
    for failures in range(1, 15):
        exp = min(300.0, 2.0 * 2 ** (failures - 1))
        samples = [backoff_delay(failures, 2.0, 300.0, rng) for _ in range(50)]
        assert all(exp / 2 <= s <= exp for s in samples)
        assert len(set(samples)) > 1  # jittered
    assert backoff_delay(30, 2.0, 300.0, rng) <= 300.0


def test_delivered_statuses() -> None:
    assert all(is_delivered_status(s) for s in (200, 201, 202, 204, 409))
    assert not any(is_delivered_status(s) for s in (301, 400, 401, 404, 429, 500, 503))
