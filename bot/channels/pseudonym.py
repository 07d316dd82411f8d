"""The keyed hash that turns a phone number into a WhatsApp/Twilio sender id.

Standard library only, so tools outside the Rasa server (``make forget``, which runs in the
decision service's environment without Rasa) compute exactly the ids the channels use.
:mod:`bot.channels.identity` builds on it.
"""

from __future__ import annotations

import hashlib
import hmac

WHATSAPP_PREFIX = "wa:"
TWILIO_PREFIX = "tw:"
# Sender-id namespaces owned by the phone channels; no other channel may use them.
RESERVED_PREFIXES: tuple[str, ...] = (WHATSAPP_PREFIX, TWILIO_PREFIX)

HASH_HEX_CHARS = 32  # 128 bits of HMAC-SHA256
ID_CONTEXT = b"teman-migrasi/sender-id/v1"


def derive(secret: str, context: bytes) -> bytes:
    """32-byte sub-key for one purpose, so one secret can serve hashing and encryption."""
    return hmac.new(secret.encode("utf-8"), context, hashlib.sha256).digest()


def sender_id_for(prefix: str, key: bytes, number: str) -> str:
    """``<prefix><32 hex chars>`` for a number as the channel receives it (``key`` from
    :func:`derive` with :data:`ID_CONTEXT`)."""
    message = (prefix + number.strip()).encode("utf-8")
    return prefix + hmac.new(key, message, hashlib.sha256).hexdigest()[:HASH_HEX_CHARS]


def channel_numbers(number: str) -> dict[str, str]:
    """How each phone channel spells one number: the Cloud API sends ``6281…``, Twilio
    ``whatsapp:+6281…``."""
    return {WHATSAPP_PREFIX: number, TWILIO_PREFIX: f"whatsapp:+{number}"}
