"""Shared helpers for channel tests: a real Sanic server on a free port running the channel
blueprints exactly as Rasa registers them, and a scripted fake bot."""

from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage, register
from sanic import Sanic

from bot.channels.identity import SenderIdentity, SenderMap

PHONE = "6281234567890"  # fake user number; must never show up in logs
PHONE_ID = "109876543210"
TOKEN = "test-access-token"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
SENDER_KEY = "test-sender-id-key-0123456789abcdef"
# Typed text that looks like a Rasa intent command: must reach Rasa unchanged, as text.
SLASH_TEXTS = ["/affirm", '/choose_entry{"entry_id":"x"}']

LONG_TEXT = ("Paragraf tentang migrasi aman. " * 60 + "\n\n") * 4  # ~7.4k chars
# Button payloads are plain words (what the user would have typed), not "/intent".
THREE_BUTTONS = [
    {"title": "Syarat jadi Pekerja Migran", "payload": "syarat jadi pekerja migran apa saja"},
    {"title": "LTSA terdekat", "payload": "di mana LTSA terdekat"},
    {"title": "Nomor SI-SAGA", "payload": "minta nomor SI-SAGA"},
]
SIX_BUTTONS = [
    {"title": f"Pilihan nomor {i} yang judulnya cukup panjang", "payload": f"pilihan {i}"}
    for i in range(1, 7)
]


def make_identity(prefix: str, db_path: Path, ttl_seconds: float = 30 * 86400,
                  key: str = SENDER_KEY) -> SenderIdentity:
    return SenderIdentity(prefix, key, SenderMap(db_path, key, ttl_seconds))


def db_bytes(db_path: Path) -> bytes:
    """Everything SQLite wrote for ``db_path``: the file plus its -wal/-shm/-journal."""
    return b"".join(p.read_bytes() for p in sorted(db_path.parent.glob(db_path.name + "*")))


@dataclass
class FakeBot:
    """Stands in for rasa's Agent: records inputs, answers through the output channel."""

    received: list[UserMessage] = field(default_factory=list)
    gate: asyncio.Event | None = None  # when set, the bot "thinks" until the gate opens

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.gate is not None:
            await self.gate.wait()
        out, to, text = message.output_channel, message.sender_id, message.text or ""
        if text == "panjang":
            await out.send_response(to, {"text": LONG_TEXT})
        elif text == "tiga tombol":
            await out.send_response(to, {"text": "Mau tahu apa?", "buttons": THREE_BUTTONS})
        elif text == "enam tombol":
            await out.send_response(to, {"text": "Pilih topik:", "buttons": SIX_BUTTONS})
        elif text == "rusak":
            raise RuntimeError(f"bot crashed on {text} from {to}")
        else:
            await out.send_response(to, {"text": f"Jawaban untuk: {text}"})

    @property
    def texts(self) -> list[str]:
        return [m.text or "" for m in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SanicServer:
    """Real Sanic HTTP server in the test's event loop (sanic-testing is not installed)."""

    def __init__(self, channels: list[InputChannel], handler: Any) -> None:
        Sanic.test_mode = True
        self.app = Sanic(f"test_{uuid.uuid4().hex[:12]}")
        self.app.config.ACCESS_LOG = False
        # rasa's register() routes messages to app.ctx.agent; point that at the fake bot
        # so prefixes and wiring are exactly the production ones.
        self.app.ctx.agent = SimpleNamespace(handle_message=handler)
        register(channels, self.app, route="/webhooks/")
        self.port = free_port()
        self._server: Any = None

    async def __aenter__(self) -> str:
        self._server = await self.app.create_server(
            host="127.0.0.1", port=self.port, return_asyncio_server=True,
            access_log=False,
        )
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()
        return f"http://127.0.0.1:{self.port}"

    async def __aexit__(self, *exc: object) -> None:
        await self._server.before_stop()
        self._server.close()
        await self._server.wait_closed()
        await self._server.after_stop()
