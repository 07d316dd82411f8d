"""A controllable fake of the SI-SAGA hotline HTTP endpoint for forwarder tests.

It is a real aiohttp server on 127.0.0.1 (free port) running in a background thread, so it
can serve both in-process forwarders and a forwarder running as a subprocess. Modes:

* ``ok``      - process the case (deduplicated by Idempotency-Key): 201, or 409 for a key
                that was already processed;
* ``error``   - answer 500 without processing;
* ``timeout`` - record the request as received-but-unacknowledged (and, by default, process
                it: the hotline stored it but its answer never reached us), then sleep longer
                than any client timeout;
* ``refuse``  - the listening socket is closed, so clients get "connection refused". The
                same port is reused when another mode is set again.

Every request is recorded; ``processed`` holds one payload per unique key and
``raw_deliveries`` counts every request received.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MODES = ("ok", "error", "timeout", "refuse")


@dataclass
class RecordedRequest:
    """One request as the hotline saw it; ``status`` is None when never acknowledged."""

    mode: str
    idempotency_key: str | None
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.monotonic)
    status: int | None = None

    def json(self) -> Any:
        """Decoded JSON body."""
        return json.loads(self.body.decode("utf-8"))


class FakeHotline:
    """Thread-backed fake hotline; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        mode: str = "ok",
        token: str | None = None,
        hold_seconds: float = 30.0,
        process_on_timeout: bool = True,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.host = host
        self.token = token
        self.hold_seconds = hold_seconds
        self.process_on_timeout = process_on_timeout
        self.port: int | None = None
        self._mode = mode
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._processed: dict[str, Any] = {}
        self._process_counts: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FakeHotline:
        """Start the loop thread and bind a free port (then close it in ``refuse`` mode)."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-hotline", daemon=True
        )
        self._thread.start()
        self._call(self._listen())
        if self._mode == "refuse":
            self._call(self._close())
        return self

    def stop(self) -> None:
        """Close the server and the loop thread."""
        if self._loop is None:
            return
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(timeout=5)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> FakeHotline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Any) -> Any:
        """Run a coroutine on the server loop from the test thread."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        app = web.Application()
        app.router.add_post("/cases", self._handle)
        # handler_cancellation: a client that timed out must not keep a sleeping handler alive.
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port or 0, reuse_address=True)
        await site.start()
        if self.port is None:
            self.port = runner.addresses[0][1]
        self._runner = runner

    async def _close(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # ---------------------------------------------------------------- control
    @property
    def url(self) -> str:
        """Endpoint URL to put in HOTLINE_FORWARD_URL."""
        assert self.port is not None, "start() first"
        return f"http://{self.host}:{self.port}/cases"

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        """Switch behaviour; entering/leaving ``refuse`` closes/reopens the socket."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        previous, self._mode = self._mode, mode
        if mode == "refuse" and previous != "refuse":
            self._call(self._close())
        elif mode != "refuse" and previous == "refuse":
            self._call(self._listen())

    # ---------------------------------------------------------------- records
    @property
    def requests(self) -> list[RecordedRequest]:
        """Copy of every request received so far."""
        with self._lock:
            return list(self._requests)

    @property
    def raw_deliveries(self) -> int:
        """Number of requests received (including retries and duplicates)."""
        with self._lock:
            return len(self._requests)

    @property
    def processed(self) -> dict[str, Any]:
        """Idempotency-Key -> payload, one entry per case the hotline has stored."""
        with self._lock:
            return dict(self._processed)

    @property
    def process_counts(self) -> dict[str, int]:
        """How many times each key was processed; always 1 if dedupe works."""
        with self._lock:
            return dict(self._process_counts)

    def count(self, predicate: Callable[[RecordedRequest], bool]) -> int:
        """Number of recorded requests matching ``predicate``."""
        return sum(1 for r in self.requests if predicate(r))

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Poll ``predicate`` until true or timeout (for synchronous tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    # ---------------------------------------------------------------- handler
    def _process(self, key: str, body: bytes) -> bool:
        """Store a payload once per key; return False for a duplicate key."""
        with self._lock:
            if key in self._processed:
                return False
            self._processed[key] = json.loads(body.decode("utf-8"))
            self._process_counts[key] = self._process_counts.get(key, 0) + 1
            return True

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = request.headers.get("Idempotency-Key")
        record = RecordedRequest(
            mode=self._mode, idempotency_key=key, headers=dict(request.headers), body=body
        )
        with self._lock:
            self._requests.append(record)
        if self.token is not None and request.headers.get("Authorization") != (
            f"Bearer {self.token}"
        ):
            record.status = 401
            return web.json_response({"error": "unauthorized"}, status=401)
        if record.mode == "error":
            record.status = 500
            return web.json_response({"error": "internal"}, status=500)
        if not key:
            record.status = 400
            return web.json_response({"error": "missing Idempotency-Key"}, status=400)
        if record.mode == "timeout":
            if self.process_on_timeout:
                self._process(key, body)
            await asyncio.sleep(self.hold_seconds)  # the client gives up long before this
            return web.json_response({"status": "late"}, status=503)
        if self._process(key, body):
            record.status = 201
            return web.json_response({"status": "received"}, status=201)
        record.status = 409
        return web.json_response({"status": "duplicate"}, status=409)
