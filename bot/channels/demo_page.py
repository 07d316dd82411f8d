"""Serves the facilitator demo page (bot/web/) from the Rasa server at /demo/.

Serving from the same origin as /webhooks/rest/webhook avoids CORS set-up on the
workshop laptop; the page itself needs the REST channel to be enabled too, as
``bot.channels.rest.SafeRestInput`` (it refuses the phone channels' ``wa:``/``tw:``
sender ids). The page uses random ``demo-<24 hex>`` sender ids; "Mulai ulang" only
switches to a new id and sends nothing.

``POST /demo/ocr`` takes the raw bytes of a photo or screenshot (at most
``TEMAN_OCR_MAX_BYTES``), has the decision service read it (bot/channels/media.py) and
answers ``{"text": ...}`` (the page then sends that text as the user's message, like a
pasted advert) or ``{"reply": ...}`` (a friendly "no text found"). Nothing is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.media import TOO_LARGE_REPLY, ImageReader, max_image_bytes

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
    ),
}


class DemoPageInput(InputChannel):
    """Static demo page channel (``bot.channels.demo_page.DemoPageInput``)."""

    @classmethod
    def name(cls) -> str:
        return "demo_page"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> DemoPageInput:
        web_dir = (credentials or {}).get("web_dir")
        return cls(Path(web_dir) if web_dir else WEB_DIR)

    def __init__(self, web_dir: Path = WEB_DIR) -> None:
        self.web_dir = web_dir.resolve()
        self.images = ImageReader()

    def url_prefix(self) -> str:
        # Absolute: rasa's urljoin("/webhooks/", "/demo") yields "/demo".
        return "/demo"

    def _files(self) -> dict[str, Path]:
        """Allow-list of servable files: names are matched exactly, never joined as paths."""
        if not self.web_dir.is_dir():
            return {}
        return {
            p.name: p
            for p in self.web_dir.iterdir()
            if p.is_file() and p.suffix in CONTENT_TYPES and not p.name.startswith(".")
        }

    def _serve(self, filename: str) -> HTTPResponse:
        path = self._files().get(filename)
        if path is None:
            return response.text("Halaman tidak ditemukan.", status=404)
        return response.raw(
            path.read_bytes(),
            content_type=CONTENT_TYPES[path.suffix],
            headers=SECURITY_HEADERS,
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint(f"demo_page_{id(self)}", __name__)
        if not (self.web_dir / "index.html").is_file():
            logger.warning("demo page: %s/index.html not found", self.web_dir)

        @bp.route("", methods=["GET"], strict_slashes=True)
        async def root(request: Request) -> HTTPResponse:
            # Relative asset URLs in index.html need the trailing slash.
            return response.redirect(f"{request.path}/")

        @bp.route("/", methods=["GET"], strict_slashes=True)
        async def index(_: Request) -> HTTPResponse:
            return self._serve("index.html")

        @bp.route("/<filename:str>", methods=["GET"])
        async def asset(_: Request, filename: str) -> HTTPResponse:
            return self._serve(filename)

        @bp.route("/ocr", methods=["POST"], stream=True)
        async def ocr(request: Request) -> HTTPResponse:
            limit = max_image_bytes()
            data = bytearray()
            while True:
                chunk = await request.stream.read()  # type: ignore[union-attr]
                if chunk is None:
                    break
                data += chunk
                if len(data) > limit:
                    return response.json({"reply": TOO_LARGE_REPLY}, status=413,
                                         headers=SECURITY_HEADERS)
            result = await self.images.read(bytes(data))
            body = {"text": result.text} if result.text else {"reply": result.reply}
            return response.json(body, headers=SECURITY_HEADERS)

        @bp.listener("after_server_stop")
        async def close_reader(*_: Any) -> None:
            await self.images.close()

        return bp
