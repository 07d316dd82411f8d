"""The `stack` fixture: the real bot, started the way a user starts it (scripts/run_bot.sh).

It trains the real Rasa model (only when its inputs changed), builds the retrieval index,
starts the decision service, the hotline forwarder and the Rasa server on free ports, with
fresh SQLite case and tracker databases, a local fake hotline and Rasa's HTTP API behind a
token, and stops everything with SIGTERM at the end, checking that no process is left.
There is no start deadline: a first build on a slow machine takes what it takes, and the
fixture waits as long as run_bot.sh is alive.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.channel_env import SENDER_ID_KEY, TWILIO, WHATSAPP  # noqa: E402
from tests.support.fake_hotline import FakeHotline  # noqa: E402
from tests.support.net import free_port, port_open  # noqa: E402,F401
from tests.support.smtp_server import LocalSmtp  # noqa: E402
from tests.support.threaded_graph import ThreadedFakeGraph  # noqa: E402

API_TOKEN = "e2e-" + os.urandom(8).hex()


@dataclass
class Stack:
    rasa_url: str
    action_url: str
    run_dir: Path
    cases_db_url: str
    hotline: FakeHotline
    rasa_port: int
    action_port: int
    api_token: str = API_TOKEN
    graph: ThreadedFakeGraph | None = None
    trackers_db: Path | None = None
    smtp: LocalSmtp | None = None  # staff e-mail delivery (STARTTLS + AUTH)
    analytics_db_url: str | None = None  # aggregates from the RabbitMQ event broker

    def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        """Send one message over the REST channel; returns the bot's messages."""
        return _post_json(
            f"{self.rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": text}
        )

    def reply_text(self, sender: str, text: str) -> str:
        return "\n".join(str(m.get("text", "")) for m in self.say(sender, text))

    def tracker(self, sender: str) -> dict[str, Any]:
        with urllib.request.urlopen(
            f"{self.rasa_url}/conversations/{sender}/tracker?token={API_TOKEN}", timeout=60
        ) as r:
            return json.loads(r.read())

    def slots(self, sender: str) -> dict[str, Any]:
        return dict(self.tracker(sender).get("slots") or {})

    def actions(self, sender: str) -> list[str]:
        events = self.tracker(sender).get("events", [])
        return [e["name"] for e in events if e.get("event") == "action"]

    def log(self, name: str) -> str:
        path = self.run_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _post_json(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def _wait_ready(proc: subprocess.Popen[bytes], run_dir: Path, rasa_port: int) -> None:
    """Until run_bot.sh says ready (it writes the file only once both servers answer) or
    exits; polling a file, not sleeping in place of synchronisation."""
    while not (run_dir / "ready").exists():
        if proc.poll() is not None:
            raise RuntimeError(f"run_bot.sh exited with {proc.returncode}")
        time.sleep(1)
    url = f"http://127.0.0.1:{rasa_port}/status?token={API_TOKEN}"
    with urllib.request.urlopen(url, timeout=30):
        return


STAFF_EMAIL = "petugas@sisaga.example.id"
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def rabbitmq_names() -> dict[str, str]:
    """Rasa's event broker on the real RabbitMQ, with a queue and exchange of this run's own
    (parallel runs do not see each other's events)."""
    run = os.urandom(5).hex()
    return {"RABBITMQ_URL": RABBITMQ_URL, "RABBITMQ_QUEUE": f"e2e_events_{run}",
            "RABBITMQ_EXCHANGE": f"e2e-exchange-{run}"}


def drop_rabbitmq(names: dict[str, str]) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(names["RABBITMQ_URL"]))
    channel = connection.channel()
    channel.queue_delete(names["RABBITMQ_QUEUE"])
    channel.exchange_delete(names["RABBITMQ_EXCHANGE"])
    connection.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir = tmp_path_factory.mktemp("run")
    rasa_port, action_port = free_port(), free_port()
    hotline = FakeHotline(mode="ok").start()
    graph = ThreadedFakeGraph(access_token=WHATSAPP["WHATSAPP_ACCESS_TOKEN"]).start()
    cases_db_url = f"sqlite:///{run_dir / 'cases.sqlite3'}"
    smtp = LocalSmtp(tmp_path_factory.mktemp("smtp")).__enter__()
    broker = rabbitmq_names()
    env = dict(os.environ)
    env.update(
        RASA_PORT=str(rasa_port),
        ACTION_PORT=str(action_port),
        TEMAN_RUN_DIR=str(run_dir),
        CASES_DATABASE_URL=cases_db_url,
        CASE_HASH_KEY="e2e-test-key",
        HOTLINE_FORWARD_URL=hotline.url,
        FORWARD_POLL_INTERVAL="0.5",
        RASA_API_TOKEN=API_TOKEN,
        TEMAN_TRACKER_STORE_URL=f"sqlite:///{run_dir / 'trackers.db'}",
        **smtp.env(DELIVERY_EMAIL_TO=STAFF_EMAIL, ALERT_EMAIL_TO=STAFF_EMAIL),
        **broker,
        ANALYTICS_DATABASE_URL=f"sqlite:///{run_dir / 'analytics.sqlite3'}",
    )
    for var in [k for k in env if k.startswith(("WHATSAPP_", "TWILIO_", "SENDER_"))]:
        env.pop(var)
    env.update(WHATSAPP)
    env.update(TWILIO)
    env.update(
        WHATSAPP_API_URL=graph.url,
        TWILIO_API_URL=graph.url,
        TWILIO_WEBHOOK_URL=f"http://127.0.0.1:{rasa_port}/webhooks/twilio_whatsapp/webhook",
        SENDER_ID_KEY=SENDER_ID_KEY,
        SENDER_MAP_PATH=str(run_dir / "sender_map.db"),
    )
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "run_bot.sh")],
        cwd=ROOT,
        env=env,
        stdout=open(run_dir / "run_bot.out", "wb"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_ready(proc, run_dir, rasa_port)
    except Exception:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        hotline.stop()
        graph.stop()
        smtp.__exit__()
        drop_rabbitmq(broker)
        out = (run_dir / "run_bot.out").read_text(errors="replace")[-4000:]
        pytest.fail(f"bot did not start:\n{out}")
    stack = Stack(
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        action_url=f"http://127.0.0.1:{action_port}",
        run_dir=run_dir,
        cases_db_url=cases_db_url,
        hotline=hotline,
        rasa_port=rasa_port,
        action_port=action_port,
        graph=graph,
        trackers_db=run_dir / "trackers.db",
        smtp=smtp,
        analytics_db_url=env["ANALYTICS_DATABASE_URL"],
    )
    yield stack
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=90)
    hotline.stop()
    graph.stop()
    smtp.__exit__()
    drop_rabbitmq(broker)
    # Ctrl-C / SIGTERM must leave nothing behind: no process in the group, no open port.
    time.sleep(1)
    leftovers = subprocess.run(
        ["pgrep", "-g", str(proc.pid)], capture_output=True, text=True
    ).stdout.split()
    assert not leftovers, f"processes left behind after SIGTERM: {leftovers}"
    assert not port_open(rasa_port) and not port_open(action_port)
    assert code in (0, 143), f"run_bot.sh exited with {code}"
