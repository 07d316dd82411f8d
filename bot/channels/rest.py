"""Rasa's REST channel with input checks (``bot.channels.rest.SafeRestInput``).

Same name (``rest``), URL (/webhooks/rest/webhook), request and response format as
Rasa's ``RestInput``, including ``input_channel``, ``metadata`` and ``?stream=true``.
Before a message reaches Rasa the request is refused with HTTP 400 and a short JSON
body ``{"error": "..."}`` when:

* the body is not a JSON object;
* ``sender`` is not a non-empty string of at most 128 characters;
* ``sender`` lies in a phone channel's namespace (``wa:``, ``tw:``; see
  ``identity.RESERVED_PREFIXES``) — otherwise a REST client could write into, and
  read the replies of, a WhatsApp user's conversation;
* ``message`` is not a string.

Text starting with "/" is passed on unchanged, as ordinary text.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.identity import RESERVED_PREFIXES, is_reserved

logger = logging.getLogger(__name__)

MAX_SENDER_ID_LENGTH = 128


def validate_rest_body(body: Any) -> str | None:
    """Why a REST webhook body is refused, or None when it may be passed to Rasa."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    sender = body.get("sender")
    if not isinstance(sender, str) or not sender.strip():
        return "'sender' must be a non-empty string"
    if len(sender) > MAX_SENDER_ID_LENGTH:
        return f"'sender' must be at most {MAX_SENDER_ID_LENGTH} characters"
    if is_reserved(sender):
        reserved = ", ".join(f"'{p}'" for p in RESERVED_PREFIXES)
        return f"'sender' must not start with {reserved} (reserved for other channels)"
    if not isinstance(body.get("message"), str):
        return "'message' must be a string"
    return None


class SafeRestInput(RestInput):
    """``RestInput`` that refuses malformed bodies and reserved sender ids with 400."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> SafeRestInput:
        return cls()

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        bp = super().blueprint(on_new_message)

        # Blueprint middleware only runs for this blueprint's routes.
        @bp.middleware("request")
        async def check_message(request: Request) -> HTTPResponse | None:
            if request.method != "POST" or not request.path.rstrip("/").endswith("/webhook"):
                return None
            try:
                body = request.json
            except Exception:  # sanic raises InvalidUsage for a malformed body
                body = None
            problem = validate_rest_body(body)
            if problem is None:
                return None
            # The sender id itself is not logged: it may be a phone number.
            logger.info("rest: refused a message: %s", problem)
            return response.json({"error": problem}, status=400)

        return bp
