"""Sanic app of the decision service.

* `POST /model/parse` — Rasa's external NLU endpoint (`nlu: url:` in endpoints.yml). Rasa
  posts `{"text", "message_id", "token"}`; the answer is one decision as a parse result.
* `POST /webhook`, `GET /actions`, `GET /health` — rasa-sdk's action server, unchanged,
  running the thin actions of the `actions` package.
* `POST /admin/build` — live reload after a knowledge edit (teman/service/admin.py).
* `POST /ocr` — the raw bytes of a photo or screenshot (from the WhatsApp and demo-page
  channels); answers `{"text", "has_text", "ms"}`. At most `TEMAN_OCR_MAX_BYTES` (413
  beyond), 415 for what is not an image; one image is read at a time; nothing is stored.

When `TEMAN_SERVICE_TOKEN` is set, `/model/parse`, `/webhook` and `/ocr` need it (Rasa
sends an endpoint's `token`: in the body for the NLU, as `?token=` for actions; the
channels send `Authorization: Bearer <token>` with an image).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
from typing import Any

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request

from teman.cases.alerts import watch_from_env
from teman.config import Settings
from teman.decision import get_assistant
from teman.infra.logs import configure
from teman.privacy.trackers import expire
from teman.service.admin import add_admin_routes
from teman.service.batching import BatchEncoder

logger = logging.getLogger(__name__)

ACTIONS_PACKAGE = "actions"
MAX_TEXT_CHARS = 20_000
MAX_IMAGE_BYTES = int(os.environ.get("TEMAN_OCR_MAX_BYTES", str(8 * 1024 * 1024)))


def _token_ok(expected: str | None, given: Any) -> bool:
    if not expected:
        return True
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


RETENTION_INTERVAL_SECONDS = 3600


async def _retention_loop() -> None:
    """Hourly: delete idle conversations and blank old messages (Rasa has no retention)."""
    settings = Settings.load()
    while True:
        try:
            result = await asyncio.to_thread(
                expire, settings.tracker_store_url, settings.tracker_retention_days
            )
            logger.info("tracker retention: %s", result)
        except Exception:
            logger.exception("tracker retention failed; trying again in an hour")
        await asyncio.sleep(RETENTION_INTERVAL_SECONDS)


def create_service(token: str | None = None, warm: bool = True) -> Sanic:
    executor = ActionExecutor()
    executor.register_package(ACTIONS_PACKAGE)
    app = create_app(executor, cors_origins=None)
    app.config.KEEP_ALIVE_TIMEOUT = 120

    @app.on_request
    async def check_action_token(request: Request) -> response.HTTPResponse | None:
        if request.path == "/webhook" and not _token_ok(token, request.args.get("token")):
            return response.json({"error": "token required"}, status=401)
        return None

    async def parse(request: Request) -> response.HTTPResponse:
        body = request.json if isinstance(request.json, dict) else None
        if body is None:
            return response.json({"error": "expected a JSON object"}, status=400)
        if not _token_ok(token, body.get("token")):
            return response.json({"error": "token required"}, status=401)
        text = body.get("text")
        text = text[:MAX_TEXT_CHARS] if isinstance(text, str) else ""
        started = time.perf_counter()
        assistant = get_assistant()
        norm = assistant.read(text)
        vector = (
            await batcher.encode(norm.text, assistant.index.encoder)
            if norm is not None and norm.tokens
            else None
        )
        result = assistant.decide(text, vector, norm).to_parse(text)
        logger.debug("decision %s in %.1f ms", result["intent"]["name"],
                     (time.perf_counter() - started) * 1000)
        return response.json(result)

    batcher = BatchEncoder()
    app.add_route(parse, "/model/parse", methods=["POST"])
    add_admin_routes(app, os.environ.get("TEMAN_ADMIN_TOKEN") or None)
    ocr_slot = asyncio.Semaphore(1)  # two cores: one image at a time, the chat stays fast

    async def ocr(request: Request) -> response.HTTPResponse:
        bearer = (request.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        if not _token_ok(token, bearer):
            return response.json({"error": "token required"}, status=401)
        data = bytearray()
        while True:
            chunk = await request.stream.read()  # type: ignore[union-attr]
            if chunk is None:
                break
            data += chunk
            if len(data) > MAX_IMAGE_BYTES:
                return response.json({"error": "image too large"}, status=413)
        if not data:
            return response.json({"error": "empty body"}, status=400)
        from teman.ocr import UnreadableImage, read_text

        async with ocr_slot:
            try:
                result = await asyncio.to_thread(read_text, bytes(data))
            except UnreadableImage:
                return response.json({"error": "not an image"}, status=415)
        logger.info("ocr: %d characters in %.0f ms", len(result.text), result.seconds * 1000)
        return response.json({"text": result.text, "has_text": result.has_text,
                              "ms": round(result.seconds * 1000)})

    app.add_route(ocr, "/ocr", methods=["POST"], stream=True)

    @app.before_server_stop
    async def stop_batcher(*_: Any) -> None:
        await batcher.close()

    @app.after_server_start
    async def start_retention(app: Sanic, *_: Any) -> None:
        app.add_task(_retention_loop(), name="retention")
        app.add_task(watch_from_env(), name="forwarder-watch")  # alerts staff if it stops

    if warm:

        @app.before_server_start
        async def load(*_: Any) -> None:
            started = time.perf_counter()
            await asyncio.to_thread(get_assistant)
            logger.info("knowledge loaded in %.1f s", time.perf_counter() - started)

    return app


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Teman Migrasi decision service")
    parser.add_argument("--host", default=os.environ.get("SANIC_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTION_PORT", 5055)))
    args = parser.parse_args()
    configure("INFO", "%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_service(os.environ.get("TEMAN_SERVICE_TOKEN") or None)
    app.run(host=args.host, port=args.port, workers=1, access_log=False, legacy=True)
