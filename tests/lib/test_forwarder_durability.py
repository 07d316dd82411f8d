"""End-to-end durability: the real forwarder process survives outages and SIGKILL.

Scenario per backend: N consented cases are queued; the fake hotline refuses connections,
then times out (storing requests it never acknowledges), the forwarder is SIGKILLed while
requests are in flight and restarted, the hotline returns 500s, then recovers. Every case
must end up processed by the hotline exactly once (deduplicated by Idempotency-Key), every
outbox row delivered and every case 'forwarded'. On PostgreSQL two workers run at once to
exercise FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from teman.cases.store import CaseStore
from tests.support.fake_hotline import FakeHotline

REPO_ROOT = Path(__file__).resolve().parents[2]
N_CASES = 12
TOKEN = "hotline-test-token"
DEADLINE_SECONDS = 60.0


def _sender(i: int) -> str:
    return f"whatsapp:+62813000000{i:02d}"


def _excerpt(i: int) -> str:
    return f"paspor saya ditahan majikan nomor {i:02d}"


def _contact(i: int) -> str:
    return f"0813-7777-{i:04d}"


class Workers:
    """The forwarder subprocesses plus their shared log file."""

    def __init__(self, env: dict[str, str], count: int, log_path: Path) -> None:
        self.env = env
        self.count = count
        self.log_path = log_path
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            for _ in range(self.count):
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "teman.cases.forwarder"],
                        cwd=REPO_ROOT,
                        env=self.env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )

    def kill(self) -> list[int]:
        """SIGKILL: no chance to finish in-flight requests or record their outcome."""
        codes = []
        for proc in self.procs:
            proc.send_signal(signal.SIGKILL)
            codes.append(proc.wait(timeout=10))
        self.procs = []
        return codes

    def terminate(self) -> list[int]:
        """SIGTERM: clean shutdown expected."""
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=15) for proc in self.procs]
        self.procs = []
        return codes

    def alive(self) -> bool:
        return all(proc.poll() is None for proc in self.procs)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _wait(what: str, predicate: Callable[[], bool], deadline: float, workers: Workers) -> None:
    """Poll until ``predicate`` holds; fail with the worker log on the global deadline."""
    while time.monotonic() < deadline:
        if predicate():
            return
        if not workers.alive():
            pytest.fail(f"forwarder exited while waiting for {what}:\n{workers.log()[-4000:]}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}:\n{workers.log()[-4000:]}")


def test_forwarder_survives_outages_and_sigkill(
    cases_db_url: str, cases_fake_hotline: FakeHotline, tmp_path: Path
) -> None:
    hotline = cases_fake_hotline
    store = CaseStore(cases_db_url, hash_key="durability-key")
    try:
        refs = [
            store.record_case(
                channel="whatsapp",
                sender_id=_sender(i),
                category="held_documents" if i % 2 else "trafficking",
                excerpt=_excerpt(i),
                consent=True,
                victim="saya sendiri",
                location="Malaysia",
                contact=_contact(i),
            )
            for i in range(N_CASES)
        ]
        anonymous = store.record_case(
            channel="rest", sender_id="x", category="other", excerpt="x", consent=False
        )
        hotline.set_mode("refuse")

        env = {
            **os.environ,
            "CASES_DATABASE_URL": cases_db_url,
            "CASE_HASH_KEY": "durability-key",
            "HOTLINE_FORWARD_URL": hotline.url,
            "HOTLINE_FORWARD_TOKEN": TOKEN,
            "HOTLINE_FORWARD_TIMEOUT": "0.4",
            "FORWARD_BACKOFF_BASE": "0.05",
            "FORWARD_BACKOFF_MAX": "0.3",
            "FORWARD_POLL_INTERVAL": "0.05",
            "FORWARD_BATCH_SIZE": "4",
            "FORWARD_GIVE_UP_AFTER": "72",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        workers = Workers(env, 2 if store.is_postgres else 1, tmp_path / "forwarder.log")
        deadline = time.monotonic() + DEADLINE_SECONDS
        workers.start()
        try:
            # 1. Connection refused: every case gets at least one failed attempt.
            _wait(
                "every case to fail against a refusing hotline",
                lambda: all((c.attempts or 0) >= 1 for c in store.list_cases("open")),
                deadline,
                workers,
            )
            assert hotline.raw_deliveries == 0
            assert all(
                (c.last_error or "").startswith("connection failed")
                for c in store.list_cases("open")
            )

            # 2. Timeouts: requests arrive (and are stored) but are never acknowledged.
            hotline.set_mode("timeout")
            _wait(
                "timed-out requests",
                lambda: hotline.count(lambda r: r.mode == "timeout") >= 3,
                deadline,
                workers,
            )
            # 3. SIGKILL while requests are in flight, then restart.
            assert all(code == -signal.SIGKILL for code in workers.kill())
            timed_out = hotline.count(lambda r: r.mode == "timeout")
            workers.start()

            # 4. Server errors from the restarted worker(s).
            hotline.set_mode("error")
            _wait(
                "HTTP 500 answers after the restart",
                lambda: hotline.count(lambda r: r.mode == "error") >= 3,
                deadline,
                workers,
            )
            # 5. Recovery: everything must be delivered (including rows leased by the
            # killed worker, which become due again when their lease expires).
            hotline.set_mode("ok")
            _wait("all deliveries", lambda: store.pending_count() == 0, deadline, workers)
            assert workers.terminate() == [0] * workers.count  # clean SIGTERM shutdown
        finally:
            if workers.procs:
                workers.kill()

        cases = {c.reference: c for c in store.list_cases("all")}
        keys = {cases[r].idempotency_key for r in refs}
        assert len(keys) == N_CASES and None not in keys

        # Exactly once as processed by the hotline: one processed entry per key, no key
        # missing, no extra key, and one payload per case reference.
        processed = hotline.processed
        assert set(processed) == keys
        assert set(hotline.process_counts.values()) == {1}
        assert sorted(p["reference"] for p in processed.values()) == sorted(refs)
        for ref in refs:
            payload = processed[cases[ref].idempotency_key]
            i = refs.index(ref)
            assert payload["excerpt"] == _excerpt(i) and payload["contact"] == _contact(i)
            assert payload["consent"] is True and payload["source"] == "teman-migrasi"
            assert "sender_hash" not in payload

        # Retries really happened, all with the stable key and the bearer token.
        requests = hotline.requests
        assert timed_out >= 3 and hotline.raw_deliveries > N_CASES
        assert {r.idempotency_key for r in requests} == keys
        assert all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in requests)
        assert all(json.loads(r.body)["reference"] in refs for r in requests)
        # Requests stored during the timeout phase were re-sent and answered as duplicates.
        timed_out_keys = {r.idempotency_key for r in requests if r.mode == "timeout"}
        assert timed_out_keys
        assert timed_out_keys <= {r.idempotency_key for r in requests if r.status == 409}

        for ref in refs:
            case = cases[ref]
            assert case.status == "forwarded"
            assert case.delivered_at is not None and case.dead_at is None
        assert cases[anonymous].status == "anonymous"
        assert cases[anonymous].delivery_status == "not-queued"

        log = workers.log()
        for i in range(N_CASES):
            for secret in (_sender(i), _excerpt(i), _contact(i)):
                assert secret not in log
        assert TOKEN not in log
        assert all(ref in log for ref in refs)
    finally:
        store.dispose()
