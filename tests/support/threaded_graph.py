"""The fake Graph/Twilio API (tests/support/fake_graph_api.py) on its own thread and event
loop, for synchronous end-to-end tests."""

from __future__ import annotations

import asyncio
import threading
import time

from tests.support.fake_graph_api import FakeGraphAPI, RecordedRequest


class ThreadedFakeGraph:
    def __init__(self, access_token: str | None = None) -> None:
        self.api = FakeGraphAPI(access_token)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> ThreadedFakeGraph:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.api.start(), self.loop).result(timeout=30)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.api.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)

    @property
    def url(self) -> str:
        return self.api.url

    def add_media(self, media_id: str, data: bytes, mime_type: str = "image/png") -> None:
        self.api.add_media(media_id, data, mime_type)

    def delivered(self) -> list[RecordedRequest]:
        return list(self.api.delivered)

    def wait_for_count(self, count: int, timeout: float = 120.0) -> list[RecordedRequest]:
        """Poll (the replies are sent from Rasa's background task) until `count` messages
        were delivered; fails the caller with what arrived otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            delivered = self.delivered()
            if len(delivered) >= count:
                return delivered
            time.sleep(0.2)
        raise AssertionError(f"only {len(self.delivered())} of {count} replies delivered")
