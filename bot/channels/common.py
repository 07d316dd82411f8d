"""Helpers shared by the channels: env/credential lookup, log-safe ids, text splitting."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import traceback
from collections.abc import Mapping
from typing import Any

from rasa.shared.exceptions import RasaException

# Per-process key for log pseudonyms: stable within one run (so a support person can
# follow one conversation in the logs) but useless for reversing a phone number.
_LOG_KEY = secrets.token_bytes(16)


class ChannelConfigError(RasaException):
    """Raised at startup when a channel is enabled but not configured."""


def setting(
    credentials: Mapping[str, Any] | None, key: str, env: str, default: str | None = None
) -> str | None:
    """Value from credentials.yml (``key``, wins if non-empty) else env var ``env``."""
    if credentials:
        value = credentials.get(key)
        if value not in (None, ""):
            return str(value)
    value = os.environ.get(env)
    if value not in (None, ""):
        return value
    return default


def require(channel: str, values: Mapping[str, str | None]) -> None:
    """Fail fast naming every missing variable, instead of failing on the first webhook."""
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ChannelConfigError(
            f"Channel '{channel}' is enabled but not configured: missing "
            f"{', '.join(missing)}. Set these environment variables (or the matching "
            f"keys in credentials.yml); see docs/channels.md."
        )


def log_id(value: str | None) -> str:
    """Short keyed hash of a user id (phone number) that is safe to write into logs."""
    if not value:
        return "anon"
    digest = hmac.new(_LOG_KEY, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"u_{digest[:10]}"


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` chars.

    Prefers paragraph breaks, then line breaks, then spaces; cuts hard only when a
    single word is longer than ``limit`` (e.g. a very long URL).
    """
    text = text.strip()
    if not text:
        return []
    chunks: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = -1
        for sep in ("\n\n", "\n", " "):
            pos = window.rfind(sep, 0, limit + 1)
            if pos > 0:
                cut = pos
                break
        if cut <= 0:
            chunks.append(text[:limit])
            text = text[limit:].lstrip()
            continue
        chunks.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        chunks.append(text)
    return [c for c in chunks if c]


def truncate(text: str, limit: int) -> str:
    """Cut to ``limit`` chars with an ellipsis, for API fields with hard maximums."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def button_title(button: Mapping[str, Any]) -> str:
    return str(button.get("title") or button.get("payload") or "").strip()


def button_payload(button: Mapping[str, Any]) -> str:
    return str(button.get("payload") or button.get("title") or "").strip()


def safe_traceback(exc: BaseException) -> str:
    """Stack frames without the exception message, which may quote phone or text."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"{type(exc).__name__} (message withheld)\n{frames}"
