"""End to end: a consented case reaches staff by e-mail (real SMTP server, STARTTLS + AUTH),
and a conversation reaches the analytics tables through Rasa's pika event broker on the real
RabbitMQ as counts only, with no sender id or text."""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from teman.analytics.store import AnalyticsStore
from teman.cases.store import CaseStore

pytestmark = pytest.mark.e2e
REFERENCE = re.compile(r"SG-[2-9A-HJKMNP-Z]{5}")


def sender() -> str:
    return "e2e-delivery-" + uuid.uuid4().hex[:10]


def _counts(url: str) -> dict[tuple[str, str, str], int]:
    store = AnalyticsStore(url)
    try:
        out: dict[tuple[str, str, str], int] = {}
        for row in store.rows():
            key = (row.channel, row.metric, row.key)
            out[key] = out.get(key, 0) + row.count
        return out
    finally:
        store.dispose()


def test_consented_case_is_e_mailed_to_staff(stack) -> None:
    s = sender()
    stack.say(s, "beta di penampungan di batam, sonde boleh keluar, hp diambil")
    stack.say(s, "iya kak, tolong sampaikan ke petugas")
    stack.say(s, "saya sendiri")
    stack.say(s, "Batam")
    done = stack.reply_text(s, "lewati")
    reference = REFERENCE.search(done).group(0)
    deadline = time.monotonic() + 120
    mails = []
    while time.monotonic() < deadline and not mails:
        mails = [m for m in stack.smtp.received if reference in (m.message["Subject"] or "")]
        time.sleep(0.2)
    assert len(mails) == 1, [m.message["Subject"] for m in stack.smtp.received]
    [mail] = mails
    case = CaseStore(stack.cases_db_url).get_case(reference)
    assert {d.target for d in case.deliveries} == {"webhook", "email:petugas@sisaga.example.id"}
    assert mail.message["Message-ID"] == f"<{case.deliveries[1].idempotency_key}@teman-migrasi>"
    body = mail.body
    assert "Dikurung atau tidak boleh keluar" in body and "penampungan" in body
    assert "Kontak        : (tidak diisi)" in body  # skipped: no number is invented
    assert s not in mail.raw.decode()


def test_conversation_reaches_analytics_as_counts_only(stack) -> None:
    s = sender()
    secret = "paspor Yosefina ditahan majikan di Tawau"
    assert "Sumber:" in stack.reply_text(s, "apa itu KUR Penempatan?")
    stack.say(s, secret)
    stack.say(s, "sonde usah")
    url = stack.analytics_db_url
    deadline = time.monotonic() + 180
    counts: dict[tuple[str, str, str], int] = {}
    while time.monotonic() < deadline:
        if Path(url.removeprefix("sqlite:///")).exists():
            counts = _counts(url)
            if counts.get(("rest", "handoff_declined", "held_documents")):
                break
        time.sleep(0.5)
    assert counts.get(("rest", "handoff_declined", "held_documents"), 0) >= 1, counts
    assert counts[("rest", "handoff_offered", "held_documents")] >= 1
    assert counts[("rest", "risk_report", "held_documents")] >= 1
    assert counts[("rest", "topic", "kur-penempatan")] >= 1
    assert counts[("rest", "decision", "answer")] >= 1
    assert counts[("rest", "message", "")] >= 3
    # No sender id and no text anywhere in the analytics database.
    db = Path(url.removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        dump = repr([conn.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables])
    assert tables == ["analytics_counts"]
    # ("paspor" alone is also in entry ids such as paspor-ditahan: the bot's own words.)
    for needle in (s, "e2e-", "Yosefina", "Tawau", secret, "KUR Penempatan?"):
        assert needle not in dump
    assert "analytics" in stack.log("analytics") and "Yosefina" not in stack.log("analytics")
