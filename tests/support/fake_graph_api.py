"""Fake Meta Graph API (and Twilio Messages API) for channel tests.

Runs a real aiohttp server on 127.0.0.1:<free port> so the channels' real HTTP
client code, retries and headers are exercised. Failures can be scripted:
``fail_next(n)`` -> n x HTTP 500, ``rate_limit_next(n, retry_after)`` -> n x 429.

Media like Meta's: ``add_media(id, bytes, mime)``; ``GET /{media-id}`` (with the access
token) answers the media's URL on a SEPARATE fake media host (another port, as Meta
serves media from lookaside.fbsbx.com), which also wants the access token.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class RecordedRequest:
    """One POST the fake received (including the ones it answered with an error)."""

    path: str
    status: int
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    phone_id: str | None = None
    at: float = field(default_factory=time.monotonic)


class FakeGraphAPI:
    """``POST /{phone_id}/messages`` like graph.facebook.com, plus Twilio's Messages.json."""

    def __init__(self, access_token: str | None = None) -> None:
        self.access_token = access_token
        self.requests: list[RecordedRequest] = []
        self._failures: list[tuple[int, dict[str, str]]] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()
        self.port = 0
        self.media: dict[str, tuple[bytes, str]] = {}
        self.media_downloads: list[str] = []
        self._media_runner: web.AppRunner | None = None
        self.media_port = 0

    def add_media(self, media_id: str, data: bytes, mime_type: str = "image/png") -> None:
        self.media[media_id] = (data, mime_type)

    # -- scripting -----------------------------------------------------------------
    def fail_next(self, n: int, status: int = 500) -> None:
        self._failures.extend([(status, {})] * n)

    def rate_limit_next(self, n: int = 1, retry_after: float = 1) -> None:
        self._failures.extend([(429, {"Retry-After": str(retry_after)})] * n)

    # -- inspection ----------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def delivered(self) -> list[RecordedRequest]:
        """Requests that were accepted (2xx), i.e. messages a user would see."""
        return [r for r in self.requests if 200 <= r.status < 300]

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Wait until at least ``count`` messages were delivered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.delivered) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"expected {count} delivered messages, got {len(self.delivered)}: "
                    f"{[r.json or r.form for r in self.requests]}"
                )
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return self.delivered

    # -- server --------------------------------------------------------------------
    async def _graph(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        return self._answer(request, json_body=payload, phone_id=request.match_info["phone_id"])

    def _authorised(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        return not self.access_token or auth == f"Bearer {self.access_token}"

    async def _media_info(self, request: web.Request) -> web.Response:
        media_id = request.match_info["media_id"]
        if not self._authorised(request):
            return web.json_response({"error": {"code": 190, "type": "OAuthException"}},
                                     status=401)
        if media_id not in self.media:
            return web.json_response({"error": {"code": 100, "type": "GraphMethodException"}},
                                     status=404)
        data, mime = self.media[media_id]
        return web.json_response({
            "messaging_product": "whatsapp", "id": media_id, "mime_type": mime,
            "file_size": len(data), "sha256": "fake",
            "url": f"http://127.0.0.1:{self.media_port}/v/t62/{media_id}?ext=fake",
        })

    async def _media_download(self, request: web.Request) -> web.Response:
        media_id = request.match_info["media_id"]
        if not self._authorised(request) or media_id not in self.media:
            return web.Response(status=404)
        self.media_downloads.append(media_id)
        data, mime = self.media[media_id]
        return web.Response(body=data, content_type=mime)

    async def _twilio(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        return self._answer(request, form=form)

    def _answer(
        self,
        request: web.Request,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        phone_id: str | None = None,
    ) -> web.Response:
        status, headers, body = 200, {}, None
        auth = request.headers.get("Authorization", "")
        if phone_id is not None and self.access_token and auth != f"Bearer {self.access_token}":
            status, body = (
                401,
                {
                    "error": {
                        "message": "Invalid OAuth access token.",
                        "type": "OAuthException",
                        "code": 190,
                    }
                },
            )
        elif self._failures:
            status, headers = self._failures.pop(0)
            body = {
                "error": {
                    "message": "fake failure",
                    "type": "OAuthException",
                    "code": 4 if status == 429 else 2,
                }
            }
        elif phone_id is not None:
            to = (json_body or {}).get("to", "")
            body = {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.FAKE{next(self._ids)}"}],
            }
        else:
            status = 201
            body = {"sid": f"SM{next(self._ids):032d}", "status": "queued"}
        self.requests.append(
            RecordedRequest(
                path=request.path,
                status=status,
                headers=dict(request.headers),
                json=json_body,
                form=form or {},
                phone_id=phone_id,
            )
        )
        self._changed.set()
        return web.json_response(body, status=status, headers=headers)

    async def start(self) -> FakeGraphAPI:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._twilio)
        app.router.add_post("/{phone_id}/messages", self._graph)
        app.router.add_get("/{media_id}", self._media_info)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        media = web.Application()
        media.router.add_get("/v/t62/{media_id}", self._media_download)
        self._media_runner = web.AppRunner(media, access_log=None)
        await self._media_runner.setup()
        media_site = web.TCPSite(self._media_runner, "127.0.0.1", 0)
        await media_site.start()
        self.media_port = media_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._media_runner is not None:
            await self._media_runner.cleanup()
            self._media_runner = None

    async def __aenter__(self) -> FakeGraphAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
