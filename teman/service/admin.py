"""Live reload: `POST /admin/build` rebuilds the index with the encoder this process holds
and swaps the new assistant in, without a restart and without failing a request.

Only with `TEMAN_ADMIN_TOKEN` set, and then the request needs `Authorization: Bearer
<token>` (scripts/run_bot.sh makes one per run and leaves it, readable by the owner only, in
`<run dir>/admin.json` for the `kb` command). The new index is built and loaded beside the
old one in a worker thread; requests keep using the old assistant until one assignment
swaps it. An edit that needs a full build (encoder, normaliser) is refused with
`full_needed`: the `kb` command builds that offline, then asks again (`"load": true`) so the
service loads the published version.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from pathlib import Path
from typing import Any

from sanic import Sanic, response
from sanic.request import Request

from teman.config import Settings
from teman.decision import Assistant, get_assistant, use_assistant
from teman.retrieval.index import build_index_in_memory, from_built, load_index, plan

logger = logging.getLogger(__name__)


def _authorised(expected: str | None, header: str | None) -> bool:
    if not expected or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").encode(), expected.encode())


def _same_folder(given: Any, ours: Path) -> bool:
    return given is None or Path(str(given)).resolve() == ours.resolve()


def rebuild_live(settings: Settings, load_only: bool = False) -> dict[str, Any]:
    """Build what changed with the live encoder and swap the assistant (in a thread)."""
    started = time.perf_counter()
    current = get_assistant()
    if plan(settings) == "full":
        return {"status": "full_needed"}
    result, built = (
        ({"path": None}, None)
        if load_only
        else build_index_in_memory(settings, encoder=current.index.encoder)
    )
    if built is not None:
        index = from_built(built)
    elif load_only or result.get("path") != current.index.manifest.get("path"):
        index = load_index(settings, encoder=current.index.encoder)  # published elsewhere
    else:
        return {"status": "unchanged", "seconds": round(time.perf_counter() - started, 2),
                **_summary(current)}
    assistant = Assistant(settings, index)
    use_assistant(assistant)
    logger.info("live reload: %s", index.manifest.get("path"))
    return {
        "status": "live",
        "seconds": round(time.perf_counter() - started, 2),
        "encoded": index.manifest.get("encoded", 0),
        "kind": index.manifest.get("kind"),
        **_summary(assistant),
    }


def _summary(assistant: Assistant) -> dict[str, Any]:
    manifest = assistant.index.manifest
    return {
        "entries": len(assistant.index.kb.entries),
        "documents": len(assistant.index.docs.texts),
        "version": Path(str(manifest.get("path", ""))).name,
    }


def add_admin_routes(app: Sanic, token: str | None) -> None:
    lock = asyncio.Lock()

    async def build(request: Request) -> response.HTTPResponse:
        if not token:
            return response.json({"error": "admin endpoint off (TEMAN_ADMIN_TOKEN)"}, status=403)
        if not _authorised(token, request.headers.get("authorization")):
            return response.json({"error": "token required"}, status=401)
        body = request.json if isinstance(request.json, dict) else {}
        settings = Settings.load()
        if not _same_folder(body.get("knowledge_dir"), settings.knowledge_dir) or not (
            _same_folder(body.get("index_dir"), settings.index_dir)
        ):
            return response.json(
                {
                    "error": "other folders",
                    "knowledge_dir": str(settings.knowledge_dir),
                    "index_dir": str(settings.index_dir),
                },
                status=409,
            )
        async with lock:
            try:
                result = await asyncio.to_thread(
                    rebuild_live, settings, bool(body.get("load"))
                )
            except Exception as error:  # the old assistant keeps serving
                logger.exception("live reload failed")
                return response.json({"status": "failed", "error": str(error)}, status=500)
        return response.json(result, status=409 if result["status"] == "full_needed" else 200)

    app.add_route(build, "/admin/build", methods=["POST"])
