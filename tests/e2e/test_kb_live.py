"""Staff publish an edit with `kb build` while the bot is in use: the running bot answers from
the new entry as soon as the command returns, and a client that keeps asking questions
throughout sees no failure. Then `kb gaps` reads the real tracker store of that bot.

The bot runs the small fixture knowledge base (tests/fixtures/kb) without fine-tuning, so
the test builds in seconds; servers, index, tracker store and the `kb` command are real.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import API_TOKEN, ROOT, Stack, _post_json, _wait_ready, free_port
from tests.support.fake_hotline import FakeHotline

FIXTURE = ROOT / "tests" / "fixtures" / "kb"
NEW_ENTRY = """
  - id: bpjs-pmi
    title: BPJS untuk PMI
    tags: [bpjs]
    places: []
    questions:
      - apakah pekerja migran dapat bpjs ketenagakerjaan
      - bpjs buat tki wajib ga
      - asuransi pekerja migran dari pemerintah apa
      - beta mau pi kerja, ada jaminan sosial ko?
      - iuran bpjs pmi berapa
      - perlindungan kecelakaan kerja untuk pmi
      - bpjs pmi bisa klaim di luar negeri?
      - daftar bpjs sebelum berangkat kerja
    answer: |
      *BPJS Ketenagakerjaan* melindungi PMI sebelum, selama dan sesudah bekerja (contoh).
    sources:
      - name: "Contoh sumber BPJS"
        date: 2025-06-01
    reviewed: 2026-11-20
"""
NEW_QUESTION = "apakah pekerja migran dapat bpjs ketenagakerjaan"
GAP_QUESTION = "siapa juara piala dunia tahun lalu? wa saya 0812-3456-7890"
GAP_SENDER = "gapsender-7f3a"


@pytest.fixture(scope="module")
def kb_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("kblive")
    run_dir = folder / "run"
    run_dir.mkdir()
    knowledge = folder / "knowledge"
    shutil.copytree(FIXTURE, knowledge)
    rasa_port, action_port = free_port(), free_port()
    hotline = FakeHotline(mode="ok").start()
    kb_env = {
        "TEMAN_KNOWLEDGE_DIR": str(knowledge),
        "TEMAN_INDEX_DIR": str(folder / "index"),
        "TEMAN_FINETUNE": "false",
        "TEMAN_RUN_DIR": str(run_dir),
        "TEMAN_TRACKER_STORE_URL": f"sqlite:///{run_dir / 'trackers.db'}",
    }
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WHATSAPP_", "TWILIO_", "SENDER_"))}
    env.update(
        kb_env,
        RASA_PORT=str(rasa_port),
        ACTION_PORT=str(action_port),
        CASES_DATABASE_URL=f"sqlite:///{run_dir / 'cases.sqlite3'}",
        CASE_HASH_KEY="e2e-test-key",
        HOTLINE_FORWARD_URL=hotline.url,
        RASA_API_TOKEN=API_TOKEN,
    )
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "run_bot.sh")], cwd=ROOT, env=env,
        stdout=open(run_dir / "run_bot.out", "wb"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait_ready(proc, run_dir, rasa_port)
    except Exception:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        hotline.stop()
        pytest.fail("bot did not start:\n"
                    + (run_dir / "run_bot.out").read_text(errors="replace")[-4000:])
    stack = Stack(
        rasa_url=f"http://127.0.0.1:{rasa_port}", action_url=f"http://127.0.0.1:{action_port}",
        run_dir=run_dir, cases_db_url=env["CASES_DATABASE_URL"], hotline=hotline,
        rasa_port=rasa_port, action_port=action_port, trackers_db=run_dir / "trackers.db",
    )
    yield stack, kb_env
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=90) in (0, 143)
    hotline.stop()
    assert not (run_dir / "admin.json").exists()


def _kb(kb_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **kb_env, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "tools.kb", *args], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=600,
    )


class Client(threading.Thread):
    """Keeps asking the fixture's questions over REST; records every failure."""

    QUESTIONS = ["kur pmi pakai jaminan ga", "berapa biaya bikin paspor", "kur pmi itu apa"]

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.done: list[float] = []

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            question = self.QUESTIONS[n % len(self.QUESTIONS)]
            try:
                reply = _post_json(f"{self.url}/webhooks/rest/webhook",
                                   {"sender": f"client-{n}", "message": question})
                if not reply or not any(m.get("text") for m in reply):
                    self.failures.append(f"{question}: empty reply {reply}")
            except Exception as error:  # noqa: BLE001 - every failure is recorded
                self.failures.append(f"{question}: {error!r}")
            self.done.append(time.monotonic())
            n += 1


def test_kb_build_is_live_at_once_with_no_failed_request(
    kb_stack: tuple[Stack, dict[str, str]],
) -> None:
    stack, kb_env = kb_stack
    assert "BPJS Ketenagakerjaan" not in stack.reply_text("before-1", NEW_QUESTION)
    with (Path(kb_env["TEMAN_KNOWLEDGE_DIR"]) / "entries" / "kur.yml").open("a") as handle:
        handle.write(NEW_ENTRY)
    client = Client(stack.rasa_url)
    client.start()
    while len(client.done) < 3:  # the client is under way before the build starts
        time.sleep(0.05)
    started = time.monotonic()
    result = _kb(kb_env, "build")
    finished = time.monotonic()
    reply = stack.reply_text("after-1", NEW_QUESTION)
    client.stop.set()
    client.join(timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Aktif di bot" in result.stdout and "1 baru (bpjs-pmi)" in result.stdout
    assert "BPJS Ketenagakerjaan* melindungi" in reply or "BPJS Ketenagakerjaan melindungi" in (
        reply.replace("*", "")
    )
    assert client.failures == []
    assert any(started < t < finished for t in client.done), "no request during the build"


def test_kb_gaps_reads_the_real_tracker_store_without_sender_ids(
    kb_stack: tuple[Stack, dict[str, str]],
) -> None:
    stack, kb_env = kb_stack
    for _ in range(2):
        stack.say(GAP_SENDER, GAP_QUESTION)
    with urllib.request.urlopen(
        f"{stack.rasa_url}/conversations/{GAP_SENDER}/tracker?token={API_TOKEN}", timeout=60
    ) as response:
        assert response.status == 200
    result = _kb(kb_env, "gaps", "--days", "1")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "siapa juara piala dunia tahun lalu" in out
    assert "••••-••••-••••" in out and "3456" not in out
    assert GAP_SENDER not in out and "client-" not in out
    assert re.search(r"(ditolak|tanya balik|skor rendah) 2", out), out


def test_the_admin_endpoint_needs_the_run_token(kb_stack: tuple[Stack, dict[str, str]]) -> None:
    stack, _ = kb_stack
    for headers in ({}, {"Authorization": "Bearer wrong-token"}):
        request = urllib.request.Request(
            f"{stack.action_url}/admin/build", data=b"{}",
            headers={"Content-Type": "application/json", **headers},
        )
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, timeout=30)
        assert error.value.code == 401
    assert oct((stack.run_dir / "admin.json").stat().st_mode & 0o777) == "0o600"
