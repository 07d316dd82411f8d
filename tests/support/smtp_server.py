"""A real local SMTP server (aiosmtpd) with STARTTLS and AUTH for the delivery tests.

The certificate is self-signed, generated per test with openssl; clients trust it through
SMTP_CA_FILE, as a private mail server would be trusted in production. AUTH is required and
only offered after STARTTLS. ``reject_next(code)`` answers the next DATA with an error.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.certs import make_certificate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> Message:
        return message_from_bytes(self.raw)

    @property
    def body(self) -> str:
        msg = self.message
        part = msg.get_payload(decode=True)
        return part.decode("utf-8") if isinstance(part, bytes) else str(msg.get_payload())


class _Handler:
    def __init__(self, server: LocalSmtp) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.server.lock:
            if self.server.rejections:
                return self.server.rejections.pop(0)
            self.server.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 Message accepted for delivery"


class LocalSmtp:
    """STARTTLS + AUTH SMTP server on 127.0.0.1; use as a context manager."""

    def __init__(self, folder: Path, username: str = "teman", password: str = "rahasia-smtp"):
        self.cert, self.key = make_certificate(folder, "smtp")
        self.username, self.password = username, password
        self.port = _free_port()
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.rejections: list[str] = []
        self.auth_attempts = 0
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        self.controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="localhost",
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=self._authenticate,
        )

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        self.auth_attempts += 1
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self.username
              and auth_data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False)

    def reject_next(self, reply: str = "451 4.3.0 try again later") -> None:
        with self.lock:
            self.rejections.append(reply)

    def env(self, **extra: str) -> dict[str, str]:
        """Environment variables that point the delivery settings at this server."""
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.port),
            "SMTP_USERNAME": self.username,
            "SMTP_PASSWORD": self.password,
            "SMTP_CA_FILE": str(self.cert),
            "SMTP_TIMEOUT": "5",
            "DELIVERY_EMAIL_FROM": "teman-migrasi@example.org",
            **extra,
        }

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"only {len(self.received)} of {count} e-mails arrived")

    def __enter__(self) -> LocalSmtp:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
