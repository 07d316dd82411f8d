"""WhatsApp Cloud API webhook bodies as Meta sends them, for the test stacks."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from tests.support.channel_env import WHATSAPP


def webhook_body(number: str, kind: str, content: dict[str, Any],
                 wamid: str | None = None) -> bytes:
    """One inbound message of `kind` ("text", "image", …) with its `content` object."""
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"phone_number_id": WHATSAPP["WHATSAPP_PHONE_NUMBER_ID"]},
            "contacts": [{"wa_id": number, "profile": {"name": "Test"}}],
            "messages": [{"from": number, "id": wamid or f"wamid.{uuid.uuid4().hex}",
                          "timestamp": str(int(time.time())), "type": kind, kind: content}],
        }}]}],
    }
    return json.dumps(payload).encode()


def signed_headers(body: bytes) -> dict[str, str]:
    signature = hmac.new(WHATSAPP["WHATSAPP_APP_SECRET"].encode(), body, hashlib.sha256)
    return {"Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + signature.hexdigest()}
